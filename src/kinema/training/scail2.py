"""Recipe R2 (SCAIL-2 §3.3) in the trainer: reverse-driving puppet triplets, mode-grouped batches.

Data. A sample is a puppet-world triplet (:func:`kinema.puppet.make_triplet`): the driving video is
another identity performing the motion, the target is the original identity performing it, the
reference a still of the original (alone, in its own environment). Animation targets keep the
reference's environment; replacement targets are the driving shot with the subject swapped (other
actors stay as bystanders). Masks come from the puppet segmenter of the reference and driving clips
(:func:`kinema.segment.triplet_slots`, as in evaluation), never from the target. Each sample's mode
is drawn from its index: replacement with probability ``r2.replace_fraction`` (SCAIL-2's ~3:1 mix).

Encoding goes through :func:`kinema.recipes.scail2.build_inputs`, the builder inference uses.

Batches. The segments' RoPE coordinates depend on the mode and ``r2.predict`` takes one
offset per segment for the whole batch, so a step trains one mode: the step's mode is drawn from
(seed, step) with probability proportional to the number of samples of each mode (every sample is
seen equally often in expectation), and its batch is the next run of a per-epoch permutation of
that mode's samples. Loss: flow matching on the video tokens (the reference and driving tokens are
given, not predicted).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass
from functools import partial

import numpy as np
import torch
from torch import nn
from tqdm import tqdm

from kinema.backbone.components import WanComponents
from kinema.backbone.encoders import encode_prompt
from kinema.guidance.puppet import triplet_description
from kinema.pipelines.inputs import to_tensor
from kinema.puppet import SynthConfig, make_triplet
from kinema.puppet.dataset import sample_seed
from kinema.recipes import scail2 as r2
from kinema.segment import triplet_slots
from kinema.training.config import TrainConfig
from kinema.training.data import epoch_order, rendered, stack
from kinema.training.flow import flow_loss
from kinema.training.history import history_frames, history_latents, trained_frames


@dataclass
class ScailSample:
    """Pixels of one R2 example, masks in slot order (float32 in [0, 1]).

    Attributes:
        references: (K, H, W, 3) uint8; driving, target: (T, H, W, 3) uint8.
        reference_masks: (K, S, H, W); driving_masks: (T, S, H, W).
    """

    mode: r2.Mode
    references: np.ndarray
    driving: np.ndarray
    target: np.ndarray
    reference_masks: np.ndarray
    driving_masks: np.ndarray
    text: str


def sample_mode(index: int, config: TrainConfig) -> r2.Mode:
    """The mode of sample ``index``: replacement with probability ``r2.replace_fraction``."""
    draw = np.random.default_rng([config.data.seed, index, 83]).random()
    return "replace" if draw < config.r2.replace_fraction else "animate"


def _synth(config: TrainConfig) -> SynthConfig:
    d, c = config.data, config.r2
    actors = (c.characters, c.characters) if c.characters > 1 else (1, 1 + c.bystanders)
    return SynthConfig(size=d.size, frames=d.frames, fps=d.fps, families=d.families, characters=actors,
                       camera_prob=d.camera_prob, modes=("animate", "replace", "multi"))


def make_sample(index: int, config: TrainConfig) -> ScailSample:
    """Sample ``index`` of the R2 data set of ``config`` (a pure function of both)."""
    seed = sample_seed(config.data.seed, index)
    mode = sample_mode(index, config)
    triplet = make_triplet("multi" if config.r2.characters > 1 else mode, seed, _synth(config))
    slots = triplet_slots(triplet, config.r2.slots)
    return ScailSample(mode, triplet.reference_images, triplet.driving.frames, triplet.target.frames,
                       slots.reference, slots.driving, triplet_description(triplet, config.data.text_chars))


@torch.no_grad()
def encode_sample(components: WanComponents, sample: ScailSample, recipe: r2.R2Config) -> dict[str, torch.Tensor]:
    """Latents of one sample through ``r2.build_inputs``: ``references`` (C+4, K, h, w) and ``reference_masks``
    (28, K, h, w), ``driving`` (C+4, f, h', w') and ``driving_masks`` (28, f, h', w'), ``x0`` (C, f, h, w),
    ``text`` (L, D), and ``mode``."""
    device = components.transformer.device
    refs = to_tensor(sample.references)[0].transpose(0, 1)[None].to(device)  # (1, K, 3, H, W)
    ref_masks = torch.from_numpy(sample.reference_masks)[None].to(device)  # (1, K, S, H, W)
    drv_masks = torch.from_numpy(sample.driving_masks).transpose(0, 1)[None].to(device)  # (1, S, T, H, W)
    inputs = r2.build_inputs(components, refs, to_tensor(sample.driving).to(device), ref_masks, drv_masks,
                             sample.mode, recipe)
    out = {"references": inputs.references[0], "reference_masks": inputs.reference_masks[0],
           "driving": inputs.driving[0], "driving_masks": inputs.driving_masks[0],
           "x0": r2.target_latents(components, to_tensor(sample.target).to(device))[0],
           "text": encode_prompt(components, [sample.text])[0]}
    if inputs.image_tokens is not None:
        out["image_tokens"] = inputs.image_tokens[0]
    out = {k: v.float().cpu().contiguous() for k, v in out.items()}
    return {**out, "mode": torch.tensor(r2.MODES.index(sample.mode))}


def step_mode(config: TrainConfig, modes: list[int], step: int) -> tuple[int, int]:
    """(mode of ``step``, how many earlier steps had that mode); P(mode m) = share of mode-m samples."""
    replace_share = sum(modes) / len(modes)
    draws = np.random.default_rng([config.seed, 89]).random(step + 1) < replace_share  # prefix-stable in step
    mode = int(draws[step])
    return mode, int((draws[:step] == bool(mode)).sum())


class ScailRecipe:
    """R2: references, raw driving video and slot masks in; the target's video latents predicted."""

    def __init__(self, config: TrainConfig) -> None:
        self.config, self.recipe = config, config.r2.recipe()
        self.clean_conditions = False  # the base's, read by prepare: conditions at t = 0 (r2.R2Inputs)
        self.step = 0
        self.modes = [r2.MODES.index(sample_mode(i, config)) for i in range(config.data.samples)]

    def prepare(self, components: WanComponents) -> bool:
        transformer, before = components.transformer, components.transformer.config.in_channels
        self.clean_conditions = components.expand_timesteps
        return bool(r2.prepare_transformer(transformer, components.codec.channels)) or before != transformer.config.in_channels

    def cache_key(self) -> dict:
        c = self.config.to_dict()
        return {"recipe": "scail-2", "data": c["data"], "model": self.config.model, "r2": c["r2"]}

    def encode(self, components: WanComponents, indices: range, progress: bool,
               workers: int = 1) -> Iterator[dict[str, torch.Tensor]]:
        samples = rendered(partial(make_sample, config=self.config), indices, workers)
        for sample in tqdm(samples, total=len(indices), desc="encoding R2 samples", disable=not progress):
            yield encode_sample(components, sample, self.recipe)

    def batch(self, step: int) -> list[int]:
        self.step = step  # conditions() and loss() follow its history draw
        mode, earlier = step_mode(self.config, self.modes, step)
        pool = [i for i, m in enumerate(self.modes) if m == mode]
        size = self.config.batch_size
        order = epoch_order(len(pool), self.config.seed * 2 + mode, range(earlier * size, (earlier + 1) * size))
        return [pool[i] for i in order]

    def conditions(self, samples: list[dict[str, torch.Tensor]], text: torch.Tensor, device: torch.device) -> dict:
        modes = {int(s["mode"]) for s in samples}
        if len(modes) > 1 or len({s["references"].shape for s in samples}) > 1:
            raise RuntimeError("an R2 batch mixes modes or reference counts; batches must hold one mode")
        return {**{k: stack(samples, k, device) for k in ("references", "reference_masks", "driving", "driving_masks")},
                "text": text, "mode": r2.MODES[modes.pop()], "image": stack(samples, "image_tokens", device),
                "history": history_latents(self.config, self.step, stack(samples, "x0", device))}

    def predict(self, transformer: nn.Module, noisy: torch.Tensor, timestep: torch.Tensor, references: torch.Tensor,
                reference_masks: torch.Tensor, driving: torch.Tensor, driving_masks: torch.Tensor, text: torch.Tensor,
                mode: r2.Mode, image: torch.Tensor | None = None, history: torch.Tensor | None = None) -> torch.Tensor:
        inputs = r2.R2Inputs(mode, self.recipe, references, reference_masks, driving, driving_masks, noisy.shape[2], image,
                             self.clean_conditions, history)
        return r2.predict(transformer, inputs, noisy, timestep, text)

    def anchor(self, samples: list[dict[str, torch.Tensor]], device: torch.device) -> None:
        return None  # R2 denoises the video itself

    def loss(self, prediction: torch.Tensor, target: torch.Tensor, samples: list[dict[str, torch.Tensor]]) -> torch.Tensor:
        return flow_loss(*trained_frames(prediction, target, history_frames(self.config, self.step)))

    def card(self, steps_trained: int) -> dict:
        c, d = self.config, self.config.data
        return {"recipe": "scail-2", "driving": "rgb", "prediction": c.prediction,
                **({"sigma_data": c.flow.sigma_data} if c.prediction == "preconditioned" else {}),
                "r2": asdict(self.recipe), "characters": c.r2.characters,
                "size": list(d.size), "frames": d.frames, "fps": d.fps, "text_chars": d.text_chars,
                **({"history": {"latents": c.history.latents, "noise": c.history.noise}} if c.history.fraction else {}),
                "steps_trained": steps_trained, "train_config": self.config.to_dict()}
