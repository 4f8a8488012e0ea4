"""The recipe interface of the trainer: what differs between R1 (DreamActor-M2) and R2 (SCAIL-2).

The :class:`~kinema.training.trainer.Trainer` owns everything recipe-independent (optimiser, EMA,
noise and σ draws, distribution, checkpoints); a :class:`TrainingRecipe` owns the samples, their
encoding through the recipe's inference input builder, the token stream, the loss and the model card.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

import torch
from torch import nn

from kinema.backbone.components import WanComponents
from kinema.training.anix import AnixRecipe
from kinema.training.config import TrainConfig
from kinema.training.dreamactor import DreamActorRecipe
from kinema.training.scail2 import ScailRecipe


class TrainingRecipe(Protocol):
    """One recipe's part of a training run (built from the run's :class:`TrainConfig`)."""

    def prepare(self, components: WanComponents) -> bool:
        """Give ``components.transformer`` the inputs the recipe feeds for their codec's latent channels (its patch
        embedding resized, embeddings added; new weights start as no-ops where they can), in place, and read what
        else of the base the recipe follows (its timestep per token). True when anything changed."""

    def cache_key(self) -> dict:
        """What the encoded samples depend on (besides the codec)."""

    def encode(self, components: WanComponents, indices: range, progress: bool,
               workers: int = 1) -> Iterator[dict[str, torch.Tensor]]:
        """The encoded samples ``indices``, one by one: tensors on CPU, ``x0`` (C, F, H, W) among them; their
        pixels drawn by ``workers`` processes (the same samples for any number)."""

    def batch(self, step: int) -> list[int]:
        """Sample indices of the global batch of ``step`` (a pure function of the config and step)."""

    def conditions(self, samples: list[dict[str, torch.Tensor]], text: torch.Tensor, device: torch.device) -> dict:
        """Keyword arguments of :meth:`predict` (besides noisy latents and timestep) for a micro-batch."""

    def predict(self, transformer: nn.Module, noisy: torch.Tensor, timestep: torch.Tensor, **conditions) -> torch.Tensor:
        """The network's output (B, C, F, H, W) for noisy latents (B, C, F, H, W) at timestep (B,), read as the
        config's ``prediction`` (velocity or sample)."""

    def anchor(self, samples: list[dict[str, torch.Tensor]], device: torch.device) -> torch.Tensor | None:
        """What the diffusion variable is measured from (x0 − anchor is denoised), None for x0 itself."""

    def loss(self, prediction: torch.Tensor, target: torch.Tensor, samples: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        """Per-sample loss (B,) on the tokens the recipe trains."""

    def card(self, steps_trained: int) -> dict:
        """The exported model card (``kinema.json``): how inference must drive the weights."""


def get_recipe(config: TrainConfig) -> TrainingRecipe:
    """The training recipe named by ``config.recipe``."""
    return {"dreamactor-m2": DreamActorRecipe, "scail-2": ScailRecipe, "anix": AnixRecipe}[config.recipe](config)
