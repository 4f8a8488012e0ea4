"""Animate: a reference character performs a driving video's motion (DreamActor-M2 recipe R1).

``Animator`` holds the loaded model; :func:`animate` is the file-in, file-out API of ``kinema animate``.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace

import numpy as np
import torch
from tqdm import tqdm

from kinema.backbone.components import WanComponents
from kinema.backbone.encoders import encode_prompt
from kinema.backbone.lora import Adapters, as_adapters
from kinema.backbone.offload import Offload, place, stage
from kinema.backbone.widen import widen_patch_embedding
from kinema.errors import KinemaInputError
from kinema.io import load_image, write_json_atomic
from kinema.io.video import Frames, FrameSource, VideoReader, VideoWriter
from kinema.pipelines.inputs import (
    Fit, check_video_out, fit_frames, resolve_size, resolve_total, size_multiple, size_reason, to_frames, to_tensor,
)
from kinema.pipelines.models import (
    EMBEDDED, adapter_card, card_prediction, card_sigma_data, check_recipe, load_adapters, load_model, resolve_device,
    sampler_for,
)
from kinema.pipelines.windows import (
    Assembler, Window, WindowOptions, card_windows, carried_latents, driving_index, prepare_history,
)
from kinema.pose.driving import inference_skeleton, normalized, reference_skeleton
from kinema.pose.estimators import PoseEstimator, get_estimator
from kinema.pose.keypoints import Keypoints
from kinema.recipes import dreamactor_m2 as r1
from kinema.sampling import SamplerConfig, classifier_free_guidance, sample
from kinema.sampling.prediction import to_velocity


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
    windows: WindowOptions = WindowOptions()  # long videos (kinema.pipelines.windows); None fields: the card's


@dataclass
class AnimationResult:
    """Output frames (T, H, W, 3) uint8 (None when streamed to a file only), the resolved settings, and notes for
    the user."""

    frames: np.ndarray | None
    settings: dict
    notes: list[str]


class Animator:
    """A Wan model prepared for recipe R1 (patch embedding widened to its layout's inputs if needed: 36 or 52
    channels for Wan's 16-channel VAE)."""

    def __init__(self, components: WanComponents, random_weights: bool = False, card: dict | None = None,
                 layout: r1.Layout | None = None) -> None:
        self.components = components
        self.random_weights = random_weights
        self.card = card or {}
        self.prepare(layout or self.card.get("layout", "spatial"))
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
        width = max(channels, transformer.config.in_channels)
        if width > transformer.config.in_channels and self.components.offload == "group":
            raise KinemaInputError(f"--layout {layout}", "needs a wider patch embedding than the model was loaded with, "
                                   "and group offloading hooks only the modules there at loading",
                                   "Load it with that layout: Animator.load(..., layout=...), as kinema animate does.")
        for expert in self.components.experts:
            widen_patch_embedding(expert, width)

    @property
    def pose_driven(self) -> bool:
        """Trained on skeleton videos (pose-based recipe): expects a lead-in of pose-free frames."""
        return self.card.get("driving") == "pose"

    @classmethod
    def load(cls, model: str = EMBEDDED, adapters: Adapters = (), device: str = "cpu",
             dtype: torch.dtype = torch.float32, offload: Offload = "none", layout: r1.Layout | None = None) -> Animator:
        """Load the embedded model, a preset by name (random weights) or a local diffusers-format Wan
        directory (with its ``kinema.json`` if kinema trained it), plus LoRAs, prepared for ``layout`` (default:
        the card's) and placed on ``device`` under ``offload`` (:mod:`kinema.backbone.offload`)."""
        card = adapter_card(model, adapters)
        check_recipe(card, "dreamactor-m2", model, adapters)
        components, random_weights = load_model(model, dtype)
        animator = cls(components, random_weights, card, layout)
        load_adapters(animator.components, adapters)
        place(animator.components, device, dtype, offload)
        return animator

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

    def windows(self, config: AnimateConfig, total: int) -> tuple[list[Window], dict]:
        """The windows of ``total`` output frames under ``config`` (by default the card's), and their settings."""
        lead = int(self.card.get("lead_in_frames", 0)) if self.pose_driven else 0
        return card_windows(self.card, total, lead, config.windows)

    def window_driving(self, driving: FrameSource, pose: Keypoints | None, window: Window, lead: int,
                       total: int) -> np.ndarray:
        """The driving frames (window.frames, H, W, 3) of ``window``: a pose-driven model gets the skeleton of ``pose``
        (or ``driving`` itself, taken to be a skeleton video), pose-free over the lead-in (DreamActor-M2 §5.1)."""
        indices = [driving_index(window, g, lead, total) for g in range(window.frames)]
        if pose is not None:
            return inference_skeleton(pose, indices, self.card["skeleton_width"] * pose.size[1] / self.card["size"][1])
        given = driving.take([i for i in indices if i is not None])
        frames = np.zeros((window.frames, *given.shape[1:]), np.uint8)
        frames[[g for g, i in enumerate(indices) if i is not None]] = given
        return frames

    def __call__(self, reference: np.ndarray, driving: np.ndarray, config: AnimateConfig = AnimateConfig(),
                 progress: bool = True, pose: Keypoints | None = None,
                 reference_pose: Keypoints | None = None) -> AnimationResult:
        """Animate ``reference`` (H, W, 3) uint8 with ``driving`` (T, H, W, 3) uint8 frames, all in memory
        (:meth:`stream` writes them window by window instead).

        ``pose``: keypoints of ``driving`` for a pose-driven model (else ``driving`` must be a skeleton video).
        ``reference_pose``: keypoints of ``reference``, used by a model trained with them (``needs_reference_pose``).
        """
        chunks: list[np.ndarray] = []
        settings, notes = self.stream(reference, Frames(driving), chunks.append, config, progress, pose, reference_pose)
        return AnimationResult(np.concatenate(chunks), settings, notes)

    def stream(self, reference: np.ndarray, driving: FrameSource, sink: Callable[[np.ndarray], None],
               config: AnimateConfig = AnimateConfig(), progress: bool = True, pose: Keypoints | None = None,
               reference_pose: Keypoints | None = None) -> tuple[dict, list[str]]:
        """Animate window by window (:mod:`kinema.pipelines.windows`), giving each window's output frames
        (T, H, W, 3) uint8 to ``sink`` as soon as they are decoded; memory does not grow with the video's length.
        Returns the resolved settings and the notes for the user."""
        # 1. Check inputs and resolve the output size, length and windows.
        notes: list[str] = []
        total = resolve_total(config.frames, driving.num_frames)
        if total < driving.num_frames:
            notes.append(f"driving video trimmed from {driving.num_frames} to {total} frames (its first {total} used)")
        windows, planned = self.windows(config, total)
        lead = planned["lead_in_frames"]
        default_size = tuple(self.card["size"]) if "size" in self.card else driving.size
        multiple = size_multiple(self.components)
        size = resolve_size(config.size or default_size, notes, multiple)
        source = "--size" if config.size else "the model's size" if "size" in self.card else "the driving video's size"
        why = size_reason(source, config.size or default_size, size, multiple)
        device = self.components.device
        ref = to_tensor(fit_frames(reference[None], size, config.fit, "reference image", notes, why))[:, :, 0].to(device)
        first = self.reference_frame(reference, reference_pose)
        if first is not None:  # fitted like the reference image, so it lies on the reference character
            first = to_tensor(fit_frames(first[None], size, config.fit, "reference image"))[:, :, 0].to(device)
        if pose is not None:
            pose = normalized(pose, self.card.get("bbox_normalize", True), self.card.get("bbox_margin", 0.05))
        layout = config.layout or self.card.get("layout", "spatial")
        self.prepare(layout)
        with stage(self.components, "encoders"):
            text = encode_prompt(self.components, [config.prompt, config.negative_prompt])
        sampler = config.sampler or sampler_for(self.card)

        # 2. Each window: its driving frames, the previous window's history, sampling, decoding, output.
        latents: torch.Tensor | None = None
        output = Assembler(sink)
        for n, window in enumerate(tqdm(windows, desc="windows", unit="window", disable=not progress or len(windows) < 2)):
            drv = self.window_driving(driving, pose, window, lead, total)
            drv = to_tensor(fit_frames(drv, size, config.fit, "driving video", notes if n == 0 else None, why)).to(device)
            if first is not None:
                drv[:, :, 0] = first
            history = carried_latents(latents, window) if window.history else None
            latents, inputs = self.sample_window(ref, drv, text, layout, sampler, config, history,
                                                 progress and len(windows) == 1)
            with stage(self.components, "codec"):
                video = self.components.codec.decode(r1.character_latents(inputs, latents))
            following = windows[n + 1] if n + 1 < len(windows) else None
            output.add(window, to_frames(video)[window.drop: window.drop + window.new], following)
        if self.random_weights:
            notes.append(f"model '{self.components.source}' has random weights: the output shows the pipeline "
                         "working, not a trained animation; pass --model DIR for real Wan weights")
        settings = {**asdict(config), **planned, "sampler": asdict(sampler), "layout": layout, "size": list(size),
                    "frames": total, "windows": len(windows), "model": self.components.source}
        return settings, notes

    def sample_window(self, ref: torch.Tensor, drv: torch.Tensor, text: torch.Tensor, layout: r1.Layout,
                      sampler: SamplerConfig, config: AnimateConfig, history: torch.Tensor | None,
                      progress: bool) -> tuple[torch.Tensor, r1.R1Inputs]:
        """The latents (B, C, f, h, W_lat) and inputs of one window from seeded noise, frames 1..c given by ``history`` (the
        previous window's last latents, prepared per ``config``); an anchored model samples the change from
        r1.anchor."""
        with stage(self.components, "codec"):
            inputs = r1.build_inputs(self.components, ref, drv, layout)
        anchor = r1.anchor(inputs) if self.anchored else None
        if history is not None:
            history = prepare_history(history, inputs.reference_latents[:, :, :1], config.windows, config.seed)
            c = history.shape[2]
            inputs.history = history if anchor is None else history - anchor[:, :, 1:1 + c]
        dtype = self.components.transformer.dtype

        def velocity(context: torch.Tensor):
            def v(x: torch.Tensor, t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
                out = r1.predict(self.components.expert(t), inputs, x.to(dtype), t, context.to(dtype))
                return to_velocity(out.float(), x, sigma, self.prediction, self.sigma_data)
            return v

        guided = classifier_free_guidance(velocity(text[:1]), velocity(text[1:]), sampler.guidance)
        noise = torch.randn(inputs.latent_shape, generator=torch.Generator().manual_seed(config.seed)).to(ref.device)
        with stage(self.components, "transformer"):
            latents = sample(guided, noise, sampler, progress)
        if anchor is not None:
            latents = latents + anchor
        if history is not None:  # the given frames, exactly (the sampler never read its own values there)
            latents[:, :, 1:1 + history.shape[2]] = history
        return latents, inputs


POSE_CHUNK = 256  # driving frames a pose estimator sees at once (estimators are per frame)


def check_pose_family(backend: str, family: str) -> None:
    """KinemaInputError unless ``backend`` can estimate characters of ``family`` (only the puppet one knows the
    non-human families; ``none`` estimates nothing)."""
    if family != "humanoid" and backend not in ("puppet", "none"):
        raise KinemaInputError(f"--family {family}", f"is a puppet family; the '{backend}' pose backend estimates "
                               "people", "Use --pose-backend puppet, or give the keypoints with --driving-pose.")


def pose_estimator(backend: str, family: str = "humanoid") -> PoseEstimator:
    """The pose estimator ``backend``; the puppet one for characters of ``family``."""
    check_pose_family(backend, family)
    return get_estimator(backend, family=family) if backend == "puppet" else get_estimator(backend)


def driving_keypoints(animator: Animator, driving: FrameSource, pose_file: str | os.PathLike | None,
                      pose_backend: str, family: str = "humanoid") -> Keypoints | None:
    """Keypoints for a pose-driven model: from ``pose_file``, else estimated by ``pose_backend`` (for a character of
    ``family``) in chunks of ``POSE_CHUNK`` frames (``none``: the driving video already is a skeleton video)."""
    if not animator.pose_driven:
        return None
    if pose_file is not None:
        pose = Keypoints.load(pose_file)
        if pose.num_frames < driving.num_frames:
            raise KinemaInputError(f"driving keypoints '{pose_file}'", f"have {pose.num_frames} frames, the driving "
                                   f"video {driving.num_frames}", "Extract them from this video: kinema pose extract "
                                   "VIDEO --out FILE.")
        return pose.frames(slice(driving.num_frames))
    if pose_backend == "none":
        return None
    estimator = pose_estimator(pose_backend, family)
    chunks = [estimator(driving.take(list(range(i, min(i + POSE_CHUNK, driving.num_frames))))).keypoints
              for i in range(0, driving.num_frames, POSE_CHUNK)]
    return replace(chunks[0], xy=np.concatenate([k.xy for k in chunks]),
                   visibility=np.concatenate([k.visibility for k in chunks]))


def reference_keypoints(animator: Animator, image: np.ndarray, pose_file: str | os.PathLike | None,
                        pose_backend: str, family: str = "humanoid") -> Keypoints | None:
    """Keypoints of the reference image for a model trained with them: from ``pose_file`` (its first
    frame), else estimated by ``pose_backend`` (a character of ``family``); None for other models or backend
    ``none``."""
    if not animator.needs_reference_pose:
        return None
    if pose_file is not None:
        return Keypoints.load(pose_file)
    if pose_backend == "none":
        return None
    return pose_estimator(pose_backend, family)(image[None]).keypoints


def animate(reference: str | os.PathLike, driving: str | os.PathLike, out: str | os.PathLike,
            config: AnimateConfig = AnimateConfig(), model: str = EMBEDDED,
            adapters: Adapters = (), progress: bool = True,
            driving_pose: str | os.PathLike | None = None, pose_backend: str = "puppet",
            reference_pose: str | os.PathLike | None = None, device: str = "auto",
            offload: Offload = "none", keep_frames: bool = False, pose_family: str = "humanoid") -> AnimationResult:
    """Read the inputs, animate on ``device`` (:func:`~kinema.pipelines.models.resolve_device`) under ``offload``
    (:mod:`kinema.backbone.offload`), and write ``out`` (H.264 mp4) plus ``out`` with suffix .json, atomically.

    The driving video is read, and the output written, window by window: memory does not grow with the video's
    length, and an interrupted run leaves no output. The result holds the frames only when ``keep_frames``.
    """
    adapters = as_adapters(adapters)
    out = check_video_out(out, (reference, driving, driving_pose, reference_pose, *(a.path for a in adapters)))
    check_pose_family(pose_backend, pose_family)
    image = load_image(reference, "reference image")
    device, dtype = resolve_device(device)
    with VideoReader(driving, "driving video", config.frames) as video:
        animator = Animator.load(model, adapters, device, dtype, offload, config.layout)
        pose = driving_keypoints(animator, video, driving_pose, pose_backend, pose_family)
        ref_pose = reference_keypoints(animator, image, reference_pose, pose_backend, pose_family)
        with VideoWriter(out, video.fps, keep=keep_frames) as writer:
            settings, notes = animator.stream(image, video, writer.write, config, progress, pose, ref_pose)
    settings.update(reference=str(reference), driving=str(driving), adapters=[str(a) for a in adapters],
                    driving_pose=driving_pose and str(driving_pose),
                    reference_pose=reference_pose and str(reference_pose), fps=video.fps, notes=notes,
                    device=device, offload=offload,
                    pose_backend=pose_backend if animator.pose_driven and driving_pose is None else None,
                    pose_family=pose_family if animator.pose_driven and pose_backend == "puppet" else None)
    write_json_atomic(out.with_suffix(".json"), settings)
    return AnimationResult(writer.kept, settings, notes)
