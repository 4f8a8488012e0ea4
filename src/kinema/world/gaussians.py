"""A 3D Gaussian-splatting scene (Kerbl et al. 2023): N anisotropic Gaussians with view-dependent colour.

Stored as the standard 3DGS ``.ply`` stores them (see ``kinema.world.ply``): means, spherical-harmonic colour
coefficients up to degree 3, opacity as a logit, scales as logs, rotations as w-first quaternions.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

SH_C0 = 0.28209479177387814  # Y_0^0: degree-0 colour = 0.5 + SH_C0 · f_dc
SH_COEFFS = {0: 1, 1: 4, 2: 9, 3: 16}  # degree D -> (D + 1)² coefficients per colour channel


@dataclass
class Gaussians:
    """``means`` (N, 3), ``sh`` (N, K, 3) with K = (D + 1)² (``sh[:, 0]`` is 3DGS's f_dc), ``opacity_logits``
    (N,), ``log_scales`` (N, 3) and ``quaternions`` (N, 4), w first, any norm; all float32."""

    means: torch.Tensor
    sh: torch.Tensor
    opacity_logits: torch.Tensor
    log_scales: torch.Tensor
    quaternions: torch.Tensor

    def __post_init__(self) -> None:
        n = self.means.shape[0]
        shapes = {"means": (n, 3), "opacity_logits": (n,), "log_scales": (n, 3), "quaternions": (n, 4)}
        for name, shape in shapes.items():
            if tuple(getattr(self, name).shape) != shape:
                raise ValueError(f"Gaussians.{name} must be {shape}, got {tuple(getattr(self, name).shape)}")
        if self.sh.ndim != 3 or self.sh.shape[0] != n or self.sh.shape[2] != 3 or self.sh.shape[1] not in SH_COEFFS.values():
            raise ValueError(f"Gaussians.sh must be (N, (D+1)², 3) for a degree D ≤ 3, got {tuple(self.sh.shape)}")

    def __len__(self) -> int:
        return self.means.shape[0]

    @property
    def degree(self) -> int:
        """The spherical-harmonic degree of the colours (0 to 3)."""
        return {k: d for d, k in SH_COEFFS.items()}[self.sh.shape[1]]

    @property
    def opacities(self) -> torch.Tensor:
        """(N,) opacity in [0, 1]."""
        return torch.sigmoid(self.opacity_logits)

    @property
    def scales(self) -> torch.Tensor:
        """(N, 3) standard deviations along the Gaussian's own axes."""
        return torch.exp(self.log_scales)

    def rotations(self) -> torch.Tensor:
        """(N, 3, 3) rotation matrices of the normalised quaternions."""
        w, x, y, z = torch.nn.functional.normalize(self.quaternions, dim=-1).unbind(-1)
        return torch.stack([
            1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y),
            2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x),
            2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y),
        ]).reshape(3, 3, -1).permute(2, 0, 1)  # (N, 3, 3); stacking rows first is 3x faster than on the last dim

    def covariances(self) -> torch.Tensor:
        """(N, 3, 3) world covariances Σ = R S Sᵀ Rᵀ (3DGS eq. 6)."""
        m = self.rotations() * self.scales[:, None, :]  # R S
        return m @ m.transpose(1, 2)

    @classmethod
    def cat(cls, parts: list[Gaussians]) -> Gaussians:
        """One scene of several (all of the same SH degree)."""
        if len({p.degree for p in parts}) > 1:
            raise ValueError("Gaussians.cat needs parts of one SH degree")
        return cls(*(torch.cat([getattr(p, f) for p in parts]) for f in
                     ("means", "sh", "opacity_logits", "log_scales", "quaternions")))
