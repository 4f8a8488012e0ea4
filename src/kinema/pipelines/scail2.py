"""SCAIL-2 animate and replace (recipe R2): reference character(s) + raw driving video + subject masks.

One :class:`ScailAnimator` (one set of weights) serves both modes; the mode is an input. Animation
keeps the reference's environment, replacement puts the character(s) into the driving shot in place
of the bound subjects. :func:`animate_scail` is the file-in, file-out API of ``kinema replace`` and
``kinema animate --driving-mode rgb``.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch

from kinema.backbone.components import WanComponents
from kinema.backbone.encoders import encode_prompt
from kinema.backbone.lora import Adapters, as_adapters
from kinema.backbone.offload import Offload, place, stage
from kinema.backbone.segments import forward_segments
from kinema.errors import KinemaInputError
from kinema.io import load_image, read_video, write_json_atomic, write_video
from kinema.pipelines.dreamactor_m2 import AnimationResult
from kinema.pipelines.inputs import (
    Fit, check_video_out, fit_frames, resolve_frames, resolve_size, size_multiple, size_reason, to_frames, to_tensor,
    trim_frames,
)
from kinema.pipelines.models import (
    adapter_card, card_prediction, card_sigma_data, check_recipe, load_adapters, load_model, resolve_device, sampler_for,
)
from kinema.recipes import scail2 as r2
from kinema.sampling import SamplerConfig, classifier_free_guidance, sample
from kinema.sampling.prediction import to_velocity
from kinema.segment import MaskFileSegmenter, SlotMasks, bind_slots, check_masks, get_segmenter, left_to_right


@dataclass(frozen=True)
class ScailConfig:
    """Settings of one call. ``size`` is (W, H); None takes the driving video's size/length.
    ``bind[k]`` is the driving subject (counted from the left) that reference character k replaces."""

    mode: r2.Mode = "replace"
    size: tuple[int, int] | None = None
    frames: int | None = None
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    fit: Fit = "error"
    bind: tuple[int, ...] | None = None
    sampler: SamplerConfig | None = None  # None: the model card's steps, guidance and flow shift (sampler_for)


def fit_masks(masks: np.ndarray, size: tuple[int, int], fit: Fit, name: str) -> np.ndarray:
    """Masks (T, P, H, W) bool -> (T, P, H', W') float32 coverage, fitted exactly like their frames."""
    fitted = [fit_frames(np.repeat(masks[:, p, :, :, None], 3, -1).astype(np.uint8) * 255, size, fit, name)[..., 0]
              for p in range(masks.shape[1])]
    return np.stack(fitted, axis=1).astype(np.float32) / 255.0


@dataclass
class Prepared:
    """The recipe inputs of one call and the binding they encode."""

    inputs: r2.R2Inputs
    slots: SlotMasks
    size: tuple[int, int]
    frames: int


def card_recipe(card: dict, model: str, driving_resolution: str | None) -> r2.R2Config:
    """The R2 settings a trained model's card records; a different requested driving resolution is an error."""
    try:
        recipe = r2.R2Config(**card["r2"])
    except (TypeError, ValueError):
        raise KinemaInputError(f"model '{model}'", f"records R2 settings {card['r2']} of another token layout (kinema "
                               "before SCAIL-2's released layout)", "Retrain it with this kinema (kinema train).") from None
    if driving_resolution not in (None, recipe.driving_resolution):
        raise KinemaInputError(f"--driving-resolution {driving_resolution}",
                               f"differs from the {recipe.driving_resolution} resolution model '{model}' was trained with",
                               f"Pass --driving-resolution {recipe.driving_resolution} (or leave it out).")
    return recipe


class ScailAnimator:
    """A Wan model prepared for recipe R2: SCAIL-2's released layout (:func:`r2.prepare_transformer`: the video
    patch embedding takes latents + I2V mask, the driving and mask embeddings added where missing)."""

    def __init__(self, components: WanComponents, recipe: r2.R2Config = r2.R2Config(), random_weights: bool = False,
                 card: dict | None = None) -> None:
        for expert in components.experts:
            r2.prepare_transformer(expert, components.codec.channels)
        self.components, self.recipe, self.random_weights = components, recipe, random_weights
        self.card = card or {}
        self.prediction = card_prediction(self.card)
        self.sigma_data = card_sigma_data(self.card)

    @classmethod
    def load(cls, model: str = "tiny", adapters: Adapters = (), device: str = "cpu",
             dtype: torch.dtype = torch.float32, driving_resolution: str | None = None,
             offload: Offload = "none") -> ScailAnimator:
        """Load a preset (random weights), a diffusers Wan directory, or a converted SCAIL-2 checkpoint
        (``kinema convert scail2``), placed on ``device`` under ``offload`` (:mod:`kinema.backbone.offload`). A
        trained R2 model's card (``kinema.json``) fixes the recipe settings (slots, driving resolution,
        ablations); otherwise they are the released model's."""
        card = adapter_card(model, adapters)
        check_recipe(card, "scail-2", model, adapters)
        components, random_weights = load_model(model, dtype)
        recipe = (card_recipe(card, model, driving_resolution) if "r2" in card
                  else r2.R2Config(driving_resolution=driving_resolution or "half"))
        animator = cls(components, recipe, random_weights, card)
        load_adapters(animator.components, adapters)
        place(animator.components, device, dtype, offload)
        return animator

    def prepare(self, references: Sequence[np.ndarray], driving: np.ndarray, reference_masks: Sequence[np.ndarray],
                driving_masks: np.ndarray, config: ScailConfig, notes: list[str]) -> Prepared:
        """Check, fit and bind the inputs, then encode them with ``r2.build_inputs`` (shared with training).

        Args:
            references: K images (H_k, W_k, 3) uint8.
            driving: (T, H, W, 3) uint8 frames.
            reference_masks: per reference, (1, P_k, H_k, W_k) bool, characters in slot order.
            driving_masks: (T, P, H, W) bool, subjects in the order ``config.bind`` counts them.
        """
        # 1. Check inputs and resolve the output size and length.
        if config.mode not in r2.MODES:
            raise KinemaInputError(f"mode '{config.mode}'", "is unknown", "Use 'animate' or 'replace'.")
        if len(reference_masks) != len(references):
            raise KinemaInputError(f"{len(reference_masks)} reference masks", f"for {len(references)} references",
                                   "Give one mask per reference image, in the same order.")
        driving_masks = check_masks(driving_masks, driving, "driving masks")
        requested = config.size or (driving.shape[2], driving.shape[1])
        multiple = size_multiple(self.components) * self.recipe.pool  # half-resolution driving halves the sides
        size = resolve_size(requested, notes, multiple)
        frames = resolve_frames(config.frames, len(driving), notes)
        # 2. Fit frames and masks to the output size (noting each change), then bind characters to subjects.
        why = size_reason("--size" if config.size else "the driving video's size", requested, size, multiple)
        refs = [fit_frames(r[None], size, config.fit, f"reference image {k}", notes, why)[0]
                for k, r in enumerate(references)]
        ref_masks = [fit_masks(check_masks(m, r[None], f"reference mask {k}"), size, config.fit, f"reference mask {k}")[0]
                     for k, (m, r) in enumerate(zip(reference_masks, references))]
        drv = fit_frames(trim_frames(driving, frames, "driving video", notes, requested=config.frames), size, config.fit, "driving video", notes, why)
        slots = bind_slots(ref_masks, fit_masks(driving_masks[:frames], size, config.fit, "driving masks"),
                           config.bind, self.recipe.slots)
        # 3. Encode the conditions.
        device = self.components.device
        ref_tensor = torch.cat([to_tensor(r[None]) for r in refs])[:, :, 0][None].to(device)  # (1, K, 3, H, W)
        ref_slots, drv_slots = (m.to(device) for m in slots.tensors())
        with stage(self.components, "encoders", "codec"):
            inputs = r2.build_inputs(self.components, ref_tensor, to_tensor(drv).to(device), ref_slots, drv_slots,
                                     config.mode, self.recipe)
        return Prepared(inputs, slots, size, frames)

    def __call__(self, references: Sequence[np.ndarray], driving: np.ndarray, reference_masks: Sequence[np.ndarray],
                 driving_masks: np.ndarray, config: ScailConfig = ScailConfig(), progress: bool = True) -> AnimationResult:
        """Animate or replace; arguments as :meth:`prepare`. Returns frames (T, H, W, 3) uint8 and settings."""
        notes: list[str] = []
        prepared = self.prepare(references, driving, reference_masks, driving_masks, config, notes)
        sampler = config.sampler or sampler_for(self.card)
        latents = self._sample(prepared.inputs, config, sampler, progress)
        with stage(self.components, "codec"):
            video = self.components.codec.decode(latents)
        if self.random_weights:
            notes.append(f"model '{self.components.source}' has random weights: the output shows the pipeline "
                         "working, not a trained animation; pass --model DIR for trained weights")
        settings = {**asdict(config), "sampler": asdict(sampler), "size": list(prepared.size), "frames": prepared.frames,
                    "model": self.components.source, "recipe": asdict(self.recipe),
                    "binding": [{"slot": s, "reference": k, "character": p, "driving_subject": j}
                                for s, ((k, p), j) in enumerate(zip(prepared.slots.characters, prepared.slots.bind))]}
        return AnimationResult(to_frames(video), settings, notes)

    def _sample(self, inputs: r2.R2Inputs, config: ScailConfig, sampler: SamplerConfig, progress: bool) -> torch.Tensor:
        """Denoise from seeded noise with text classifier-free guidance, as ``sampler`` sets."""
        with stage(self.components, "encoders"):
            text = encode_prompt(self.components, [config.prompt, config.negative_prompt])
        device, dtype = self.components.device, self.components.transformer.dtype
        image = None if inputs.image_tokens is None else inputs.image_tokens.to(dtype)

        def velocity(context: torch.Tensor):
            def v(x: torch.Tensor, t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
                model = self.components.expert(t)  # Wan2.2 MoE: the expert of this noise level
                out = forward_segments(model, r2.segments(inputs, x.to(dtype), t), context.to(dtype), image)[0]
                return to_velocity(out.float(), x, sigma, self.prediction, self.sigma_data)
            return v

        guided = classifier_free_guidance(velocity(text[:1]), velocity(text[1:]), sampler.guidance)
        noise = torch.randn(inputs.latent_shape, generator=torch.Generator().manual_seed(config.seed))
        with stage(self.components, "transformer"):
            return sample(guided, noise.to(device), sampler, progress)


def segment_inputs(images: Sequence[np.ndarray], video: np.ndarray, masks: str | os.PathLike | None,
                   reference_masks: Sequence[str | os.PathLike], segmenter: str) -> tuple[list[np.ndarray], np.ndarray]:
    """Masks from files where given, else from ``segmenter``; subjects of each sorted left to right."""
    if reference_masks and len(reference_masks) != len(images):
        raise KinemaInputError(f"{len(reference_masks)} --reference-masks", f"for {len(images)} --reference images",
                               "Give one reference mask per --reference, in the same order (or none).")
    model = None if masks is not None and reference_masks else get_segmenter(segmenter)
    refs = [MaskFileSegmenter(m, f"reference mask {k}")(i[None]) if reference_masks else model(i[None])
            for k, (m, i) in enumerate(zip(reference_masks or [None] * len(images), images))]
    driving = MaskFileSegmenter(masks, "driving masks")(video) if masks is not None else model(video)
    return [left_to_right(m) for m in refs], left_to_right(driving)


def animate_scail(references: Sequence[str | os.PathLike], driving: str | os.PathLike, out: str | os.PathLike,
                  config: ScailConfig = ScailConfig(), model: str = "tiny", adapters: Adapters = (),
                  masks: str | os.PathLike | None = None, reference_masks: Sequence[str | os.PathLike] = (),
                  segmenter: str = "mediapipe", driving_resolution: str | None = None, progress: bool = True,
                  device: str = "auto", offload: Offload = "none") -> AnimationResult:
    """Read the inputs, segment, animate or replace on ``device`` (:func:`~kinema.pipelines.models.resolve_device`)
    under ``offload`` (:mod:`kinema.backbone.offload`), and write ``out`` (mp4) plus ``out`` .json, atomically."""
    adapters = as_adapters(adapters)
    out = check_video_out(out, (*references, driving, masks, *reference_masks, *(a.path for a in adapters)))
    check_recipe(adapter_card(model, adapters), "scail-2", model, adapters)  # before asking for masks or a segmenter
    images = [load_image(r, f"reference image {k}") for k, r in enumerate(references)]
    # Only the output's frames are read; driving masks from a file match the whole video.
    video = read_video(driving, config.frames if masks is None else None, name="driving video")
    ref_masks, drv_masks = segment_inputs(images, video.frames, masks, reference_masks, segmenter)
    device, dtype = resolve_device(device)
    animator = ScailAnimator.load(model, adapters, device, dtype, driving_resolution=driving_resolution, offload=offload)
    result = animator(images, video.frames, ref_masks, drv_masks, config, progress)
    result.settings.update(references=[str(r) for r in references], driving=str(driving), masks=masks and str(masks),
                           reference_masks=[str(m) for m in reference_masks], segmenter=segmenter,
                           adapters=[str(a) for a in adapters], device=device, offload=offload, fps=video.fps,
                           notes=result.notes)
    write_video(out, result.frames, fps=video.fps)
    write_json_atomic(out.with_suffix(".json"), result.settings)
    return result
