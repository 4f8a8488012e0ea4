"""The Gaussian-splat renderer against analytic values and a brute-force reference: EWA projection, colour by
spherical harmonics, compositing order and depth, culling, and tiling that changes nothing."""

import math

import numpy as np
import pytest
import torch

from kinema.world.camera import Camera
from kinema.world.gaussians import SH_C0, Gaussians
from kinema.world.render import project, render, sh_basis

SH_C1 = 0.4886025119029199
ALPHA_MAX, ALPHA_MIN, T_MIN = 0.99, 1 / 255, 1e-4  # 3DGS's alpha clamp, alpha cut, transmittance to stop at


def gaussians(means, sh, opacity, scales, quaternions=None) -> Gaussians:
    """Gaussians from plain numbers: opacities in (0, 1), scales as standard deviations."""
    means = torch.tensor(means, dtype=torch.float32).reshape(-1, 3)
    n = len(means)
    quaternions = torch.tensor([[1.0, 0, 0, 0]] * n if quaternions is None else quaternions, dtype=torch.float32)
    return Gaussians(means, torch.tensor(sh, dtype=torch.float32).reshape(n, -1, 3),
                     torch.logit(torch.tensor(opacity, dtype=torch.float32).reshape(n)),
                     torch.log(torch.tensor(scales, dtype=torch.float32).reshape(n, 3)), quaternions.reshape(n, 4))


def dc_for(rgb) -> list[float]:
    """The degree-0 coefficient that shows colour ``rgb``."""
    return [(c - 0.5) / SH_C0 for c in rgb]


def axis_camera(width=32, height=32, f=40.0) -> Camera:
    """A camera at the origin looking along +z whose central pixel centre lies on the optical axis."""
    return Camera(width, height, f, f, width // 2 + 0.5, height // 2 + 0.5)


def rotation_matrix(q) -> np.ndarray:
    w, x, y, z = np.asarray(q, dtype=np.float64) / np.linalg.norm(q)
    return np.array([[1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
                     [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
                     [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)]])


def test_single_gaussian_projects_to_the_analytic_ellipse_and_colour():
    camera = Camera(64, 56, 100.0, 110.0, 31.0, 29.0)
    mean, q, scales = np.array([0.3, -0.2, 5.0]), [0.9, 0.3, -0.2, 0.25], np.array([0.12, 0.06, 0.08])
    rgb = [0.8, 0.3, 0.1]
    scene = gaussians(mean, dc_for(rgb), 0.5, scales, [q])
    result = render(scene, camera)
    # 3DGS eq. 5: Σ' = J Σ Jᵀ (camera = world here) plus the 0.3-pixel dilation
    x, y, z = mean
    jacobian = np.array([[camera.fx / z, 0, -camera.fx * x / z**2], [0, camera.fy / z, -camera.fy * y / z**2]])
    r = rotation_matrix(q) * scales
    cov = jacobian @ r @ r.T @ jacobian.T + 0.3 * np.eye(2)
    centre = np.array([camera.fx * x / z + camera.cx, camera.fy * y / z + camera.cy])
    # second moments of the alpha map: those of the Gaussian cut where alpha < 1/255, i.e. at Mahalanobis² ≤ s
    alpha = result.alpha.double().numpy()
    v, u = np.mgrid[:56, :64] + 0.5
    w = alpha / alpha.sum()
    mu = np.array([(w * u).sum(), (w * v).sum()])
    d = np.stack([u - mu[0], v - mu[1]])
    moments = np.einsum("ihw,jhw,hw->ij", d, d, w)
    s = 2 * math.log(0.5 * 255)
    cut = (2 - (s + 2) * math.exp(-s / 2)) / (2 * (1 - math.exp(-s / 2)))  # E[|n|²/2 | |n|² ≤ s], n ~ N(0, I₂)
    np.testing.assert_allclose(mu, centre, atol=0.02)
    np.testing.assert_allclose(moments, cut * cov, rtol=0.02, atol=0.02 * cov[0, 0])
    assert 0.45 < alpha.max() <= 0.5 and alpha[alpha > 0].min() >= 1 / 255
    splat = project(scene, camera)
    np.testing.assert_allclose(splat.means2d[0].numpy(), centre, rtol=1e-6)
    conic = np.linalg.inv(cov)
    np.testing.assert_allclose(splat.conics[0].numpy(), [conic[0, 0], conic[0, 1], conic[1, 1]], rtol=1e-4)
    seen = result.alpha > 0.01
    colour = result.image[seen] / result.alpha[seen][:, None]
    np.testing.assert_allclose(colour.numpy(), np.broadcast_to(rgb, colour.shape), atol=1e-4)
    over_white = render(scene, camera, background=(1.0, 1.0, 1.0)).image
    expected = result.image + (1 - result.alpha[..., None])
    np.testing.assert_allclose(over_white.numpy(), expected.clamp(0, 1).numpy(), atol=1e-6)


@pytest.mark.parametrize("red_depth,green_depth", [(2.0, 4.0), (4.0, 2.0)])
def test_the_nearer_gaussian_covers_the_farther_and_sets_the_depth(red_depth, green_depth):
    camera = axis_camera()
    scene = gaussians([[0, 0, red_depth], [0, 0, green_depth]], [dc_for([1, 0, 0]), dc_for([0, 1, 0])],
                      [0.999, 0.95], [[0.5, 0.5, 0.1]] * 2)
    result = render(scene, camera)
    red, green = (ALPHA_MAX, np.array([1.0, 0, 0])), (0.95, np.array([0, 1.0, 0]))  # alpha at d = 0, colour
    (near_alpha, near_colour), (far_alpha, far_colour) = (red, green) if red_depth < green_depth else (green, red)
    weights = near_alpha, (1 - near_alpha) * far_alpha  # 3DGS eq. 3 at the centre pixel
    centre = result.image[16, 16].numpy()
    np.testing.assert_allclose(centre, weights[0] * near_colour + weights[1] * far_colour, atol=1e-5)
    assert centre.argmax() == near_colour.argmax()
    near, far = sorted([red_depth, green_depth])
    assert result.depth[16, 16].item() == pytest.approx((weights[0] * near + weights[1] * far) / sum(weights), abs=1e-4)
    assert abs(result.depth[16, 16].item() - near) < 0.06 * (far - near)


def test_a_pixel_stops_before_its_transmittance_falls_below_the_threshold():
    camera = axis_camera()
    # three opaque Gaussians in a row: after two, T = 0.01 · 0.1; the third (alpha 0.95) would take it below 1e-4
    scene = gaussians([[0, 0, 2], [0, 0, 3], [0, 0, 4]], [dc_for([1, 0, 0]), dc_for([0, 1, 0]), dc_for([0, 0, 1])],
                      [0.995, 0.9, 0.95], [[0.5, 0.5, 0.1]] * 3)
    result = render(scene, camera)
    centre = result.image[16, 16].numpy()
    assert centre[2] == 0.0  # not 0.001 · 0.95
    np.testing.assert_allclose(centre[:2], [ALPHA_MAX, (1 - ALPHA_MAX) * 0.9], rtol=1e-4)
    assert result.alpha[16, 16].item() == pytest.approx(ALPHA_MAX + (1 - ALPHA_MAX) * 0.9, rel=1e-5)


def orbit(distance=5.0, count=6) -> list[Camera]:
    angles = np.linspace(0, 2 * np.pi, count, endpoint=False)
    eyes = [[distance * np.cos(a), distance * np.sin(a), 1.5 * np.sin(3 * a)] for a in angles]
    return [Camera.looking_at(eye, [0, 0, 0], 33, 33) for eye in eyes]


def centre_colour(scene: Gaussians, camera: Camera) -> np.ndarray:
    result = render(scene, camera)
    return (result.image[16, 16] / result.alpha[16, 16]).numpy()


def test_degree_0_colour_is_the_same_from_every_side_and_degree_1_follows_the_view_direction():
    rgb, rest = [0.2, 0.6, 0.9], [[0.3, -0.2, 0.1], [-0.1, 0.25, 0.2], [0.2, 0.1, -0.3]]  # rest: (3 coeffs, 3 ch)
    flat = gaussians([0, 0, 0], dc_for(rgb), 0.7, [0.3, 0.3, 0.3])
    shiny = gaussians([0, 0, 0], [dc_for(rgb)] + rest, 0.7, [0.3, 0.3, 0.3])
    seen = []
    for camera in orbit():
        np.testing.assert_allclose(centre_colour(flat, camera), rgb, atol=1e-5)
        x, y, z = -camera.position / np.linalg.norm(camera.position)  # from the camera to the Gaussian
        expected = np.array(rgb) - SH_C1 * y * np.array(rest[0]) + SH_C1 * z * np.array(rest[1]) \
            - SH_C1 * x * np.array(rest[2])  # 3DGS's degree-1 band
        seen.append(centre_colour(shiny, camera))
        np.testing.assert_allclose(seen[-1], expected, atol=1e-5)
    assert np.ptp(np.array(seen), axis=0).max() > 0.3


def test_the_sh_basis_is_orthonormal_up_to_degree_3():
    nodes, weights = np.polynomial.legendre.leggauss(8)  # exact on the sphere for the products of degree ≤ 6
    phi = np.arange(16) * 2 * np.pi / 16
    cos_t, ph = np.meshgrid(nodes, phi, indexing="ij")
    sin_t = np.sqrt(1 - cos_t**2)
    d = torch.tensor(np.stack([sin_t * np.cos(ph), sin_t * np.sin(ph), cos_t], -1).reshape(-1, 3), dtype=torch.float64)
    w = torch.tensor(np.repeat(weights, 16) * 2 * np.pi / 16)
    basis = sh_basis(d, 16)  # (16, Q)
    gram = (basis * w) @ basis.T
    np.testing.assert_allclose(gram.numpy(), np.eye(16), atol=1e-9)


def test_gaussians_behind_the_camera_do_not_render():
    camera = axis_camera()
    behind = gaussians([[0, 0, -2], [0.1, 0, -0.005], [0, 0, 0.005]], [dc_for([1, 1, 1])] * 3, [0.99] * 3,
                       [[1.0, 1.0, 1.0]] * 3)  # behind, just behind and in front of the camera but before near
    result = render(behind, camera, background=(0.0, 0.0, 1.0))
    assert result.alpha.abs().max() == 0 and result.depth.abs().max() == 0
    np.testing.assert_array_equal(result.image.numpy(), np.broadcast_to([0.0, 0.0, 1.0], (32, 32, 3)))
    assert len(project(behind, camera).depths) == 0


def brute_force(scene: Gaussians, camera: Camera) -> tuple[np.ndarray, np.ndarray]:
    """(H, W, 3) premultiplied colour and (H, W) alpha: every pixel composites every projected Gaussian in depth
    order with 3DGS's rules, one Gaussian at a time."""
    s = project(scene, camera)
    v, u = np.mgrid[:camera.height, :camera.width] + 0.5
    colour, t = np.zeros((camera.height, camera.width, 3)), np.ones((camera.height, camera.width))
    done = np.zeros_like(t, dtype=bool)
    for i in range(len(s.depths)):
        (mx, my), (a, b, c) = s.means2d[i].double().numpy(), s.conics[i].double().numpy()
        dx, dy = u - mx, v - my
        alpha = np.minimum(ALPHA_MAX, math.exp(s.log_opacities[i]) * np.exp(-0.5 * (a * dx**2 + 2 * b * dx * dy + c * dy**2)))
        take = (alpha >= ALPHA_MIN) & ~done
        ends = take & (t * (1 - alpha) < T_MIN)
        done |= ends
        take &= ~ends
        colour += np.where(take, alpha * t, 0)[..., None] * s.colours[i].double().numpy()
        t = np.where(take, t * (1 - alpha), t)
    return colour, 1 - t


def random_scene(count: int, seed: int) -> Gaussians:
    """Gaussians of SH degree 2 around the origin, some opaque, some huge, some behind or beside the cameras."""
    g = torch.Generator().manual_seed(seed)
    means = torch.randn(count, 3, generator=g) * 1.5
    log_scales = torch.randn(count, 3, generator=g) * 0.6 - 1.8
    log_scales[:3] += 2.0  # a few large enough to cover many tiles
    logits = torch.randn(count, generator=g) * 3
    means[-8:] = torch.tensor([0.0, -5.0, 1.0]) + torch.randn(8, 3, generator=g) * 0.2  # a bright, opaque stack
    logits[-8:] = 6.0
    return Gaussians(means, torch.randn(count, 9, 3, generator=g) * 0.4, logits, log_scales,
                     torch.randn(count, 4, generator=g))


@pytest.mark.parametrize("tile_size", [4, 8, 16])
def test_tiling_gives_the_image_of_brute_force_over_all_gaussians(tile_size):
    scene = random_scene(120, seed=3)
    camera = Camera.looking_at([0.0, -7.0, 1.0], [0.0, 0.0, 0.0], 44, 28, fov_y=55.0)
    colour, alpha = brute_force(scene, camera)
    assert alpha.max() > 0.999 and alpha.min() < 0.5  # the opaque stack ends pixels early; elsewhere it is sparse
    result = render(scene, camera, tile_size=tile_size)
    np.testing.assert_allclose(result.alpha.numpy(), alpha, atol=1e-4)
    np.testing.assert_allclose(result.image.numpy(), np.clip(colour, 0, 1), atol=1e-4)


def test_a_scene_out_of_view_renders_the_background():
    scene = random_scene(50, seed=1)
    camera = Camera.looking_at([0.0, -7.0, 1.0], [0.0, -20.0, 1.0], 24, 16)  # looking away
    result = render(scene, camera, background=(0.25, 0.5, 0.75))
    assert result.alpha.max() == 0
    np.testing.assert_allclose(result.image.numpy(), np.broadcast_to([0.25, 0.5, 0.75], (16, 24, 3)))


@pytest.mark.skipif(not torch.cuda.is_available(), reason="gsplat needs CUDA")
def test_gsplat_agrees_with_the_torch_renderer():
    pytest.importorskip("gsplat")
    scene = random_scene(400, seed=5)
    scene.opacity_logits.clamp_(max=2.0)  # opacity ≤ 0.88: away from the alpha clamps (3DGS 0.99, gsplat 0.999)
    scene = Gaussians(*(getattr(scene, f).cuda() for f in ("means", "sh", "opacity_logits", "log_scales",
                                                          "quaternions")))
    camera = Camera.looking_at([0.0, -7.0, 1.0], [0.0, 0.0, 0.0], 96, 64)
    ours, theirs = render(scene, camera, backend="torch"), render(scene, camera, backend="gsplat")
    # differences: float32 rounding, and alphas within rounding of the 1/255 cut (at most 1/255 each)
    assert (ours.image - theirs.image).abs().max().item() < 1e-2
    assert (ours.image - theirs.image).abs().mean().item() < 1e-4
    assert (ours.alpha - theirs.alpha).abs().max().item() < 1e-2
    seen = (ours.alpha > 0.5) & (theirs.alpha > 0.5)
    assert ((ours.depth - theirs.depth)[seen].abs() / ours.depth[seen]).max().item() < 1e-2
