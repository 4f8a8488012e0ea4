"""SCAIL-2 animate and replace (recipe R2): reference character(s) + raw driving video + subject masks.

One :class:`ScailAnimator` (one set of weights) serves both modes; the mode is an input. Animation
keeps the reference's environment, replacement puts the character(s) into the driving shot in place
of the bound subjects. :func:`animate_scail` is the file-in, file-out API of ``kinema replace`` and
``kinema animate --driving-mode rgb``.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass

import numpy as np
import torch
from tqdm import tqdm

from kinema.backbone.block_attention import ConditionCache
from kinema.backbone.components import WanComponents
from kinema.backbone.encoders import encode_prompt
from kinema.backbone.lora import Adapters, as_adapters
from kinema.backbone.offload import Offload, place, stage
from kinema.errors import KinemaInputError
from kinema.io import load_image, write_json_atomic
from kinema.io.video import Frames, FrameSource, VideoReader, VideoWriter
from kinema.pipelines.dreamactor_m2 import AnimationResult
from kinema.pipelines.inputs import (
    Fit, check_video_out, fit_frames, resolve_size, resolve_total, size_multiple, size_reason, to_frames, to_tensor,
)
from kinema.pipelines.models import (
    adapter_card, card_prediction, card_sigma_data, check_recipe, load_adapters, load_model, resolve_device, sampler_for,
)
from kinema.pipelines.windows import (
    Assembler, WindowOptions, card_windows, carried_latents, driving_index, prepare_history,
)
from kinema.recipes import scail2 as r2
from kinema.sampling import SamplerConfig, classifier_free_guidance, sample
from kinema.sampling.prediction import to_velocity
from kinema.segment import SlotMasks, bind_slots, check_masks, get_segmenter, left_to_right, read_mask_file


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
    windows: WindowOptions = WindowOptions()  # long videos (kinema.pipelines.windows); None fields: the card's


def fit_masks(masks: np.ndarray, size: tuple[int, int], fit: Fit, name: str) -> np.ndarray:
    """Masks (T, P, H, W) bool -> (T, P, H', W') float32 coverage, fitted exactly like their frames."""
    fitted = [fit_frames(np.repeat(masks[:, p, :, :, None], 3, -1).astype(np.uint8) * 255, size, fit, name)[..., 0]
              for p in range(masks.shape[1])]
    return np.stack(fitted, axis=1).astype(np.float32) / 255.0


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

    def references(self, references: Sequence[np.ndarray], reference_masks: Sequence[np.ndarray],
                   driving_size: tuple[int, int], config: ScailConfig,
                   notes: list[str]) -> tuple[tuple[int, int], str, list[np.ndarray], list[np.ndarray]]:
        """Check the mode and references, resolve the output size, and fit the references and their masks to it
        (noting each change): (size, why it is that size, references, reference masks as coverage)."""
        if config.mode not in r2.MODES:
            raise KinemaInputError(f"mode '{config.mode}'", "is unknown", "Use 'animate' or 'replace'.")
        if len(reference_masks) != len(references):
            raise KinemaInputError(f"{len(reference_masks)} reference masks", f"for {len(references)} references",
                                   "Give one mask per reference image, in the same order.")
        requested = config.size or driving_size
        multiple = size_multiple(self.components) * self.recipe.pool  # half-resolution driving halves the sides
        size = resolve_size(requested, notes, multiple)
        why = size_reason("--size" if config.size else "the driving video's size", requested, size, multiple)
        refs = [fit_frames(r[None], size, config.fit, f"reference image {k}", notes, why)[0]
                for k, r in enumerate(references)]
        ref_masks = [fit_masks(check_masks(m, r[None], f"reference mask {k}"), size, config.fit, f"reference mask {k}")[0]
                     for k, (m, r) in enumerate(zip(reference_masks, references))]
        return size, why, refs, ref_masks

    def window_inputs(self, refs: list[np.ndarray], ref_masks: list[np.ndarray], driving: np.ndarray,
                      driving_masks: np.ndarray, size: tuple[int, int], why: str, config: ScailConfig,
                      notes: list[str] | None) -> tuple[r2.R2Inputs, SlotMasks]:
        """Fit one window's driving frames (T, H, W, 3) and masks (T, P, H, W) (noting changes in ``notes``), bind
        the characters to subjects, and encode with ``r2.build_inputs`` (shared with training)."""
        if notes is not None:  # the first window; a subject may leave a later one
            driving_masks = check_masks(driving_masks, driving, "driving masks")
        drv = fit_frames(driving, size, config.fit, "driving video", notes, why)
        slots = bind_slots(ref_masks, fit_masks(driving_masks, size, config.fit, "driving masks"), config.bind,
                           self.recipe.slots, require_visible=notes is not None)
        device = self.components.device
        ref_tensor = torch.cat([to_tensor(r[None]) for r in refs])[:, :, 0][None].to(device)  # (1, K, 3, H, W)
        ref_slots, drv_slots = (m.to(device) for m in slots.tensors())
        with stage(self.components, "codec"):
            inputs = r2.build_inputs(self.components, ref_tensor, to_tensor(drv).to(device), ref_slots, drv_slots,
                                     config.mode, self.recipe)
        return inputs, slots

    def __call__(self, references: Sequence[np.ndarray], driving: np.ndarray, reference_masks: Sequence[np.ndarray],
                 driving_masks: np.ndarray, config: ScailConfig = ScailConfig(), progress: bool = True) -> AnimationResult:
        """Animate or replace, all in memory (:meth:`stream` writes window by window instead).

        Args:
            references: K images (H_k, W_k, 3) uint8.
            driving: (T, H, W, 3) uint8 frames.
            reference_masks: per reference, (1, P_k, H_k, W_k) bool, characters in slot order.
            driving_masks: (T, P, H, W) bool, subjects in the order ``config.bind`` counts them.
        """
        driving_masks = check_masks(driving_masks, driving, "driving masks")
        chunks: list[np.ndarray] = []
        settings, notes = self.stream(references, Frames(driving), reference_masks,
                                      lambda indices, _: driving_masks[indices], chunks.append, config, progress)
        return AnimationResult(np.concatenate(chunks), settings, notes)

    def stream(self, references: Sequence[np.ndarray], driving: FrameSource, reference_masks: Sequence[np.ndarray],
               driving_masks: Callable[[list[int], np.ndarray], np.ndarray], sink: Callable[[np.ndarray], None],
               config: ScailConfig = ScailConfig(), progress: bool = True) -> tuple[dict, list[str]]:
        """Animate or replace window by window (:mod:`kinema.pipelines.windows`), giving each window's frames to
        ``sink``; ``driving_masks(indices, frames)`` gives the subject masks of the driving frames at ``indices``
        (subjects counted from the left). Memory does not grow with the video's length. Returns the settings and
        notes."""
        notes: list[str] = []
        total = resolve_total(config.frames, driving.num_frames)
        if total < driving.num_frames:
            notes.append(f"driving video trimmed from {driving.num_frames} to {total} frames (its first {total} used)")
        windows, planned = card_windows(self.card, total, 0, config.windows)
        size, why, refs, ref_masks = self.references(references, reference_masks, driving.size, config, notes)
        sampler = config.sampler or sampler_for(self.card)
        with stage(self.components, "encoders"):
            text = encode_prompt(self.components, [config.prompt, config.negative_prompt])
        latents: torch.Tensor | None = None
        output = Assembler(sink)
        for n, w in enumerate(tqdm(windows, desc="windows", unit="window", disable=not progress or len(windows) < 2)):
            indices = [driving_index(w, g, 0, total) for g in range(w.frames)]
            frames = driving.take(indices)
            inputs, slots = self.window_inputs(refs, ref_masks, frames, driving_masks(indices, frames), size, why, config,
                                               notes if n == 0 else None)
            if n == 0:
                binding = slots  # reported: later windows bind by the same rule
            if w.history:
                inputs.history = prepare_history(carried_latents(latents, w), inputs.reference_latents[:, :, -1:],
                                                 config.windows, config.seed)
            latents = self._sample(inputs, text, config, sampler, progress and len(windows) == 1)
            if inputs.history is not None:  # the given frames, exactly
                latents[:, :, 1:1 + w.history] = inputs.history
            with stage(self.components, "codec"):
                video = self.components.codec.decode(latents)
            output.add(w, to_frames(video)[w.drop: w.drop + w.new], windows[n + 1] if n + 1 < len(windows) else None)
        if self.random_weights:
            notes.append(f"model '{self.components.source}' has random weights: the output shows the pipeline "
                         "working, not a trained animation; pass --model DIR for trained weights")
        settings = {**asdict(config), **planned, "sampler": asdict(sampler), "size": list(size), "frames": total,
                    "windows": len(windows),
                    "model": self.components.source, "recipe": asdict(self.recipe),
                    "binding": [{"slot": s, "reference": k, "character": p, "driving_subject": j}
                                for s, ((k, p), j) in enumerate(zip(binding.characters, binding.bind))]}
        return settings, notes

    def _sample(self, inputs: r2.R2Inputs, text: torch.Tensor, config: ScailConfig, sampler: SamplerConfig,
                progress: bool) -> torch.Tensor:
        """Denoise from seeded noise with text classifier-free guidance, as ``sampler`` sets. A block-attention
        model computes the conditions' keys and values once per text branch and expert, not at every step."""
        device, dtype = self.components.device, self.components.transformer.dtype

        def velocity(context: torch.Tensor):
            caches: dict[int, ConditionCache] = {}  # per expert (Wan2.2 MoE)

            def v(x: torch.Tensor, t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
                model = self.components.expert(t)  # Wan2.2 MoE: the expert of this noise level
                cache = caches.setdefault(id(model), ConditionCache()) if self.recipe.attention == "block" else None
                out = r2.predict(model, inputs, x.to(dtype), t, context.to(dtype), cache)
                return to_velocity(out.float(), x, sigma, self.prediction, self.sigma_data)
            return v

        guided = classifier_free_guidance(velocity(text[:1]), velocity(text[1:]), sampler.guidance)
        noise = torch.randn(inputs.latent_shape, generator=torch.Generator().manual_seed(config.seed))
        with stage(self.components, "transformer"):
            return sample(guided, noise.to(device), sampler, progress)


def reference_masks_of(images: Sequence[np.ndarray], reference_masks: Sequence[str | os.PathLike],
                       segmenter: Callable[[np.ndarray], np.ndarray] | None) -> list[np.ndarray]:
    """Each reference's character masks (1, P_k, H, W), from its file where given, else from ``segmenter``; left to
    right."""
    if reference_masks and len(reference_masks) != len(images):
        raise KinemaInputError(f"{len(reference_masks)} --reference-masks", f"for {len(images)} --reference images",
                               "Give one reference mask per --reference, in the same order (or none).")
    if reference_masks:
        return [left_to_right(check_masks(read_mask_file(m, f"reference mask {k}"), i[None], f"reference mask {k} '{m}'"))
                for k, (m, i) in enumerate(zip(reference_masks, images))]
    return [left_to_right(segmenter(i[None])) for i in images]


def driving_masks_of(video: FrameSource, masks: str | os.PathLike | None,
                     segmenter: Callable[[np.ndarray], np.ndarray] | None) -> Callable[[list[int], np.ndarray], np.ndarray]:
    """The driving subject masks of given frames, left to right: read once from ``masks`` (a file for the whole
    video, checked against its frame count and size), else ``segmenter`` run on each window's frames."""
    if masks is None:
        return lambda indices, frames: left_to_right(segmenter(frames))
    whole = read_mask_file(masks, "driving masks")
    w, h = video.size
    check_masks(whole, np.broadcast_to(np.zeros(3, np.uint8), (video.num_frames, h, w, 3)), f"driving masks '{masks}'")
    whole = left_to_right(whole)
    return lambda indices, frames: whole[indices]


def animate_scail(references: Sequence[str | os.PathLike], driving: str | os.PathLike, out: str | os.PathLike,
                  config: ScailConfig = ScailConfig(), model: str = "tiny", adapters: Adapters = (),
                  masks: str | os.PathLike | None = None, reference_masks: Sequence[str | os.PathLike] = (),
                  segmenter: str = "mediapipe", driving_resolution: str | None = None, progress: bool = True,
                  device: str = "auto", offload: Offload = "none", keep_frames: bool = False) -> AnimationResult:
    """Read the inputs, segment, animate or replace on ``device`` (:func:`~kinema.pipelines.models.resolve_device`)
    under ``offload`` (:mod:`kinema.backbone.offload`), and write ``out`` (mp4) plus ``out`` .json, atomically.

    The driving video is read, segmented and written window by window: memory does not grow with its length, and
    an interrupted run leaves no output. The result holds the frames only when ``keep_frames``.
    """
    adapters = as_adapters(adapters)
    out = check_video_out(out, (*references, driving, masks, *reference_masks, *(a.path for a in adapters)))
    check_recipe(adapter_card(model, adapters), "scail-2", model, adapters)  # before asking for masks or a segmenter
    images = [load_image(r, f"reference image {k}") for k, r in enumerate(references)]
    # Only the output's frames are read; driving masks from a file match the whole video.
    with VideoReader(driving, "driving video", config.frames if masks is None else None) as video:
        segment_model = None if masks is not None and reference_masks else get_segmenter(segmenter)
        ref_masks = reference_masks_of(images, reference_masks, segment_model)
        drv_masks = driving_masks_of(video, masks, segment_model)
        device, dtype = resolve_device(device)
        animator = ScailAnimator.load(model, adapters, device, dtype, driving_resolution=driving_resolution,
                                      offload=offload)
        with VideoWriter(out, video.fps, keep=keep_frames) as writer:
            settings, notes = animator.stream(images, video, ref_masks, drv_masks, writer.write, config, progress)
    settings.update(references=[str(r) for r in references], driving=str(driving), masks=masks and str(masks),
                    reference_masks=[str(m) for m in reference_masks], segmenter=segmenter,
                    adapters=[str(a) for a in adapters], device=device, offload=offload, fps=video.fps, notes=notes)
    write_json_atomic(out.with_suffix(".json"), settings)
    return AnimationResult(writer.kept, settings, notes)
