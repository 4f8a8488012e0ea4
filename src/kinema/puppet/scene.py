"""Scenes: 1-4 actors (identity + motion + path + depth) over a background, seen by a camera."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import lru_cache
from typing import Any

import numpy as np

from kinema.pose.keypoints import Keypoints
from kinema.puppet.background import Camera, make_background, view_backgrounds
from kinema.puppet.identity import Identity
from kinema.puppet.kinematics import forward, to_view
from kinema.puppet.motions import MotionClip
from kinema.puppet.render import CharacterPainter
from kinema.puppet.skeletons import get_family
from kinema.puppet.version import GENERATOR_VERSION


@dataclass(frozen=True)
class Actor:
    """An identity performing a motion; ``path`` is the root's start/end x (fractions of the view
    width, added to the motion's own travel); ``depth`` in [0, 1] is near (0) to far (1)."""

    identity: Identity
    motion: MotionClip
    path: tuple[float, float] = (0.5, 0.5)
    depth: float = 0.3


@dataclass(frozen=True)
class SceneSpec:
    """Everything a clip depends on. ``char_size`` is a 1-unit body's height as a view fraction."""

    size: tuple[int, int]
    actors: tuple[Actor, ...]
    background_seed: int
    camera: Camera = Camera()
    char_size: float = 0.6
    margin: float = 0.25
    fps: float = 16.0


@dataclass
class Clip:
    """A rendered clip. ``frames``/``background`` (T, H, W, 3) uint8; ``masks`` (T, P, H, W) bool,
    visible pixels of each actor; ``amodal`` the same ignoring other actors; ``keypoints`` one
    :class:`Keypoints` (P=1) per actor in its family's layout; ``labels`` JSON-ready metadata."""

    frames: np.ndarray
    background: np.ndarray
    masks: np.ndarray
    amodal: np.ndarray
    keypoints: tuple[Keypoints, ...]
    labels: dict[str, Any] = field(default_factory=dict)
    fps: float = 16.0


@lru_cache(maxsize=16)
def _background(seed: int, size: tuple[int, int], margin: float) -> tuple[np.ndarray, str, float]:
    canvas, kind, horizon = make_background(seed, size, margin)
    canvas.flags.writeable = False
    return canvas, kind, horizon


def still(actor: Actor, frame: int) -> Actor:
    """The actor frozen at one frame of its motion (a one-frame clip)."""
    m = actor.motion
    motion = replace(m, channels={k: v[frame:frame + 1] for k, v in m.channels.items()}, root=m.root[frame:frame + 1])
    s = frame / max(1, m.num_frames - 1)
    x = actor.path[0] + (actor.path[1] - actor.path[0]) * s
    return replace(actor, motion=motion, path=(x, x))


def render_scene(spec: SceneSpec) -> Clip:
    """Render ``spec``: actors painted far to near over the camera's view of the background."""
    w, h = spec.size
    frames = spec.actors[0].motion.num_frames
    if any(a.motion.num_frames != frames for a in spec.actors):
        raise ValueError("all actors of a scene need motions with the same number of frames")
    canvas, kind, horizon = _background(spec.background_seed, spec.size, spec.margin)
    affines = spec.camera.affines(spec.size, frames, spec.margin)  # (T, 2, 3)
    background = view_backgrounds(canvas, affines, spec.size)
    order = sorted(range(len(spec.actors)), key=lambda i: -spec.actors[i].depth)  # far first
    painters, views, scales = [], [], []
    s = np.linspace(0, 1, frames)[:, None]
    for actor in spec.actors:
        fam, ident, motion = get_family(actor.identity.family), actor.identity, actor.motion
        view = to_view(fam, forward(fam, ident.dims, motion.channels, frames), motion.root, ident.leg_length)
        scale = spec.char_size * h * (1 - 0.5 * actor.depth)  # world pixels per body unit
        ground = np.array([spec.margin * w, (spec.margin + horizon + (1 - actor.depth) * (1 - horizon) * 0.85) * h])
        ground = ground + np.concatenate([(actor.path[0] + (actor.path[1] - actor.path[0]) * s) * w, 0 * s], axis=1)
        world = ground[:, None, :] + view[..., :2] * scale  # (T, N, 2)
        pix = np.einsum("tij,tnj->tni", affines[:, :, :2], world) + affines[:, None, :, 2]
        painters.append(CharacterPainter(fam, ident))
        views.append(np.concatenate([pix, view[..., 2:]], axis=-1))
        scales.append(scale * affines[:, 0, 0])
    P = len(spec.actors)
    out = background.copy()
    masks, amodal = np.zeros((frames, P, h, w), bool), np.zeros((frames, P, h, w), bool)
    vis = [np.zeros((frames, painters[p].member.shape[0]), np.float32) for p in range(P)]
    for t in range(frames):
        labels = {}
        for p in order:
            labels[p] = np.zeros((h, w), np.uint8)
            painters[p].draw(out[t], labels[p], views[p][t], scales[p][t])
            amodal[t, p] = labels[p] > 0
        covered = np.zeros((h, w), bool)
        for p in reversed(order):  # near to far
            masks[t, p] = amodal[t, p] & ~covered
            kp = views[p][t, painters[p].layout_nodes, :2]
            vis[p][t] = painters[p].visibility(labels[p], covered, kp, views[p][t])
            covered |= amodal[t, p]
    keypoints = tuple(
        Keypoints(views[p][:, painters[p].layout_nodes, None, :2].transpose(0, 2, 1, 3), vis[p][:, None], painters[p].family.layout, spec.size)
        for p in range(P)
    )
    return Clip(out, background, masks, amodal, keypoints, scene_labels(spec, kind), spec.fps)


def scene_labels(spec: SceneSpec, background_kind: str) -> dict[str, Any]:
    """JSON-ready labels: generator version, background, camera and each actor's identity and motion."""
    actors = [{
        "family": a.identity.family, "layout": get_family(a.identity.family).layout, "identity_seed": a.identity.seed,
        "attributes": a.identity.attributes, "identity_description": a.identity.description,
        "motion": a.motion.name, "motion_seed": a.motion.seed, "motion_description": a.motion.description,
        "motion_tags": list(a.motion.tags), "path": list(a.path), "depth": a.depth,
    } for a in spec.actors]
    caption = "; ".join(f"{x['identity_description']}, {x['motion_description'].split(' ', 2)[2]}" for x in actors)
    return {"version": GENERATOR_VERSION, "size": list(spec.size), "fps": spec.fps,
            "background": {"seed": spec.background_seed, "kind": background_kind},
            "camera": {"pan": list(spec.camera.pan), "zoom": list(spec.camera.zoom)}, "actors": actors, "caption": caption}
