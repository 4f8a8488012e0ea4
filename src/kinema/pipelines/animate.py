"""Animate: a reference character performs a driving video's motion (DreamActor-M2 recipe R1).

``Animator`` holds the loaded model; :func:`animate` is the file-in, file-out API of ``kinema animate``.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from kinema.backbone.components import WanComponents, build_components, load_components
from kinema.backbone.config import PRESETS, get_preset
from kinema.backbone.encoders import decode_latents, encode_prompt
from kinema.backbone.lora import load_lora
from kinema.backbone.segments import forward_segments
from kinema.backbone.widen import widen_patch_embedding
from kinema.errors import KinemaInputError
from kinema.io import load_image, read_video, write_json_atomic, write_video
from kinema.pipelines.inputs import Fit, fit_frames, resolve_frames, resolve_size, to_frames, to_tensor
from kinema.recipes import dreamactor_m2 as r1
from kinema.sampling import SamplerConfig, classifier_free_guidance, sample

R1_IN_CHANNELS = r1.LATENT_CHANNELS + r1.MASK_CHANNELS + r1.LATENT_CHANNELS  # 36, Wan2.1-I2V layout


@dataclass(frozen=True)
class AnimateConfig:
    """Settings of one animation. ``size`` is (W, H); None takes the driving video's size/length."""

    size: tuple[int, int] | None = None
    frames: int | None = None
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    layout: r1.Layout = "spatial"
    fit: Fit = "error"
    sampler: SamplerConfig = field(default_factory=SamplerConfig)


@dataclass
class AnimationResult:
    """Output frames (T, H, W, 3) uint8, the resolved settings, and notes for the user."""

    frames: np.ndarray
    settings: dict
    notes: list[str]


class Animator:
    """A Wan model prepared for recipe R1 (patch embedding widened to 36 channels if needed)."""

    def __init__(self, components: WanComponents, random_weights: bool = False) -> None:
        widen_patch_embedding(components.transformer, max(R1_IN_CHANNELS, components.transformer.config.in_channels))
        self.components = components
        self.random_weights = random_weights

    @classmethod
    def load(cls, model: str = "tiny", adapter: str | os.PathLike | None = None, device: str = "cpu",
             dtype: torch.dtype = torch.float32) -> Animator:
        """Load a preset by name (random weights) or a local diffusers-format Wan directory, plus a LoRA."""
        if model in PRESETS:
            components, random_weights = build_components(get_preset(model)), True
        elif Path(model).is_dir():
            components, random_weights = load_components(model, dtype), False
        else:
            raise KinemaInputError(f"--model '{model}'", "is neither a preset nor a directory",
                                   f"Pass a Wan diffusers directory or one of: {', '.join(PRESETS)}.")
        animator = cls(components.to(device, dtype), random_weights)
        if adapter is not None:
            load_lora(animator.components.transformer, adapter)
        return animator

    def __call__(self, reference: np.ndarray, driving: np.ndarray, config: AnimateConfig = AnimateConfig(),
                 progress: bool = True) -> AnimationResult:
        """Animate ``reference`` (H, W, 3) uint8 with ``driving`` (T, H, W, 3) uint8 frames."""
        # 1. Check inputs and resolve the output size and length.
        notes: list[str] = []
        size = resolve_size(config.size or (driving.shape[2], driving.shape[1]), notes)
        frames = resolve_frames(config.frames, len(driving), notes)
        device = self.components.transformer.device
        ref = to_tensor(fit_frames(reference[None], size, config.fit, "reference image"))[:, :, 0].to(device)
        drv = to_tensor(fit_frames(driving[:frames], size, config.fit, "driving video")).to(device)

        # 2. Encode the conditions (shared with training: r1.build_inputs).
        inputs = r1.build_inputs(self.components, ref, drv, config.layout)
        text = encode_prompt(self.components, [config.prompt, config.negative_prompt])
        dtype = self.components.transformer.dtype

        def velocity(context: torch.Tensor):
            def v(x: torch.Tensor, t: torch.Tensor) -> torch.Tensor:
                segments = r1.segments(inputs, x.to(dtype), t)
                image = None if inputs.image_tokens is None else inputs.image_tokens.to(dtype)
                return forward_segments(self.components.transformer, segments, context.to(dtype), image)[0].float()
            return v

        guided = classifier_free_guidance(velocity(text[:1]), velocity(text[1:]), config.sampler.guidance)

        # 3. Sample from seeded noise and decode the character half.
        noise = torch.randn(inputs.latent_shape, generator=torch.Generator().manual_seed(config.seed)).to(device)
        latents = sample(guided, noise, config.sampler, progress)
        video = decode_latents(self.components, r1.character_latents(inputs, latents))
        if self.random_weights:
            notes.append(f"model '{self.components.source}' has random weights: the output shows the pipeline "
                         "working, not a trained animation; pass --model DIR for real Wan weights")
        settings = {**asdict(config), "size": list(size), "frames": frames, "model": self.components.source}
        return AnimationResult(to_frames(video), settings, notes)


def animate(reference: str | os.PathLike, driving: str | os.PathLike, out: str | os.PathLike,
            config: AnimateConfig = AnimateConfig(), model: str = "tiny",
            adapter: str | os.PathLike | None = None, progress: bool = True) -> AnimationResult:
    """Read the inputs, animate, and write ``out`` (H.264 mp4) plus ``out`` with suffix .json, atomically."""
    out = Path(out)
    if out.suffix.lower() != ".mp4":
        raise KinemaInputError(f"--out '{out}'", "must end in .mp4", "Pass e.g. --out result.mp4.")
    image = load_image(reference, "reference image")
    video = read_video(driving, name="driving video")
    result = Animator.load(model, adapter)(image, video.frames, config, progress)
    result.settings.update(reference=str(reference), driving=str(driving), adapter=adapter and str(adapter),
                           fps=video.fps, notes=result.notes)
    write_video(out, result.frames, fps=video.fps)
    write_json_atomic(out.with_suffix(".json"), result.settings)
    return result
