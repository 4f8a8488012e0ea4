"""Render Gaussian-splat scenes from a pinhole camera (3DGS, Kerbl et al. 2023): colour, expected depth, alpha.

The pure-PyTorch renderer follows the 3DGS rasteriser step for step, so its images match the reference CUDA
code's: (1) cull Gaussians behind the near plane, too faint to show or off screen; (2) project each covariance
by EWA splatting (Zwicker et al. 2001; 3DGS eq. 5) plus 3DGS's 0.3-pixel² low-pass dilation; (3) colour each by
its spherical harmonics in the viewing direction; (4) sort by depth; (5) per tile, over only the Gaussians that
reach the tile, composite front to back (3DGS eq. 3) with the alpha clamp, the 1/255 skip and early termination.

A Gaussian reaches a tile when the bounding box of its ellipse alpha ≥ 1/255 touches it (at most 3.33σ, as in
gsplat; 3DGS's 3σ box is looser for faint Gaussians and cuts opaque ones): no pixel outside the box could take
it, so tiling changes nothing in the image. Tiles are processed together: each step takes the next chunk of
every unfinished tile's depth-sorted list, evaluates alpha at the tile's pixels with one matrix product and
composites the chunk with a cumulative product; a tile leaves once all its pixels are opaque. Cost thus grows
with what is on screen. The compositing runs in place under ``torch.no_grad`` (it is not differentiable; the
projection is).

On CUDA tensors with ``gsplat`` installed, ``backend="auto"`` uses ``gsplat.rasterization`` instead.
"""

from __future__ import annotations

import importlib.util
import math
from dataclasses import dataclass
from typing import Literal

import torch
import torch.nn.functional as F

from kinema.errors import KinemaInputError
from kinema.world.camera import Camera
from kinema.world.gaussians import Gaussians

ALPHA_MAX = 0.99  # 3DGS clamps a single Gaussian's alpha (keeps the transmittance invertible)
ALPHA_MIN = 1 / 255  # 3DGS skips a Gaussian at a pixel where its alpha is below this
T_MIN = 1e-4  # 3DGS stops a pixel before a Gaussian would drop its transmittance below this
LOW_PASS = 0.3  # pixels², added to the projected covariance's diagonal (3DGS's screen-space filter)
TILE = 8  # pixels per tile side (on this CPU 8 beat 4 and 16 at both 64² and 256²)
CHUNK = 32  # Gaussians per tile composited in one step (32 beat 64 at 256², lost little at 64²)
LOG2_E, LOG2_ALPHA_MAX = 1 / math.log(2), math.log2(ALPHA_MAX)  # alpha is computed as exp2(log₂ α)

# Real spherical-harmonic constants as the 3DGS code evaluates them (degree 0, 1, 2, 3).
SH_C0 = 0.28209479177387814
SH_C1 = 0.4886025119029199
SH_C2 = (1.0925484305920792, -1.0925484305920792, 0.31539156525252005, -1.0925484305920792, 0.5462742152960396)
SH_C3 = (-0.5900435899266435, 2.890611442640554, -0.4570457994644658, 0.3731763325901154, -0.4570457994644658,
         1.445305721320277, -0.5900435899266435)

Backend = Literal["auto", "torch", "gsplat"]
FEATURES = slice(6, 11)  # the splat table's columns that compositing sums: r, g, b, depth, 1


@dataclass
class RenderResult:
    """``image`` (H, W, 3) in [0, 1] over the background, ``depth`` (H, W) expected camera depth of what is seen
    (0 where nothing is), ``alpha`` (H, W) accumulated opacity."""

    image: torch.Tensor
    depth: torch.Tensor
    alpha: torch.Tensor


@dataclass
class Splats:
    """The visible Gaussians of one view as 2D splats, sorted front to back: ``means2d`` (M, 2) pixels, ``conics``
    (M, 3) the inverse 2D covariance's a, b, c, ``log_opacities`` (M,), ``colours`` (M, 3), ``depths`` (M,),
    ``extents`` (M, 2) half-width and half-height of the box outside which the alpha is below 1/255."""

    means2d: torch.Tensor
    conics: torch.Tensor
    log_opacities: torch.Tensor
    colours: torch.Tensor
    depths: torch.Tensor
    extents: torch.Tensor


def render(gaussians: Gaussians, camera: Camera, background: tuple[float, float, float] | None = None,
           backend: Backend = "auto", tile_size: int = TILE) -> RenderResult:
    """Render ``gaussians`` seen by ``camera`` over ``background`` (RGB in [0, 1]; None: black, i.e. the colour
    premultiplied by alpha). ``backend`` "torch" is the CPU/GPU PyTorch renderer, "gsplat" gsplat's CUDA kernels,
    "auto" gsplat for CUDA tensors where it is installed, else torch. ``tile_size`` is the torch renderer's."""
    if background is not None and len(background) != 3:
        raise ValueError(f"background must be an (r, g, b) triple, got {background!r}")
    if tile_size < 1:
        raise ValueError(f"tile_size must be positive, got {tile_size}")
    if _use_gsplat(gaussians, backend):
        return _render_gsplat(gaussians, camera, background)
    with torch.no_grad():
        rgbda = composite(project(gaussians, camera), camera.width, camera.height, tile_size)
    return _finish(rgbda, background)


def project(gaussians: Gaussians, camera: Camera) -> Splats:
    """Cull, project (EWA) and colour the Gaussians for ``camera``; the result is sorted by depth."""
    rotation, translation = _camera_tensors(camera, gaussians.means)
    x, y, z = rotation @ gaussians.means.T + translation[:, None]  # (N,) each: camera coordinates
    in_front = z > camera.near
    z = torch.where(in_front, z, 1.0)  # those behind are culled below; keep their numbers finite meanwhile
    u, v = camera.fx * x / z + camera.cx, camera.fy * y / z + camera.cy  # (N,) pixel coordinates of the means
    sxx, sxy, syy = _projected_covariances(gaussians, x, y, z, rotation, camera)
    log_opacity = F.logsigmoid(gaussians.opacity_logits)
    reach = (2 * (log_opacity - math.log(ALPHA_MIN))).clamp_min(0)  # Mahalanobis radius² where alpha is 1/255
    ex, ey = torch.sqrt(reach * sxx), torch.sqrt(reach * syy)  # half-sizes of that ellipse's bounding box
    seen = in_front & (reach > 0) & (u + ex > 0) & (u - ex < camera.width) & (v + ey > 0) & (v - ey < camera.height)
    keep = torch.nonzero(seen).squeeze(1)
    # front to back; depths are positive, and positive floats sort as their bit patterns (a faster integer sort)
    keep = keep.index_select(0, torch.sort(z.index_select(0, keep).view(torch.int32), stable=True).indices)
    u, v, sxx, sxy, syy, log_opacity, z, ex, ey = torch.stack([u, v, sxx, sxy, syy, log_opacity, z, ex, ey]
                                                              ).index_select(1, keep)
    det = sxx * syy - sxy * sxy
    directions = gaussians.means.index_select(0, keep) - torch.as_tensor(camera.position).to(z)
    return Splats(torch.stack([u, v], 1), torch.stack([syy / det, -sxy / det, sxx / det], 1), log_opacity,
                  sh_colours(gaussians.sh.index_select(0, keep), directions), z, torch.stack([ex, ey], 1))


def sh_colours(sh: torch.Tensor, directions: torch.Tensor) -> torch.Tensor:
    """(N, 3) colours max(SH(d) + 0.5, 0) of SH coefficients ``sh`` (N, K, 3) in world ``directions`` (N, 3)."""
    basis = sh_basis(F.normalize(directions, dim=1), sh.shape[1])  # (K, N)
    return torch.clamp_min(torch.einsum("kn,nkc->nc", basis, sh) + 0.5, 0.0)


def sh_basis(d: torch.Tensor, k: int) -> torch.Tensor:
    """(K, N) real SH basis of the first ``k`` ∈ {1, 4, 9, 16} functions at unit directions ``d`` (N, 3), with
    3DGS's signs and ordering."""
    x, y, z = d.T
    basis = [torch.full_like(x, SH_C0)]
    if k > 1:
        basis += [-SH_C1 * y, SH_C1 * z, -SH_C1 * x]
    if k > 4:
        xx, yy, zz = x * x, y * y, z * z
        basis += [SH_C2[0] * x * y, SH_C2[1] * y * z, SH_C2[2] * (2 * zz - xx - yy), SH_C2[3] * x * z,
                  SH_C2[4] * (xx - yy)]
    if k > 9:
        basis += [SH_C3[0] * y * (3 * xx - yy), SH_C3[1] * x * y * z, SH_C3[2] * y * (4 * zz - xx - yy),
                  SH_C3[3] * z * (2 * zz - 3 * xx - 3 * yy), SH_C3[4] * x * (4 * zz - xx - yy),
                  SH_C3[5] * z * (xx - yy), SH_C3[6] * x * (xx - 3 * yy)]
    return torch.stack(basis)


def composite(splats: Splats, width: int, height: int, tile_size: int = TILE) -> torch.Tensor:
    """(H, W, 5) colour, depth sum and alpha of the splats composited front to back (3DGS eq. 3), per tile."""
    tiles_x, tiles_y = -(-width // tile_size), -(-height // tile_size)
    order, tile = _tile_pairs(splats, tiles_x, tiles_y, tile_size)
    counts = torch.bincount(tile, minlength=tiles_x * tiles_y)  # (T,) splats per tile
    offsets = torch.cumsum(counts, 0) - counts  # (T,) where each tile's splats start in ``order``
    order = torch.cat([order, order.new_full((1,), len(splats.depths))])  # a last entry: the blank splat, padding
    table = _splat_table(splats)  # (M + 1, 11)
    pixels = _pixel_features(tile_size, table)  # (P, 6)
    index = torch.arange(len(counts), device=table.device)
    corners = (torch.stack([index % tiles_x, index // tiles_x], 1) * tile_size).to(table)  # (T, 2)
    transmittance = torch.ones(len(counts), tile_size**2, dtype=table.dtype, device=table.device)  # (T, P)
    sums = torch.zeros(len(counts), 5, tile_size**2, dtype=table.dtype, device=table.device)  # (T, 5, P)
    slots = torch.arange(CHUNK, device=table.device)
    active = index[counts > 0]
    for start in range(0, int(counts.max()), CHUNK):
        active = active[counts[active] > start]
        if active.numel() == 0:
            break
        entry = torch.where(start + slots < counts[active, None], offsets[active, None] + start + slots, len(order) - 1)
        chunk = table[order[entry]]  # (A, C, 11) the next CHUNK splats of each active tile
        power = pixels @ _local_form(chunk, corners[active])  # (A, P, C) log₂ alpha before the clamp
        after, weights = _composite_chunk(power, transmittance[active])
        transmittance[active] = after
        sums.index_add_(0, active, torch.bmm(chunk[..., FEATURES].transpose(1, 2), weights.transpose(1, 2)))
        active = active[(after > 0).any(1)]
    return _untile(sums, tiles_x, tiles_y, tile_size)[:height, :width]


def _composite_chunk(power: torch.Tensor, transmittance: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Composite one chunk: ``power`` (A, P, C) log₂ alphas in depth order (overwritten), ``transmittance`` (A, P)
    before it -> the transmittance after it (0 once a pixel has ended) and the blending weights (A, P, C)
    α_i ∏_{j<i} (1 − α_j) (3DGS eq. 3). Written as in-place float ops: bool masks and fresh buffers cost more."""
    alpha = F.threshold_(power.clamp_max_(LOG2_ALPHA_MAX).exp2_(), ALPHA_MIN, 0.0)
    running = torch.cat([transmittance[..., None], alpha.neg_().add_(1)], dim=2).cumprod_(dim=2)  # (A, P, C + 1)
    F.threshold_(running, T_MIN, 0.0)  # a pixel ends before its transmittance drops below 1e-4
    before, after = running[..., :-1], running[..., 1:]  # transmittance before and after each Gaussian
    # before − after = α_i T_i where the pixel goes on; the cap (≥ 1 there) zeroes the Gaussian that ends it (after 0)
    return running[..., -1], (before - after).clamp_(max=after / T_MIN)


def _projected_covariances(g: Gaussians, x: torch.Tensor, y: torch.Tensor, z: torch.Tensor, rotation: torch.Tensor,
                           camera: Camera) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """(N,) entries xx, xy, yy of the screen covariances Σ' = J W Σ Wᵀ Jᵀ + 0.3·I (3DGS eq. 5 and its low-pass
    filter) of Gaussians at camera coordinates ``x, y, z``; W is the world-to-camera ``rotation``."""
    # 3DGS's rasteriser evaluates J at x/z, y/z clamped to the view widened by 0.3·tan(fov/2) on each side
    margin_x, margin_y = 0.15 * camera.width / camera.fx, 0.15 * camera.height / camera.fy
    tan_x = (x / z).clamp(-camera.cx / camera.fx - margin_x, (camera.width - camera.cx) / camera.fx + margin_x)
    tan_y = (y / z).clamp(-camera.cy / camera.fy - margin_y, (camera.height - camera.cy) / camera.fy + margin_y)
    m = torch.einsum("ij,njk->ikn", rotation, g.rotations() * g.scales[:, None, :])  # (3, 3, N) W R S
    # the rows of J·W·R·S with J = [[fx/z, 0, -fx·x/z²], [0, fy/z, -fy·y/z²]]; Σ' = (J W R S)(J W R S)ᵀ
    row_x = camera.fx / z * (m[0] - tan_x * m[2])  # (3, N)
    row_y = camera.fy / z * (m[1] - tan_y * m[2])
    return (row_x * row_x).sum(0) + LOW_PASS, (row_x * row_y).sum(0), (row_y * row_y).sum(0) + LOW_PASS


def _tile_pairs(splats: Splats, tiles_x: int, tiles_y: int, tile_size: int) -> tuple[torch.Tensor, torch.Tensor]:
    """(I,) splat and (I,) tile of every pair where a splat's alpha ≥ 1/255 box touches a tile, grouped by tile,
    in depth order within each tile. Integer work is done in float and small integer types, which sort and
    divide several times faster than int64."""
    last = torch.tensor([tiles_x - 1, tiles_y - 1]).to(splats.means2d)
    low = torch.floor((splats.means2d - splats.extents) / tile_size).clamp_min(0).minimum(last)  # (M, 2) first tile
    high = torch.floor((splats.means2d + splats.extents) / tile_size).clamp_min(0).minimum(last)
    (x0, y0), (width, height) = low.T, (high - low + 1).T  # (M,) each: the tile box of each splat
    n = (width * height).long()
    splat = torch.repeat_interleave(torch.arange(len(n), device=n.device), n)  # (I,) in depth order
    k = (torch.arange(len(splat), device=n.device) - (torch.cumsum(n, 0) - n).index_select(0, splat)).to(low)
    width = width.index_select(0, splat)
    row = torch.floor(k / width)  # k = row · width + column, exact in float32 for boxes under 2^20 tiles
    tile = (y0.index_select(0, splat) + row) * tiles_x + x0.index_select(0, splat) + k - row * width
    tile = tile.to(torch.int16 if tiles_x * tiles_y < 2**15 else torch.int32)
    tile, by_tile = torch.sort(tile, stable=True)  # stable: depth order kept inside each tile
    return splat.index_select(0, by_tile), tile.long()


def _splat_table(splats: Splats) -> torch.Tensor:
    """(M + 1, 11) per splat: the quadratic coefficients ``a, b, c`` of log₂ α (−½ the conic, times log₂ e) and
    ``log₂ o``, the mean ``mx, my``, and ``r, g, b, depth, 1`` (FEATURES); the last row a blank splat of alpha 0."""
    quadratic = splats.conics * torch.tensor([-0.5, -1.0, -0.5]).to(splats.conics) * LOG2_E  # (M, 3)
    rows = torch.cat([quadratic, (splats.log_opacities * LOG2_E)[:, None], splats.means2d, splats.colours,
                      splats.depths[:, None], torch.ones_like(splats.depths)[:, None]], dim=1)
    blank = torch.zeros(1, rows.shape[1], dtype=rows.dtype, device=rows.device)
    blank[0, 3] = -1e30  # log₂ o: alpha 0
    return torch.cat([rows, blank])


def _local_form(chunk: torch.Tensor, corners: torch.Tensor) -> torch.Tensor:
    """(A, 6, C) coefficients of log₂ α(u, v) as a linear form in :func:`_pixel_features`, for ``chunk`` (A, C, 11)
    rows of the splat table on tiles with ``corners`` (A, 2).

    log₂ α = log₂ e · (log o − ½ dᵀ Σ'⁻¹ d), d = (u, v) − mean (3DGS eq. 4), expanded in the tile's own pixel
    coordinates, which keeps the terms small enough for float32; exp2 is 4× faster than exp on CPU."""
    a, b, c, log_opacity, mx, my = chunk[..., :6].unbind(-1)  # (A, C) each
    mx, my = mx - corners[:, :1], my - corners[:, 1:]  # means in tile coordinates
    du, dv = -(2 * a * mx + b * my), -(b * mx + 2 * c * my)  # the linear terms
    constant = log_opacity - 0.5 * (du * mx + dv * my)  # a·mx² + b·mx·my + c·my² + log₂ o
    return torch.stack([a, b, c, du, dv, constant], dim=1)


def _pixel_features(tile_size: int, like: torch.Tensor) -> torch.Tensor:
    """(P, 6) ``u², uv, v², u, v, 1`` of each pixel centre of a tile, in tile coordinates."""
    v, u = torch.meshgrid(torch.arange(tile_size), torch.arange(tile_size), indexing="ij")
    u, v = u.flatten().to(like) + 0.5, v.flatten().to(like) + 0.5
    return torch.stack([u * u, u * v, v * v, u, v, torch.ones_like(u)], dim=1)


def _untile(sums: torch.Tensor, tiles_x: int, tiles_y: int, tile_size: int) -> torch.Tensor:
    """(T, F, P) per-tile pixels -> (tiles_y·tile, tiles_x·tile, F) image."""
    f = sums.shape[1]
    grid = sums.reshape(tiles_y, tiles_x, f, tile_size, tile_size).permute(0, 3, 1, 4, 2)
    return grid.reshape(tiles_y * tile_size, tiles_x * tile_size, f)


def _finish(rgbda: torch.Tensor, background: tuple[float, float, float] | None) -> RenderResult:
    """The RenderResult of composited (H, W, 5) colour, depth sum, alpha over ``background``."""
    colour, depth_sum, alpha = rgbda[..., :3], rgbda[..., 3], rgbda[..., 4]
    if background is not None:
        colour = colour + (1 - alpha[..., None]) * torch.tensor(background, dtype=colour.dtype, device=colour.device)
    depth = torch.where(alpha > 1e-10, depth_sum / alpha.clamp_min(1e-10), torch.zeros_like(alpha))
    return RenderResult(colour.clamp(0, 1), depth, alpha)


def _camera_tensors(camera: Camera, like: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The world-to-camera rotation (3, 3) and translation (3,) as tensors of ``like``'s dtype and device."""
    return (torch.as_tensor(camera.rotation, dtype=like.dtype, device=like.device),
            torch.as_tensor(camera.translation, dtype=like.dtype, device=like.device))


def _use_gsplat(gaussians: Gaussians, backend: Backend) -> bool:
    """Whether ``backend`` resolves to gsplat for these Gaussians; KinemaInputError if asked for and unusable."""
    if backend not in ("auto", "torch", "gsplat"):
        raise ValueError(f"render backend must be auto, torch or gsplat, got {backend!r}")
    usable = gaussians.means.is_cuda and importlib.util.find_spec("gsplat") is not None
    if backend == "gsplat" and not usable:
        raise KinemaInputError("render backend 'gsplat'", "needs the gsplat package and the scene on a CUDA device",
                               "Install gsplat on a CUDA machine and move the Gaussians there, or use backend 'torch'.")
    return backend == "gsplat" or (backend == "auto" and usable)


def _render_gsplat(gaussians: Gaussians, camera: Camera, background: tuple[float, float, float] | None
                   ) -> RenderResult:
    """The same render by ``gsplat.rasterization`` (CUDA): classic 3DGS mode, expected depth."""
    from gsplat import rasterization

    rotation, translation = _camera_tensors(camera, gaussians.means)
    viewmat = torch.eye(4, dtype=rotation.dtype, device=rotation.device)
    viewmat[:3, :3], viewmat[:3, 3] = rotation, translation
    intrinsics = torch.tensor([[camera.fx, 0, camera.cx], [0, camera.fy, camera.cy], [0, 0, 1]],
                              dtype=rotation.dtype, device=rotation.device)
    backgrounds = None if background is None else torch.tensor([background], dtype=rotation.dtype,
                                                                device=rotation.device)
    with torch.no_grad():
        colours, alphas, _ = rasterization(
            gaussians.means, gaussians.quaternions, gaussians.scales, gaussians.opacities, gaussians.sh,
            viewmat[None], intrinsics[None], camera.width, camera.height, near_plane=camera.near, eps2d=LOW_PASS,
            sh_degree=gaussians.degree, backgrounds=backgrounds, render_mode="RGB+ED", rasterize_mode="classic")
    return RenderResult(colours[0, ..., :3].clamp(0, 1), colours[0, ..., 3], alphas[0, ..., 0])
