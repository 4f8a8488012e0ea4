"""Animate: a reference character performs a driving video's motion (DreamActor-M2 recipe R1).

``Animator`` holds the loaded model; :func:`animate` is the file-in, file-out API of ``kinema animate``.
"""

from __future__ import annotations

import json
import os
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from kinema.backbone.components import WanComponents, build_components, load_components
from kinema.backbone.config import PRESETS, get_preset
from kinema.backbone.encoders import encode_prompt
from kinema.backbone.lora import Adapters, as_adapters, load_loras, load_patch_embedding
from kinema.backbone.widen import widen_patch_embedding
from kinema.errors import KinemaInputError
from kinema.io import load_image, read_video, write_json_atomic, write_video
from kinema.pipelines.inputs import (
    Fit, check_video_out, fit_frames, resolve_frames, resolve_size, size_reason, to_frames, to_tensor, trim_frames,
)
from kinema.pose.driving import inference_skeleton, reference_skeleton
from kinema.pose.keypoints import Keypoints
from kinema.recipes import dreamactor_m2 as r1
from kinema.sampling import SamplerConfig, classifier_free_guidance, sample
from kinema.sampling.prediction import SIGMA_DATA, Prediction, check_prediction, to_velocity

EMBEDDED = "embedded"  # the trained puppet model shipped in the package
EMBEDDED_DIR = Path(__file__).resolve().parents[1] / "assets" / "puppet" / "model"
MODEL_CARD = "kinema.json"  # written by the trainer beside the weights: how to drive the model
DEFAULT_STEPS = 30  # denoising steps for a model whose card names none (Wan's own samplers use 30–50)


def resolve_model(model: str) -> str:
    """``embedded`` -> the shipped model's directory; a run's export directory (what ``kinema train``
    prints) -> its ``model/``; anything else unchanged."""
    if model != EMBEDDED:
        export = Path(model)
        if (export / "model" / MODEL_CARD).is_file():
            return str(export / "model")
        if (export / "lora.safetensors").is_file() and not (export / "transformer").is_dir():
            raise KinemaInputError(f"--model '{model}'", "is a LoRA adapter export, not a model",
                                   f"Pass --model with the base it was trained on and --adapter {export / 'lora.safetensors'}.")
        return model
    if not (EMBEDDED_DIR / "transformer").is_dir():
        raise KinemaInputError("--model embedded", f"is not installed at {EMBEDDED_DIR}",
                               "Reinstall kinema from a full checkout, or pass --model PRESET|DIR.")
    return str(EMBEDDED_DIR)


def load_model(model: str, dtype: torch.dtype = torch.float32) -> tuple[WanComponents, bool]:
    """Components of a preset (seeded random weights: True) or of a local diffusers-format Wan directory."""
    model = resolve_model(model)
    if model in PRESETS:
        if PRESETS[model].shapes_only:
            raise KinemaInputError(f"--model '{model}'", "is the real model's shapes with no weights (random weights "
                                   "of that size fill memory and show nothing)", "Pass the Wan diffusers directory of its weights.")
        return build_components(get_preset(model)), True
    if Path(model).is_dir():
        return load_components(model, dtype), False
    raise KinemaInputError(f"--model '{model}'", "is neither a preset nor a directory",
                           f"Pass a Wan diffusers directory, 'embedded', or one of: "
                           f"{', '.join(p for p in PRESETS if not PRESETS[p].shapes_only)}.")


def sampler_for(card: dict, steps: int | None = None, guidance: float | None = None, flow_shift: float | None = None,
                scheduler: str = "unipc") -> SamplerConfig:
    """Sampling settings: what the caller gives, else the model card's, else Wan's (30 steps, guidance 5, shift 3)."""
    steps = card_steps(card) if steps is None else steps
    guidance = card.get("guidance", 5.0) if guidance is None else guidance
    flow_shift = card.get("flow_shift", 3.0) if flow_shift is None else flow_shift
    return SamplerConfig(scheduler, steps, flow_shift, guidance)


def card_steps(card: dict) -> int:
    """Denoising steps of the card's ``sampling_steps`` (chosen by evaluation for the embedded model), else 30."""
    value = card.get("sampling_steps", DEFAULT_STEPS)
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= 1000:
        raise KinemaInputError("model card kinema.json", f"sampling_steps {value!r} is not a whole number in 1..1000",
                               "Fix its 'sampling_steps' field.")
    return value


def card_prediction(card: dict) -> Prediction:
    """How the network's output is read (``kinema.json``'s ``prediction``; velocity for foreign Wan weights)."""
    try:
        return check_prediction(card.get("prediction", "velocity"))
    except ValueError as err:
        raise KinemaInputError("model card kinema.json", str(err), "Fix its 'prediction' field.") from None


def card_sigma_data(card: dict) -> float:
    """σ_d of a preconditioned model (``kinema.json``'s ``sigma_data``, see kinema.sampling.prediction)."""
    value = card.get("sigma_data", SIGMA_DATA)
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 < value < float("inf"):
        raise KinemaInputError("model card kinema.json", f"sigma_data {value!r} is not a positive number",
                               "Fix its 'sigma_data' field.")
    return float(value)


def _read_card(directory: Path) -> dict:
    path = directory / MODEL_CARD
    return json.loads(path.read_text()) if path.is_file() else {}


def model_card(model: str) -> dict:
    """The ``kinema.json`` of a model directory (empty for presets and foreign Wan checkpoints)."""
    return _read_card(Path(resolve_model(model)))


def adapter_card(model: str, adapters: Adapters = ()) -> dict:
    """The model's card, overridden by the ones kinema's trainer writes beside LoRA adapters (in their order)."""
    card = model_card(model)
    for spec in as_adapters(adapters):
        card.update(_read_card(spec.path.parent))
    return card


RECIPE_USE = {  # what a trained recipe's weights are, and the verb that drives them
    "dreamactor-m2": ("a pose-driven DreamActor-M2 (R1) model", "Use kinema animate (pose driving) with it."),
    "scail-2": ("a SCAIL-2 (R2) model, driven by raw video and subject masks",
                "Use kinema animate --driving-mode rgb or kinema replace with it."),
}


def check_recipe(card: dict, expected: str, model: str, adapters: Adapters = ()) -> None:
    """KinemaInputError when ``card`` names a trained recipe other than ``expected``."""
    found = card.get("recipe", expected)
    if found != expected:
        what, fix = RECIPE_USE[found]
        raise KinemaInputError(model_with_adapters(model, adapters), f"is {what}", fix)


def model_with_adapters(model: str, adapters: Adapters = ()) -> str:
    """How an error names a model and its adapters: ``--model 'M' with --adapter 'A' --adapter 'B:0.5'``."""
    return f"--model '{model}'" + "".join(f" --adapter '{a}'" if i else f" with --adapter '{a}'"
                                          for i, a in enumerate(as_adapters(adapters)))


def load_adapters(components: WanComponents, adapters: Adapters) -> None:
    """Load LoRAs into the transformer, each at its weight, and the widened patch embedding that one trained by
    kinema names in its card (trained with it; two such adapters would each replace the embedding)."""
    adapters = as_adapters(adapters)
    load_loras(components.transformer, adapters)
    widened = [(a, _read_card(a.path.parent)) for a in adapters]
    widened = [(a, card) for a, card in widened if "patch_embedding" in card]
    if len(widened) > 1:
        raise KinemaInputError(f"--adapter '{widened[1][0]}'", f"brings its own patch embedding, as '{widened[0][0]}' does",
                               "Combine at most one adapter that kinema trained with widened inputs (R2) with others.")
    for spec, card in widened:
        load_patch_embedding(components.transformer, spec.path.parent / card["patch_embedding"])


@dataclass(frozen=True)
class AnimateConfig:
    """Settings of one animation. ``size`` is (W, H); None takes the driving video's size/length."""

    size: tuple[int, int] | None = None
    frames: int | None = None
    prompt: str = ""
    negative_prompt: str = ""
    seed: int = 0
    layout: r1.Layout | None = None  # None: the model card's layout, else "spatial"
    fit: Fit = "error"
    sampler: SamplerConfig | None = None  # None: the model card's steps, guidance and flow shift (sampler_for)


@dataclass
class AnimationResult:
    """Output frames (T, H, W, 3) uint8, the resolved settings, and notes for the user."""

    frames: np.ndarray
    settings: dict
    notes: list[str]


class Animator:
    """A Wan model prepared for recipe R1 (patch embedding widened to its layout's inputs if needed: 36 or 52
    channels for Wan's 16-channel VAE)."""

    def __init__(self, components: WanComponents, random_weights: bool = False, card: dict | None = None) -> None:
        self.components = components
        self.random_weights = random_weights
        self.card = card or {}
        self.prepare(self.card.get("layout", "spatial"))
        self.prediction = card_prediction(self.card)
        self.sigma_data = card_sigma_data(self.card)
        self.anchored = self.card.get("anchor", "none") == "reference"

    def prepare(self, layout: r1.Layout) -> None:
        """Widen the patch embedding to ``layout``'s inputs (new columns zero); a kinema-trained model must have them."""
        transformer = self.components.transformer
        channels = r1.in_channels(self.components.codec.channels, layout)
        if channels != transformer.config.in_channels and not self.random_weights and "layout" in self.card:
            raise KinemaInputError(f"--layout {layout}", f"needs {channels} input channels; model "
                                   f"'{self.components.source}' was trained with the {self.card['layout']} layout "
                                   f"({transformer.config.in_channels})", f"Use --layout {self.card['layout']}.")
        widen_patch_embedding(transformer, max(channels, transformer.config.in_channels))

    @property
    def pose_driven(self) -> bool:
        """Trained on skeleton videos (pose-based recipe): expects a lead-in of pose-free frames."""
        return self.card.get("driving") == "pose"

    @classmethod
    def load(cls, model: str = EMBEDDED, adapters: Adapters = (), device: str = "cpu",
             dtype: torch.dtype = torch.float32) -> Animator:
        """Load the embedded model, a preset by name (random weights) or a local diffusers-format Wan
        directory (with its ``kinema.json`` if kinema trained it), plus LoRAs."""
        card = adapter_card(model, adapters)
        check_recipe(card, "dreamactor-m2", model, adapters)
        components, random_weights = load_model(model, dtype)
        animator = cls(components.to(device, dtype), random_weights, card)
        load_adapters(animator.components, adapters)
        return animator

    def driving_video(self, driving: np.ndarray, pose: Keypoints | None) -> tuple[np.ndarray, int]:
        """What the model is driven with, and how many lead-in frames precede the motion.

        A pose-driven model gets the bbox-normalised skeleton of ``pose`` (or ``driving`` itself, taken
        to be a skeleton video) after its pose-free lead-in (DreamActor-M2 §5.1).
        """
        if not self.pose_driven:
            return driving, 0
        lead = int(self.card.get("lead_in_frames", 0))
        if pose is not None:
            return inference_skeleton(pose, lead, self.card["skeleton_width"] * pose.size[1] / self.card["size"][1],
                                      normalize=self.card.get("bbox_normalize", True),
                                      margin=self.card.get("bbox_margin", 0.05)), lead
        return np.concatenate([np.zeros_like(driving[:1]).repeat(lead, 0), driving]), lead

    @property
    def needs_reference_pose(self) -> bool:
        """Trained with the reference's own skeleton as driving frame 0 (``data.reference_pose``)."""
        return bool(self.card.get("reference_pose", False))

    def reference_frame(self, reference: np.ndarray, pose: Keypoints | None) -> np.ndarray | None:
        """The reference's skeleton (H, W, 3) drawn in place on the reference image's canvas, for a model
        trained with it; None for other models."""
        if not self.needs_reference_pose:
            return None
        if pose is None:
            raise KinemaInputError(f"model '{self.components.source}'", "was trained with the reference's own skeleton "
                                   "and needs the reference image's keypoints", "Pass --reference-pose FILE or a "
                                   "--pose-backend that can estimate them.")
        h, w = reference.shape[:2]
        width = self.card["skeleton_width"] * h / self.card["size"][1]
        return reference_skeleton(pose, (w, h), width)

    def __call__(self, reference: np.ndarray, driving: np.ndarray, config: AnimateConfig = AnimateConfig(),
                 progress: bool = True, pose: Keypoints | None = None,
                 reference_pose: Keypoints | None = None) -> AnimationResult:
        """Animate ``reference`` (H, W, 3) uint8 with ``driving`` (T, H, W, 3) uint8 frames.

        ``pose``: keypoints of ``driving`` for a pose-driven model (else ``driving`` must be a skeleton video).
        ``reference_pose``: keypoints of ``reference``, used by a model trained with them (``needs_reference_pose``).
        """
        # 1. Check inputs and resolve the output size and length (lead-in frames are generated, then dropped).
        notes: list[str] = []
        driving, lead = self.driving_video(driving, pose)
        default_size = tuple(self.card["size"]) if "size" in self.card else (driving.shape[2], driving.shape[1])
        size = resolve_size(config.size or default_size, notes)
        frames = resolve_frames(config.frames, len(driving) - lead, notes, lead)
        source = "--size" if config.size else "the model's size" if "size" in self.card else "the driving video's size"
        why = size_reason(source, config.size or default_size, size)
        device = self.components.transformer.device
        ref = to_tensor(fit_frames(reference[None], size, config.fit, "reference image", notes, why))[:, :, 0].to(device)
        drv = trim_frames(driving, frames, "driving video", notes, lead, config.frames)
        drv = to_tensor(fit_frames(drv, size, config.fit, "driving video", notes, why)).to(device)
        first = self.reference_frame(reference, reference_pose)
        if first is not None:  # fitted like the reference image, so it lies on the reference character
            drv[:, :, 0] = to_tensor(fit_frames(first[None], size, config.fit, "reference image"))[:, :, 0].to(device)

        # 2. Encode the conditions (shared with training: r1.build_inputs).
        layout = config.layout or self.card.get("layout", "spatial")
        self.prepare(layout)
        inputs = r1.build_inputs(self.components, ref, drv, layout)
        text = encode_prompt(self.components, [config.prompt, config.negative_prompt])
        dtype = self.components.transformer.dtype

        def velocity(context: torch.Tensor):
            def v(x: torch.Tensor, t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
                out = r1.predict(self.components.transformer, inputs, x.to(dtype), t, context.to(dtype))
                return to_velocity(out.float(), x, sigma, self.prediction, self.sigma_data)
            return v

        sampler = config.sampler or sampler_for(self.card)
        guided = classifier_free_guidance(velocity(text[:1]), velocity(text[1:]), sampler.guidance)

        # 3. Sample from seeded noise (an anchored model samples the change from r1.anchor), decode the character half.
        noise = torch.randn(inputs.latent_shape, generator=torch.Generator().manual_seed(config.seed)).to(device)
        latents = sample(guided, noise, sampler, progress)
        if self.anchored:
            latents = latents + r1.anchor(inputs)
        video = self.components.codec.decode(r1.character_latents(inputs, latents))
        if self.random_weights:
            notes.append(f"model '{self.components.source}' has random weights: the output shows the pipeline "
                         "working, not a trained animation; pass --model DIR for real Wan weights")
        settings = {**asdict(config), "sampler": asdict(sampler), "layout": layout, "size": list(size),
                    "frames": frames - lead, "lead_in_frames": lead, "model": self.components.source}
        return AnimationResult(to_frames(video)[lead:], settings, notes)


def driving_keypoints(animator: Animator, frames: np.ndarray, pose_file: str | os.PathLike | None,
                      pose_backend: str) -> Keypoints | None:
    """Keypoints for a pose-driven model: from ``pose_file``, else estimated by ``pose_backend``
    (``none``: the driving video already is a skeleton video)."""
    if not animator.pose_driven:
        return None
    if pose_file is not None:
        pose = Keypoints.load(pose_file)
        if pose.num_frames != len(frames):
            raise KinemaInputError(f"driving keypoints '{pose_file}'", f"have {pose.num_frames} frames, the driving video "
                                   f"{len(frames)}", "Extract them from this video: kinema pose extract VIDEO --out FILE.")
        return pose
    if pose_backend == "none":
        return None
    from kinema.pose.estimators import get_estimator

    return get_estimator(pose_backend)(frames).keypoints


def reference_keypoints(animator: Animator, image: np.ndarray, pose_file: str | os.PathLike | None,
                        pose_backend: str) -> Keypoints | None:
    """Keypoints of the reference image for a model trained with them: from ``pose_file`` (its first
    frame), else estimated by ``pose_backend``; None for other models or backend ``none``."""
    if not animator.needs_reference_pose:
        return None
    if pose_file is not None:
        return Keypoints.load(pose_file)
    if pose_backend == "none":
        return None
    from kinema.pose.estimators import get_estimator

    return get_estimator(pose_backend)(image[None]).keypoints


def animate(reference: str | os.PathLike, driving: str | os.PathLike, out: str | os.PathLike,
            config: AnimateConfig = AnimateConfig(), model: str = EMBEDDED,
            adapters: Adapters = (), progress: bool = True,
            driving_pose: str | os.PathLike | None = None, pose_backend: str = "puppet",
            reference_pose: str | os.PathLike | None = None) -> AnimationResult:
    """Read the inputs, animate, and write ``out`` (H.264 mp4) plus ``out`` with suffix .json, atomically."""
    adapters = as_adapters(adapters)
    out = check_video_out(out, (reference, driving, driving_pose, reference_pose, *(a.path for a in adapters)))
    image = load_image(reference, "reference image")
    # Only the output's frames are read (lead-in frames are generated); keypoints from a file match the whole video.
    video = read_video(driving, config.frames if driving_pose is None else None, name="driving video")
    animator = Animator.load(model, adapters)
    pose = driving_keypoints(animator, video.frames, driving_pose, pose_backend)
    ref_pose = reference_keypoints(animator, image, reference_pose, pose_backend)
    result = animator(image, video.frames, config, progress, pose, ref_pose)
    result.settings.update(reference=str(reference), driving=str(driving), adapters=[str(a) for a in adapters],
                           driving_pose=driving_pose and str(driving_pose),
                           reference_pose=reference_pose and str(reference_pose), fps=video.fps, notes=result.notes,
                           pose_backend=pose_backend if animator.pose_driven and driving_pose is None else None)
    write_video(out, result.frames, fps=video.fps)
    write_json_atomic(out.with_suffix(".json"), result.settings)
    return result
