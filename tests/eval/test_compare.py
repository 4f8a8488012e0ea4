"""Paired comparison of two results files, and its refusals."""

import json

import pytest

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.eval import compare, format_comparison, load_results


def test_compare_method_against_baseline_and_itself(evaluated):
    out, _ = evaluated
    results = load_results(out / "results.json")
    same = compare(results, results)
    assert same["cases"] == 3 and all(m["delta"] in (0.0, None) and m["p_sign"] == 1.0 for m in same["metrics"].values())
    vs_target = compare(results, results, method_b="target")
    ssim = vs_target["metrics"]["ssim"]
    assert ssim["wins"] == 3 and ssim["delta"] > 0
    assert ssim["verdict"] == "no difference detected"  # 3 of 3 wins: sign test p = 0.25
    assert "ssim" in format_comparison(vs_target)


def _results(scores: dict[str, list[float]]) -> dict:
    """A minimal results dict: method name -> per-case ssim (higher is better) and warp_error (lower)."""
    n = len(next(iter(scores.values())))
    cases = [{"id": f"c{i}", "scores": {m: {"ssim": v[i], "warp_error": v[i]} for m, v in scores.items()}} for i in range(n)]
    return {"format": "kinema.eval.results/1", "generator_version": "g", "benchmark": {"name": "b"}, "method": "a",
            "methods": list(scores), "cases": cases,
            "metrics": {"ssim": {"higher_is_better": True}, "warp_error": {"higher_is_better": False}}}


def test_verdict_only_with_significance(tmp_path, capsys):
    split = compare(_results({"a": [0.5, 0.5], "b": [0.9, 0.4]}), _results({"a": [0.5, 0.5], "b": [0.9, 0.4]}), method_b="b")
    assert split["metrics"]["ssim"]["p_sign"] == 1.0 and split["metrics"]["ssim"]["delta"] > 0
    assert {m["verdict"] for m in split["metrics"].values()} == {"no difference detected"}
    table = format_comparison(split)
    assert "better" not in table.splitlines()[2] and "p < 0.05" in table.splitlines()[-1]
    sweep = _results({"a": [0.5] * 8, "b": [0.6] * 8})  # 8 of 8 wins: p = 0.0078
    verdicts = compare(sweep, sweep, method_b="b")["metrics"]
    assert verdicts["ssim"]["verdict"] == "better" and verdicts["warp_error"]["verdict"] == "worse"
    assert compare(sweep, sweep, method_a="b", method_b="a")["metrics"]["ssim"]["verdict"] == "worse"
    (tmp_path / "r.json").write_text(json.dumps(_results({"a": [0.5, 0.5], "b": [0.9, 0.4]})))
    assert main(["eval", "compare", str(tmp_path / "r.json"), str(tmp_path / "r.json"), "--method-b", "b"]) == 0
    assert "no difference detected" in capsys.readouterr().out


def test_refuses_other_generator_missing_and_foreign_files(evaluated, tmp_path, capsys):
    out, _ = evaluated
    other = json.loads((out / "results.json").read_text())
    other["generator_version"] = "puppet-0.0+old"
    (tmp_path / "old.json").write_text(json.dumps(other))
    with pytest.raises(KinemaInputError, match="generator versions"):
        compare(load_results(out / "results.json"), load_results(tmp_path / "old.json"))
    with pytest.raises(KinemaInputError, match="file not found"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "foreign.json").write_text('{"a": 1}')
    with pytest.raises(KinemaInputError, match="not a kinema.eval.results"):
        load_results(tmp_path / "foreign.json")
    del other["cases"]
    (tmp_path / "damaged.json").write_text(json.dumps(other))
    with pytest.raises(KinemaInputError, match="lacks cases"):
        load_results(tmp_path / "damaged.json")
    assert main(["eval", "compare", str(out / "results.json"), str(tmp_path / "old.json")]) == 2
    assert "generator versions" in capsys.readouterr().err
    assert main(["eval", "compare", str(out / "results.json"), str(out / "results.json")]) == 0
    assert "shared cases" in capsys.readouterr().out
