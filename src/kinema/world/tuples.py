"""AniX training tuples from the 3D puppet world, with exact ground truth (AniX §3.1, Figure 2a).

A tuple {V, S, M, T, C}: the target video V (the character acting in the scene), the scene video S (the same
camera path, no character: what AniX gets by inpainting, here rendered exactly), the mask M (AniX's per-frame
bounding-box masks; the anchor box kept across frames is stored beside it), the action text T and four
character views C (front, left, right, back). Keypoints and the character's visible and amodal masks come
with it. Everything follows from one seed: the procedural scene, the identity, the instruction (drawn among
the parser's phrases when none is given), its plan, the puppet motion and the camera path.

Layout written by :func:`write_world_tuple`::

    V.mp4, S.mp4                    target and scene video (kinema.io.write_video, H.264)
    M.npz                           M (T, H, W) per-frame box masks, anchor (H, W) the box of every frame
    masks.npz                       masks, amodal (T, H, W) bool: the character's visible / whole silhouette
    keypoints.npz                   Keypoints (T, 1, J, 2) of V, the family's layout
    C_front.png … C_back.png        the four character views; C_keypoints.npz their Keypoints (4, 1, J, 2)
    labels.json                     instruction, plan, cameras, root track, scene, identity, version, config
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch
from PIL import Image

from kinema.errors import KinemaInputError
from kinema.io import atomic_path, write_json_atomic, write_video
from kinema.pose.keypoints import Keypoints
from kinema.puppet.dataset import sample_seeds
from kinema.puppet.identity import Identity, sample_identity
from kinema.puppet.motions import MotionClip, make_motion
from kinema.puppet.render import CharacterPainter
from kinema.puppet.skeletons import get_family
from kinema.puppet.version import GENERATOR_VERSION, source_hash
from kinema.world.camera import Camera
from kinema.world.gaussians import Gaussians
from kinema.world.instructions import ACTIONS, CATEGORIES, Plan, parse_instruction
from kinema.world.paths import AnchorBox, turned
from kinema.world.puppets import (HUMAN_HEIGHT_M, VIEWS, PuppetFrame, box_mask, character_views, occluder_depth,
                                  paint_frame, pose_world)
from kinema.world.render import render
from kinema.world.scenes import PROPS, Scene, SceneConfig, make_scene
from kinema.world.video import RootStart, SceneVideo, default_anchor, plan_track, render_plan

_SOURCES = ("camera.py", "gaussians.py", "render.py", "scenes.py", "paths.py", "instructions.py", "video.py",
            "puppets.py", "tuples.py")
WORLD_VERSION = f"world-1.0+{source_hash(Path(__file__).parent, _SOURCES)}/{GENERATOR_VERSION}"
MAX_DRAWS = 32  # instructions drawn per seed before giving up on finding one whose clip fits the scene
CLEARANCE = 0.25  # metres kept between a camera or the character's body and any solid
BODY_HEIGHTS = (0.5, 1.0, 1.5)  # metres: the heights at which the character's column is checked against props
LOOK_AHEAD = (0.0, 0.4, 0.8)  # metres along each camera's view axis kept clear (render_plan refuses blocked views)
DEFAULT_CATEGORIES = ("locomotion", "gesture", "camera")
START_TURNS = (0.0, 180.0, 90.0, 270.0)  # degrees: the suggested start camera, then turned about the plot's middle
START_AHEAD = (0.0, 3.0)  # metres: the suggested camera where it stands, then moved ahead into the walkable area
TRAINING_SEEDS = 10_000_000  # dataset tuples take seeds below this; benchmarks hold out the seeds above it


@dataclass(frozen=True)
class WorldConfig:
    """A tuple's ``size`` (W, H), ``frames`` at ``fps``, the character's ``height_m`` (metres per body unit),
    the instruction ``categories`` drawn from, the ``scene`` config and the views' ``view_background`` RGB."""

    size: tuple[int, int] = (64, 64)
    frames: int = 32
    fps: float = 16.0
    height_m: float = HUMAN_HEIGHT_M
    categories: tuple[str, ...] = DEFAULT_CATEGORIES
    scene: SceneConfig = field(default_factory=SceneConfig)
    view_background: tuple[int, int, int] = (255, 255, 255)

    def __post_init__(self) -> None:
        w, h = self.size
        checks = (
            ("size", 16 <= w <= 2048 and 16 <= h <= 2048, "Use e.g. --size 64x64 (16..2048 per side)."),
            ("frames", isinstance(self.frames, int) and 1 <= self.frames <= 1024, "Use e.g. --frames 32 (1..1024)."),
            ("fps", 1.0 <= self.fps <= 120.0, "Use e.g. fps=16."),
            ("height_m", 0.2 <= self.height_m <= 5.0, "Use e.g. height_m=1.7 (0.2..5 metres)."),
            ("categories", bool(self.categories) and set(self.categories) <= set(CATEGORIES),
             f"Choose from: {', '.join(CATEGORIES)}."),
            ("view_background", len(self.view_background) == 3 and all(0 <= c <= 255 for c in self.view_background),
             "Give three integers in 0..255."),
        )
        for name, ok, fix in checks:
            if not ok:
                raise KinemaInputError(f"world {name} {getattr(self, name)!r}", "is invalid", fix)

    @property
    def duration_s(self) -> float:
        return self.frames / self.fps

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class WorldTuple:
    """One AniX tuple. ``video`` V and ``scene_video`` S (T, H, W, 3) uint8; ``boxes`` M (T, H, W) per-frame
    box masks and ``anchor`` (H, W) the box holding the character in every frame; ``masks`` / ``amodal``
    (T, H, W) the character's visible / whole silhouette; ``keypoints`` of V; ``views`` C (4, H, W, 3) in VIEWS
    order with ``view_keypoints``; ``track`` the cameras and root; ``scene`` and ``identity`` as drawn."""

    seed: int
    plan: Plan
    video: np.ndarray
    scene_video: np.ndarray
    boxes: np.ndarray
    anchor: np.ndarray
    masks: np.ndarray
    amodal: np.ndarray
    keypoints: Keypoints
    views: np.ndarray
    view_keypoints: Keypoints
    track: SceneVideo
    scene: Scene
    identity: Identity
    config: WorldConfig

    @property
    def text(self) -> str:
        """T: the action text."""
        return self.plan.text

    def labels(self) -> dict[str, Any]:
        """JSON-ready: instruction, plan, cameras and root track, scene, identity, generator version, config."""
        plan = self.plan
        return {"version": WORLD_VERSION, "seed": self.seed, "instruction": plan.text, "fps": self.config.fps,
                "plan": {"action": plan.action, "category": plan.category, "motion": plan.motion,
                         "camera": {"path": plan.camera.name, **asdict(plan.camera)},
                         "root_velocity": list(plan.root_velocity), "turn_deg": plan.turn_deg, "object": plan.object},
                "track": self.track.labels(), "anchor": _box(self.anchor), "scene": self.scene.labels(),
                "identity": {"seed": self.identity.seed, "family": self.identity.family,
                             "attributes": self.identity.attributes, "description": self.identity.description},
                "views": list(VIEWS), "height_m": self.config.height_m, "config": self.config.to_dict()}


def _box(mask: np.ndarray) -> list[int] | None:
    """[x0, y0, x1, y1] pixel edges of a box mask, None when empty."""
    ys, xs = np.nonzero(mask)
    return [int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1] if len(xs) else None


def make_world_tuple(seed: int, instruction: str | None = None, config: WorldConfig = WorldConfig()) -> WorldTuple:
    """The tuple of ``seed``: its scene, identity and, when ``instruction`` is None, an instruction drawn from
    the parser's phrases of ``config.categories`` whose clip fits the scene (no camera or body in a solid)."""
    # 1. The seed's scene and character
    rng = world_rng(seed)
    scene, identity, motion_seed = draw_world(rng, config)
    anchor = default_anchor(*config.size)
    # 2. The instruction, its plan and the first start camera its clip fits from
    if instruction is not None:
        plan = parse_instruction(instruction, config.duration_s, config.fps)
        start = first_fit(scene, [plan], config)
        if start is None:
            raise KinemaInputError(f"instruction '{instruction}'", f"moves the camera or the character into a solid "
                                   f"of scene {scene.seed} from every start camera",
                                   "Use another seed or a shorter clip (--frames).")
    else:
        plan, start = _draw_plan(rng, scene, config)
    # 3. Render
    return render_world(seed, scene, identity, plan, make_motion(plan.motion, config.frames, motion_seed, config.fps),
                        start, anchor, config)


def world_rng(seed: int) -> np.random.Generator:
    """The generator a seed's tuple is drawn from: first :func:`draw_world`, then (if none is given) the
    instruction."""
    return np.random.default_rng([seed, 83])


def draw_world(rng: np.random.Generator, config: WorldConfig) -> tuple[Scene, Identity, int]:
    """The scene, the character's identity and the motion seed, the first draws from :func:`world_rng`."""
    scene_seed, identity_seed, motion_seed = (int(s) for s in rng.integers(2**31, size=3))
    return make_scene(scene_seed, config.scene), sample_identity(identity_seed, "humanoid"), motion_seed


def start_cameras(scene: Scene, size: tuple[int, int]) -> list[Camera]:
    """The start cameras a clip may begin from, in order: the scene's suggested one (props kept out of its view),
    the same turned about the vertical through the walkable area's middle, then both moved ahead into the
    walkable area — a clip walking toward the camera needs room behind it, which a camera near a wall lacks."""
    w = scene.walkable
    centre = np.array([(w.x0 + w.x1) / 2, (w.y0 + w.y1) / 2, 0.0])
    first = scene.suggested_camera(*size)
    ahead = first.forward * np.array([1.0, 1.0, 0.0])
    ahead /= np.linalg.norm(ahead)  # (3,) the camera's level forward direction
    moved = [replace(first, translation=first.translation - first.rotation @ (d * ahead)) for d in START_AHEAD]
    return [turned(camera, centre, yaw) for camera in moved for yaw in START_TURNS]


def first_fit(scene: Scene, plans: list[Plan], config: WorldConfig) -> Camera | None:
    """The first of :func:`start_cameras` from which every clip of ``plans``, each continuing from where the last
    ended, fits ``scene`` (None: none does)."""
    anchor = default_anchor(*config.size)
    for start in start_cameras(scene, config.size):
        if all(_fits(scene, camera, anchor, plan, root_start)
               for plan, (camera, root_start) in zip(plans, chain_starts(start, plans, anchor))):
            return start
    return None


def chain_starts(start: Camera, plans: list[Plan], anchor: AnchorBox) -> Iterator[tuple[Camera, RootStart | None]]:
    """Each clip's start camera and root start (None: the root placed under ``anchor``), clip k + 1 starting
    where clip k ended (AniX §3.1.3's auto-regressive setting)."""
    root_start = None
    for plan in plans:
        yield start, root_start
        root, heading, cameras = plan_track(start, plan, anchor, root_start)
        start, root_start = cameras[-1], (root[-1], float(heading[-1]))


def _draw_plan(rng: np.random.Generator, scene: Scene, config: WorldConfig) -> tuple[Plan, Camera]:
    """The first drawn instruction of ``config.categories`` whose clip fits the scene from one of the start
    cameras, and that camera (KinemaInputError if none)."""
    names = [name for name, action in ACTIONS.items() if action.category in config.categories]
    for _ in range(MAX_DRAWS):
        text = str(rng.choice(ACTIONS[str(rng.choice(names))].phrases))  # an action, then one of its phrases
        try:
            plan = parse_instruction(text, config.duration_s, config.fps)
        except KinemaInputError:  # a phrase that reads as two actions on its own
            continue
        start = first_fit(scene, [plan], config)
        if start is not None:
            return plan, start
    raise KinemaInputError(f"scene {scene.seed}", f"fits none of {MAX_DRAWS} drawn instructions",
                           "Use another seed, fewer --frames or a larger scene.")


def _fits(scene: Scene, start: Camera, anchor: AnchorBox, plan: Plan, root_start: RootStart | None = None) -> bool:
    """Whether ``plan``'s cameras, the first metre of their view axes and the character's body column stay
    CLEARANCE away from every solid.

    The track is :func:`kinema.world.video.plan_track`'s (from ``root_start`` when given), the one the clip is
    rendered along.
    """
    root, _, cameras = plan_track(start, plan, anchor, root_start)
    eyes = np.array([c.position + d * c.forward for c in cameras for d in LOOK_AHEAD])
    body = (root[:, None, :] + np.array([[0.0, 0.0, z] for z in BODY_HEIGHTS])).reshape(-1, 3)  # (T * 3, 3)
    lo, hi = scene.bounds
    inside = ((body[:, :2] > lo[:2] + CLEARANCE) & (body[:, :2] < hi[:2] - CLEARANCE)).all()
    return bool(inside and not scene.contains_solid(np.concatenate([eyes, body]), CLEARANCE).any())


def render_world(seed: int, scene: Scene, identity: Identity, plan: Plan, motion: MotionClip, start: Camera,
                 anchor: AnchorBox, config: WorldConfig, root_start: RootStart | None = None) -> WorldTuple:
    """Render the tuple of ``identity`` performing ``motion`` as ``plan`` says in ``scene``,
    the root placed under ``anchor`` as seen from ``start`` (or continuing from ``root_start``, ``start`` then
    the previous clip's last camera). Scene props occlude the character."""
    # 1. S: the scene along the plan's camera path; the occluders (props) apart, for the character's depth test
    track = render_plan(scene.gaussians, start, plan, anchor, scene.background, root_start=root_start)
    occluders = _props(scene)
    # 2. V: the character posed along the root track and painted into each frame of S
    nodes = pose_world(identity, motion, track.root, track.heading, config.height_m)  # (T, N, 3)
    painter = CharacterPainter(get_family(identity.family), identity)
    frames: list[PuppetFrame] = []
    for t, camera in enumerate(track.cameras):
        depth = None
        if occluders is not None:
            result = render(occluders, camera)
            depth = occluder_depth(result.depth.numpy(), result.alpha.numpy())
        frames.append(paint_frame(painter, nodes[t], camera, track.frames[t], depth, config.height_m))
    masks = np.stack([f.mask for f in frames])  # (T, H, W)
    boxes = np.stack([box_mask(m) for m in masks])  # (T, H, W) AniX's bounding-box mask sequence M
    layout, size = painter.family.layout, config.size
    keypoints = Keypoints(np.stack([f.xy for f in frames])[:, None], np.stack([f.visibility for f in frames])[:, None],
                          layout, size)
    # 3. C: the first frame's pose from four sides, on a plain background
    views, view_kp = character_views(painter, nodes[0], float(track.heading[0]), size, config.view_background,
                                     config.height_m)
    return WorldTuple(seed, plan, np.stack([f.image for f in frames]), track.frames, boxes, box_mask(boxes.any(0)),
                      masks, np.stack([f.amodal for f in frames]), keypoints, views,
                      Keypoints(view_kp[:, None, :, :2], view_kp[:, None, :, 2], layout, size), track, scene, identity,
                      config)


def _props(scene: Scene) -> Gaussians | None:
    """The scene's props as their own Gaussians (None if it has none): the only things that can stand between
    the camera and the character, who are both inside the walled plot, above the ground."""
    keep = np.flatnonzero(scene.part >= PROPS)
    if len(keep) == 0:
        return None
    g, index = scene.gaussians, torch.from_numpy(keep)
    return Gaussians(g.means[index], g.sh[index], g.opacity_logits[index], g.log_scales[index], g.quaternions[index])


def write_world_tuple(directory: str | os.PathLike, tup: WorldTuple, views: bool = True) -> Path:
    """Write ``tup`` into ``directory`` (created) in the layout of this module's docstring; labels.json last.
    ``views`` False leaves out C (the later clips of a long-horizon case share its first clip's)."""
    directory = Path(directory)
    fps = tup.config.fps
    write_video(directory / "V.mp4", tup.video, fps)
    write_video(directory / "S.mp4", tup.scene_video, fps)
    _savez(directory / "M.npz", M=tup.boxes, anchor=tup.anchor)
    _savez(directory / "masks.npz", masks=tup.masks, amodal=tup.amodal)
    tup.keypoints.save(directory / "keypoints.npz")
    if views:
        tup.view_keypoints.save(directory / "C_keypoints.npz")
        for name, image in zip(VIEWS, tup.views):
            with atomic_path(directory / f"C_{name}.png") as tmp:
                Image.fromarray(image).save(tmp, format="PNG")
    write_json_atomic(directory / "labels.json", tup.labels())
    return directory


def _savez(path: Path, **arrays: np.ndarray) -> None:
    with atomic_path(path) as tmp, open(tmp, "wb") as f:
        np.savez_compressed(f, **arrays)


def write_world_dataset(root: str | os.PathLike, config: WorldConfig, count: int, seed: int,
                        progress: Callable[[int], None] | None = None) -> Path:
    """Render ``count`` tuples into ``root``/samples/NNNNNN and write manifest.json last; returns its path.

    Sample i's seed is drawn from ``seed`` and i and kept below TRAINING_SEEDS, so no data set shares a seed
    (a scene and a character) with the held-out benchmarks of :mod:`kinema.world.benchmark`.
    """
    if count < 1:
        raise KinemaInputError("samples", f"{count} requested", "Ask for at least 1 sample.")
    root, samples = Path(root), []
    for i, s in enumerate(s % TRAINING_SEEDS for s in sample_seeds(seed, count)):
        tup = make_world_tuple(s, config=config)
        rel = f"samples/{i:06d}"
        write_world_tuple(root / rel, tup)
        samples.append({"id": f"{i:06d}", "seed": s, "action": tup.plan.action, "category": tup.plan.category,
                        "dir": rel})
        if progress:
            progress(1)
    manifest = {"version": WORLD_VERSION, "mode": "world", "seed": seed, "config": config.to_dict(), "count": count,
                "samples": samples}
    write_json_atomic(root / "manifest.json", manifest)
    return root / "manifest.json"
