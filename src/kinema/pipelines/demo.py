"""``kinema demo``: animate a puppet-world reference with another puppet's motion and score it
against the exact target that the puppet world renders (the papers have no such ground truth).
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
from PIL import Image

from kinema.io import atomic_path, write_json_atomic, write_video
from kinema.pipelines.animate import AnimateConfig, Animator
from kinema.puppet import make_triplet
from kinema.puppet.config import get_preset as puppet_preset
from kinema.sampling import SamplerConfig


def psnr(a: np.ndarray, b: np.ndarray) -> float:
    """Peak signal-to-noise ratio in dB of uint8 arrays (whole clip)."""
    mse = np.mean((a.astype(np.float64) - b.astype(np.float64)) ** 2)
    return float("inf") if mse == 0 else float(10 * np.log10(255.0**2 / mse))


def run_demo(out: str | os.PathLike, model: str = "tiny", seed: int = 0, steps: int = 30,
             progress: bool = True) -> dict:
    """Write reference.png, driving.mp4, target.mp4, output.mp4, side_by_side.mp4 and metrics.json to ``out``."""
    out = Path(out)
    triplet = make_triplet("animate", seed, puppet_preset("demo", families=("humanoid",)))
    reference, driving, target = triplet.reference_images[0], triplet.driving.frames, triplet.target.frames
    config = AnimateConfig(seed=seed, sampler=SamplerConfig(steps=steps))
    result = Animator.load(model)(reference, driving, config, progress)
    frames = len(result.frames)
    target, driving = target[:frames], driving[:frames]

    fps = triplet.driving.fps
    with atomic_path(out / "reference.png") as tmp:
        Image.fromarray(reference).save(tmp, format="PNG")
    write_video(out / "driving.mp4", driving, fps)
    write_video(out / "target.mp4", target, fps)
    write_video(out / "output.mp4", result.frames, fps)
    panels = [np.repeat(reference[None], frames, 0), driving, result.frames, target]
    write_video(out / "side_by_side.mp4", np.concatenate(panels, axis=2), fps)
    metrics = {
        "psnr_output_vs_target_db": psnr(result.frames, target),
        "baseline_static_reference_psnr_db": psnr(panels[0], target),
        "baseline_driving_copy_psnr_db": psnr(driving, target),
        "model": result.settings["model"], "seed": seed, "steps": steps, "frames": frames,
        "notes": result.notes, "puppet": triplet.labels.get("version"),
    }
    write_json_atomic(out / "metrics.json", metrics)
    return metrics
