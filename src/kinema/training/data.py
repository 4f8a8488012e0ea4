"""Training samples for recipe R1 from the puppet world, their cached latents, and the data order.

A sample is drawn from its index alone (seeded), so the data set is a pure function of the config;
its latents are encoded once by the codec and the frozen text encoder and kept for every epoch.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from functools import partial
from itertools import islice
from typing import TypeVar

import cv2
import numpy as np
import torch
from tqdm import tqdm

from kinema.backbone.components import WanComponents
from kinema.backbone.encoders import encode_prompt
from kinema.guidance.puppet import puppet_description, triplet_description
from kinema.pipelines.inputs import to_tensor
from kinema.pose.augment import pose_free_frames
from kinema.pose.driving import reference_skeleton, training_skeleton
from kinema.pose.keypoints import Keypoints
from kinema.puppet import SynthConfig, make_scene, make_triplet, render_scene
from kinema.puppet.dataset import sample_seed
from kinema.recipes import dreamactor_m2 as r1
from kinema.training.config import DataConfig, TrainConfig


@dataclass
class Sample:
    """Pixels of one training example: reference (H, W, 3), driving and target (T, H, W, 3) uint8."""

    reference: np.ndarray
    driving: np.ndarray
    target: np.ndarray
    text: str


def _synth(config: DataConfig) -> SynthConfig:
    return SynthConfig(size=config.size, frames=config.frames, fps=config.fps, families=config.families,
                       characters=(1, 1), camera_prob=config.camera_prob, modes=("animate",))


def with_reference_pose(driving: np.ndarray, reference: Keypoints, config: DataConfig) -> np.ndarray:
    """``driving`` (T, H, W, 3) with frame 0 the reference's skeleton when ``config.reference_pose``."""
    if not config.reference_pose:
        return driving
    driving = driving.copy()
    driving[0] = reference_skeleton(reference, config.size, config.skeleton_width)
    return driving


def pose_sample(seed: int, config: DataConfig) -> Sample:
    """DreamActor-M2 §3.3 self-supervision: the clip is the target, its frame 0 the reference and
    its augmented skeleton (lead-in masked) the driving signal."""
    clip = render_scene(make_scene(seed, _synth(config)))
    rng = np.random.default_rng([seed, 71])
    driving = training_skeleton(clip.keypoints[0], config.augment, rng, config.fps, config.lead_in_seconds,
                                config.skeleton_width)
    driving = with_reference_pose(driving, clip.keypoints[0], config)
    return Sample(clip.frames[0], driving, clip.frames, puppet_description(clip.labels, clip.labels, config.text_chars))


def oracle_sample(seed: int, config: DataConfig) -> Sample:
    """An exact cross-identity animate triplet: another puppet's skeleton drives the reference; the
    target is the reference identity performing it. Frame 0 of the target is the reference itself
    (what the first-frame condition states) and the lead-in of the driving signal is masked."""
    triplet = make_triplet("animate", seed, _synth(config))
    rng = np.random.default_rng([seed, 71])
    driving = training_skeleton(triplet.driving.keypoints[0], config.augment, rng, config.fps,
                                config.lead_in_seconds, config.skeleton_width)
    driving = with_reference_pose(driving, triplet.references[0].keypoints[0], config)
    target = triplet.target.frames.copy()
    target[0] = triplet.reference_images[0]
    return Sample(triplet.reference_images[0], driving, target, triplet_description(triplet, config.text_chars))


BLANK = 128  # the "zero image" of eq. 2 as 8-bit pixels (0 in [-1, 1], up to half a grey level)


def copy_sample(seed: int, config: DataConfig) -> Sample:
    """In-context reconstruction: the driving signal is the clip's own RGB video and the reference is
    blank, so the whole target must be read from the driving half of the composite. This dense signal
    teaches a model trained from scratch the width-offset attention that in-context conditioning relies
    on (a pretrained Wan brings it; TRAINING.md measures how slowly the sparse pose signal alone teaches it)."""
    clip = render_scene(make_scene(seed, _synth(config)))
    blank = np.full_like(clip.frames[0], BLANK)
    return Sample(blank, clip.frames, clip.frames, puppet_description(clip.labels, clip.labels, config.text_chars))


def is_copy(index: int, config: DataConfig) -> bool:
    """Whether sample ``index`` is an in-context reconstruction (probability ``copy_fraction``)."""
    return bool(np.random.default_rng([config.seed, index, 97]).random() < config.copy_fraction)


def make_sample(index: int, config: DataConfig) -> Sample:
    """Sample ``index`` of the data set described by ``config``."""
    seed = sample_seed(config.seed, index)
    if is_copy(index, config):
        return copy_sample(seed, config)
    return (pose_sample if config.recipe == "pose" else oracle_sample)(seed, config)


ENCODE_BATCH = 16  # samples encoded together (one codec and text-encoder call each, not one per sample)


@torch.no_grad()
def encode_samples(components: WanComponents, samples: list[Sample], layout: r1.Layout) -> list[dict[str, torch.Tensor]]:
    """Latents of samples of one shape, through the same builder as inference (``r1.build_inputs``), in one batch.

    Returns per sample ``condition`` (20, f, h, w'), ``x0`` (16, f, h, w'), ``text`` (L, D) and the scalar
    ``character_width`` (latent columns of the character video).
    """
    device = components.transformer.device
    ref = torch.cat([to_tensor(s.reference[None]) for s in samples])[:, :, 0].to(device)  # (B, 3, H, W)
    drv = torch.cat([to_tensor(s.driving) for s in samples]).to(device)  # (B, 3, F, H, W)
    tgt = torch.cat([to_tensor(s.target) for s in samples]).to(device)
    inputs = r1.build_inputs(components, ref, drv, layout)
    batch = {"condition": inputs.condition, "x0": r1.target_latents(components, inputs, tgt, drv),
             "text": encode_prompt(components, [s.text for s in samples])}
    if inputs.context is not None:
        batch["context"] = inputs.context
    return [{**{k: v[i].float().cpu().clone() for k, v in batch.items()},  # each its own storage
             "character_width": torch.tensor(inputs.character_width)} for i in range(len(samples))]


def encode_sample(components: WanComponents, sample: Sample, layout: r1.Layout) -> dict[str, torch.Tensor]:
    """Latents of one sample (:func:`encode_samples` of one)."""
    return encode_samples(components, [sample], layout)[0]


T = TypeVar("T")


def rendered(make: Callable[[int], T], indices: range, workers: int = 1) -> Iterator[T]:
    """``make(i)`` for each of ``indices``, in order; drawn by ``workers`` processes when more than one. They are
    spawned (not forked: the parent may hold a GPU), and each sample is a function of its index alone, so the
    data set does not depend on ``workers``. ``make`` must pickle (a module-level function or a partial of one).
    """
    if workers <= 1:
        yield from map(make, indices)
        return
    with multiprocessing.get_context("spawn").Pool(workers, initializer=_one_thread) as pool:
        yield from pool.imap(make, indices, chunksize=4)


def _one_thread() -> None:
    """A drawing process computes on one thread (as DataLoader workers do): N processes of N threads each
    would oversubscribe the cores."""
    torch.set_num_threads(1)
    cv2.setNumThreads(1)


def encode_dataset(components: WanComponents, config: DataConfig, layout: r1.Layout, indices: range,
                   progress: bool = True, workers: int = 1) -> Iterator[dict[str, torch.Tensor]]:
    """The encoded samples ``indices``, in order (a rank encodes only its own share when sharded by the
    caller), their pixels drawn by ``workers`` processes and encoded :data:`ENCODE_BATCH` at a time."""
    samples = rendered(partial(make_sample, config=config), indices, workers)
    with tqdm(total=len(indices), desc="encoding samples", disable=not progress) as bar:
        while chunk := list(islice(samples, ENCODE_BATCH)):
            yield from encode_samples(components, chunk, layout)
            bar.update(len(chunk))


def lead_in_frames(config: DataConfig) -> int:
    """Pixel frames of pose-free lead-in."""
    return pose_free_frames(config.fps, config.lead_in_seconds)


def epoch_order(n: int, seed: int, positions: range) -> list[int]:
    """Items at ``positions`` of an endless sequence of per-epoch seeded permutations of ``range(n)``."""
    perms = {e: torch.randperm(n, generator=torch.Generator().manual_seed(seed * 100_003 + e))
             for e in {p // n for p in positions}}
    return [int(perms[p // n][p % n]) for p in positions]


def batch_indices(config: TrainConfig, step: int) -> list[int]:
    """Global batch of ``step``: consecutive positions in a per-epoch seeded permutation."""
    start = step * config.batch_size
    return epoch_order(config.data.samples, config.seed, range(start, start + config.batch_size))


def stack(samples: list[dict[str, torch.Tensor]], key: str, device: torch.device) -> torch.Tensor | None:
    """``samples[i][key]`` stacked on ``device`` (floating point as float32); None when the samples have no ``key``."""
    if key not in samples[0]:
        return None
    return torch.stack([s[key].float() if s[key].is_floating_point() else s[key] for s in samples]).to(device)
