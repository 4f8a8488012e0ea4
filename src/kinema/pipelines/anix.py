"""Recipe R3 inference (AniX §3.2, Fig. 4): a character directed by text in a Gaussian-splat scene, clip after clip.

Each instruction is parsed into a plan (:func:`kinema.world.instructions.parse_instruction`), the scene is
rendered along the plan's camera path from where the previous clip ended (:func:`kinema.world.video.render_plan`),
and a clip is generated conditioned on the scene video, the anchor box, the character views and AniX's action
prompt, continuing the previous clip's last latent frames as the auto-regressive context (§3.1.3).

Latent frames follow the codec's causal layout over the whole video: the first clip has 1 + 4k frames, each
continuation 4k new frames (its scene render starts at the previous clip's last camera, whose frame is dropped).
The scene video so far is encoded whole for each clip, so every clip's scene latents line up with the frames
it generates; the whole video is decoded once at the end. (Memory therefore grows with the video's length;
constant-memory windows are the long-video issue's.)
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from kinema.backbone.components import WanComponents
from kinema.backbone.encoders import encode_prompt
from kinema.backbone.lora import Adapters
from kinema.backbone.offload import Offload, place, stage
from kinema.errors import KinemaInputError
from kinema.io import write_json_atomic, write_video
from kinema.pipelines.dreamactor_m2 import AnimationResult
from kinema.pipelines.inputs import fit_frames, to_frames, to_tensor
from kinema.pipelines.models import (adapter_card, card_prediction, card_sigma_data, check_recipe, load_adapters,
                                     load_model, sampler_for)
from kinema.recipes import anix as r3
from kinema.sampling import SamplerConfig, classifier_free_guidance, sample
from kinema.sampling.prediction import to_velocity
from kinema.world.camera import Camera
from kinema.world.gaussians import Gaussians
from kinema.world.instructions import parse_instruction
from kinema.world.paths import AnchorBox, anchor_mask
from kinema.world.video import render_plan

CONTEXT_SHARE = 3  # context latent frames per clip: a third of the new ones, as training's 1 : 3 split


@dataclass(frozen=True)
class WorldRunConfig:
    """Settings of one world run: ``size`` (W, H), ``fps`` and ``seconds`` per clip, the seed (clip k samples from
    seed + k) and the sampler (None: the model card's)."""

    size: tuple[int, int] = (64, 64)
    fps: float = 16.0
    seconds: float = 2.0
    seed: int = 0
    sampler: SamplerConfig | None = None


@dataclass
class Clip:
    """One generated clip's instruction, its plan's action and camera path, and its scene video labels."""

    instruction: str
    action: str
    path: str
    frames: int
    scene: dict


def card_recipe(card: dict, model: str) -> r3.R3Config:
    try:
        return r3.R3Config(**card.get("r3", {}))
    except (TypeError, ValueError):
        raise KinemaInputError(f"model '{model}'", f"records R3 settings {card['r3']} kinema does not know",
                               "Retrain it with this kinema (kinema train --preset tiny-r3 ...).") from None


class WorldAnimator:
    """A Wan model prepared for recipe R3 (:func:`r3.prepare_transformer`)."""

    def __init__(self, components: WanComponents, recipe: r3.R3Config = r3.R3Config(), random_weights: bool = False,
                 card: dict | None = None) -> None:
        for expert in components.experts:
            r3.prepare_transformer(expert, components.codec.channels)
        self.components, self.recipe, self.random_weights, self.card = components, recipe, random_weights, card or {}
        self.prediction = card_prediction(self.card)
        self.sigma_data = card_sigma_data(self.card)

    @classmethod
    def load(cls, model: str = "tiny-t2v", adapters: Adapters = (), device: str = "cpu",
             dtype: torch.dtype = torch.float32, offload: Offload = "none") -> WorldAnimator:
        """A preset (random weights) or a model directory, with its card's R3 settings, plus LoRAs."""
        card = adapter_card(model, adapters)
        check_recipe(card, "anix", model, adapters)
        components, random_weights = load_model(model, dtype)
        animator = cls(components, card_recipe(card, model), random_weights, card)
        load_adapters(animator.components, adapters)
        place(animator.components, device, dtype, offload)
        return animator

    def views(self, images: list[np.ndarray], size: tuple[int, int], notes: list[str]) -> torch.Tensor:
        """(1, K, 3, H, W) of the views the model reads, from 1, 2 or 4 images given as VIEW_SETS orders them."""
        given = r3.VIEW_SETS.get(len(images))
        if given is None:
            raise KinemaInputError(f"{len(images)} --character images", "are not 1 (front), 2 (front, back) or 4 "
                                   "(front, left, right, back)", "Give the views AniX uses, front first.")
        wanted = r3.VIEW_SETS[self.recipe.views]
        if not set(wanted) <= set(given):
            raise KinemaInputError(f"{len(images)} --character images", f"lack views the model reads ({', '.join(wanted)})",
                                   f"Give {len(wanted)} images: {', '.join(wanted)}.")
        fitted = [fit_frames(images[given.index(name)][None], size, "crop", f"{name} view", notes)[0] for name in wanted]
        return to_tensor(np.stack(fitted))[0].transpose(0, 1)[None].to(self.components.device)

    def __call__(self, views: list[np.ndarray], gaussians: Gaussians, start: Camera, anchor: AnchorBox,
                 instructions: Iterable[str], config: WorldRunConfig = WorldRunConfig(), progress: bool = True,
                 on_clip: Callable[[Clip], None] | None = None) -> tuple[AnimationResult, np.ndarray, list[Clip]]:
        """Generate one clip per instruction, each continuing the last; returns the video, the scene video and
        the clips. ``start`` must have ``config.size``; ``on_clip`` hears of each clip as it is done."""
        notes: list[str] = []
        width, height = config.size
        anchor.check_inside(width, height)
        if (start.width, start.height) != (width, height):
            raise KinemaInputError(f"camera of {start.width}x{start.height}", f"differs from the output size {width}x{height}",
                                   "Build the start camera at the output size.")
        view_tensor = self.views(views, config.size, notes)
        sampler = config.sampler or sampler_for(self.card)
        box = torch.from_numpy(anchor_mask(anchor, width, height)).float()
        scene_frames, latents, clips, camera, root = None, None, [], start, None
        for k, text in enumerate(instructions):
            plan, first = parse_instruction(text, config.seconds, config.fps), latents is None
            new = _clip_frames(plan.camera.num_frames, first)
            video = render_plan(gaussians, camera, plan, anchor, root_start=root)
            frames = video.frames[:new] if first else video.frames[1:1 + new]  # a continuation's frame 0 is the last
            scene_frames = frames if first else np.concatenate([scene_frames, frames])
            clip_latents = self.generate(view_tensor, scene_frames, box, latents, r3.action_text(plan.action),
                                         sampler, config.seed + k, progress)
            latents = clip_latents if first else torch.cat([latents, clip_latents], dim=2)
            end = new - 1 if first else new  # the plan's frame the next clip starts from
            camera, root = video.cameras[end], (video.root[end], float(video.heading[end]))
            clips.append(Clip(text, plan.action, type(plan.camera).__name__, len(frames), video.labels()))
            if on_clip is not None:
                on_clip(clips[-1])
        if latents is None:
            raise KinemaInputError("instructions", "were empty", "Give at least one --instruction.")
        with stage(self.components, "codec"):
            frames = to_frames(self.components.codec.decode(latents))
        if self.random_weights:
            notes.append(f"model '{self.components.source}' has random weights: the output shows the pipeline "
                         "working, not a trained world model; pass --model DIR for trained weights")
        settings = {**asdict(config), "sampler": asdict(sampler), "recipe": asdict(self.recipe),
                    "model": self.components.source, "clips": [asdict(c) for c in clips]}
        return AnimationResult(frames, settings, notes), scene_frames, clips

    def generate(self, views: torch.Tensor, scene_frames: np.ndarray, box: torch.Tensor, previous: torch.Tensor | None,
                 action: str, sampler: SamplerConfig, seed: int = 0, progress: bool = False) -> torch.Tensor:
        """The latents of one clip's new frames: ``views`` from :meth:`views`, the scene video so far
        ``scene_frames`` (T, H, W, 3) uint8 (1 + 4k frames in all), the anchor ``box`` (H, W) in [0, 1], the
        ``action`` description; continuing ``previous`` (the latents so far) when given."""
        device, dtype = self.components.device, self.components.transformer.dtype
        scene = to_tensor(scene_frames).to(device)  # (1, 3, T, H, W): the whole scene video so far
        boxes = box.to(device)[None, None].expand(1, scene.shape[2], -1, -1)
        with stage(self.components, "encoders", "codec"):
            whole = r3.build_inputs(self.components, views, scene, boxes, self.recipe)
            text = encode_prompt(self.components, [r3.action_prompt(action), ""])
        fresh = whole.scene.shape[2] - (0 if previous is None else previous.shape[2])
        context = None if previous is None else previous[:, :, -max(1, fresh // CONTEXT_SHARE):]
        inputs = r3.R3Inputs(self.recipe, whole.views, whole.scene[:, :, -fresh:], context, whole.image_tokens)

        def velocity(context_text: torch.Tensor):
            def v(x: torch.Tensor, t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
                out = r3.predict(self.components.expert(t), inputs, x.to(dtype), t, context_text.to(dtype))
                return to_velocity(out.float(), x, sigma, self.prediction, self.sigma_data)
            return v

        guided = classifier_free_guidance(velocity(text[:1]), velocity(text[1:]), sampler.guidance)
        noise = torch.randn(inputs.latent_shape, generator=torch.Generator().manual_seed(seed)).to(device)
        with stage(self.components, "transformer"):
            return sample(guided, noise, sampler, progress)


def _clip_frames(available: int, first: bool) -> int:
    """New frames of a clip from a plan of ``available`` frames: 1 + 4k for the first, 4k for a continuation
    (whose plan's frame 0 is the previous clip's last), k ≥ 1."""
    k = max(1, (available - 1) // 4)
    return 1 + 4 * k if first else 4 * k


def world(views: list[np.ndarray], gaussians: Gaussians, start: Camera, anchor: AnchorBox, instructions: Iterable[str],
          out: str | os.PathLike, config: WorldRunConfig = WorldRunConfig(), model: str = "tiny-t2v", adapters: Adapters = (),
          device: str = "cpu", dtype: torch.dtype = torch.float32, offload: Offload = "none", progress: bool = True,
          on_clip: Callable[[Clip], None] | None = None) -> AnimationResult:
    """Run :class:`WorldAnimator` and write ``out`` (mp4), its scene video beside it (``.scene.mp4``) and the
    settings (``.json``), each atomically, after the last clip."""
    animator = WorldAnimator.load(model, adapters, device, dtype, offload)
    result, scene, _ = animator(views, gaussians, start, anchor, instructions, config, progress, on_clip)
    out = Path(out)
    write_video(out, result.frames, fps=config.fps)
    write_video(out.with_suffix(".scene.mp4"), scene, fps=config.fps)
    write_json_atomic(out.with_suffix(".json"), {**result.settings, "device": device, "offload": offload,
                                                 "notes": result.notes})
    return result
