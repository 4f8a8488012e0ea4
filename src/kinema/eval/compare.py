"""``kinema eval compare``: paired per-metric differences between two results files."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from kinema.errors import KinemaInputError, require_file
from kinema.eval.stats import paired_difference

SIGNIFICANCE = 0.05
NO_DIFFERENCE = "no difference detected"


def load_results(path: str | os.PathLike) -> dict[str, Any]:
    """Read a results.json written by ``kinema eval``.

    Raises:
        KinemaInputError: missing, unreadable or not an eval results file.
    """
    from kinema.eval.runner import RESULTS_FORMAT

    path = Path(path)
    require_file(path, "results", "Pass the results.json that `kinema eval` wrote.")
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise KinemaInputError(f"results '{path}'", f"is not JSON ({err})", "Pass the results.json that `kinema eval` wrote.") from err
    if not isinstance(data, dict) or data.get("format") != RESULTS_FORMAT:
        raise KinemaInputError(f"results '{path}'", f"is not a {RESULTS_FORMAT} file", "Pass the results.json that `kinema eval` wrote.")
    missing = [k for k in ("generator_version", "benchmark", "method", "methods", "metrics", "cases") if k not in data]
    if missing:
        raise KinemaInputError(f"results '{path}'", f"lacks {', '.join(missing)} (damaged)", "Re-run `kinema eval` into its directory.")
    return data


def compare(a: dict[str, Any], b: dict[str, Any], method_a: str | None = None, method_b: str | None = None) -> dict[str, Any]:
    """B − A per metric over the cases both evaluated, for each file's evaluated method (or the named ones).

    Returns ``{"a", "b", "benchmark", "cases", "metrics": {name: paired_difference + higher_is_better,
    significant, verdict}}``; ``significant`` says whether the sign test gives p < 0.05, and ``verdict``
    is "better" or "worse" (B against A) only then, else "no difference detected".

    Raises:
        KinemaInputError: different benchmarks or generator versions, no shared case, unknown method.
    """
    if a["generator_version"] != b["generator_version"]:
        raise KinemaInputError("results", f"come from different puppet generator versions ({a['generator_version']} vs "
                               f"{b['generator_version']}): their targets differ", "Re-run both evaluations with the same kinema version.")
    if a["benchmark"]["name"] != b["benchmark"]["name"]:
        raise KinemaInputError("results", f"come from different benchmarks ({a['benchmark']['name']} vs {b['benchmark']['name']})",
                               "Compare runs of the same benchmark.")
    ma, mb = method_a or a["method"], method_b or b["method"]
    for data, m in ((a, ma), (b, mb)):
        if m not in data["methods"]:
            raise KinemaInputError(f"method '{m}'", "is not in that results file", f"Use one of: {', '.join(data['methods'])}.")
    cases_a = {c["id"]: c["scores"][ma] for c in a["cases"]}
    cases_b = {c["id"]: c["scores"][mb] for c in b["cases"]}
    shared = sorted(set(cases_a) & set(cases_b))
    if not shared:
        raise KinemaInputError("results", "share no case", "Evaluate the same benchmark cases in both runs.")
    metrics = {}
    for key, info in a["metrics"].items():
        if key not in b["metrics"]:
            continue
        diff = paired_difference([cases_a[i].get(key) for i in shared], [cases_b[i].get(key) for i in shared])
        significant = diff["p_sign"] < SIGNIFICANCE
        metrics[key] = {**diff, "higher_is_better": info["higher_is_better"], "significant": significant,
                        "verdict": verdict(diff, info["higher_is_better"], significant)}
    return {"a": ma, "b": mb, "benchmark": a["benchmark"]["name"], "cases": len(shared), "metrics": metrics}


def verdict(diff: dict[str, Any], higher_is_better: bool, significant: bool) -> str:
    """"better" or "worse" for B against A when the sign test is significant, else "no difference detected".

    A 1-win/1-loss split (p = 1) must not read as an improvement. The direction is read from the wins
    and losses the sign test counted, not from the mean, so verdict and test cannot disagree.
    """
    if not significant:
        return NO_DIFFERENCE
    return "better" if (diff["wins"] > diff["losses"]) == higher_is_better else "worse"


def format_comparison(result: dict[str, Any]) -> str:
    """A plain-text table of :func:`compare`'s result."""
    lines = [f"{result['b']} (B) vs {result['a']} (A) on {result['benchmark']}, {result['cases']} shared cases",
             f"{'metric':<16}{'B - A':>10}  {'95% CI':<22}{'wins/losses':>12}{'p (sign)':>10}  verdict"]
    for key, m in result["metrics"].items():
        if m["delta"] is None:
            lines.append(f"{key:<16}{'–':>10}")
            continue
        ci = f"[{m['ci95'][0]:+.4f}, {m['ci95'][1]:+.4f}]"
        lines.append(f"{key:<16}{m['delta']:>+10.4f}  {ci:<22}{m['wins']:>5}/{m['losses']:<6}{m['p_sign']:>10.3g}  {m['verdict']}")
    lines.append(f"verdict: B better or worse than A only where the paired sign test gives p < {SIGNIFICANCE}; "
                 f"otherwise {NO_DIFFERENCE}.")
    return "\n".join(lines)
