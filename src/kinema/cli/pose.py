"""``kinema pose extract`` (video -> keypoints) and ``kinema pose render`` (keypoints -> skeleton video)."""

from __future__ import annotations

from pathlib import Path

import click
import numpy as np

from kinema.cli.options import SEED, size_callback
from kinema.errors import KinemaInputError
from kinema.io import check_output


def _check_out(out: Path, suffixes: tuple[str, ...], *inputs: Path | None) -> None:
    """Before any compute: ``out`` has one of ``suffixes``, can be written and is none of the verb's ``inputs``."""
    if out.suffix not in suffixes:
        raise KinemaInputError(f"--out '{out}'", f"has suffix '{out.suffix}'", f"Use one of: {', '.join(suffixes)}.")
    check_output(out, "--out", inputs)


@click.group()
def pose() -> None:
    """Extract or render 2D pose keypoints."""


@pose.command()
@click.argument("video", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="keypoints file (.npz or .json)")
@click.option("--backend", type=str, default=None,
              help="puppet (default, as kinema animate's --pose-backend), onnx (default when --model is given) or "
                   "mediapipe (optional, installed separately)")
@click.option("--model", type=click.Path(path_type=Path), default=None, help="top-down .onnx pose model (onnx), or puppet weights (default: shipped)")
@click.option("--family", type=click.Choice(["humanoid", "quadruped", "bird"]), default="humanoid", show_default=True, help="puppet family (puppet backend)")
@click.option("--max-frames", type=click.IntRange(min=1), default=None)
def extract(video: Path, out: Path, backend: str | None, model: Path | None, family: str, max_frames: int | None) -> None:
    """Estimate 2D keypoints for every frame of VIDEO."""
    from kinema.io import read_video
    from kinema.pose.estimators import get_estimator

    _check_out(out, (".npz", ".json"), video, model)
    backend = backend or ("onnx" if model is not None else "puppet")
    if backend == "mediapipe" and model is not None:
        raise KinemaInputError("--model", "is not used by the mediapipe backend", "Drop --model or pass --backend onnx.")
    options = {"onnx": {"model": model}, "puppet": {"family": family, "weights": model}}.get(backend, {})
    estimator = get_estimator(backend, **options)
    clip = read_video(video, max_frames=max_frames)
    keypoints = estimator(clip.frames).keypoints
    found = keypoints.detected
    if not found.any():
        raise KinemaInputError(f"video '{video}'", f"no person found in any of its {clip.num_frames} frames", "Use a video where one person is clearly visible, or another --backend/--model.")
    keypoints.check_finite(f"keypoints estimated from '{video}'").save(out)
    click.echo(f"{out}: {keypoints.layout}, person found in {int(found.sum())}/{clip.num_frames} frames")


@pose.command()
@click.argument("keypoints", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="skeleton video (.mp4)")
@click.option("--augment", is_flag=True, help="rescale bones (always) and bbox-normalise, DreamActor-M2 §3.3")
@click.option("--seed", type=SEED, default=0, show_default=True, help="seed of --augment")
@click.option("--size", callback=size_callback, default=None, help="output WIDTHxHEIGHT (default: the keypoints' size)")
@click.option("--fps", type=float, default=16.0, show_default=True, help="frame rate, 0.1 to 1000")
def render(keypoints: Path, out: Path, augment: bool, seed: int, size: tuple[int, int] | None, fps: float) -> None:
    """Draw KEYPOINTS (.npz or .json) as an OpenPose-style skeleton video."""
    from kinema.io import write_video
    from kinema.pipelines.inputs import check_size
    from kinema.pose.augment import PoseAugmentConfig, augment_pose
    from kinema.pose.keypoints import Keypoints
    from kinema.pose.render import render_pose

    _check_out(out, (".mp4",), keypoints)
    if size is not None:
        check_size(size)
    kp = Keypoints.load(keypoints)
    if kp.num_frames == 0 or not kp.detected.any():
        raise KinemaInputError(f"keypoints '{keypoints}'", "has no frame with a visible joint", "Re-run `kinema pose extract` on a video with a person.")
    if augment:
        kp = augment_pose(kp, PoseAugmentConfig(bone_scale_prob=1.0), np.random.default_rng(seed))
    write_video(out, render_pose(kp, size=size), fps=fps)
    click.echo(f"{out}: {kp.num_frames} frames, {size or kp.size}, {kp.layout}")
