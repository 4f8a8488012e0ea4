"""Standard 3DGS ``.ply`` files <-> :class:`~kinema.world.gaussians.Gaussians`.

The layout is the one the Inria 3DGS trainer writes and viewers and editors read (NOTES.md): one ``vertex``
element of float32 properties ``x y z nx ny nz f_dc_0..2 f_rest_0..(3K-1) opacity scale_0..2 rot_0..3``,
binary little endian, with K = (D + 1)² - 1 higher-order SH coefficients per colour channel, stored
channel-major (all of red's, then green's, then blue's). Readers accept what other trainers add or leave out
(normals, extra per-vertex properties, other elements, another byte order or ASCII): only the splat
properties are taken.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

import numpy as np
import plyfile
import torch

from kinema.errors import KinemaInputError, require_file
from kinema.io import atomic_path
from kinema.world.gaussians import SH_COEFFS, Gaussians

POSITION = ("x", "y", "z")
NORMALS = ("nx", "ny", "nz")  # unused by 3DGS; written as zeros, as the Inria trainer does
F_DC = ("f_dc_0", "f_dc_1", "f_dc_2")
SCALES = ("scale_0", "scale_1", "scale_2")
ROTATION = ("rot_0", "rot_1", "rot_2", "rot_3")
REQUIRED = POSITION + F_DC + ("opacity",) + SCALES + ROTATION
F_REST_COUNTS = {3 * (k - 1): d for d, k in SH_COEFFS.items()}  # f_rest count -> SH degree: 0, 9, 24, 45
READ_ERRORS = (plyfile.PlyParseError, UnicodeDecodeError, OSError, MemoryError)  # plyfile on a foreign file

_WHAT = "splat scene"
_FIX = "Pass a 3D Gaussian-splatting .ply (as 3DGS trainers such as the Inria code, gsplat or nerfstudio export)."


def read_ply(path: str | os.PathLike) -> Gaussians:
    """The Gaussians of a 3DGS ``.ply`` file; the SH degree follows from the number of ``f_rest`` properties.

    Raises KinemaInputError naming the file when it is not a PLY file, lacks splat properties (listing them),
    holds NaN or infinite values, holds no Gaussians, or has an ``f_rest`` count that no SH degree ≤ 3 gives.
    """
    path = Path(path)
    require_file(path, _WHAT, _FIX)
    vertex = _vertex_element(path)
    columns = _splat_columns(vertex, path)
    return _gaussians(columns)


def write_ply(gaussians: Gaussians, path: str | os.PathLike) -> Path:
    """Write ``gaussians`` to ``path`` in the standard layout (float32, binary little endian), atomically."""
    columns = {name: value for name, value in zip(_property_names(gaussians.degree), _columns(gaussians).T)}
    bad = [name for name, value in columns.items() if not np.isfinite(value).all()]
    if bad:
        raise ValueError(f"Gaussians hold NaN or infinite values in {', '.join(bad)}; no reader accepts that file")
    table = np.empty(len(gaussians), dtype=[(name, "<f4") for name in columns])
    for name, value in columns.items():
        table[name] = value
    with atomic_path(path) as tmp:
        plyfile.PlyData([plyfile.PlyElement.describe(table, "vertex")], byte_order="<").write(str(tmp))
    return Path(path)


def _property_names(degree: int) -> tuple[str, ...]:
    """The vertex properties of the standard layout for SH degree ``degree``, in file order."""
    rest = tuple(f"f_rest_{i}" for i in range(3 * (SH_COEFFS[degree] - 1)))
    return POSITION + NORMALS + F_DC + rest + ("opacity",) + SCALES + ROTATION


def _columns(gaussians: Gaussians) -> np.ndarray:
    """(N, P) float32 values of the standard layout's P properties."""
    n = len(gaussians)
    rest = gaussians.sh[:, 1:].transpose(1, 2).reshape(n, -1)  # (N, 3·K) channel-major
    parts = [gaussians.means, torch.zeros(n, 3), gaussians.sh[:, 0], rest, gaussians.opacity_logits[:, None],
             gaussians.log_scales, gaussians.quaternions]
    return torch.cat([p.detach().cpu().float() for p in parts], dim=1).numpy()


def _vertex_element(path: Path) -> plyfile.PlyElement:
    """The ``vertex`` element of the PLY file at ``path`` (binary files are memory-mapped, not read whole)."""
    try:
        ply = plyfile.PlyData.read(str(path))
    except READ_ERRORS as err:
        raise KinemaInputError(f"{_WHAT} '{path}'", f"is not a readable PLY file ({err})", _FIX) from None
    if "vertex" not in [element.name for element in ply.elements]:
        found = ", ".join(element.name for element in ply.elements) or "none"
        raise KinemaInputError(f"{_WHAT} '{path}'", f"is a PLY file without a 'vertex' element (elements: {found}), "
                               "not a Gaussian-splatting scene", _FIX)
    vertex = ply["vertex"]
    if vertex.count == 0:
        raise KinemaInputError(f"{_WHAT} '{path}'", "holds no Gaussians (its vertex element is empty)",
                               "Pass a scene with at least one Gaussian.")
    return vertex


def _splat_columns(vertex: plyfile.PlyElement, path: Path) -> dict[str, np.ndarray]:
    """Name -> (N,) float32 values of the splat properties, checked for presence, f_rest count and finiteness."""
    scalars = [p.name for p in vertex.properties if not isinstance(p, plyfile.PlyListProperty)]
    missing = [name for name in REQUIRED if name not in scalars]
    if missing:
        raise KinemaInputError(f"{_WHAT} '{path}'", "is a PLY file but not a Gaussian-splatting scene: its vertex "
                               f"element lacks {', '.join(missing)}", _FIX)
    rest = _f_rest_names(scalars, path)
    columns = {name: np.array(vertex[name], dtype=np.float32) for name in REQUIRED + rest}  # copies off the file
    bad = {name: int((~np.isfinite(value)).sum()) for name, value in columns.items()}
    bad = {name: count for name, count in bad.items() if count}
    if bad:
        listed = ", ".join(f"{name} ({count} of {vertex.count})" for name, count in bad.items())
        raise KinemaInputError(f"{_WHAT} '{path}'", f"holds NaN or infinite values in {listed}",
                               "Repair or re-export the scene; a splat file must hold finite numbers only.")
    return columns


def _f_rest_names(scalars: list[str], path: Path) -> tuple[str, ...]:
    """``f_rest_0 .. f_rest_{n-1}`` when n is 3·((D + 1)² - 1) for a degree D ≤ 3, else KinemaInputError."""
    indices = sorted(int(m.group(1)) for m in map(re.compile(r"f_rest_(\d+)$").match, scalars) if m)
    allowed = ", ".join(str(n) for n in F_REST_COUNTS)
    if len(indices) not in F_REST_COUNTS:
        raise KinemaInputError(f"{_WHAT} '{path}'", f"has {len(indices)} f_rest properties, which no spherical-"
                               f"harmonic degree up to 3 gives (expected {allowed}: 3·((D+1)²-1))", _FIX)
    if indices != list(range(len(indices))):
        raise KinemaInputError(f"{_WHAT} '{path}'", f"has f_rest properties numbered {indices[:3]}…, not "
                               f"f_rest_0..f_rest_{len(indices) - 1}", _FIX)
    return tuple(f"f_rest_{i}" for i in indices)


def _gaussians(columns: dict[str, np.ndarray]) -> Gaussians:
    """Gaussians from the property columns (f_rest channel-major -> sh (N, K, 3))."""
    rest_names = tuple(name for name in columns if name.startswith("f_rest_"))
    sh = _stack(columns, F_DC)[:, None]  # (N, 1, 3)
    if rest_names:
        n, k = sh.shape[0], len(rest_names) // 3
        rest = _stack(columns, rest_names).reshape(n, 3, k).transpose(1, 2)  # (N, K-1, 3)
        sh = torch.cat([sh, rest], dim=1).contiguous()  # (N, K, 3)
    return Gaussians(_stack(columns, POSITION), sh, torch.from_numpy(columns["opacity"]),
                     _stack(columns, SCALES), _stack(columns, ROTATION))


def _stack(columns: dict[str, np.ndarray], names: tuple[str, ...]) -> torch.Tensor:
    """(N, len(names)) float32 tensor of the named columns."""
    return torch.from_numpy(np.stack([columns[name] for name in names], axis=1))
