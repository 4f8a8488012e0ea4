"""Regression figures of the embedded puppet model: ``kinema demo`` scores of case 0 (the card's sampling
steps), and the time to sample one 17-frame 64 × 64 clip on 2 CPU threads, with the card's steps and with 20.

    python benchmarks/embedded_model.py      # writes src/kinema/assets/puppet/model/regression.json

``tests/training/test_embedded.py`` checks them. The model's evidence on many held-out cases, with
CIs and baselines, comes from ``kinema eval --benchmark puppet-animate --method r1-pose --model embedded``.
"""

from __future__ import annotations

import tempfile
import time

import torch

from kinema.io import write_json_atomic
from kinema.eval.benchmarks import get_benchmark, render_case
from kinema.guidance.puppet import model_prompt
from kinema.pipelines.demo import BENCHMARK, run_demo
from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
from kinema.pipelines.models import EMBEDDED_DIR, sampler_for

TIMED_STEPS = (None, 20)  # the card's sampling steps, and 20 (TRAINING.md's figures before the card set 2)
TOLERANCE = {"psnr": 0.3, "psnr_char": 0.5, "ssim": 0.01, "ssim_char": 0.02, "kp_pck_body": 0.05,
             "kp_pck_hands": 0.08, "kp_err_body": 0.6}


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        metrics = run_demo(tmp, progress=False)
    scores = metrics["scores"]["output"]
    write_json_atomic(EMBEDDED_DIR / "regression.json", {"case": metrics["case"], "steps": metrics["steps"], "scores": scores,
                                                         "tolerance": {k: TOLERANCE[k] for k in scores}})
    for method, values in metrics["scores"].items():
        print(f"{method:17s}" + "  ".join(f"{k} {v:.3f}" for k, v in values.items()))
    for steps in TIMED_STEPS:
        print(f"sampling {steps or metrics['steps']} steps, 2 threads: {sampling_seconds(steps):.2f} s per clip (best of 3)")


def sampling_seconds(steps: int | None) -> float:
    """Wall time of one :class:`Animator` call on the demo case (its lead-in frames included)."""
    torch.set_num_threads(2)
    bench = get_benchmark(BENCHMARK)
    case = render_case(bench, bench.case_specs(1)[0])
    animator, tri = Animator.load(), case.triplet
    config = AnimateConfig(size=case.size, frames=case.frames, prompt=model_prompt(tri, animator.card),
                           sampler=sampler_for(animator.card, steps))
    times = []
    for _ in range(3):
        start = time.perf_counter()
        animator(tri.reference_images[0], tri.driving.frames, config, False, tri.driving.keypoints[0],
                 tri.references[0].keypoints[0])
        times.append(time.perf_counter() - start)
    return min(times)


if __name__ == "__main__":
    main()
