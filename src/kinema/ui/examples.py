"""Puppet examples: held-out benchmark cases written as ``kinema synth`` samples, so one click fills a tab
with files a person could have uploaded, and the output is scored against the case's exact target.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kinema.eval.benchmarks import Case, get_benchmark, render_case
from kinema.eval.scoring import pose_estimator
from kinema.guidance.puppet import model_prompt
from kinema.pipelines.demo import REPORTED, scores_with_baselines
from kinema.pose.estimators import PoseEstimator
from kinema.puppet.dataset import write_triplet
from kinema.segment import left_to_right

BENCHMARKS = {"animate": "puppet-animate", "replace": "puppet-replace"}  # the cases `kinema eval` and `kinema demo` use
SHOWN = (*REPORTED, "bg_fidelity")  # kinema demo's metrics, and for replace cases the driving shot's kept background
Scores = dict[str, dict[str, float]]  # method (output, static_reference, driving_copy) -> metric -> value


@dataclass(frozen=True)
class PuppetExample:
    """One case as files in ``directory`` (the layout of ``kinema.puppet.dataset.write_triplet``), the prompt the
    tab's default model reads for it, and the driving subject (counted from the left) its reference replaces.
    ``key`` names it in the page (benchmark, case, motion)."""

    key: str
    case: Case
    directory: Path
    prompt: str
    bind: int

    def file(self, name: str) -> str:
        """Path of one of the sample's files: reference_0.png, driving.mp4, driving_kp0.npz, target.mp4, …"""
        return str(self.directory / name)


def left_rank(masks: np.ndarray, subject: int) -> int:
    """Position of ``subject`` among the subjects of masks (T, P, H, W) counted from the left, as ``--bind`` counts."""
    ordered = left_to_right(masks)
    return next(j for j in range(ordered.shape[1]) if np.array_equal(ordered[:, j], masks[:, subject]))


def make_examples(root: Path, mode: str, count: int, card: dict) -> list[PuppetExample]:
    """Render the first ``count`` cases of ``mode``'s benchmark and write each into ``root`` (fractions of a second)."""
    benchmark = get_benchmark(BENCHMARKS[mode])
    examples = []
    for spec in benchmark.case_specs(count):
        case = render_case(benchmark, spec)
        tri = case.triplet
        directory = write_triplet(root / benchmark.name / spec.id, tri)
        bound = tri.binding.index(0)  # the driving subject that reference 0 takes the place of
        key = f"{benchmark.name} case {spec.id}: {spec.motion.replace('_', ' ')}"
        examples.append(PuppetExample(key, case, directory, model_prompt(tri, card),
                                      left_rank(tri.driving.masks, bound)))
    return examples


@functools.cache
def _estimator() -> tuple[PoseEstimator | None, str | None]:
    return pose_estimator("humanoid")


def unscorable(example: PuppetExample, frames: np.ndarray) -> str | None:
    """Why ``frames`` (T, H, W, 3) cannot be compared with the exact target (None: they can)."""
    target = example.case.triplet.target.frames
    if frames.shape == target.shape:
        return None
    t, h, w = target.shape[:3]
    return (f"the output is {frames.shape[2]}x{frames.shape[1]}, {len(frames)} frames; the exact target {w}x{h}, "
            f"{t} frames: leave size and frames at their defaults to score it")


def score(example: PuppetExample, frames: np.ndarray) -> Scores:
    """PSNR / SSIM (frame and character region) and keypoint PCK / error of the output and of the two baselines
    against the exact target, as ``kinema demo`` reports them (keypoints estimated on each video); for replace
    cases also the PSNR of the background kept from the driving shot."""
    return scores_with_baselines(example.case, frames, _estimator()[0], SHOWN)
