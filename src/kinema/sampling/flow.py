"""Flow-matching sampling with diffusers' schedulers (they integrate the velocity v = ε − x0).

The network never sees a scheduler: :func:`sample` calls ``velocity(x_t, t, σ)`` and lets the
scheduler integrate (a sample-predicting network converts its x̂0 with σ, see
:mod:`kinema.sampling.prediction`). Guidance wraps a velocity function.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import torch
from diffusers import FlowMatchEulerDiscreteScheduler, UniPCMultistepScheduler
from diffusers.schedulers.scheduling_utils import SchedulerMixin
from tqdm.auto import tqdm

Velocity = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]  # (x_t, timestep (B,), σ (B,)) -> v


@dataclass(frozen=True)
class SamplerConfig:
    """Sampling settings. ``flow_shift``: Wan uses 3.0 at 480p and 5.0 at 720p."""

    scheduler: Literal["unipc", "euler"] = "unipc"
    steps: int = 30
    flow_shift: float = 3.0
    guidance: float = 5.0

    def __post_init__(self) -> None:
        if self.scheduler not in ("unipc", "euler"):
            raise ValueError(f"unknown scheduler '{self.scheduler}'; use 'unipc' or 'euler'")
        if not 1 <= self.steps <= 1000:
            raise ValueError(f"steps must be in [1, 1000], got {self.steps}")
        if not 0.0 < self.flow_shift <= 100.0:
            raise ValueError(f"flow_shift must be in (0, 100], got {self.flow_shift}")
        if not 0.0 <= self.guidance <= 50.0:
            raise ValueError(f"guidance must be in [0, 50], got {self.guidance}")


def make_scheduler(config: SamplerConfig) -> SchedulerMixin:
    """A fresh diffusers flow-matching scheduler for ``config``."""
    if config.scheduler == "euler":
        return FlowMatchEulerDiscreteScheduler(num_train_timesteps=1000, shift=config.flow_shift)
    return UniPCMultistepScheduler(num_train_timesteps=1000, prediction_type="flow_prediction",
                                   use_flow_sigmas=True, flow_shift=config.flow_shift)


def classifier_free_guidance(cond: Velocity, uncond: Velocity, scale: float) -> Velocity:
    """v = v_u + s (v_c − v_u); with s = 1 the unconditional branch is skipped."""
    if scale == 1.0:
        return cond

    def guided(x: torch.Tensor, t: torch.Tensor, sigma: torch.Tensor) -> torch.Tensor:
        v_u = uncond(x, t, sigma)
        return v_u + scale * (cond(x, t, sigma) - v_u)

    return guided


@torch.no_grad()
def sample(velocity: Velocity, noise: torch.Tensor, config: SamplerConfig, progress: bool = True) -> torch.Tensor:
    """Integrate from pure noise (σ = 1) to data with the configured scheduler.

    Args:
        velocity: v(x_t, t, σ) with the scheduler's timestep t (B,) in [0, 1000] and its noise level σ (B,).
        noise: (B, C, F, H, W) standard normal initial latent.

    Returns:
        The denoised latent, same shape as ``noise``.
    """
    scheduler = make_scheduler(config)
    scheduler.set_timesteps(config.steps, device=noise.device)
    x, batch = noise, noise.shape[0]
    for i, t in enumerate(tqdm(scheduler.timesteps, desc="denoising", disable=not progress, leave=False)):
        sigma = scheduler.sigmas[i].to(x.device, x.dtype)  # UniPC's timesteps are rounded; σ is exact
        v = velocity(x, t.expand(batch).to(x.dtype), sigma.expand(batch))
        x = scheduler.step(v, t, x, return_dict=False)[0]
    return x
