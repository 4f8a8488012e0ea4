"""Procedural Gaussian-splat scenes for the 3D puppet world: a textured ground, walls or a sky backdrop and
props (boxes, pillars, trees, balls), built from a seed.

Each surface is sampled on a regular grid of spacing d (the largest that keeps the scene within its Gaussian
budget) and every sample becomes one flat Gaussian: in-plane σ = SPREAD·d so that neighbours overlap without
holes, THICKNESS·d along the normal, opacity OPACITY. The look follows the 2D puppet world of the same seed:
``kinema.puppet.background.make_background`` chooses the kind (outdoor / room / abstract) and paints the canvas
whose sky or wall part, wrapped round the plot, becomes the backdrop and whose floor colour becomes the
ground's (grass, tiles or stripes); the props take their colours from ``kinema.puppet.identity.PALETTE``.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from typing import Any, NamedTuple

import cv2
import numpy as np
import torch

from kinema.errors import KinemaInputError
from kinema.puppet.background import make_background, value_noise
from kinema.puppet.identity import PALETTE
from kinema.world.camera import Camera
from kinema.world.gaussians import SH_C0, SH_COEFFS, Gaussians

OPACITY = 0.98  # sigmoid of every Gaussian's logit: opaque surfaces
SPREAD = 0.7  # in-plane σ as a fraction of the sampling step (0.6-0.8 closes the gaps between samples)
THICKNESS = 0.1  # σ along the normal as a fraction of the sampling step
WALL_COARSENING = 2.0  # walls are far and smooth: sampled at twice the ground's step
SIDES = ("+y", "+x", "-x", "-y")  # the order walls are put up in: far side first, the camera's side last
GROUND, WALL, PROPS = 0, 1, 2  # Scene.part codes: prop i is PROPS + i
LIGHT = np.array([0.4, -0.3, 0.87]) / np.linalg.norm([0.4, -0.3, 0.87])  # baked into the props' colours
PROP_KINDS = ("box", "pillar", "tree", "ball")
PROP_ODDS = {"outdoor": (0.25, 0.15, 0.45, 0.15), "room": (0.45, 0.3, 0.05, 0.2), "abstract": (0.25,) * 4}


@dataclass(frozen=True)
class SceneConfig:
    """A square-cornered plot of ``size`` (x, y) metres centred on the origin, walls of ``wall_height`` on
    ``wall_sides`` of its four sides (far side first), a free ``walkable`` rectangle in the middle (its sides
    a fraction of the plot's), up to ``props`` props around it, at most ``budget`` Gaussians, colours as
    spherical harmonics of degree ``sh_degree`` (view-independent: the higher coefficients are zero) and the
    suggested camera's height ``camera_height`` (metres)."""

    size: tuple[float, float] = (12.0, 12.0)
    wall_height: float = 5.0
    wall_sides: int = 4
    walkable: float = 0.5
    props: int = 8
    budget: int = 20_000
    sh_degree: int = 0
    camera_height: float = 1.6

    def __post_init__(self) -> None:
        checks = (
            ("size", len(self.size) == 2 and all(2.0 <= s <= 100.0 for s in self.size), "two sides in 2..100 metres"),
            ("wall_height", 0.5 <= self.wall_height <= 50.0, "in 0.5..50 metres"),
            ("wall_sides", _is_int(self.wall_sides, 0, 4), "an integer in 0..4"),
            ("walkable", 0.1 <= self.walkable <= 0.9, "a fraction in 0.1..0.9"),
            ("props", _is_int(self.props, 0, 32), "an integer in 0..32"),  # 32 trees take 608 Gaussians at least
            ("budget", _is_int(self.budget, 1_000, 5_000_000), "an integer in 1000..5000000"),
            ("sh_degree", _is_int(self.sh_degree, 0, 3), "0, 1, 2 or 3"),
            ("camera_height", 0.1 <= self.camera_height <= 10.0, "in 0.1..10 metres"),
        )
        for name, ok, expected in checks:
            if not ok:
                raise KinemaInputError(f"scene {name}", f"{getattr(self, name)!r} is invalid", f"Use {expected}.")


def _is_int(value: Any, lo: int, hi: int) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and lo <= value <= hi


@dataclass(frozen=True)
class Rect:
    """An axis-aligned rectangle [x0, x1] × [y0, y1] on the ground (z = 0)."""

    x0: float
    y0: float
    x1: float
    y1: float

    def contains(self, points: np.ndarray) -> np.ndarray:
        """(N, 2+) points -> (N,) whether their (x, y) lies inside."""
        p = np.asarray(points, dtype=np.float64)
        return (p[:, 0] >= self.x0) & (p[:, 0] <= self.x1) & (p[:, 1] >= self.y0) & (p[:, 1] <= self.y1)

    def overlaps(self, other: Rect) -> bool:
        return self.x0 < other.x1 and other.x0 < self.x1 and self.y0 < other.y1 and other.y0 < self.y1

    def grown(self, by: float) -> Rect:
        return Rect(self.x0 - by, self.y0 - by, self.x1 + by, self.y1 + by)


@dataclass(frozen=True)
class Solid:
    """A box (``centre`` ± ``half``), an upright cylinder (axis through ``centre``, radius ``half[0]``, half
    height ``half[2]``) or a sphere (radius ``half[0]``): the exact shapes behind the props."""

    shape: str  # "box" | "cylinder" | "sphere"
    centre: tuple[float, float, float]
    half: tuple[float, float, float]

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N, 3) -> (N,) whether each point is inside the solid grown by ``margin``."""
        d = np.asarray(points, dtype=np.float64) - self.centre  # (N, 3)
        h = np.asarray(self.half) + margin
        if self.shape == "box":
            return np.all(np.abs(d) <= h, axis=1)
        if self.shape == "cylinder":
            return (np.hypot(d[:, 0], d[:, 1]) <= h[0]) & (np.abs(d[:, 2]) <= h[2])
        return np.linalg.norm(d, axis=1) <= h[0]

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) corners of the axis-aligned bounding box."""
        c = np.asarray(self.centre)
        h = np.asarray(self.half if self.shape == "box" else (self.half[0], self.half[0], self.half[2]))
        return c - h, c + h


@dataclass(frozen=True)
class Prop:
    """A prop standing on the ground: its ``kind`` (box, pillar, tree, ball), its solids and their colours
    (names in ``kinema.puppet.identity.PALETTE``)."""

    kind: str
    colours: tuple[str, ...]
    solids: tuple[Solid, ...]

    @property
    def bounds(self) -> tuple[np.ndarray, np.ndarray]:
        """(lo, hi) corners of the axis-aligned bounding box of all its solids."""
        los, his = zip(*(s.bounds for s in self.solids))
        return np.min(los, axis=0), np.max(his, axis=0)

    @property
    def footprint(self) -> Rect:
        lo, hi = self.bounds
        return Rect(lo[0], lo[1], hi[0], hi[1])

    def contains(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N, 3) -> (N,) whether each point is inside one of its solids grown by ``margin``."""
        return np.any([s.contains(points, margin) for s in self.solids], axis=0)

    def moved(self, x: float, y: float) -> Prop:
        """The same prop shifted by (x, y) on the ground."""
        return replace(self, solids=tuple(replace(s, centre=(s.centre[0] + x, s.centre[1] + y, s.centre[2]))
                                          for s in self.solids))


@dataclass
class Scene:
    """A splat scene and what the puppet world places characters and cameras with: ``kind`` (the 2D
    background's), ``bounds`` (lo, hi corners of the plot; ground z = 0, top at the walls or the tallest prop),
    ``walkable`` (free of props, 0.3 m clear of them), ``walls`` (the sides that have one), ``props``, ``part``
    (N,) which surface each Gaussian belongs to (GROUND, WALL or PROPS + prop index), ``background`` the RGB in
    [0, 1] to render behind the splats (the sky's or the wall's top colour), and the suggested camera's eye
    and target (world metres)."""

    seed: int
    config: SceneConfig
    kind: str
    gaussians: Gaussians
    part: np.ndarray
    bounds: tuple[np.ndarray, np.ndarray]
    walkable: Rect
    walls: tuple[str, ...]
    props: tuple[Prop, ...]
    background: tuple[float, float, float]
    camera_eye: np.ndarray
    camera_target: np.ndarray

    def contains_solid(self, points: np.ndarray, margin: float = 0.0) -> np.ndarray:
        """(N, 3) -> (N,) whether each point lies in a prop, below the ground or in or behind a wall, every
        solid grown by ``margin`` (e.g. a camera's near distance, so that no surface is closer)."""
        p = np.atleast_2d(np.asarray(points, dtype=np.float64))
        lo, hi = self.bounds
        solid = p[:, 2] < margin
        beyond = {"+x": p[:, 0] > hi[0] - margin, "-x": p[:, 0] < lo[0] + margin,
                  "+y": p[:, 1] > hi[1] - margin, "-y": p[:, 1] < lo[1] + margin}
        for side in self.walls:
            solid |= beyond[side] & (p[:, 2] <= self.config.wall_height + margin)
        for prop in self.props:
            solid |= prop.contains(p, margin)
        return solid

    def suggested_camera(self, width: int = 256, height: int = 256, fov_y: float = 60.0) -> Camera:
        """The initial camera: at the walkable area's near (−y) side, looking at its centre on the ground."""
        return Camera.looking_at(self.camera_eye, self.camera_target, width, height, fov_y)

    def labels(self) -> dict[str, Any]:
        """JSON-ready description: seed, config, kind, walkable area, walls, props and the suggested camera."""
        return {"seed": self.seed, "config": asdict(self.config), "kind": self.kind, "gaussians": len(self.gaussians),
                "walkable": asdict(self.walkable), "walls": list(self.walls),
                "props": [{"kind": p.kind, "colours": list(p.colours), "bounds": [b.tolist() for b in p.bounds]}
                          for p in self.props],
                "camera": {"eye": self.camera_eye.tolist(), "target": self.camera_target.tolist()}}


def make_scene(seed: int, config: SceneConfig = SceneConfig()) -> Scene:
    """The scene of ``seed``: the same seed and config always give bit-identical Gaussians."""
    # 1. Check inputs
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool) or seed < 0:
        raise KinemaInputError("scene seed", f"{seed!r} is not a non-negative integer", "Use e.g. --seed 0.")
    seed = int(seed)
    rng = np.random.default_rng([seed, 17])
    # 2. Layout: the seed's 2D look, the plot, its walkable middle, the camera and the props (whatever the budget)
    look = _look(seed, config)
    (w, d), f = config.size, config.walkable
    lo, hi = np.array([-w / 2, -d / 2, 0.0]), np.array([w / 2, d / 2, config.wall_height])
    walkable = Rect(-f * w / 2, -f * d / 2, f * w / 2, f * d / 2)
    eye = np.array([0.0, lo[1] + 0.25 * (walkable.y0 - lo[1]), config.camera_height])
    view = Rect(-1.2, lo[1], 1.2, walkable.y0)  # kept free: the ground the camera's lower half sees
    props = _place_props(rng, look.kind, config, Rect(lo[0], lo[1], hi[0], hi[1]), (walkable, view))
    walls = SIDES[:config.wall_sides]
    hi[2] = max([config.wall_height] + [p.bounds[1][2] for p in props])
    # 3. Surfaces sampled at the smallest step that fits the budget, then painted
    patches = _patches_within_budget(lo, hi, walls, props, config)
    colours = np.concatenate([_paint(patch, tag, colour, look, rng, config) for patch, tag, colour in patches])
    part = np.concatenate([np.full(len(p.points), tag, dtype=np.int16) for p, tag, _ in patches])
    background = tuple(float(c) for c in look.backdrop[0].mean(0))
    return Scene(seed, config, look.kind, _gaussians([p for p, _, _ in patches], colours, config.sh_degree), part,
                 (lo, hi), walkable, walls, props, background, eye, np.zeros(3))


def _place_props(rng: np.random.Generator, kind: str, config: SceneConfig, plot: Rect,
                 keep_free: tuple[Rect, ...]) -> tuple[Prop, ...]:
    """Up to ``config.props`` props inside the plot (0.2 m from its edges), none overlapping another or the
    ``keep_free`` rectangles (0.3 m apart); a prop that finds no room in 200 tries is left out."""
    inner, props = plot.grown(-0.2), []
    for _ in range(config.props):
        prop = _draw_prop(rng, PROP_KINDS[rng.choice(len(PROP_KINDS), p=PROP_ODDS[kind])])
        for _ in range(200):
            moved = prop.moved(rng.uniform(inner.x0, inner.x1), rng.uniform(inner.y0, inner.y1))
            fp = moved.footprint
            if (inner.x0 <= fp.x0 and fp.x1 <= inner.x1 and inner.y0 <= fp.y0 and fp.y1 <= inner.y1
                    and not any(fp.overlaps(r.grown(0.3)) for r in keep_free + tuple(p.footprint for p in props))):
                props.append(moved)
                break
    return tuple(props)


def _draw_prop(rng: np.random.Generator, kind: str) -> Prop:
    """A prop of ``kind`` standing at the origin, its sizes (metres) and colour drawn from ``rng``."""
    u = rng.uniform
    if kind == "box":
        half = (u(0.2, 0.75), u(0.2, 0.75), u(0.2, 0.9))
        return Prop(kind, (str(rng.choice(tuple(PALETTE))),), (Solid("box", (0, 0, half[2]), half),))
    if kind == "pillar":
        r, h = u(0.15, 0.35), u(1.5, 3.0)
        colour = str(rng.choice(("white", "grey", "beige", "brown")))
        return Prop(kind, (colour,), (Solid("cylinder", (0, 0, h / 2), (r, r, h / 2)),))
    if kind == "tree":  # a trunk and a round crown (the 2D backgrounds' trees: brown and green)
        r, h, crown = u(0.08, 0.16), u(1.0, 2.0), u(0.5, 1.1)
        trunk = Solid("cylinder", (0, 0, h / 2), (r, r, h / 2))
        return Prop(kind, ("brown", "green"), (trunk, Solid("sphere", (0, 0, h + 0.6 * crown), (crown,) * 3)))
    r = u(0.2, 0.5)
    colour = str(rng.choice(("red", "orange", "yellow", "teal", "blue", "purple", "pink")))
    return Prop(kind, (colour,), (Solid("sphere", (0, 0, r), (r,) * 3),))


class _Patch(NamedTuple):
    """Samples of one surface: ``points`` and outward ``normals`` (N, 3), the sampling ``step`` (metres) and,
    for a rectangle, ``uv`` (N, 2): the samples' distances along its two edges (metres, to look up textures)."""

    points: np.ndarray
    normals: np.ndarray
    step: float
    uv: np.ndarray | None = None


def _patches_within_budget(lo: np.ndarray, hi: np.ndarray, walls: tuple[str, ...], props: tuple[Prop, ...],
                           config: SceneConfig) -> list[tuple[_Patch, int, str | None]]:
    """The surfaces at the smallest step that keeps them within ``config.budget`` Gaussians."""
    walls_area = sum(config.size[0] if side[1] == "y" else config.size[1] for side in walls) * config.wall_height
    area = config.size[0] * config.size[1] + sum(_prop_area(p) for p in props) + walls_area / WALL_COARSENING ** 2
    step = math.sqrt(area / config.budget)  # about one Gaussian per step² of (weighted) surface
    patches = _patches(lo, hi, config.wall_height, walls, props, step)
    while sum(len(p.points) for p, _, _ in patches) > config.budget:  # rounding up to whole grids overshot
        step *= 1.03
        patches = _patches(lo, hi, config.wall_height, walls, props, step)
    return patches


def _patches(lo: np.ndarray, hi: np.ndarray, wall_height: float, walls: tuple[str, ...],
             props: tuple[Prop, ...], step: float) -> list[tuple[_Patch, int, str | None]]:
    """Every surface sampled at ``step`` (walls at WALL_COARSENING × step): (patch, part code, palette colour)."""
    out = [(_rectangle(lo, np.array([hi[0] - lo[0], 0, 0]), np.array([0, hi[1] - lo[1], 0]), step), GROUND, None)]
    for side in walls:
        start, end, offset = _wall_line(lo, hi, side)
        wall = _rectangle(start, end - start, np.array([0, 0, wall_height]), step * WALL_COARSENING)
        out.append((wall._replace(uv=wall.uv + [offset, 0]), WALL, None))
    for i, prop in enumerate(props):
        for solid, colour in zip(prop.solids, prop.colours):
            out += [(patch, PROPS + i, colour) for patch in _solid_patches(solid, step)]
    return out


def _wall_line(lo: np.ndarray, hi: np.ndarray, side: str) -> tuple[np.ndarray, np.ndarray, float]:
    """The foot of the wall on ``side`` (start, end) going round the plot anticlockwise from (x0, y0), and the
    distance round the plot where it starts (the backdrop panorama's coordinate)."""
    corners = [np.array([x, y, 0.0]) for x, y in ((lo[0], lo[1]), (hi[0], lo[1]), (hi[0], hi[1]), (lo[0], hi[1]))]
    i = ("-y", "+x", "+y", "-x").index(side)
    offset = sum(np.linalg.norm(corners[j + 1] - corners[j]) for j in range(i))
    return corners[i], corners[(i + 1) % 4], float(offset)


def _prop_area(prop: Prop) -> float:
    """Surface area sampled for a prop (square metres)."""
    area = 0.0
    for s in prop.solids:
        a, b, c = (2 * h for h in s.half)
        area += {"box": a * b + 2 * c * (a + b), "cylinder": math.pi * a * (c + a / 4),  # a top and sides
                 "sphere": math.pi * a * a}[s.shape]
    return area


def _solid_patches(solid: Solid, step: float) -> list[_Patch]:
    """A box's top and four sides, a cylinder's side and top, or a sphere's surface."""
    c, h = np.asarray(solid.centre), np.asarray(solid.half)
    if solid.shape == "sphere":
        return [_sphere(c, h[0], step)]
    if solid.shape == "cylinder":
        return [_cylinder(c, h[0], h[2], step), _disc(c + [0, 0, h[2]], h[0], step)]
    faces = [_rectangle(c - h + [0, 0, 2 * h[2]], np.array([2 * h[0], 0, 0]), np.array([0, 2 * h[1], 0]), step)]
    for axis in (0, 1):
        for sign in (-1.0, 1.0):
            origin, along = c - h, np.zeros(3)
            origin[axis] = c[axis] + sign * h[axis]
            along[1 - axis] = 2 * h[1 - axis]
            u, v = along, np.array([0, 0, 2 * h[2]])
            outward = np.cross(u, v)[axis] * sign > 0
            faces.append(_rectangle(origin, u, v, step) if outward else _rectangle(origin, v, u, step))
    return faces


def _rectangle(origin: np.ndarray, u: np.ndarray, v: np.ndarray, step: float) -> _Patch:
    """Cell centres of the parallelogram origin + [0, 1]·u + [0, 1]·v, about ``step`` apart; normal u × v."""
    lu, lv = np.linalg.norm(u), np.linalg.norm(v)
    nu, nv = max(1, math.ceil(lu / step)), max(1, math.ceil(lv / step))
    s, t = np.meshgrid((np.arange(nu) + 0.5) / nu, (np.arange(nv) + 0.5) / nv)  # (nv, nu) each
    s, t = s.ravel(), t.ravel()
    normal = np.cross(u, v) / (lu * lv)
    points = origin + s[:, None] * u + t[:, None] * v
    return _Patch(points, np.broadcast_to(normal, points.shape), max(lu / nu, lv / nv), np.stack([s * lu, t * lv], 1))


def _cylinder(centre: np.ndarray, radius: float, half_height: float, step: float) -> _Patch:
    """The side of the upright cylinder: rings of samples about ``step`` apart round and up."""
    na, nz = max(6, math.ceil(2 * math.pi * radius / step)), max(1, math.ceil(2 * half_height / step))
    theta, z = np.meshgrid(2 * np.pi * (np.arange(na) + 0.5) / na, (np.arange(nz) + 0.5) / nz * 2 * half_height)
    normals = np.stack([np.cos(theta.ravel()), np.sin(theta.ravel()), np.zeros(theta.size)], 1)
    points = centre + radius * normals + (z.ravel() - half_height)[:, None] * [0, 0, 1]
    return _Patch(points, normals, max(2 * math.pi * radius / na, 2 * half_height / nz))


def _disc(centre: np.ndarray, radius: float, step: float) -> _Patch:
    """A horizontal disc facing up: the grid points of spacing ``step`` inside it (at least its centre)."""
    n = max(1, math.ceil(2 * radius / step))
    g = (np.arange(n) + 0.5) / n * 2 * radius - radius
    x, y = (a.ravel() for a in np.meshgrid(g, g))
    keep = np.hypot(x, y) <= radius
    xy = np.stack([x[keep], y[keep]], 1) if keep.any() else np.zeros((1, 2))
    points = centre + np.concatenate([xy, np.zeros((len(xy), 1))], 1)
    return _Patch(points, np.broadcast_to(np.array([0.0, 0.0, 1.0]), points.shape), 2 * radius / n)


def _sphere(centre: np.ndarray, radius: float, step: float) -> _Patch:
    """A Fibonacci lattice on the sphere: n points with about step² of surface each."""
    n = max(12, math.ceil(4 * math.pi * radius ** 2 / step ** 2))
    i = np.arange(n) + 0.5
    z = 1 - 2 * i / n
    phi = i * math.pi * (3 - math.sqrt(5))  # the golden angle
    normals = np.stack([np.sqrt(1 - z * z) * np.cos(phi), np.sqrt(1 - z * z) * np.sin(phi), z], 1)
    hex_spacing = 1.075 * math.sqrt(4 * math.pi * radius ** 2 / n)  # neighbour distance in a hexagonal packing
    return _Patch(centre + radius * normals, normals, hex_spacing)


class _Look(NamedTuple):
    """The 2D puppet background of a seed, as the 3D scene wears it: its ``kind``, the ``floor``'s mean RGB
    and the ``backdrop`` (H, W, 3) — the canvas above the horizon, in [0, 1], wrapped once round the plot."""

    kind: str
    floor: np.ndarray
    backdrop: np.ndarray


def _look(seed: int, config: SceneConfig) -> _Look:
    """The 2D background of ``seed``, about as many canvas pixels per metre along the walls as up them."""
    height = 128
    perimeter = 2 * sum(config.size)
    width = int(np.clip(perimeter / config.wall_height * 0.74 * height / 1.5, 64, 4096))  # 0.74 h: a mean horizon row
    canvas, kind, horizon = make_background(seed, (width, height))
    row = int(round((0.25 + horizon) * height))  # 0.25: make_background's default margin
    floor = canvas[row:].reshape(-1, 3).mean(0) / 255.0
    return _Look(kind, floor, canvas[:row].astype(np.float32) / 255.0)


def _paint(patch: _Patch, tag: int, colour: str | None, look: _Look, rng: np.random.Generator,
           config: SceneConfig) -> np.ndarray:
    """(N, 3) RGB in [0, 1] of a patch's samples: the ground's texture, the backdrop, or a prop's palette
    colour shaded by a fixed light (so that faces read in a view-independent splat) with a little grain."""
    if tag == GROUND:
        return _ground_colours(patch, look, rng, config.size)
    if tag == WALL:
        return _wall_colours(patch, look, config)
    shade = 0.55 + 0.45 * np.clip(patch.normals @ LIGHT, 0.0, 1.0)
    grain = 1 + 0.03 * rng.standard_normal(len(patch.points))
    return np.clip(np.array(PALETTE[colour]) / 255.0 * (shade * grain)[:, None], 0.0, 1.0)


def _ground_colours(patch: _Patch, look: _Look, rng: np.random.Generator, size: tuple[float, float]) -> np.ndarray:
    """Tiles (room), grass (outdoor) or stripes (abstract) in the 2D floor's colour."""
    xy, step = patch.points[:, :2], patch.step
    if look.kind == "room":  # a two-tone checkerboard, dark grout where a sample's cell crosses a tile edge
        tile = rng.uniform(0.5, 1.2)
        tone = np.where(np.floor(xy / tile).sum(1) % 2 == 0, 1.08, 0.92)
        grout = np.any(np.floor((xy + step / 2) / tile) != np.floor((xy - step / 2) / tile), axis=1)
        colours = look.floor * np.where(grout, 0.55, tone)[:, None]
    elif look.kind == "outdoor":  # grass: value noise with ~2 m and ~0.4 m features
        shade = (0.75 + 0.45 * _noise_at(rng, xy, size, 2.0)) * (0.9 + 0.2 * _noise_at(rng, xy, size, 0.4))
        colours = look.floor * shade[:, None]
    else:  # stripes of the floor's and the backdrop's colours
        width, angle = rng.uniform(0.4, 1.0), np.radians(rng.choice([0.0, 45.0, 90.0]))
        band = np.floor(xy @ np.array([np.cos(angle), np.sin(angle)]) / width) % 2 == 0
        colours = np.where(band[:, None], look.floor, look.backdrop.reshape(-1, 3).mean(0))
    grain = 1 + 0.04 * rng.standard_normal(len(xy))
    return np.clip(colours * grain[:, None], 0.0, 1.0)


def _noise_at(rng: np.random.Generator, xy: np.ndarray, size: tuple[float, float], feature: float) -> np.ndarray:
    """(N,) smooth value noise in [0, 1] with features about ``feature`` metres wide, at ground points ``xy``."""
    cells = max(2, math.ceil(max(size) / feature))
    res = 8 * cells
    image = value_noise(rng, res, res, cells)  # (res, res) over the plot
    ij = np.clip(((xy / np.asarray(size) + 0.5) * res).astype(int), 0, res - 1)
    return image[ij[:, 1], ij[:, 0]]


def _wall_colours(patch: _Patch, look: _Look, config: SceneConfig) -> np.ndarray:
    """The backdrop round the plot at the wall's samples (uv: distance round the plot, height), each the mean
    of the canvas it covers."""
    h, w = look.backdrop.shape[:2]
    sx, sy = w / (2 * sum(config.size)), h / config.wall_height  # canvas pixels per metre
    image = cv2.blur(look.backdrop, (max(1, round(patch.step * sx)), max(1, round(patch.step * sy))))
    cols = np.clip((patch.uv[:, 0] * sx).astype(int), 0, w - 1)
    rows = np.clip(((config.wall_height - patch.uv[:, 1]) * sy).astype(int), 0, h - 1)
    return image[rows, cols].astype(np.float64)


def _gaussians(patches: list[_Patch], colours: np.ndarray, degree: int) -> Gaussians:
    """One flat opaque Gaussian per sample: σ = SPREAD·step in the surface and THICKNESS·step along its normal,
    ``colours`` (N, 3) as the degree-0 SH coefficient (the higher ones zero)."""
    points, normals = np.concatenate([p.points for p in patches]), np.concatenate([p.normals for p in patches])
    steps = np.concatenate([np.full(len(p.points), p.step) for p in patches])
    sh = np.zeros((len(points), SH_COEFFS[degree], 3))
    sh[:, 0] = (colours - 0.5) / SH_C0  # colour = 0.5 + SH_C0 · f_dc
    scales = np.stack([SPREAD * steps, SPREAD * steps, THICKNESS * steps], 1)
    logit = math.log(OPACITY / (1 - OPACITY))
    arrays = (points, sh, np.full(len(points), logit), np.log(scales), _quaternions(normals))
    return Gaussians(*(torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32)) for a in arrays))


def _quaternions(normals: np.ndarray) -> np.ndarray:
    """(N, 4) w-first unit quaternions turning +z onto each unit normal: (1 + n_z, e_z × n) normalised, the
    half-way rotation; a normal along −z turns by π about x."""
    q = np.stack([1 + normals[:, 2], -normals[:, 1], normals[:, 0], np.zeros(len(normals))], 1)
    norm = np.linalg.norm(q, axis=1, keepdims=True)
    return np.where(norm > 1e-9, q / np.maximum(norm, 1e-12), [0.0, 1.0, 0.0, 0.0])
