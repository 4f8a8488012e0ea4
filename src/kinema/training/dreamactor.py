"""Recipe R1 (DreamActor-M2) in the trainer: samples from :mod:`kinema.training.data`, the spatial /
temporal / aligned token stream of :mod:`kinema.recipes.dreamactor_m2`, loss on the character half.

Continuation (``config.history``, :mod:`kinema.training.history`): on a seeded share of steps, latent frames 1..c
of the target are given as history and left out of the loss, as a long video's window after the first receives
the previous window's last frames (:mod:`kinema.pipelines.windows`)."""

from __future__ import annotations

import sys
from collections.abc import Iterator

import torch
from torch import nn

from kinema.backbone.components import WanComponents
from kinema.backbone.widen import narrow_patch_embedding, widen_patch_embedding
from kinema.recipes import dreamactor_m2 as r1
from kinema.training.config import TrainConfig
from kinema.training.data import batch_indices, encode_dataset, lead_in_frames, stack
from kinema.training.flow import flow_loss
from kinema.training.history import history_frames, history_latents, trained_frames


class DreamActorRecipe:
    """R1: reference + skeleton (or oracle) driving composite, the target predicted beside it."""

    def __init__(self, config: TrainConfig) -> None:
        self.config = config
        self.step = 0  # the step whose batch was last drawn: conditions() and loss() follow its history draw

    def prepare(self, components: WanComponents) -> bool:
        """Size the patch embedding to the layout's inputs: new input channels start at zero, a warm start with
        more inputs (another layout) keeps its first ones. True when it changed."""
        transformer = components.transformer
        channels, before = r1.in_channels(components.codec.channels, self.config.layout), transformer.config.in_channels
        if before > channels:
            print(f"note: the warm start has {before} input channels; keeping its first {channels} "
                  f"(the {self.config.layout} layout's)", file=sys.stderr)
            narrow_patch_embedding(transformer, channels)
        widen_patch_embedding(transformer, channels)
        return before != channels

    def cache_key(self) -> dict:
        return {"data": self.config.to_dict()["data"], "model": self.config.model, "layout": self.config.layout}

    def encode(self, components: WanComponents, indices: range, progress: bool,
               workers: int = 1) -> Iterator[dict[str, torch.Tensor]]:
        return encode_dataset(components, self.config.data, self.config.layout, indices, progress, workers)

    def batch(self, step: int) -> list[int]:
        self.step = step
        return batch_indices(self.config, step)

    def history(self, samples: list[dict[str, torch.Tensor]], device: torch.device) -> torch.Tensor | None:
        """The history of ``self.step`` (:mod:`kinema.training.history`) in the diffusion variable (x0 − anchor)."""
        if not history_frames(self.config, self.step):
            return None
        x0, anchor = stack(samples, "x0", device), self.anchor(samples, device)
        return history_latents(self.config, self.step, x0 if anchor is None else x0 - anchor)

    def conditions(self, samples: list[dict[str, torch.Tensor]], text: torch.Tensor, device: torch.device) -> dict:
        return {"condition": stack(samples, "condition", device), "text": text,
                "context": stack(samples, "context", device), "image": stack(samples, "image_tokens", device),
                "history": self.history(samples, device)}

    def predict(self, transformer: nn.Module, noisy: torch.Tensor, timestep: torch.Tensor, condition: torch.Tensor,
                text: torch.Tensor, context: torch.Tensor | None = None, image: torch.Tensor | None = None,
                history: torch.Tensor | None = None) -> torch.Tensor:
        layout = self.config.layout
        width = noisy.shape[-1] // 2 if layout == "spatial" else noisy.shape[-1]
        inputs = r1.R1Inputs(layout, condition, context, image, width, history)
        return r1.predict(transformer, inputs, noisy, timestep, text)

    def anchor(self, samples: list[dict[str, torch.Tensor]], device: torch.device) -> torch.Tensor | None:
        if self.config.anchor == "none":
            return None
        condition = stack(samples, "condition", device)
        return r1.anchor(r1.R1Inputs(self.config.layout, condition, None, None, int(samples[0]["character_width"])))

    def loss(self, prediction: torch.Tensor, target: torch.Tensor, samples: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        width = int(samples[0]["character_width"]) if self.config.flow.loss_region == "character" else None
        prediction, target = trained_frames(prediction, target, history_frames(self.config, self.step))
        return flow_loss(prediction, target, width)

    def card(self, steps_trained: int) -> dict:
        c, d = self.config, self.config.data
        return {"recipe": "dreamactor-m2", "driving": "pose", "layout": c.layout, "prediction": c.prediction,
                **({"sigma_data": c.flow.sigma_data} if c.prediction == "preconditioned" else {}),
                "anchor": c.anchor, "size": list(d.size),
                "frames": d.frames, "fps": d.fps, "lead_in_frames": lead_in_frames(d),
                "skeleton_width": d.skeleton_width, "reference_pose": d.reference_pose, "bbox_normalize": d.augment.bbox_normalize,
                "bbox_margin": d.augment.bbox_margin, "text_chars": d.text_chars,
                **({"history": {"latents": c.history.latents, "noise": c.history.noise}} if c.history.fraction else {}),
                "steps_trained": steps_trained, "train_config": c.to_dict()}
