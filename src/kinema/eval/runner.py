"""``kinema eval``: generate every case of a benchmark with a method and its baselines, score them
against the exact targets, and write ``results.json`` and ``report.html``.

Layout of ``out``: ``run.json`` (what is being evaluated; a resumed run must match it),
``cases/<id>/<method>.npz`` (lossless frames) and ``.json`` (scores), ``results.json``,
``report.html`` and ``videos/``. A (case, method) whose scores exist is skipped, so an interrupted
run resumes; scores are recomputed from the saved frames when the pose estimator's availability
or the metrics (:data:`SCORING_VERSION`) changed since.
"""

from __future__ import annotations

import json
import math
import os
import sys
import zipfile
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from tqdm import tqdm

from kinema.errors import KinemaInputError
from kinema.eval.benchmarks import Benchmark, CaseSpec, get_benchmark, render_case
from kinema.eval.methods import METHODS, Method, MethodOptions, choose_method, reference_methods
from kinema.eval.report import write_report
from kinema.eval.scoring import METRICS, POSE_BACKEND, SCORING_VERSION, metric_info, pose_estimator, score_case
from kinema.eval.stats import bootstrap_ci
from kinema.io import atomic_path, check_output_dir, write_json_atomic
from kinema.puppet import GENERATOR_VERSION

RESULTS_FORMAT = "kinema.eval.results/1"


@dataclass(frozen=True)
class EvalConfig:
    """One evaluation: benchmark name, method name (None: the one the model's card fits, see
    :func:`~kinema.eval.methods.choose_method`), case count (None: the benchmark's) and method options."""

    benchmark: str
    method: str | None = None
    cases: int | None = None
    options: MethodOptions = field(default_factory=MethodOptions)


def run_eval(config: EvalConfig, out: str | os.PathLike, progress: bool = True, workers: int = 1,
             address: str | None = None) -> dict[str, Any]:
    """Evaluate ``config`` into ``out`` (resumable) and return the results written to results.json,
    which record the method, steps and guidance resolved from the model card. ``workers`` > 1 fans the cases
    out over Ray workers (on the cluster at ``address``, else on a local one started for the run;
    :mod:`kinema.eval.fanout`), in-process when Ray is not installed."""
    # 1. Check inputs, resolve the model card's defaults and check the run manifest.
    bench = get_benchmark(config.benchmark)
    config = resolve(config, bench.mode)
    methods = [config.method] + [m for m in reference_methods(bench.mode) if m != config.method]
    specs = bench.case_specs(config.cases)
    out = Path(out)
    check_output_dir(out, "eval output directory")
    options = json.loads(json.dumps(asdict(config.options)))  # as run.json holds them (lists, not tuples)
    manifest = {"benchmark": bench.to_dict(), "method": config.method, "options": options}
    written = _check_manifest(out, manifest)  # run.json is written once a method has been built
    runner = CaseRunner(config, out, bench)

    # 2. Generate and score every (case, method) not done yet; build each method only when needed.
    todo = [(spec, [m for m in methods if _stored_scoring(out, spec, m) != runner.scoring]) for spec in specs]
    todo = [(spec, names) for spec, names in todo if names]
    if workers > 1 and todo:
        from kinema.eval.fanout import ray_missing

        if ray_missing():
            print(f"note: --workers {workers}: {ray_missing()}", file=sys.stderr)
            workers = 1
    if workers > 1 and todo:
        from kinema.eval.fanout import run_cases

        if not written:  # the workers build the methods: a run that fails before any case is written leaves none
            write_json_atomic(out / "run.json", manifest)
        run_cases(runner, todo, workers, address, progress, first_run=not written)
    else:
        for spec, names in tqdm(todo, desc=f"eval {bench.name}", disable=not progress):
            runner(spec, names, None if written else manifest)
            written = True

    # 3. Aggregate, then write results.json and the report.
    if not (out / "run.json").is_file():
        write_json_atomic(out / "run.json", manifest)
    results = collect(out, bench, specs, methods, config, runner.kp_reason)
    write_json_atomic(out / "results.json", results)
    write_report(out, results, bench)
    return results


class CaseRunner:
    """Generates (or reloads) and scores the missing methods of one case in an eval run's ``out``, building each
    method once: in-process, or as one Ray worker of many (:mod:`kinema.eval.fanout`). Frames and scores are
    written atomically per (case, method), so a killed run resumes with none lost and none twice."""

    def __init__(self, config: EvalConfig, out: Path, bench: Benchmark, threads: int | None = None) -> None:
        if threads is not None:
            torch.set_num_threads(threads)
        self.config, self.out, self.bench = config, out, bench
        self.estimator, self.kp_reason = pose_estimator(bench.family)
        self.scoring = {"pose": POSE_BACKEND if self.estimator is not None else None, "scoring": SCORING_VERSION}
        self.built: dict[str, Method] = {}

    def __call__(self, spec: CaseSpec, methods: list[str], manifest: dict[str, Any] | None = None) -> str:
        """Do ``methods`` on case ``spec``; writes ``manifest`` as run.json once a method is built. Returns the id."""
        case = render_case(self.bench, spec)
        for name in methods:
            frames = _load_frames(self.out, spec, name)
            if frames is None:
                if name not in self.built:
                    self.built[name] = METHODS[name].build(self.config.options)
                if manifest is not None:
                    write_json_atomic(self.out / "run.json", manifest)
                    manifest = None
                frames = np.asarray(self.built[name](case))
                _save_frames(self.out, spec, name, frames)
            scores = score_case(case, frames, self.estimator)
            write_json_atomic(_case_path(self.out, spec, name, ".json"),
                              {"case": spec.id, "method": name, **self.scoring, "scores": _json_scores(scores)})
        return spec.id


def resolve(config: EvalConfig, mode: str) -> EvalConfig:
    """``config`` with the method, steps and guidance of its model's card where it gives none; a KinemaInputError
    when its method does not fit the ``mode`` benchmark or the model (RGB driving into a pose-driven model)."""
    from kinema.pipelines.models import adapter_card, model_with_adapters, sampler_for

    options = config.options
    card = adapter_card(options.model, options.adapters)
    model = model_with_adapters(options.model, options.adapters)
    method = choose_method(config.method, mode, card, model)
    try:
        sampler = sampler_for(card, options.steps, options.guidance)
    except ValueError as err:
        raise KinemaInputError("sampling options", str(err), "See kinema eval --help.") from None
    return replace(config, method=method, options=replace(options, steps=sampler.steps, guidance=sampler.guidance))


def _read_json(path: Path, what: str) -> dict[str, Any]:
    """A JSON file this runner wrote; KinemaInputError naming it when it was damaged."""
    try:
        data = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        raise KinemaInputError(f"{what} '{path}'", f"is not readable JSON ({type(err).__name__})",
                               "Delete it to recompute it, or use a new --out directory.") from None
    if not isinstance(data, dict):
        raise KinemaInputError(f"{what} '{path}'", "is not a JSON object", "Delete it to recompute it, or use a new --out directory.")
    return data


def _check_manifest(out: Path, manifest: dict[str, Any]) -> bool:
    """Whether ``out`` holds this run's ``run.json``; a KinemaInputError naming what differs when it holds another."""
    path = out / "run.json"
    if not path.is_file():
        return False
    old = _read_json(path, "eval run")
    old_bench, new_bench = old.get("benchmark", {}), manifest["benchmark"]
    if old_bench.get("generator_version") != new_bench["generator_version"]:
        raise KinemaInputError(f"--out '{out}'", f"holds a run of puppet generator {old_bench.get('generator_version')}, "
                               f"not the current {new_bench['generator_version']}", "Use a new --out directory.")
    old_options = old.get("options", {})
    differs = [f"benchmark {old_bench.get('name')}"] if old_bench.get("name") != new_bench["name"] else []
    differs += [f"method {old.get('method')}"] if old.get("method") != manifest["method"] else []
    differs += [f"{k} {old_options.get(k)!r}" for k, v in manifest["options"].items() if old_options.get(k) != v]
    if differs:
        raise KinemaInputError(f"--out '{out}'", f"holds a run with other settings ({', '.join(differs)})",
                               "Resume with the same benchmark, method and options, or use a new --out directory.")
    return True


def _case_path(out: Path, spec: CaseSpec, method: str, suffix: str) -> Path:
    return out / "cases" / spec.id / f"{method}{suffix}"


def _stored_scoring(out: Path, spec: CaseSpec, method: str) -> dict[str, Any] | None:
    """The pose estimator (None: none) and scoring version a stored score used; None when not scored yet."""
    path = _case_path(out, spec, method, ".json")
    if not path.is_file():
        return None
    stored = _read_json(path, "case score")
    return {"pose": stored.get("pose"), "scoring": stored.get("scoring", 1)}


def _load_frames(out: Path, spec: CaseSpec, method: str) -> np.ndarray | None:
    path = _case_path(out, spec, method, ".npz")
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            return data["frames"]
    except (OSError, ValueError, KeyError, zipfile.BadZipFile) as err:
        raise KinemaInputError(f"case frames '{path}'", f"are unreadable ({type(err).__name__})",
                               "Delete the file to regenerate the case, or use a new --out directory.") from None


def _save_frames(out: Path, spec: CaseSpec, method: str, frames: np.ndarray) -> None:
    with atomic_path(_case_path(out, spec, method, ".npz")) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, frames=frames)


def _json_scores(scores: dict[str, float]) -> dict[str, float | None]:
    """NaN (undefined) becomes null so the file is valid JSON."""
    return {k: (float(v) if math.isfinite(v) else None) for k, v in scores.items()}


def collect(out: Path, bench: Benchmark, specs: list[CaseSpec], methods: list[str], config: EvalConfig,
            kp_reason: str | None) -> dict[str, Any]:
    """Per-case scores of every method, aggregates with 95 % bootstrap intervals and per-motion means."""
    cases = [{"id": s.id, "seed": s.seed, "motion": s.motion, "tags": list(s.tags),
              "scores": {m: _read_json(_case_path(out, s, m, ".json"), "case score")["scores"] for m in methods}}
             for s in specs]
    found = {k for c in cases for m in methods for k in c["scores"][m]}
    names = [k for k in METRICS if k in found] + sorted(found - set(METRICS))
    aggregates = {m: {k: bootstrap_ci([c["scores"][m].get(k) for c in cases]) for k in names} for m in methods}
    motions = list(dict.fromkeys(s.motion for s in specs))
    by_motion = {m: {mo: {k: bootstrap_ci([c["scores"][m].get(k) for c in cases if c["motion"] == mo])["mean"]
                          for k in names} for mo in motions} for m in methods}
    return {
        "format": RESULTS_FORMAT, "generator_version": GENERATOR_VERSION, "benchmark": bench.to_dict(),
        "method": config.method, "options": asdict(config.options), "methods": methods,
        "kinds": {m: METHODS[m].kind for m in methods},
        "metrics": {k: asdict(metric_info(k)) for k in names},
        "keypoints": {"available": kp_reason is None, "estimator": POSE_BACKEND, "reason": kp_reason},
        "cases": cases, "aggregates": aggregates, "by_motion": by_motion,
    }
