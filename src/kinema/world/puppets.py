"""Puppets in the 3D world: a 2D-world puppet posed in world coordinates, seen by a :class:`Camera`, painted by
the 2D world's :class:`CharacterPainter` and composited into a rendered scene frame with depth (AniX §3's target
video V, with its exact masks and keypoints).

Body frame -> world: the body's front f turns to the heading (degrees counterclockwise from +x, as
:func:`kinema.world.instructions.root_motion` gives it), its left u to the heading's left and its down v to −z;
a body unit is ``metres_per_unit`` metres, so a 1-unit identity is that tall and the identities keep their
relative heights (short, tall). As in :func:`kinema.puppet.kinematics.to_view` the lowest foot rests on the
ground z = 0 unless the motion lifts it (a jump), and the motion's own yaw (a spin, a dance's sway) turns the
body relative to the heading from its first frame on. The motion's own travel ``dx`` is not used: in the world
the root travels along the plan's root track.

Projection: every node goes through the frame's camera; the painter gets pixel positions (cv2's convention,
pixel centres at integers: the camera's +0.5 centres minus 0.5, which is also the Keypoints convention), the
depth −z_camera in body units (its part biases are body units) and the scale fx · metres_per_unit / z_pelvis.

Occlusion: a character pixel is hidden where an occluder of the scene lies in front of the part drawn there
(the part's camera depth: the mean of its joints' depths, the same depth the painter orders parts by, so a
forearm held in front of a pillar shows while the body behind it does not). Occluders are rendered apart from
the ground: a character standing on the ground and seen from a camera above it can never be behind the ground,
so leaving the ground out makes the test exact, free of the ~4 % depth error of grazing ground splats.
"""

from __future__ import annotations

from dataclasses import dataclass

import cv2
import numpy as np

from kinema.puppet.identity import Identity
from kinema.puppet.kinematics import forward
from kinema.puppet.motions import MotionClip
from kinema.puppet.render import CharacterPainter
from kinema.puppet.skeletons import get_family
from kinema.world.camera import Camera

HUMAN_HEIGHT_M = 1.7  # metres per body unit for humanoids: a 1-unit identity is 1.7 m tall
OCCLUDER_ALPHA = 0.5  # an occluder hides the character where its accumulated opacity exceeds this
VIEWS = ("front", "left", "right", "back")
VIEW_DIRECTIONS = {"front": 0.0, "left": 90.0, "right": -90.0, "back": 180.0}  # camera bearing from the heading
VIEW_FILL = 0.8  # share of the image height the character's box takes in the four views
VIEW_FOV = 30.0  # degrees: a long lens, so the views are close to orthographic


def pose_world(identity: Identity, motion: MotionClip, root: np.ndarray, heading_deg: np.ndarray,
               metres_per_unit: float = HUMAN_HEIGHT_M) -> np.ndarray:
    """(T, N, 3) world positions of every node of ``identity`` performing ``motion`` along the root track.

    Args:
        root: (T, 3) the root's ground point per frame (z is added to the feet's height above the ground).
        heading_deg: (T,) the direction the body faces, counterclockwise from +x.
    """
    family, frames = get_family(identity.family), motion.num_frames
    if root.shape != (frames, 3) or heading_deg.shape != (frames,):
        raise ValueError(f"root (T, 3) and heading (T,) must have the motion's {frames} frames")
    body = forward(family, identity.dims, motion.channels, frames)  # (T, N, 3) u left, v down, f front
    feet = [family.index(n) for n in family.feet]
    lift = motion.root[:, 1:2] * identity.leg_length  # (T, 1) body units
    up = body[:, feet, 1].max(axis=1, keepdims=True) - body[..., 1] + lift  # (T, N) height above the ground
    psi = np.radians(heading_deg + np.degrees(motion.root[:, 2] - motion.root[0, 2]))[:, None]  # (T, 1)
    u, f = body[..., 0], body[..., 2]
    x = f * np.cos(psi) - u * np.sin(psi)  # front along the heading, left along the heading's left
    y = f * np.sin(psi) + u * np.cos(psi)
    return root[:, None, :] + metres_per_unit * np.stack([x, y, up], axis=-1)  # (T, N, 3)


def project_puppet(nodes: np.ndarray, camera: Camera, metres_per_unit: float) -> tuple[np.ndarray, float]:
    """(N, 3) world nodes -> the painter's (N, 3) view (x, y pixels; −z_camera in body units) and its scale.

    The scale (pixels per body unit) is fx · metres_per_unit / the pelvis's depth (node 0, the root).
    """
    uv, z = camera.project(nodes)
    if (z <= camera.near).any():
        raise ValueError("a puppet node is behind the camera's near plane; place the camera farther away")
    view = np.concatenate([uv - 0.5, -z[:, None] / metres_per_unit], axis=1)  # (N, 3)
    return view, camera.fx * metres_per_unit / float(z[0])


@dataclass
class PuppetFrame:
    """One composited frame: ``image`` (H, W, 3) uint8, the character's visible ``mask`` and ``amodal`` mask
    (H, W) bool, its layout keypoints ``xy`` (J, 2) pixels and ``visibility`` (J,)."""

    image: np.ndarray
    mask: np.ndarray
    amodal: np.ndarray
    xy: np.ndarray
    visibility: np.ndarray


def paint_frame(painter: CharacterPainter, nodes: np.ndarray, camera: Camera, scene: np.ndarray,
                occluder_depth: np.ndarray | None = None, metres_per_unit: float = HUMAN_HEIGHT_M) -> PuppetFrame:
    """The character of ``nodes`` (N, 3) world positions painted into ``scene`` (H, W, 3) uint8, hidden where
    ``occluder_depth`` (H, W; camera depth of the occluders, inf where none) is in front of the part there.

    Outside the visible mask the image is ``scene`` exactly (anti-aliased fringes beyond the mask are dropped).
    """
    view, scale = project_puppet(nodes, camera, metres_per_unit)
    painted, labels = np.ascontiguousarray(scene).copy(), np.zeros(scene.shape[:2], np.uint8)
    painter.draw(painted, labels, view, scale)
    amodal = labels > 0
    part_depth = np.array([-view[j, 2].mean() * metres_per_unit for j in painter.joints])  # (parts,) metres
    depth = np.concatenate([[np.inf], part_depth])[labels]  # (H, W) the character's depth per pixel
    covered = amodal & (occluder_depth < depth) if occluder_depth is not None else np.zeros_like(amodal)
    mask = amodal & ~covered
    xy = view[painter.layout_nodes, :2]
    image = np.where(mask[..., None], painted, scene)
    return PuppetFrame(image, mask, amodal, xy, painter.visibility(labels, covered, xy, view))


def occluder_depth(depth: np.ndarray, alpha: np.ndarray) -> np.ndarray:
    """(H, W) camera depth of a render of the occluders, inf where they are too faint to hide anything."""
    return np.where(alpha > OCCLUDER_ALPHA, depth, np.inf)


def character_views(painter: CharacterPainter, nodes: np.ndarray, heading_deg: float, size: tuple[int, int],
                    background: tuple[int, int, int] = (255, 255, 255),
                    metres_per_unit: float = HUMAN_HEIGHT_M) -> tuple[np.ndarray, np.ndarray]:
    """AniX's four character views C: the character of ``nodes`` (N, 3) world, facing ``heading_deg``, seen
    level from its front, left, right and back (VIEWS order) over a plain ``background``.

    Returns (4, H, W, 3) uint8 images and (4, J, 3) keypoints (x, y, visibility).
    """
    w, h = size
    lo, hi = nodes.min(axis=0), nodes.max(axis=0)
    centre, tall = (lo + hi) / 2, max(hi[2] - lo[2], 1e-3)
    reach = float(np.linalg.norm(hi[:2] - lo[:2])) / 2  # the body's horizontal half-extent
    distance = reach + 0.5 * tall / VIEW_FILL / np.tan(np.radians(VIEW_FOV) / 2)
    canvas = np.zeros((h, w, 3), np.uint8) + np.array(background, np.uint8)
    images, keypoints = [], []
    for name in VIEWS:
        bearing = np.radians(heading_deg + VIEW_DIRECTIONS[name])
        eye = centre + distance * np.array([np.cos(bearing), np.sin(bearing), 0.0])
        camera = Camera.looking_at(eye, centre, w, h, VIEW_FOV)
        frame = paint_frame(painter, nodes, camera, canvas, None, metres_per_unit)
        images.append(frame.image)
        keypoints.append(np.concatenate([frame.xy, frame.visibility[:, None]], axis=1))
    return np.stack(images), np.stack(keypoints)


def box_mask(mask: np.ndarray) -> np.ndarray:
    """(H, W) bool: the bounding box of ``mask`` filled (AniX §3.1's bounding-box mask), empty if it is."""
    box = np.zeros_like(mask, dtype=bool)
    if mask.any():
        x, y, w, h = cv2.boundingRect(mask.astype(np.uint8))
        box[y:y + h, x:x + w] = True
    return box
