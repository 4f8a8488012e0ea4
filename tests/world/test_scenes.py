"""Procedural splat scenes: budget, determinism, geometry the puppet world relies on, files and renders."""

import json

import numpy as np
import pytest
import torch

from kinema.errors import KinemaInputError
from kinema.puppet.background import make_background
from kinema.puppet.identity import PALETTE
from kinema.world.camera import Camera
from kinema.world.gaussians import SH_C0, Gaussians
from kinema.world.ply import read_ply, write_ply
from kinema.world.render import render
from kinema.world.scenes import GROUND, PROPS, WALL, Prop, Scene, SceneConfig, make_scene

FIELDS = ("means", "sh", "opacity_logits", "log_scales", "quaternions")


@pytest.fixture(scope="module")
def scenes() -> dict[int, Scene]:
    return {seed: make_scene(seed) for seed in range(6)}


def _subset(g: Gaussians, keep: np.ndarray) -> Gaussians:
    k = torch.from_numpy(keep)
    return Gaussians(*(getattr(g, f)[k] for f in FIELDS))


def _alpha_at(points: np.ndarray, g: Gaussians) -> np.ndarray:
    """Accumulated opacity 1 − ∏(1 − o·exp(−½ dᵀ Σ⁻¹ d)) of the Gaussians at 3D ``points`` (N, 3)."""
    d = torch.from_numpy(points).float()[:, None, :] - g.means[None]  # (N, M, 3)
    maha = torch.einsum("nmi,mij,nmj->nm", d, torch.linalg.inv(g.covariances()), d)
    alpha = g.opacities[None] * torch.exp(-0.5 * maha)
    return (1 - torch.prod(1 - alpha, dim=1)).numpy()


def test_default_scenes_fill_the_budget_with_valid_opaque_gaussians(scenes):
    for scene in scenes.values():
        g, budget = scene.gaussians, scene.config.budget
        assert 0.8 * budget <= len(g) <= budget
        assert all(getattr(g, f).dtype == torch.float32 and torch.isfinite(getattr(g, f)).all() for f in FIELDS)
        assert g.degree == 0 and g.sh.shape == (len(g), 1, 3)
        assert ((g.opacities > 0.95) & (g.opacities < 0.99)).all()
        lo, hi = scene.bounds
        assert (g.means.numpy() >= lo - 1e-5).all() and (g.means.numpy() <= hi + 1e-5).all()
        colours = 0.5 + SH_C0 * g.sh[:, 0]
        assert ((colours >= -1e-5) & (colours <= 1 + 1e-5)).all()
        assert set(np.unique(scene.part)) == {GROUND, WALL} | {PROPS + i for i in range(len(scene.props))}
        assert len(scene.props) == scene.config.props  # the default plot has room for every prop


def test_same_seed_gives_bit_identical_scenes_and_seeds_differ(scenes):
    again = make_scene(3)
    assert all(torch.equal(getattr(again.gaussians, f), getattr(scenes[3].gaussians, f)) for f in FIELDS)
    assert again.labels() == scenes[3].labels()
    assert not torch.equal(scenes[3].gaussians.sh, scenes[4].gaussians.sh)
    assert scenes[3].labels()["props"] != scenes[4].labels()["props"]


def test_ground_is_flat_at_zero_and_has_no_holes(scenes):
    rng = np.random.default_rng(0)
    for scene in (scenes[0], scenes[4]):
        ground = _subset(scene.gaussians, scene.part == GROUND)
        assert (ground.means[:, 2] == 0).all()
        assert (ground.covariances()[:, 2, 2].sqrt() < 0.02).all()  # thin along z
        lo, hi = scene.bounds
        points = np.concatenate([rng.uniform(lo[:2] + 0.05, hi[:2] - 0.05, (300, 2)), np.zeros((300, 1))], 1)
        assert _alpha_at(points, ground).min() > 0.95


def test_walls_and_box_faces_have_no_holes(scenes):
    rng = np.random.default_rng(1)
    scene = scenes[0]  # a room with boxes
    lo, hi = scene.bounds
    wall = _subset(scene.gaussians, scene.part == WALL)
    far = np.stack([rng.uniform(lo[0] + 0.2, hi[0] - 0.2, 200), np.full(200, hi[1]), rng.uniform(0.2, 4.8, 200)], 1)
    assert _alpha_at(far, wall).min() > 0.95
    i = next(i for i, p in enumerate(scene.props) if p.kind == "box")
    own = _subset(scene.gaussians, scene.part == PROPS + i)
    box = scene.props[i].solids[0]
    c, h = np.array(box.centre), np.array(box.half)
    s, t = rng.uniform(-0.9, 0.9, (2, 100))
    front = c + np.stack([s * h[0], np.full(100, -h[1]), t * h[2]], 1)
    top = c + np.stack([s * h[0], t * h[1], np.full(100, h[2])], 1)
    assert _alpha_at(front, own).min() > 0.95 and _alpha_at(top, own).min() > 0.95


def test_walkable_area_holds_only_ground_and_no_solid(scenes):
    for scene in scenes.values():
        means = scene.gaussians.means.numpy()
        over = scene.walkable.contains(means)
        assert over.any() and (scene.part[over] == GROUND).all() and (means[over, 2] == 0).all()
        assert not any(p.footprint.overlaps(scene.walkable.grown(0.29)) for p in scene.props)
        w = scene.walkable
        x, y, z = np.meshgrid(np.linspace(w.x0, w.x1, 15), np.linspace(w.y0, w.y1, 15), [0.01, 1.0, 2.5])
        assert not scene.contains_solid(np.stack([x.ravel(), y.ravel(), z.ravel()], 1)).any()


def _on_surface(prop: Prop, points: np.ndarray, eps: float = 1e-4) -> np.ndarray:
    return np.any([s.contains(points, eps) & ~s.contains(points, -eps) for s in prop.solids], axis=0)


def test_props_stand_apart_inside_the_plot_and_their_gaussians_lie_on_them(scenes):
    for scene in scenes.values():
        lo, hi = scene.bounds
        for i, prop in enumerate(scene.props):
            p_lo, p_hi = prop.bounds
            assert (p_lo[:2] >= lo[:2]).all() and (p_hi[:2] <= hi[:2]).all() and abs(p_lo[2]) < 1e-9
            assert all(not prop.footprint.overlaps(q.footprint) for q in scene.props[i + 1:])
            assert set(prop.colours) <= set(PALETTE)
            own = scene.gaussians.means.numpy()[scene.part == PROPS + i].astype(np.float64)
            assert _on_surface(prop, own, eps=1e-5 + 1e-6 * np.abs(own).max()).all()


def test_contains_solid_knows_props_ground_and_walls():
    scene = make_scene(0, SceneConfig(wall_sides=2))  # walls on +y and +x only
    lo, hi = scene.bounds
    centres = np.array([s.centre for p in scene.props for s in p.solids])
    assert scene.contains_solid(centres).all()
    box = next(p for p in scene.props if p.kind == "box").solids[0]
    outside = np.array(box.centre) + [box.half[0] + 0.05, 0, 0]
    assert not scene.contains_solid(outside[None])[0] and scene.contains_solid(outside[None], margin=0.1)[0]
    inside = np.array([[0.0, 0.0, 1.0]])
    assert not scene.contains_solid(inside)[0]
    assert scene.contains_solid(np.array([[0.0, 0.0, -0.1], [0.0, hi[1] + 0.5, 1.0], [hi[0] + 0.5, 0.0, 1.0]])).all()
    assert not scene.contains_solid(np.array([[0.0, lo[1] - 0.5, 1.0], [lo[0] - 0.5, 0.0, 1.0]])).any()  # open sides
    assert not scene.contains_solid(np.array([[0.0, hi[1] + 0.5, 5.5]]))[0]  # over the wall's top
    assert scene.contains_solid(np.array([[0.0, hi[1] - 0.1, 1.0]]), margin=0.2)[0]  # too near the wall
    assert not scene.contains_solid(scene.camera_eye[None], margin=0.3)[0]


def test_budget_and_sh_degree_change_the_sampling_but_not_the_layout(scenes):
    small = make_scene(2, SceneConfig(budget=5_000))
    assert 4_000 <= len(small.gaussians) <= 5_000
    assert small.labels()["props"] == scenes[2].labels()["props"]
    high = make_scene(2, SceneConfig(sh_degree=3))
    assert high.gaussians.sh.shape == (len(scenes[2].gaussians), 16, 3)
    assert torch.equal(high.gaussians.sh[:, 0], scenes[2].gaussians.sh[:, 0]) and (high.gaussians.sh[:, 1:] == 0).all()


def test_a_crowded_small_plot_keeps_the_budget_and_its_walkable_area_free():
    scene = make_scene(np.int64(7), SceneConfig(size=(4.0, 3.0), props=32, budget=1_000))
    assert len(scene.gaussians) <= 1_000 and 0 < len(scene.props) < 32
    means = scene.gaussians.means.numpy()
    assert (scene.part[scene.walkable.contains(means)] == GROUND).all()


def test_scene_wears_the_2d_background_of_its_seed(scenes):
    kinds = {seed: make_background(seed, (64, 64))[1] for seed in scenes}
    assert {seed: s.kind for seed, s in scenes.items()} == kinds
    assert set(kinds.values()) == {"outdoor", "room", "abstract"}
    json.dumps(scenes[0].labels())


@pytest.mark.parametrize("field, value", [
    ("size", (1.0, 12.0)), ("size", (12.0,)), ("wall_height", 0.1), ("wall_sides", 5), ("walkable", 0.95),
    ("props", -1), ("props", 33), ("props", 3.0), ("budget", 100), ("budget", 2.5e4), ("sh_degree", 4), ("camera_height", 0.0),
])
def test_bad_config_values_are_refused_naming_the_field(field, value):
    with pytest.raises(KinemaInputError, match=f"scene {field}"):
        SceneConfig(**{field: value})


@pytest.mark.parametrize("seed", [-1, 1.5, True])
def test_bad_seeds_are_refused(seed):
    with pytest.raises(ValueError, match="scene seed"):
        make_scene(seed)


def test_a_scene_saved_as_ply_reads_back_identical(scenes, tmp_path):
    for degree in (0, 3):
        scene = scenes[1] if degree == 0 else make_scene(1, SceneConfig(budget=2_000, sh_degree=3))
        back = read_ply(write_ply(scene.gaussians, tmp_path / f"scene{degree}.ply"))
        assert all(torch.equal(getattr(back, f), getattr(scene.gaussians, f)) for f in FIELDS)


def test_suggested_camera_sees_the_ground_in_the_lower_half_without_holes(scenes):
    for scene in (scenes[0], scenes[3], scenes[4]):  # room, abstract, outdoor
        camera = scene.suggested_camera(96, 96)
        result = render(scene.gaussians, camera, background=scene.background)
        assert result.alpha.min() > 0.95  # the walls fill the view above the ground
        v, u = np.mgrid[48:96, 0:96] + 0.5
        rays = np.stack([(u - camera.cx) / camera.fx, (v - camera.cy) / camera.fy, np.ones_like(u)], -1)
        rays = rays @ camera.rotation  # (48, 96, 3) world directions with unit camera depth
        depth = -camera.position[2] / rays[..., 2]  # camera depth where each pixel's ray meets z = 0
        lower = slice(48, 96)
        assert (result.alpha[lower] > 0.97).all()
        ground = render(_subset(scene.gaussians, scene.part == GROUND), camera, background=scene.background)
        assert torch.allclose(result.image[lower], ground.image[lower], atol=2e-3)  # nothing stands in front of it
        # splats seen at a grazing angle lie a little in front of the plane along the ray (EWA + the low-pass)
        assert np.abs(result.depth[lower].numpy() / depth - 1).max() < 0.06


def test_props_render_without_holes():
    cases = []
    for seed in range(12):
        scene = make_scene(seed, SceneConfig(budget=8_000))
        cases += [(scene, i) for i, p in enumerate(scene.props) if p.kind not in {c[0].props[c[1]].kind for c in cases}]
    assert {c[0].props[c[1]].kind for c in cases} == {"box", "pillar", "tree", "ball"}
    for scene, i in cases:
        prop, own = scene.props[i], _subset(scene.gaussians, scene.part == PROPS + i)
        lo, hi = prop.bounds
        centre = (lo + hi) / 2
        eye = centre + [0.0, -2.5 * max(hi - lo), 0.0]
        camera = Camera.looking_at(eye, centre, 64, 64, fov_y=50.0)
        alpha = render(own, camera).alpha.numpy()
        solid = prop.solids[-1]  # the box, pillar, crown or ball
        c, h = np.array(solid.centre), np.array(solid.half)
        t = np.linspace(-0.8, 0.8, 9)
        a, b = np.meshgrid(t, t)
        if solid.shape == "sphere":  # the front cap, away from the silhouette
            n = np.stack([a.ravel() * 0.7, -np.ones(a.size), b.ravel() * 0.7], 1)
            points = c + h[0] * n / np.linalg.norm(n, axis=1, keepdims=True)
        elif solid.shape == "cylinder":
            x = 0.6 * a.ravel()
            points = c + h[0] * np.stack([x, -np.sqrt(1 - x ** 2), b.ravel() * h[2] / h[0]], 1)
        else:
            points = c + np.stack([a.ravel() * h[0], np.full(a.size, -h[1]), b.ravel() * h[2]], 1)
        uv, _ = camera.project(points)
        cols, rows = np.floor(uv).astype(int).T
        assert alpha[rows, cols].min() > 0.95, (scene.seed, prop.kind)
