"""Long-video continuation in training (``TrainConfig.history``; inference: :mod:`kinema.pipelines.windows`).

On a share ``history.fraction`` of steps (drawn from the seed and the step, so a resumed run draws the same), latent
frames 1..c of the target are given as history: the clean diffusion variable there plus seeded Gaussian noise of
σ ``history.noise`` (AniX §3.1.3's augmented preceding tokens), fed clean at timestep 0
(:func:`kinema.backbone.segments.with_history`) and left out of the loss. Recipes R1 and R2 share these draws.
"""

from __future__ import annotations

import numpy as np
import torch

from kinema.training.config import TrainConfig


def history_frames(config: TrainConfig, step: int) -> int:
    """Latent frames given as history at ``step`` (0 on a plain step)."""
    h = config.history
    return h.latents if np.random.default_rng([config.seed, step, 89]).random() < h.fraction else 0


def history_latents(config: TrainConfig, step: int, x0: torch.Tensor) -> torch.Tensor | None:
    """(B, C, c, h, w): frames 1..c of the diffusion variable ``x0`` (B, C, f, h, w) with seeded noise; None on a
    plain step."""
    c = history_frames(config, step)
    if not c:
        return None
    generator = torch.Generator().manual_seed(config.seed * 1_000_003 + step + 11)
    given = x0[:, :, 1:1 + c]
    return given + config.history.noise * torch.randn(given.shape, generator=generator).to(given)


def trained_frames(prediction: torch.Tensor, target: torch.Tensor, c: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``prediction`` and ``target`` (B, C, f, h, w) without the history's frames 1..c (given, not predicted)."""
    if not c:
        return prediction, target
    keep = [0, *range(1 + c, prediction.shape[2])]
    return prediction[:, :, keep], target[:, :, keep]
