"""Camera paths (AniX §3.2): follow and orbit keep the character's root on its pixel, static cameras stay put;
the character anchor's mask and the root placed under it."""

import math

import numpy as np
import pytest

from kinema.errors import KinemaInputError
from kinema.world.camera import Camera
from kinema.world.paths import (
    AnchorBox, FollowPath, OrbitPath, StaticPath, anchor_mask, camera_path, place_character,
)


def user_camera() -> Camera:
    return Camera.looking_at([-4.0, -3.0, 2.0], [0.5, 0.2, 0.8], 96, 64)


def winding_walk(frames: int, fps: float) -> np.ndarray:
    """(T, 3) a root walking along a curve on the ground."""
    t = np.arange(frames) / fps
    return np.stack([1.3 * t * np.cos(0.4 * t), 1.3 * t * np.sin(0.4 * t) + 0.2, np.zeros_like(t)], axis=1)


def pixels(cameras: list[Camera], points: np.ndarray) -> np.ndarray:
    """(T, 2) each point projected by its frame's camera; every point in front of its camera."""
    uv, depth = zip(*(c.project(p[None]) for c, p in zip(cameras, points)))
    assert min(d[0] for d in depth) > 0
    return np.concatenate(uv)


def azimuth_deg(cameras: list[Camera], root: np.ndarray) -> np.ndarray:
    """(T,) unwrapped direction from the root to each camera, counterclockwise from +x seen from above."""
    away = np.array([c.position[:2] for c in cameras]) - root[:, :2]
    return np.degrees(np.unwrap(np.arctan2(away[:, 1], away[:, 0])))


def test_follow_keeps_the_root_on_its_pixel_while_it_walks_across_the_scene():
    config = FollowPath(duration_s=3.0, fps=10.0)
    start, root = user_camera(), winding_walk(config.num_frames, config.fps)
    cameras = camera_path(config, start, root)
    assert len(cameras) == 30
    uv = pixels(cameras, root)
    np.testing.assert_allclose(uv, np.repeat(uv[:1], 30, axis=0), atol=1e-9)
    np.testing.assert_allclose([c.position - start.position for c in cameras], root - root[0], atol=1e-12)
    still = pixels(camera_path(StaticPath(3.0, 10.0), start, root), root)
    assert np.ptp(still, axis=0).max() > 10  # the walk really moves in the image when the camera stays put


def test_follow_with_an_offset_sits_behind_the_root_and_looks_at_its_chest():
    config = FollowPath(duration_s=2.0, fps=8.0, offset=(-3.0, 1.0, 1.5), look_at_height=1.2)
    start, root = user_camera(), winding_walk(16, 8.0)
    cameras = camera_path(config, start, root)
    np.testing.assert_allclose([c.position for c in cameras], root + [-3.0, 1.0, 1.5], atol=1e-12)
    chest = pixels(cameras, root + [0.0, 0.0, 1.2])
    np.testing.assert_allclose(chest, np.full((16, 2), [start.cx, start.cy]), atol=1e-9)
    assert all((c.fx, c.fy, c.width, c.height) == (start.fx, start.fy, 96, 64) for c in cameras)


def test_orbit_keeps_its_radius_height_and_look_at_and_turns_at_its_speed():
    config = OrbitPath(duration_s=2.0, fps=10.0, speed_deg_s=45.0, direction="clockwise", radius=3.0, height=2.0,
                       look_at_height=1.0)
    start, root = user_camera(), winding_walk(20, 10.0) * 0.3  # the circle's centre moves with a slow walk
    cameras = camera_path(config, start, root)
    offsets = np.array([c.position for c in cameras]) - root
    np.testing.assert_allclose(np.hypot(offsets[:, 0], offsets[:, 1]), 3.0, atol=1e-12)
    np.testing.assert_allclose(offsets[:, 2], 2.0, atol=1e-12)
    look_at = pixels(cameras, root + [0.0, 0.0, 1.0])
    np.testing.assert_allclose(look_at, np.full((20, 2), [start.cx, start.cy]), atol=1e-9)
    np.testing.assert_allclose(np.diff(azimuth_deg(cameras, root)), -45.0 / 10.0, atol=1e-9)  # clockwise: angle falls


def test_orbit_from_the_users_camera_starts_there_and_keeps_the_root_on_its_pixel():
    config = OrbitPath(duration_s=4.0, fps=4.0, speed_deg_s=90.0)
    start = user_camera()
    root = np.tile([0.5, 0.2, 0.0], (16, 1))
    cameras = camera_path(config, start, root)
    np.testing.assert_allclose(cameras[0].rotation, start.rotation, atol=1e-12)
    np.testing.assert_allclose(cameras[0].translation, start.translation, atol=1e-12)
    radius = np.hypot(*(start.position[:2] - root[0, :2]))
    np.testing.assert_allclose([np.hypot(*(c.position[:2] - root[0, :2])) for c in cameras], radius, atol=1e-12)
    uv = pixels(cameras, root)
    np.testing.assert_allclose(uv, np.repeat(uv[:1], 16, axis=0), atol=1e-9)
    turned = azimuth_deg(cameras, root)
    assert turned[-1] - turned[0] == pytest.approx(90.0 * 15 / 4.0)  # counterclockwise by default


def test_static_cameras_are_identical_whatever_the_root_does():
    start = user_camera()
    cameras = camera_path(StaticPath(duration_s=1.0, fps=12.0), start, winding_walk(12, 12.0))
    assert len(cameras) == 12
    for camera in cameras:
        assert np.array_equal(camera.rotation, start.rotation) and np.array_equal(camera.translation, start.translation)
        assert (camera.fx, camera.cx, camera.width) == (start.fx, start.cx, start.width)


def test_the_root_trajectory_must_cover_the_path():
    with pytest.raises(ValueError, match=r"\(8, 3\)"):
        camera_path(FollowPath(duration_s=1.0, fps=8.0), user_camera(), np.zeros((7, 3)))
    with pytest.raises(ValueError, match="finite"):
        camera_path(FollowPath(duration_s=1.0, fps=8.0), user_camera(), np.full((8, 3), np.nan))


@pytest.mark.parametrize("make, named", [
    (lambda: OrbitPath(radius=1e6), "orbit radius"),
    (lambda: OrbitPath(radius=0.0), "orbit radius"),
    (lambda: OrbitPath(radius=math.nan), "orbit radius"),
    (lambda: OrbitPath(speed_deg_s=math.nan), "speed_deg_s"),
    (lambda: OrbitPath(speed_deg_s=-30.0), "speed_deg_s"),
    (lambda: OrbitPath(speed_deg_s=5000.0), "speed_deg_s"),
    (lambda: OrbitPath(direction="sideways"), "direction"),
    (lambda: OrbitPath(height=-1.0), "orbit height"),
    (lambda: OrbitPath(look_at_height=math.inf), "look_at_height"),
    (lambda: StaticPath(duration_s=0.0), "duration_s"),
    (lambda: FollowPath(duration_s=-2.0), "duration_s"),
    (lambda: StaticPath(duration_s=math.nan), "duration_s"),
    (lambda: StaticPath(fps=0.0), "fps"),
    (lambda: OrbitPath(fps=math.nan), "fps"),
    (lambda: StaticPath(duration_s=0.01, fps=10.0), "no frame"),
    (lambda: FollowPath(offset=(0.0, 0.0, 2.0)), "horizontal distance"),
    (lambda: FollowPath(offset=(3.0, 0.0, -1.0)), "height"),
])
def test_absurd_path_parameters_are_refused_by_name(make, named):
    with pytest.raises(KinemaInputError, match=named):
        make()


def test_orbit_cannot_start_from_a_camera_straight_above_the_character():
    overhead = Camera.looking_at([0.0, 0.0, 5.0], [0.0, 1.0, 0.0], 64, 64)
    with pytest.raises(KinemaInputError, match="straight above"):
        camera_path(OrbitPath(duration_s=1.0, fps=4.0, radius=3.0), overhead, np.zeros((4, 3)))


def test_anchor_mask_holds_the_pixels_whose_centres_lie_in_the_box():
    mask = anchor_mask(AnchorBox(2.5, 1.0, 6.0, 4.0), width=8, height=5)
    expected = np.zeros((5, 8), bool)
    expected[1:4, 2:6] = True  # centres 2.5..5.5 and 1.5..3.5
    assert mask.dtype == bool and np.array_equal(mask, expected)
    assert anchor_mask(AnchorBox(0, 0, 8, 5), 8, 5).all()


@pytest.mark.parametrize("box, size, problem", [
    ((5.0, 1.0, 2.0, 4.0), (8, 5), "x0 < x1"),
    ((1.0, math.nan, 2.0, 4.0), (8, 5), "finite"),
    ((0.0, 0.0, 9.0, 5.0), (8, 5), "leaves the 8x5 image"),
    ((-1.0, 0.0, 3.0, 5.0), (8, 5), "leaves the 8x5 image"),
    ((2.6, 1.6, 2.9, 1.9), (8, 5), "no pixel centre"),
])
def test_bad_anchor_boxes_are_refused(box, size, problem):
    with pytest.raises(KinemaInputError, match=problem):
        anchor_mask(AnchorBox(*box), *size)


@pytest.mark.parametrize("box", [(60, 30, 100, 110), (5, 70, 25, 95), (130, 60, 158, 119.5)])
def test_the_placed_root_projects_to_the_anchors_bottom_centre(box):
    camera = Camera.looking_at([2.0, -6.0, 1.7], [0.0, 0.0, 0.8], 160, 120)
    anchor = AnchorBox(*box)
    root = place_character(camera, anchor)
    assert root[2] == pytest.approx(0.0, abs=1e-12)
    uv, depth = camera.project(root[None])
    np.testing.assert_allclose(uv[0], anchor.bottom_centre, atol=1e-9)
    assert depth[0] > camera.near


def test_an_anchor_whose_feet_are_above_the_horizon_or_a_camera_below_the_ground_is_refused():
    level = Camera.looking_at([0.0, -5.0, 1.6], [0.0, 0.0, 1.6], 160, 120)  # the horizon is the row y = 60
    place_character(level, AnchorBox(70, 40, 90, 61))
    with pytest.raises(KinemaInputError, match="does not reach the ground"):
        place_character(level, AnchorBox(70, 20, 90, 59))
    underground = Camera.looking_at([0.0, -5.0, -1.0], [0.0, 0.0, -2.0], 160, 120)
    with pytest.raises(KinemaInputError, match="does not reach the ground"):
        place_character(underground, AnchorBox(70, 40, 90, 110))
