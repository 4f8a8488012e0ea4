"""Generation methods by name: ``build(options) -> method``, where ``method(case) -> frames``
(T, H, W, 3) uint8 at the benchmark's size and length.

Baselines and the exact-target ceiling are built in, plus recipe R1 (driving as RGB, or as the
skeleton of the driving clip's keypoints) and recipe R2 (raw driving video, puppet-segmenter masks,
the triplet's mode). Other recipes plug in with :func:`register_method`. Each method names the model
cards (``kinema.json``) it fits, so :func:`choose_method` defaults to the model's own method and refuses
one that would run its weights the wrong way (RGB driving into a pose-driven model).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

from kinema.errors import KinemaInputError
from kinema.eval import baselines
from kinema.eval.benchmarks import Case

Method = Callable[[Case], np.ndarray]
Kind = Literal["model", "baseline", "ceiling"]
ALL_MODES = ("animate", "replace", "multi")


@dataclass(frozen=True)
class MethodOptions:
    """What a model method needs: ``model`` (``embedded``, a preset name or a diffusers directory), LoRA
    ``adapters`` (``PATH[:WEIGHT]`` each), sampling ``steps`` and ``guidance`` (None: the model card's, else 30 and 5), noise ``seed``,
    text ``prompt`` and the ``device`` it runs on (``cpu`` or ``cuda[:N]``, bf16 there)."""

    model: str = "embedded"
    adapters: tuple[str, ...] = ()
    steps: int | None = None
    guidance: float | None = None
    seed: int = 0
    prompt: str = ""
    device: str = "cpu"


def any_card(card: dict) -> bool:
    """Baselines and the ceiling run beside any model."""
    return True


def r1_card(card: dict) -> bool:
    """Recipe R1 weights: an R1 card, or none (presets, foreign Wan weights)."""
    return card.get("recipe", "dreamactor-m2") == "dreamactor-m2"


def rgb_r1_card(card: dict) -> bool:
    """R1 weights that take an RGB driving video: not trained on skeleton videos (``"driving": "pose"``)."""
    return r1_card(card) and card.get("driving") != "pose"


def r2_card(card: dict) -> bool:
    """Recipe R2 weights: a SCAIL-2 card, or none (presets, foreign Wan weights)."""
    return card.get("recipe", "scail-2") == "scail-2"


@dataclass(frozen=True)
class MethodSpec:
    """A registered method: its builder, the modes it supports, its kind, a one-line description and
    which model cards (``kinema.json``) it fits."""

    build: Callable[[MethodOptions], Method]
    modes: tuple[str, ...]
    kind: Kind
    description: str
    fits: Callable[[dict], bool] = any_card


def _r1(driving: Literal["rgb", "pose"]) -> Callable[[MethodOptions], Method]:
    def build(options: MethodOptions) -> Method:
        from kinema.guidance.puppet import model_prompt
        from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
        from kinema.pipelines.models import resolve_device, sampler_for
        from kinema.pose.render import render_pose

        animator = Animator.load(options.model, options.adapters, *resolve_device(options.device))

        def method(case: Case) -> np.ndarray:
            tri = case.triplet
            pose = tri.driving.keypoints[0] if driving == "pose" and animator.pose_driven else None
            drive = tri.driving.frames if driving == "rgb" or pose is not None else render_pose(tri.driving.keypoints[0])
            prompt = options.prompt or model_prompt(tri, animator.card)
            config = AnimateConfig(size=case.size, frames=case.frames, prompt=prompt, seed=options.seed,
                                   sampler=sampler_for(animator.card, options.steps, options.guidance))
            return animator(tri.reference_images[0], drive, config, progress=False, pose=pose,
                            reference_pose=tri.references[0].keypoints[0]).frames
        return method
    return build


def _r2(options: MethodOptions) -> Method:
    """Recipe R2 (SCAIL-2): animate / multi cases in animation mode, replace cases in replacement mode;
    masks from the puppet segmenter of the reference and driving clips, bound as the triplet binds them."""
    from kinema.guidance.puppet import model_prompt
    from kinema.pipelines.models import resolve_device, sampler_for
    from kinema.pipelines.scail2 import ScailAnimator, ScailConfig
    from kinema.segment import PuppetSegmenter

    animator = ScailAnimator.load(options.model, options.adapters, *resolve_device(options.device))

    def method(case: Case) -> np.ndarray:
        tri = case.triplet
        prompt = options.prompt or model_prompt(tri, animator.card)
        bind = tuple(tri.binding.index(k) for k in range(len(tri.references)))
        config = ScailConfig(mode="replace" if tri.mode == "replace" else "animate", size=case.size, frames=case.frames,
                             prompt=prompt, seed=options.seed, bind=bind,
                             sampler=sampler_for(animator.card, options.steps, options.guidance))
        ref_masks = [PuppetSegmenter(r)(r.frames) for r in tri.references]
        drv_masks = PuppetSegmenter(tri.driving)(tri.driving.frames)
        return animator(list(tri.reference_images), tri.driving.frames, ref_masks, drv_masks, config, progress=False).frames
    return method


def _fixed(fn: Method) -> Callable[[MethodOptions], Method]:
    return lambda options: fn


METHODS: dict[str, MethodSpec] = {
    "r1": MethodSpec(_r1("rgb"), ("animate",), "model", "recipe R1 (DreamActor-M2), RGB driving video", rgb_r1_card),
    "r1-pose": MethodSpec(_r1("pose"), ("animate",), "model",
                          "recipe R1, skeleton of the driving clip's exact keypoints (and the reference's, if trained so)",
                          r1_card),
    "r2": MethodSpec(_r2, ALL_MODES, "model", "recipe R2 (SCAIL-2), raw driving video and subject masks", r2_card),
    "static-reference": MethodSpec(_fixed(baselines.static_reference), ALL_MODES, "baseline", "the reference image, frozen"),
    "driving-copy": MethodSpec(_fixed(baselines.driving_copy), ALL_MODES, "baseline", "the driving video, unchanged"),
    "paste": MethodSpec(_fixed(baselines.paste), ALL_MODES, "baseline", "reference character pasted at the driving subject's place"),
    "target": MethodSpec(_fixed(baselines.exact_target), ALL_MODES, "ceiling", "the exact target (ceiling)"),
}


def register_method(name: str, spec: MethodSpec) -> MethodSpec:
    """Add a method (e.g. recipe R2); names are unique."""
    if name in METHODS and METHODS[name] != spec:
        raise ValueError(f"method '{name}' is already registered")
    METHODS[name] = spec
    return spec


def get_method(name: str, mode: str) -> MethodSpec:
    """The method ``name``, checked to support ``mode``; errors list the valid choices."""
    if name not in METHODS:
        raise KinemaInputError(f"--method '{name}'", "is not a method", f"Use one of: {', '.join(METHODS)}.")
    spec = METHODS[name]
    if mode not in spec.modes:
        usable = [n for n, s in METHODS.items() if mode in s.modes]
        raise KinemaInputError(f"--method '{name}'", f"does not support {mode} benchmarks", f"Use one of: {', '.join(usable)}.")
    return spec


def _card_summary(card: dict) -> str:
    if not card:
        return "no model card: a preset or foreign Wan weights"
    return f"its card: recipe {card.get('recipe', 'unnamed')}, driving {card.get('driving', 'rgb')}"


def choose_method(name: str | None, mode: str, card: dict, model: str) -> str:
    """``name`` checked against the benchmark ``mode`` and the ``card`` of the model it runs; None: the first
    model method that fits both (r1 for presets, r1-pose for a pose-driven R1 card, r2 for a SCAIL-2 card).
    ``model`` names the model in errors, e.g. "--model 'embedded'"."""
    if name is None:
        fitting = [n for n, s in METHODS.items() if s.kind == "model" and mode in s.modes and s.fits(card)]
        if not fitting:
            raise KinemaInputError(model, f"has no method for {mode} benchmarks ({_card_summary(card)})",
                                   f"Pass --model with a model for them, or a baseline --method: "
                                   f"{', '.join(reference_methods(mode))}.")
        return fitting[0]
    if not get_method(name, mode).fits(card):
        usable = [n for n, s in METHODS.items() if mode in s.modes and s.fits(card)]
        raise KinemaInputError(f"--method '{name}'", f"does not fit {model} ({_card_summary(card)})",
                               f"Use one of: {', '.join(usable)}; without --method the model's own method is used.")
    return name


def reference_methods(mode: str) -> list[str]:
    """The baselines and the ceiling that run beside every method on a ``mode`` benchmark."""
    return [n for n, s in METHODS.items() if s.kind != "model" and mode in s.modes]
