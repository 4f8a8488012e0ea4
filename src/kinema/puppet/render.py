"""Drawing one puppet into a frame: painter-ordered parts, anti-aliased colour, hard part labels.

Colour is drawn with ``cv2.LINE_AA`` at sub-pixel precision; a per-character label image (part
index + 1, hard edges) is drawn alongside and gives the masks and the joint visibility.
"""

from __future__ import annotations

import cv2
import numpy as np

from kinema.puppet.identity import Identity
from kinema.puppet.skeletons import Family, Part

SHIFT = 4
ONE = 1 << SHIFT


def _pt(p: np.ndarray) -> tuple[int, int]:
    return int(round(p[0] * ONE)), int(round(p[1] * ONE))


class CharacterPainter:
    """Draws one identity of one family; built once per character, called once per frame."""

    def __init__(self, family: Family, identity: Identity) -> None:
        self.family, self.identity = family, identity
        self.parts: tuple[Part, ...] = tuple(p for p in family.parts if not p.requires or p.requires in identity.flags)
        self.joints = [np.array([family.index(j) for j in p.joints]) for p in self.parts]
        self.bias = np.array([p.bias for p in self.parts])
        self.hand_chains = {p.name: [[family.index(f"{p.name[0]}_hand_wrist")] + [family.index(f"{p.name[0]}_hand_{f}_{i}") for i in range(1, 5)]
                                     for f in ("thumb", "index", "middle", "ring", "pinky")] for p in self.parts if p.kind == "hand"}
        self.layout_nodes = layout_nodes = family.layout_nodes
        self.member = np.zeros((len(layout_nodes), len(self.parts) + 1), bool)  # joint -> label ids it may lie on
        for k, part in enumerate(self.parts):
            names = set(part.joints) | set(part.covers)
            for j, node in enumerate(layout_nodes):
                self.member[j, k + 1] = family.nodes[node].name in names
        self.surface = np.array([family.nodes[n].name in family.surface for n in layout_nodes])
        self.surface_parent = np.array([family.index(family.nodes[n].parent or family.nodes[n].name) for n in layout_nodes])

    def draw(self, canvas: np.ndarray, labels: np.ndarray, view: np.ndarray, scale: float) -> None:
        """Draw into ``canvas`` (H, W, 3) uint8 and ``labels`` (H, W) uint8.

        Args:
            view: (N, 3) node positions in pixels (x, y) plus depth z (body units, toward camera).
            scale: pixels per body unit.
        """
        depth = np.array([view[j, 2].mean() for j in self.joints]) + self.bias
        for k in np.argsort(depth, kind="stable"):
            self._part(canvas, labels, k, view, scale)

    def _part(self, canvas: np.ndarray, labels: np.ndarray, k: int, view: np.ndarray, scale: float) -> None:
        part, ident = self.parts[k], self.identity
        colour, label = ident.colours[part.colour], int(k) + 1
        size = ident.dims[part.width] * scale
        pts = [_pt(view[j]) for j in self.joints[k]]
        if part.kind == "limb":
            width = max(2, int(round(size)))
            for a, b in zip(pts[:-1], pts[1:]):
                cv2.line(labels, a, b, label, width, cv2.LINE_8, SHIFT)
                cv2.line(canvas, a, b, colour, width, cv2.LINE_AA, SHIFT)
        elif part.kind == "disc":
            radius = max(1, int(round(size)))
            cv2.circle(labels, pts[0], radius * ONE, label, -1, cv2.LINE_8, SHIFT)
            cv2.circle(canvas, pts[0], radius * ONE, colour, -1, cv2.LINE_AA, SHIFT)
            if part.name == "head" and self.family.name == "humanoid":
                self._eyes(canvas, view, scale)
        elif part.kind == "poly":
            poly = np.array(pts, np.int32)
            width = max(2, int(round(size)))
            cv2.fillPoly(labels, [poly], label, cv2.LINE_8, SHIFT)
            cv2.polylines(labels, [poly], True, label, width, cv2.LINE_8, SHIFT)
            cv2.fillPoly(canvas, [poly], colour, cv2.LINE_AA, SHIFT)
            cv2.polylines(canvas, [poly], True, colour, width, cv2.LINE_AA, SHIFT)
        else:
            self._hand(canvas, labels, part, label, colour, view, scale)
        if part.pattern and ident.pattern != "plain":
            self._pattern(canvas, labels, label, view[self.joints[k]], scale, int(np.ceil(size)) + 3)

    def _hand(self, canvas, labels, part, label, colour, view, scale) -> None:  # noqa: ANN001 - see _part
        chains = self.hand_chains[part.name]
        palm = (view[chains[0][0], :2] + view[chains[2][1], :2]) / 2
        radius = max(1, int(round(0.45 * self.identity.dims["hand"] * scale)))
        cv2.circle(labels, _pt(palm), radius * ONE, label, -1, cv2.LINE_8, SHIFT)
        cv2.circle(canvas, _pt(palm), radius * ONE, colour, -1, cv2.LINE_AA, SHIFT)
        width = max(1, int(round(self.identity.dims["finger"] * scale)))
        lines = [np.array([_pt(view[j]) for j in chain], np.int32) for chain in chains]
        cv2.polylines(labels, lines, False, label, width, cv2.LINE_8, SHIFT)
        cv2.polylines(canvas, lines, False, colour, width, cv2.LINE_AA, SHIFT)

    def _eyes(self, canvas: np.ndarray, view: np.ndarray, scale: float) -> None:
        head_r = self.identity.dims["head_r"] * scale
        if head_r < 4:
            return
        head = view[self.family.index("head")]
        for name in ("l_eye", "r_eye"):
            eye = view[self.family.index(name)]
            if eye[2] > head[2]:
                cv2.circle(canvas, _pt(eye), int(max(1.0, 0.13 * head_r) * ONE), self.identity.colours["eyes"], -1, cv2.LINE_AA, SHIFT)

    def _pattern(self, canvas: np.ndarray, labels: np.ndarray, label: int, corners: np.ndarray, scale: float, pad: int) -> None:
        """Stripes, dots or checks in the part's own frame (they move and turn with it)."""
        h, w = labels.shape
        lo = np.clip(np.floor(corners[:, :2].min(0)).astype(int) - pad, 0, [w, h])
        hi = np.clip(np.ceil(corners[:, :2].max(0)).astype(int) + pad + 1, 0, [w, h])
        inside = labels[lo[1]:hi[1], lo[0]:hi[0]] == label
        if not inside.any():
            return
        axis = corners[-1, :2] - corners[0, :2]
        axis = axis / max(np.linalg.norm(axis), 1e-6)
        ys, xs = np.mgrid[lo[1]:hi[1], lo[0]:hi[0]]
        rel_x, rel_y = xs - corners[0, 0], ys - corners[0, 1]
        period = max(3.0, self.identity.pattern_period * scale)
        along = (rel_x * axis[0] + rel_y * axis[1]) / period
        across = (-rel_x * axis[1] + rel_y * axis[0]) / period
        kind = self.identity.pattern
        if kind == "stripes":
            on = np.floor(along) % 2 == 0
        elif kind == "checks":
            on = (np.floor(along) + np.floor(across)) % 2 == 0
        else:
            on = (along % 1 - 0.5) ** 2 + (across % 1 - 0.5) ** 2 < 0.09
        canvas[lo[1]:hi[1], lo[0]:hi[0]][inside & on] = self.identity.colours["pattern"]

    def visibility(self, labels: np.ndarray, covered: np.ndarray, keypoints: np.ndarray, view: np.ndarray) -> np.ndarray:
        """(J,) 1 where a layout joint lies on one of its own parts, in frame and not hidden.

        Args:
            labels: this character's part labels (H, W); covered: (H, W) bool, nearer characters.
            keypoints: (J, 2) pixel coordinates; view: (N, 3) node view positions.
        """
        h, w = labels.shape
        xi, yi = np.round(keypoints[:, 0]).astype(int), np.round(keypoints[:, 1]).astype(int)
        inside = (xi >= 0) & (xi < w) & (yi >= 0) & (yi < h)
        xi, yi = np.clip(xi, 0, w - 1), np.clip(yi, 0, h - 1)
        on_part = self.member[np.arange(len(xi)), labels[yi, xi]] & ~covered[yi, xi]
        facing = ~self.surface | (view[self.layout_nodes, 2] >= view[self.surface_parent, 2])
        return (inside & on_part & facing).astype(np.float32)
