"""``kinema demo``: animate a held-out puppet reference with another puppet's motion and score it
against the exact target that the puppet world renders (the papers have no such ground truth).
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np
from PIL import Image

from kinema.eval import baselines
from kinema.eval.benchmarks import Case, get_benchmark, render_case
from kinema.eval.scoring import pose_estimator, score_case
from kinema.guidance.puppet import model_prompt
from kinema.io import atomic_path, check_output_dir, write_json_atomic, write_video
from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
from kinema.pipelines.models import EMBEDDED, resolve_device, sampler_for
from kinema.pose.estimators import PoseEstimator

BENCHMARK = "puppet-animate"  # held-out identities, backgrounds and seeds; the same cases `kinema eval` scores
REPORTED = ("psnr", "psnr_char", "ssim", "ssim_char", "kp_pck_body", "kp_pck_hands", "kp_err_body")


def status(message: str, progress: bool = True) -> None:
    """Say on stderr which phase starts, so no phase is a silent gap; ``benchmarks/demo_time.py`` times these lines."""
    if progress:
        print(message, file=sys.stderr, flush=True)


def scores_with_baselines(case: Case, frames: np.ndarray, estimator: PoseEstimator | None,
                          shown: tuple[str, ...] = REPORTED) -> dict[str, dict[str, float]]:
    """The ``shown`` metrics of ``frames`` (T, H, W, 3) and of the static-reference and driving-copy baselines
    against ``case``'s exact target: output / static_reference / driving_copy -> metric -> value."""
    methods = (("output", frames), ("static_reference", baselines.static_reference(case)),
               ("driving_copy", baselines.driving_copy(case)))
    return {name: {k: v for k, v in score_case(case, f, estimator).items() if k in shown} for name, f in methods}


def run_demo(out: str | os.PathLike, model: str = EMBEDDED, case: int = 0, steps: int | None = None,
             guidance: float | None = None, progress: bool = True, device: str = "cpu") -> dict:
    """Write reference.png, driving.mp4, output.mp4, target.mp4, side_by_side.mp4 and metrics.json to ``out``;
    the model runs on ``device`` (:func:`~kinema.pipelines.models.resolve_device`)."""
    out = Path(out)
    check_output_dir(out, "demo output directory")
    bench = get_benchmark(BENCHMARK)
    spec = bench.case_specs(case + 1)[case]
    status(f"rendering case {spec.id} of {BENCHMARK}…", progress)
    item = render_case(bench, spec)
    tri = item.triplet
    status(f"loading the model ({model})…", progress)
    animator = Animator.load(model, (), *resolve_device(device))
    card = animator.card
    prompt = model_prompt(tri, card)
    sampler = sampler_for(card, steps, guidance)
    config = AnimateConfig(size=item.size, frames=item.frames, prompt=prompt, sampler=sampler)
    pose = tri.driving.keypoints[0] if animator.pose_driven else None
    status(f"sampling {item.frames} frames in {sampler.steps} steps…", progress)
    result = animator(tri.reference_images[0], tri.driving.frames, config, progress, pose, tri.references[0].keypoints[0])

    reference, driving, target, fps = tri.reference_images[0], tri.driving.frames, tri.target.frames, tri.driving.fps
    status("writing the videos…", progress)
    with atomic_path(out / "reference.png") as tmp:
        Image.fromarray(reference).save(tmp, format="PNG")
    write_video(out / "driving.mp4", driving, fps)
    write_video(out / "target.mp4", target, fps)
    write_video(out / "output.mp4", result.frames, fps)
    panels = [np.repeat(reference[None], len(target), 0), driving, result.frames, target]
    write_video(out / "side_by_side.mp4", np.concatenate(panels, axis=2), fps)

    status("scoring the output and two baselines against the exact target…", progress)
    estimator, why = pose_estimator("humanoid")
    metrics = {
        "scores": scores_with_baselines(item, result.frames, estimator),
        "case": spec.id, "seed": spec.seed, "motion": spec.motion, "benchmark": BENCHMARK, "prompt": prompt,
        "model": result.settings["model"], "steps": sampler.steps, "guidance": sampler.guidance,
        "keypoints": "estimated on each video by the puppet keypoint estimator" if estimator else why,
        "notes": result.notes, "puppet": tri.labels.get("version"),
    }
    write_json_atomic(out / "metrics.json", metrics)
    return metrics
