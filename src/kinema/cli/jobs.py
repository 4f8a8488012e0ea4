"""One generation job — what ``kinema animate`` and ``kinema replace`` run, and what the web UI's buttons run.

A :class:`Request` holds the verbs' options as parsed values; :func:`run` resolves the model card's sampling
defaults and the prompt, then calls the pipelines' file-in, file-out API (recipe R1 for pose-driven animate,
recipe R2 for rgb-driven animate and replace), which checks every input with the CLI's messages before
anything is written.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from typing import Literal

import click
import torch

from kinema.backbone.lora import AdapterSpec
from kinema.errors import KinemaInputError
from kinema.pipelines.dreamactor_m2 import AnimationResult

Mode = Literal["animate", "replace"]


@dataclass(frozen=True)
class Request:
    """The settings of one job, named as the CLI's options (None: the option left out)."""

    mode: Mode
    references: tuple[str, ...]
    driving: str
    model: str
    steps: int | None = None
    seed: int = 0
    guidance: float | None = None
    flow_shift: float | None = None
    scheduler: str = "unipc"
    size: tuple[int, int] | None = None
    frames: int | None = None
    prompt: str = ""
    caption: str = "none"
    fit: str = "error"
    adapters: tuple[AdapterSpec, ...] = ()  # LoRAs, each at its weight
    layout: str | None = None
    driving_mode: str = "pose"
    driving_pose: str | None = None
    reference_pose: str | None = None
    pose_backend: str = "puppet"
    pose_family: str = "humanoid"  # the puppet pose backend's family
    masks: str | None = None
    reference_masks: tuple[str, ...] = ()
    segmenter: str = "mediapipe"
    bind: tuple[int, ...] | None = None
    driving_resolution: str | None = None
    device: str = "auto"  # kinema.pipelines.models.resolve_device
    offload: str = "none"  # kinema.backbone.offload
    window: int | None = None  # long videos (kinema.pipelines.windows): generated frames per window
    history: int | None = None  # latent frames a window takes from the one before
    history_match: str = "none"
    history_noise: float = 0.0
    overlap: int | None = None

    @property
    def uploads(self) -> tuple[str, ...]:
        """Every input file the request names."""
        files = (*self.references, self.driving, self.driving_pose, self.reference_pose, self.masks,
                 *self.reference_masks)
        return tuple(f for f in files if f is not None)

    @property
    def recipe_mode(self) -> str:
        """``replace``, or ``animate`` by recipe R2 (rgb driving), or ``pose`` for recipe R1."""
        return "replace" if self.mode == "replace" else "animate" if self.driving_mode == "rgb" else "pose"


def run(request: Request, out: str | os.PathLike, keep_frames: bool = False) -> AnimationResult:
    """Run ``request``, writing ``out`` (.mp4) and its settings .json beside it; the result holds the frames only
    when ``keep_frames`` (they are streamed to the file window by window)."""
    from kinema.cli.caption import prompt_for
    from kinema.pipelines.dreamactor_m2 import AnimateConfig, animate
    from kinema.pipelines.models import adapter_card, check_offload, resolve_device, sampler_for
    from kinema.pipelines.scail2 import ScailConfig, animate_scail
    from kinema.pipelines.windows import WindowOptions

    card = adapter_card(request.model, request.adapters)
    try:
        sampler = sampler_for(card, request.steps, request.guidance, request.flow_shift, request.scheduler)
    except ValueError as err:
        raise KinemaInputError("sampling options", str(err), f"See kinema {request.mode} --help.") from None
    prompt = prompt_for(request.prompt, request.caption, request.references, request.driving, card)
    device = resolve_device(request.device)[0]
    check_offload(request.offload, device)
    if device != "cpu":
        print_memory_plan(request, card)
    windows = WindowOptions(request.window, request.history, request.overlap, request.history_match,
                            request.history_noise)
    if request.recipe_mode == "pose":
        config = AnimateConfig(size=request.size, frames=request.frames, prompt=prompt, seed=request.seed,
                               layout=request.layout, fit=request.fit, sampler=sampler, windows=windows)
        return animate(request.references[0], request.driving, out, config, model=request.model,
                       adapters=request.adapters, driving_pose=request.driving_pose, pose_backend=request.pose_backend,
                       reference_pose=request.reference_pose, device=request.device, offload=request.offload,
                       keep_frames=keep_frames, pose_family=request.pose_family)
    config = ScailConfig(mode=request.recipe_mode, size=request.size, frames=request.frames, prompt=prompt,
                         seed=request.seed, fit=request.fit, bind=request.bind, sampler=sampler, windows=windows)
    return animate_scail(request.references, request.driving, out, config, model=request.model,
                         adapters=request.adapters, masks=request.masks, reference_masks=request.reference_masks,
                         segmenter=request.segmenter, driving_resolution=request.driving_resolution, device=request.device,
                         offload=request.offload, keep_frames=keep_frames)


DEFAULT_PLAN_SIZE, DEFAULT_PLAN_FRAMES = (832, 480), 81  # what a plan assumes when neither request nor card says


def print_memory_plan(request: Request, card: dict) -> None:
    """On stderr, before the model loads: its parameters by component and the activations at the requested size
    (the card's, else Wan's 832x480 and 81 frames). A model that cannot be read gets no plan: loading names it."""
    from kinema.pipelines.memory import memory_plan

    size = request.size or tuple(card.get("size", DEFAULT_PLAN_SIZE))
    window = request.window or card.get("frames", DEFAULT_PLAN_FRAMES)  # a longer video runs window by window
    frames = min(request.frames or window, window)
    layout = request.layout or card.get("layout", "spatial")
    factor = 1.3 if request.recipe_mode != "pose" else 1.0 if layout == "aligned" else 2.0  # the stream's tokens
    try:
        plan = memory_plan(request.model, size, frames, torch.bfloat16, factor)
    except (OSError, ValueError, KeyError, KinemaInputError):
        return
    click.echo(plan.describe(), err=True)
    click.echo(plan.describe_offload(request.offload), err=True)


def report(result: AnimationResult, out: str) -> None:
    """The verb's closing lines: the pipeline's notes on stderr, then what was written."""
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {out} ({result.settings['frames']} frames, {result.settings['size'][0]}x{result.settings['size'][1]})")
