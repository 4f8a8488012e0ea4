"""Long videos against exact ground truth: drift per window and seams (issue 19), several settings in one run.

    python benchmarks/long_video.py [--cases 22] [--run NAME=MODEL[:HISTORY[:MATCH[:NOISE[:OVERLAP]]]] ...] [--out F]

Each ``--run`` animates every held-out ``puppet-animate-long`` case (64x64, 81 frames) window by window
(:mod:`kinema.pipelines.windows`, the model's window) with recipe R1: MODEL (``embedded`` or an exported
directory), HISTORY latent frames carried from window to window (0: independent windows), MATCH ``none`` or
``reference`` (the history's colour statistics matched to the reference's), NOISE the σ added to the history at
inference, OVERLAP the frames consecutive windows both generate and cross-fade. The static-reference baseline is scored alongside.

Per window index (the first window's frames, the second's, ...): PSNR and SSIM over the character's silhouette,
body keypoint error (the puppet estimator on the output against the exact keypoints) and the background's colour
shift (|mean RGB of output − target| over the background, 0..255). Seams: the warping error of
:mod:`kinema.eval.metrics.temporal` pooled over frame pairs that cross a window boundary, against the pairs inside
windows that cross a latent frame boundary (the codec packs 4 frames into a latent frame, so these, like a seam,
join frames of different tokens) and those within one latent frame. Then, per run, last window − first window on
PSNR char (paired interval; the goal: within 0.5 dB), and seams − inside pairs across latent frames (the goal:
no worse). Runs that carry history are compared with independent windows
on the last window's PSNR char, paired.
"""

from __future__ import annotations

import argparse
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinema.eval.baselines import static_reference
from kinema.eval.benchmarks import get_benchmark, render_case
from kinema.eval.metrics import keypoint_scores, psnr, ssim
from kinema.eval.metrics.temporal import pooled, warping_residuals
from kinema.eval.scoring import pose_estimator
from kinema.eval.stats import bootstrap_ci, paired_difference
from kinema.io.atomic import write_json_atomic
from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
from kinema.pipelines.windows import WindowOptions, plan_windows

WINDOW_METRICS = ("psnr_char", "ssim_char", "kp_err_body", "bg_shift")


@dataclass(frozen=True)
class Run:
    name: str
    model: str
    history: int = 0
    match: str = "none"
    noise: float = 0.0
    overlap: int = 0

    @classmethod
    def parse(cls, text: str) -> Run:
        name, _, spec = text.partition("=")
        model, *rest = spec.split(":")
        return cls(name, model, *(f(v) for f, v in zip((int, str, float, int), rest)))


def window_scores(frames: np.ndarray, case, windows, estimator) -> list[dict[str, float]]:
    """The metrics of each window's frames against the exact target."""
    target = case.triplet.target
    char = target.masks[:, 0]
    out = []
    for w in windows:
        sl = slice(w.start, w.stop)
        bg = ~char[sl]
        shift = np.abs(frames[sl][bg].mean(0) - target.frames[sl][bg].mean(0)).mean()
        kp = keypoint_scores(estimator(frames[sl]).keypoints, (target.keypoints[0].frames(sl),))
        out.append({"psnr_char": psnr(frames[sl], target.frames[sl], char[sl]),
                    "ssim_char": ssim(frames[sl], target.frames[sl], char[sl]),
                    "kp_err_body": kp["kp_err_body"], "bg_shift": float(shift)})
    return out


def pair_groups(case, windows) -> dict[str, np.ndarray]:
    """Frame pairs t → t+1 (bool masks over t) by where they lie: ``seam`` (across a window boundary, or anywhere
    in a cross-faded overlap), ``boundary`` (inside a window, across a latent frame boundary: the codec packs 4 frames
    into each latent frame after the first, so these pairs come from different tokens, as a seam's do) and
    ``within`` (inside one latent frame)."""
    kind = np.empty(case.frames - 1, object)
    for w in windows:  # a later window owns the frames it cross-fades
        for t in range(w.start, w.stop - 1):
            kind[t] = "boundary" if (t - w.start + w.drop) % 4 == 0 else "within"
    for w in windows[1:]:
        kind[w.start - 1: w.start + w.blend] = "seam"
    return {name: kind == name for name in ("seam", "boundary", "within")}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--cases", type=int, default=22)
    parser.add_argument("--run", action="append", type=Run.parse, default=None,
                        help="NAME=MODEL[:HISTORY[:MATCH[:NOISE[:OVERLAP]]]]; default: independent=embedded:0")
    parser.add_argument("--out", type=Path, default=None, help="Write the per-case scores here as JSON.")
    args = parser.parse_args()
    runs = args.run or [Run("independent", "embedded", 0)]
    bench = get_benchmark("puppet-animate-long")
    cases = [render_case(bench, spec) for spec in bench.case_specs(args.cases)]
    estimator, why = pose_estimator("humanoid")
    if estimator is None:
        raise SystemExit(why)
    results: dict[str, dict] = {}
    animators: dict[str, Animator] = {}
    for run in runs:
        animator = animators.setdefault(run.model, Animator.load(run.model))
        config = AnimateConfig(windows=WindowOptions(history=run.history, overlap=run.overlap, history_match=run.match,
                                                     history_noise=run.noise))
        per_case, pairs = [], {"seam": [], "boundary": [], "within": []}
        for case in cases:
            tri = case.triplet
            result = animator(tri.reference_images[0], tri.driving.frames, config, False, tri.driving.keypoints[0],
                              tri.references[0].keypoints[0])
            windows = plan_windows(case.frames, result.settings["window"], result.settings["lead_in_frames"],
                                   result.settings["history"], run.overlap)
            per_case.append(window_scores(result.frames, case, windows, estimator))
            residuals = warping_residuals(result.frames, case.triplet.target.frames)
            for name, mask in pair_groups(case, windows).items():
                pairs[name].append(residuals[mask])
        results[run.name] = {"run": run.__dict__, "windows": per_case,
                             **{name: pooled(np.concatenate(r)) for name, r in pairs.items()},
                             **{f"{name}_cases": [pooled(x) for x in r] for name, r in pairs.items()}}
        print_run(run, results[run.name])
    static = [window_scores(static_reference(case), case, plan_windows(case.frames, 21, 4, 0), estimator)
              for case in cases]
    results["static-reference"] = {"windows": static}
    print_windows("static-reference (windows of 17 frames)", static)
    compare(results, runs)
    if args.out:
        write_json_atomic(args.out, results)


def print_windows(title: str, per_case: list[list[dict]]) -> None:
    print(f"\n{title}: mean [95% CI] per window")
    for metric in WINDOW_METRICS:
        cells = []
        for k in range(len(per_case[0])):
            ci = bootstrap_ci([scores[k][metric] for scores in per_case])
            cells.append(f"{ci['mean']:.3f} [{ci['ci95'][0]:.3f}, {ci['ci95'][1]:.3f}]")
        print(f"  {metric:12s} " + "  ".join(cells))


def print_run(run: Run, result: dict) -> None:
    print_windows(f"{run.name} ({run.model}, history {run.history}, match {run.match}, noise {run.noise}, "
                  f"overlap {run.overlap})",
                  result["windows"])
    last_first = paired_difference([s[0]["psnr_char"] for s in result["windows"]],
                                   [s[-1]["psnr_char"] for s in result["windows"]])
    seam = paired_difference(result["boundary_cases"], result["seam_cases"])
    print(f"  last − first window, PSNR char: {fmt(last_first)}  (goal: > −0.5 dB)")
    print(f"  warping error at seams {result['seam']:.3f}; inside windows across latent frames {result['boundary']:.3f}, "
          f"within latent frames {result['within']:.3f}")
    print(f"  seams − inside across latent frames, per case: {fmt(seam)}  (goal: ≤ 0)")


def fmt(d: dict) -> str:
    return (f"{d['delta']:+.3f} [{d['ci95'][0]:+.3f}, {d['ci95'][1]:+.3f}] sign-test p={d['p_sign']:.3g} "
            f"({d['wins']} above / {d['losses']} below)")


def compare(results: dict, runs: list[Run]) -> None:
    base = next((r for r in runs if r.history == 0), None)
    if base is None:
        return
    print(f"\nagainst {base.name}, last window's PSNR char and seams, paired per case:")
    for run in runs:
        if run is base:
            continue
        a, b = results[run.name], results[base.name]
        last = paired_difference([s[-1]["psnr_char"] for s in b["windows"]], [s[-1]["psnr_char"] for s in a["windows"]])
        seam = paired_difference(b["seam_cases"], a["seam_cases"])
        print(f"  {run.name:14s} last window {fmt(last)}\n  {'':14s} seams       {fmt(seam)}")


if __name__ == "__main__":
    main()
