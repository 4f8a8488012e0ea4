"""A scene video along a camera path (AniX §3.2 inference, Fig. 4b): the instruction's plan places the character's
root and moves it, the path moves the camera with it, and the splat scene is rendered once per frame.

The scene video is what conditions recipe R3; its cameras and the character's root travel with it as JSON.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch

from kinema.errors import KinemaInputError
from kinema.world.camera import Camera
from kinema.world.gaussians import Gaussians
from kinema.world.instructions import Plan, root_motion
from kinema.world.paths import AnchorBox, camera_path, place_character
from kinema.world.render import render

BLOCKED_FRACTION = 0.5  # a frame is blocked when more than this share of it is ...
BLOCKED_DEPTH = 0.02  # ... nearer than this fraction of the scene's size: the camera is inside or against geometry
RootStart = tuple[np.ndarray, float]  # a clip's first root: (3,) world position and heading in degrees


@dataclass(frozen=True)
class SceneVideo:
    """``frames`` (T, H, W, 3) uint8, one ``cameras`` per frame, the character's ``root`` (T, 3) and ``heading``
    (T,) degrees, and the ``anchor`` box in the first frame."""

    frames: np.ndarray
    cameras: list[Camera]
    root: np.ndarray
    heading: np.ndarray
    anchor: AnchorBox

    def labels(self) -> dict:
        """JSON-ready cameras (size, intrinsics, world->camera pose per frame), root track and anchor."""
        first = self.cameras[0]
        return {"size": [first.width, first.height], "intrinsics": [first.fx, first.fy, first.cx, first.cy],
                "rotation": [c.rotation.tolist() for c in self.cameras],
                "translation": [c.translation.tolist() for c in self.cameras],
                "root": self.root.tolist(), "heading_deg": self.heading.tolist(),
                "anchor": [self.anchor.x0, self.anchor.y0, self.anchor.x1, self.anchor.y1]}


def default_anchor(width: int, height: int) -> AnchorBox:
    """A character-sized box in the middle of the lower half of the image (AniX's user-drawn anchor)."""
    return AnchorBox(0.42 * width, 0.45 * height, 0.58 * width, 0.85 * height)


def scene_bounds(gaussians: Gaussians) -> tuple[np.ndarray, np.ndarray]:
    """(3,) low and high corners of the box holding the central 98 % of the Gaussians (robust to stray floaters)."""
    means = gaussians.means.double()
    return torch.quantile(means, 0.01, dim=0).numpy(), torch.quantile(means, 0.99, dim=0).numpy()


def scene_extent(gaussians: Gaussians) -> float:
    """The diagonal of :func:`scene_bounds`."""
    lo, hi = scene_bounds(gaussians)
    return float(np.linalg.norm(hi - lo))


def plan_track(start: Camera, plan: Plan, anchor: AnchorBox, root_start: RootStart | None = None
               ) -> tuple[np.ndarray, np.ndarray, list[Camera]]:
    """``plan``'s root track (T, 3), headings (T,) in degrees and one camera per frame: the root placed on the
    ground under ``anchor`` (seen from ``start``), facing away from the camera, moved by the plan, and the
    camera moved by the plan's path.

    ``root_start`` continues a previous clip instead (AniX §3.1.3's auto-regressive setting): the root starts
    at its position and heading, and ``start`` is the previous clip's last camera. The first camera and root
    are then these exactly (every path leaves its frame-0 camera unmoved).
    """
    if root_start is None:
        root0 = place_character(start, anchor)
        heading0 = float(np.degrees(np.arctan2(start.forward[1], start.forward[0])))
    else:
        root0, heading0 = root_start
    root, heading = root_motion(plan, root0, heading0)
    return root, heading, camera_path(plan.camera, start, root)


def render_plan(gaussians: Gaussians, start: Camera, plan: Plan, anchor: AnchorBox,
                background: tuple[float, float, float] | None = None,
                progress: Callable[[int], None] | None = None, root_start: RootStart | None = None) -> SceneVideo:
    """Render ``plan``'s clip along :func:`plan_track` (from ``root_start`` when given). A KinemaInputError
    names the first frame whose view is blocked (the camera inside a wall or a prop)."""
    root, heading, cameras = plan_track(start, plan, anchor, root_start)
    near = BLOCKED_DEPTH * scene_extent(gaussians)
    frames = []
    for i, camera in enumerate(cameras):
        result = render(gaussians, camera, background)
        _check_view(result.depth, result.alpha, near, i, camera)
        frames.append((result.image.clamp(0, 1) * 255).round().to(torch.uint8).numpy())
        if progress is not None:
            progress(1)
    return SceneVideo(np.stack(frames), cameras, root, heading, anchor)


def _check_view(depth: torch.Tensor, alpha: torch.Tensor, near: float, index: int, camera: Camera) -> None:
    """KinemaInputError when most of a frame is scene surface closer than ``near``."""
    blocked = float(((alpha > 0.5) & (depth < near)).float().mean())
    if blocked > BLOCKED_FRACTION:
        eye = ", ".join(f"{v:.2f}" for v in camera.position)
        raise KinemaInputError(f"camera of frame {index} at ({eye})",
                               f"is inside or against the scene's geometry ({blocked:.0%} of the view is nearer "
                               f"than {near:.2f})", "Place the camera elsewhere (--eye), or use a smaller --radius.")
