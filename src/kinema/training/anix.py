"""Recipe R3 (AniX §3.1) in the trainer: 3D puppet world tuples, first-clip and auto-regressive steps.

Data. Sample i is the world tuple of seed ``sample_seed(data.seed, i)`` below ``TRAINING_SEEDS`` (the held-out
``puppet-world`` benchmarks draw above it): the target video V, the scene video S along the same camera path,
the per-frame anchor boxes M, the four character views C and the action (:func:`kinema.world.tuples.make_world_tuple`),
rendered at ``data.size`` for ``data.frames`` frames. Encoding goes through :func:`kinema.recipes.anix.build_inputs`,
the builder inference uses; the text is AniX's template around the action (:func:`kinema.recipes.anix.action_prompt`).

Steps. Each step is auto-regressive with probability ``r3.ar_fraction`` (drawn from the seed and the step): the
first quarter of the target's latent frames is given as a clean context with seeded Gaussian noise
(``r3.context_noise``, AniX's augmented preceding tokens) and the loss covers the other three quarters. The
context is the first segment the trainer predicts on (so the trainer's noisy latents keep the clip's shape) but
it enters clean, at timestep 0, at the same relative RoPE times as at inference (the times just before the
video), and its frames are left out of the loss.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict
from functools import partial

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from kinema.backbone.components import WanComponents
from kinema.backbone.encoders import encode_prompt
from kinema.backbone.segments import Segment, forward_segments
from kinema.pipelines.inputs import to_tensor
from kinema.puppet.dataset import sample_seed
from kinema.recipes import anix as r3
from kinema.training.config import TrainConfig
from kinema.training.data import batch_indices, rendered, stack
from kinema.world.tuples import TRAINING_SEEDS, WorldConfig, WorldTuple, make_world_tuple


def make_sample(index: int, config: TrainConfig) -> WorldTuple:
    """World tuple ``index`` of the data set of ``config`` (a pure function of both)."""
    d = config.data
    seed = sample_seed(d.seed, index) % TRAINING_SEEDS
    return make_world_tuple(seed, config=WorldConfig(size=d.size, frames=d.frames, fps=d.fps))


@torch.no_grad()
def encode_sample(components: WanComponents, sample: WorldTuple, recipe: r3.R3Config) -> dict[str, torch.Tensor]:
    """Latents of one tuple through ``r3.build_inputs``: ``views`` (C, K, h, w), ``scene`` (C + 4, f, h, w),
    ``x0`` (C, f, h, w), ``text`` (L, D)."""
    device = components.transformer.device
    names = r3.VIEW_SETS[recipe.views]
    views = to_tensor(sample.views[[r3.VIEWS.index(n) for n in names]])[0].transpose(0, 1)[None]  # (1, K, 3, H, W)
    boxes = torch.from_numpy(sample.boxes)[None].float()  # (1, F, H, W)
    inputs = r3.build_inputs(components, views.to(device), to_tensor(sample.scene_video).to(device), boxes.to(device),
                             recipe)
    prompt = r3.action_prompt(r3.action_text(sample.plan.action))
    out = {"views": inputs.views[0], "scene": inputs.scene[0],
           "x0": components.codec.encode(to_tensor(sample.video).to(device))[0],
           "text": encode_prompt(components, [prompt])[0]}
    if inputs.image_tokens is not None:
        out["image_tokens"] = inputs.image_tokens[0]
    return {k: v.float().cpu().contiguous() for k, v in out.items()}


class AnixRecipe:
    """R3: character views, scene video and anchor in; the target's latents predicted (past an AR context)."""

    def __init__(self, config: TrainConfig) -> None:
        self.config, self.recipe = config, config.r3.recipe()
        self.step = 0  # the step whose batch was last drawn: conditions() and loss() follow its mode

    def prepare(self, components: WanComponents) -> bool:
        return r3.prepare_transformer(components.transformer, components.codec.channels)

    def cache_key(self) -> dict:
        c = self.config.to_dict()
        return {"recipe": "anix", "data": c["data"], "model": self.config.model, "r3": c["r3"]}

    def encode(self, components: WanComponents, indices: range, progress: bool,
               workers: int = 1) -> Iterator[dict[str, torch.Tensor]]:
        samples = rendered(partial(make_sample, config=self.config), indices, workers)
        for sample in tqdm(samples, total=len(indices), desc="encoding R3 tuples", disable=not progress):
            yield encode_sample(components, sample, self.recipe)

    def batch(self, step: int) -> list[int]:
        self.step = step
        return batch_indices(self.config, step)

    def context_frames(self, frames: int) -> int:
        """Latent frames given as context at ``self.step`` (0 on a first-clip step)."""
        auto = np.random.default_rng([self.config.seed, self.step, 97]).random() < self.config.r3.ar_fraction
        return max(1, frames // r3.CONTEXT_SHARE) if auto and frames > 1 else 0

    def conditions(self, samples: list[dict[str, torch.Tensor]], text: torch.Tensor, device: torch.device) -> dict:
        x0 = stack(samples, "x0", device)
        c = self.context_frames(x0.shape[2])
        generator = torch.Generator().manual_seed(self.config.seed * 1_000_003 + self.step + 7)
        noise = torch.randn(x0[:, :, :c].shape, generator=generator).to(device)
        return {"views": stack(samples, "views", device), "scene": stack(samples, "scene", device), "text": text,
                "context": x0[:, :, :c] + self.recipe.context_noise * noise,
                "image": stack(samples, "image_tokens", device)}

    def predict(self, transformer: nn.Module, noisy: torch.Tensor, timestep: torch.Tensor, views: torch.Tensor,
                scene: torch.Tensor, text: torch.Tensor, context: torch.Tensor,
                image: torch.Tensor | None = None) -> torch.Tensor:
        c = context.shape[2]
        inputs = r3.R3Inputs(self.recipe, views, scene[:, :, c:], None, image)
        stream = r3.segments(inputs, noisy[:, :, c:], timestep, tuple(transformer.config.patch_size))
        if c:  # the context, clean, just before the video (as at inference); its output is not trained
            stream.insert(-1, Segment(context.to(noisy), torch.zeros_like(timestep), (-c, 0, 0)))
        outputs = forward_segments(transformer, stream, text, image)
        return torch.cat(outputs, dim=2)  # (B, C, f, h, w): the context's frames first

    def anchor(self, samples: list[dict[str, torch.Tensor]], device: torch.device) -> None:
        return None  # R3 denoises the video itself

    def loss(self, prediction: torch.Tensor, target: torch.Tensor, samples: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        c = self.context_frames(prediction.shape[2])
        return (prediction[:, :, c:] - target[:, :, c:]).pow(2).mean(dim=(1, 2, 3, 4))

    def card(self, steps_trained: int) -> dict:
        c, d = self.config, self.config.data
        return {"recipe": "anix", "prediction": c.prediction, "r3": asdict(self.recipe),
                "size": list(d.size), "frames": d.frames, "fps": d.fps, "steps_trained": steps_trained,
                "train_config": self.config.to_dict()}
