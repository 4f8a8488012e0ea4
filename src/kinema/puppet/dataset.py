"""Storage: a directory of triplets with a manifest, and a lazy PyTorch ``Dataset`` over it.

Layout::

    root/manifest.json                    version, config, seed, samples [{id, mode, seed, dir}]
    root/samples/000000/labels.json       mode, binding, identities, motions, captions
    root/samples/000000/reference_0.png   reference stills (lossless)
    root/samples/000000/{driving,target}.mp4, *_background.mp4   H.264 video
    root/samples/000000/{driving,target,reference_k}_masks.npz   masks, amodal (T, P, H, W) bool, lossless
    root/samples/000000/{driving,target,reference_k}_kp{p}.npz   one Keypoints file per actor

The manifest is written last, so a directory with a manifest is complete.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from kinema.errors import KinemaInputError
from kinema.io import atomic_path, read_video, write_json_atomic, write_video
from kinema.pose.keypoints import Keypoints
from kinema.puppet.config import SynthConfig
from kinema.puppet.pairs import Triplet, make_triplet
from kinema.puppet.scene import Clip
from kinema.puppet.version import GENERATOR_VERSION


def sample_seed(seed: int, index: int) -> int:
    """Seed of sample ``index`` of the data set seeded by ``seed``, drawn on its own (O(1) in ``index``)."""
    return int(np.random.default_rng([seed, index]).integers(2**31))


def sample_seeds(seed: int, count: int) -> list[int]:
    """Per-sample seeds derived from the dataset seed (sample i does not depend on ``count``)."""
    return [sample_seed(seed, i) for i in range(count)]


def iter_triplets(config: SynthConfig, count: int, seed: int) -> Iterator[Triplet]:
    """Triplets cycling through ``config.modes``, deterministic in ``seed``."""
    for i, s in enumerate(sample_seeds(seed, count)):
        yield make_triplet(config.modes[i % len(config.modes)], s, config)


def _write_clip(directory: Path, name: str, clip: Clip, video: bool) -> None:
    if video:
        write_video(directory / f"{name}.mp4", clip.frames, clip.fps)
        write_video(directory / f"{name}_background.mp4", clip.background, clip.fps)
    else:
        with atomic_path(directory / f"{name}.png") as tmp:
            Image.fromarray(clip.frames[0]).save(tmp, format="PNG")
    with atomic_path(directory / f"{name}_masks.npz") as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, masks=clip.masks, amodal=clip.amodal)
    for p, kp in enumerate(clip.keypoints):
        kp.save(directory / f"{name}_kp{p}.npz")


def write_triplet(directory: str | os.PathLike, triplet: Triplet) -> Path:
    """Write one triplet into ``directory`` (created)."""
    directory = Path(directory)
    for k, ref in enumerate(triplet.references):
        _write_clip(directory, f"reference_{k}", ref, video=False)
    _write_clip(directory, "driving", triplet.driving, video=True)
    _write_clip(directory, "target", triplet.target, video=True)
    labels = triplet.labels | {"driving": triplet.driving.labels, "target": triplet.target.labels,
                               "references": [r.labels for r in triplet.references], "fps": triplet.driving.fps}
    write_json_atomic(directory / "labels.json", labels)
    return directory


def write_dataset(root: str | os.PathLike, config: SynthConfig, count: int, seed: int,
                  progress: Callable[[int], None] | None = None) -> Path:
    """Render ``count`` triplets into ``root`` and write the manifest last; returns the manifest path."""
    if count < 1:
        raise KinemaInputError("samples", f"{count} requested", "Ask for at least 1 sample.")
    root = Path(root)
    samples = []
    for i, triplet in enumerate(iter_triplets(config, count, seed)):
        rel = f"samples/{i:06d}"
        write_triplet(root / rel, triplet)
        samples.append({"id": f"{i:06d}", "mode": triplet.mode, "seed": triplet.seed, "dir": rel})
        if progress:
            progress(1)
    manifest = {"version": GENERATOR_VERSION, "seed": seed, "config": config.to_dict(), "count": count, "samples": samples}
    write_json_atomic(root / "manifest.json", manifest)
    return root / "manifest.json"


def _read_clip(directory: Path, name: str, actors: int, labels: dict[str, Any], fps: float) -> Clip:
    if (directory / f"{name}.png").exists():
        frames = np.asarray(Image.open(directory / f"{name}.png").convert("RGB"))[None]
        background = np.zeros_like(frames)
    else:
        frames = read_video(directory / f"{name}.mp4", name=name).frames
        background = read_video(directory / f"{name}_background.mp4", name=f"{name} background").frames
    with np.load(directory / f"{name}_masks.npz") as m:
        masks, amodal = m["masks"], m["amodal"]
    h, w = masks.shape[-2:]
    keypoints = tuple(Keypoints.load(directory / f"{name}_kp{p}.npz") for p in range(actors))
    return Clip(frames[:, :h, :w], background[:, :h, :w], masks, amodal, keypoints, labels, fps)


def read_triplet(directory: str | os.PathLike) -> Triplet:
    """Read a triplet written by :func:`write_triplet` (video frames as decoded from H.264)."""
    directory = Path(directory)
    labels = json.loads((directory / "labels.json").read_text())
    fps = labels["fps"]
    refs = tuple(_read_clip(directory, f"reference_{k}", len(lab["actors"]), lab, fps) for k, lab in enumerate(labels["references"]))
    driving = _read_clip(directory, "driving", len(labels["driving"]["actors"]), labels["driving"], fps)
    target = _read_clip(directory, "target", len(labels["target"]["actors"]), labels["target"], fps)
    core = {k: v for k, v in labels.items() if k not in ("driving", "target", "references", "fps")}
    return Triplet(labels["mode"], refs, driving, target, tuple(labels["binding"]), labels["seed"], core)


def _video(frames: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(frames)).permute(3, 0, 1, 2).float() / 255.0  # (3, T, H, W)


class PuppetDataset(torch.utils.data.Dataset):
    """Lazy reader of a dataset written by :func:`write_dataset`; one sample = one triplet.

    An item is a dict: ``reference`` (K, 3, H, W), ``driving``/``target`` (3, T, H, W) in [0, 1];
    ``driving_masks``/``target_masks`` (T, P, H, W) bool; ``driving_keypoints``/``target_keypoints``
    lists (one per actor) of :class:`Keypoints`; ``binding`` (k,) long; ``mode``; ``caption``
    (the target's); ``labels`` (the sample's labels).
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        manifest = self.root / "manifest.json"
        if not manifest.is_file():
            raise KinemaInputError(f"puppet dataset '{self.root}'", "has no manifest.json", "Write it with `kinema synth --out DIR`.")
        self.manifest = json.loads(manifest.read_text())
        self.samples = self.manifest["samples"]

    def __len__(self) -> int:
        return len(self.samples)

    def __getitem__(self, index: int) -> dict[str, Any]:
        t = read_triplet(self.root / self.samples[index]["dir"])
        return {
            "reference": torch.from_numpy(t.reference_images).permute(0, 3, 1, 2).float() / 255.0,
            "driving": _video(t.driving.frames), "target": _video(t.target.frames),
            "driving_masks": torch.from_numpy(t.driving.masks), "target_masks": torch.from_numpy(t.target.masks),
            "driving_keypoints": list(t.driving.keypoints), "target_keypoints": list(t.target.keypoints),
            "binding": torch.tensor(t.binding, dtype=torch.long), "mode": t.mode,
            "caption": t.target.labels["caption"], "labels": t.labels,
        }
