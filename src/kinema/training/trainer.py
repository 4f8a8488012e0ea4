"""The flow-matching trainer (SPEC "Training"): LoRA or full, AdamW with warm-up, EMA, gradient
checkpointing and accumulation, bf16 autocast on GPU, DDP / FSDP2 under ``torchrun``. What differs
between recipes R1 and R2 sits behind :class:`~kinema.training.recipe.TrainingRecipe`.

Every random choice is a function of (seed, step), so a resumed run continues bit-identically and
N ranks see exactly the samples and noise of one process on the same global batch.
"""

from __future__ import annotations

import contextlib
import json
import math
import os
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import torch
from safetensors import SafetensorError, safe_open
from safetensors.torch import load_file, save_file
from torch import nn
from torch.distributed.tensor import distribute_tensor
from tqdm import tqdm

from kinema.backbone.components import WanComponents, build_components, load_components
from kinema.backbone.config import PRESETS as BACKBONES
from kinema.backbone.config import get_preset
from kinema.backbone.encoders import encode_prompt
from kinema.backbone.embeddings import extra_embeddings
from kinema.backbone.lora import PATCH_EMBEDDING, add_lora, lora_config, save_lora, save_patch_embeddings
from kinema.errors import KinemaInputError
from kinema.io import atomic_path, write_json_atomic
from kinema.io.atomic import atomic_dir
from kinema.pipelines.models import MODEL_CARD, model_card, resolve_model
from kinema.training import distributed as dist_
from kinema.training.config import OptimConfig, TrainConfig
from kinema.training.data import stack
from kinema.training.flow import NUM_TRAIN_TIMESTEPS, loss_pair, noisy_latents, sample_sigmas, weight_motion
from kinema.training.recipe import TrainingRecipe, get_recipe
from kinema.training.rundir import Checkpoint, RunDir


class SegmentModel(nn.Module):
    """The recipe's token stream through the DiT; the module that DDP / FSDP2 wrap (their hooks need a forward).

    ``forward(noisy, timestep, ...)`` takes the recipe's conditions (R1: condition, text, context, image).
    """

    def __init__(self, transformer: nn.Module, recipe: TrainingRecipe) -> None:
        super().__init__()
        self.transformer, self.recipe = transformer, recipe

    def forward(self, noisy: torch.Tensor, timestep: torch.Tensor, *conditions, **named) -> torch.Tensor:
        return self.recipe.predict(self.transformer, noisy, timestep, *conditions, **named)


CACHE_DTYPE = torch.float16  # encoded samples: exact for 8-bit pixels in [-1, 1], half the memory


def check_backbone(config: TrainConfig) -> None:
    """KinemaInputError when ``config.model`` is not there, or ``config.expert`` does not fit its transformers
    (checked before the run starts)."""
    if config.model not in BACKBONES and not Path(resolve_model(config.model)).is_dir():
        raise KinemaInputError(f"model '{config.model}'", "is neither a backbone preset nor a directory",
                               f"Use one of: {', '.join(BACKBONES)}, or a Wan diffusers directory.")
    two = (get_preset(config.model).boundary_ratio is not None if config.model in BACKBONES
           else (Path(resolve_model(config.model)) / "transformer_2").is_dir())
    if two and config.expert == "none":
        raise KinemaInputError(f"model '{config.model}'", "is a two-expert (Wan2.2 MoE) model, whose experts train "
                               "one at a time, each on its own noise range", "Add --set expert=high or --set expert=low.")
    if not two and config.expert != "none":
        raise KinemaInputError(f"expert={config.expert}", f"names an expert, but model '{config.model}' has one transformer",
                               "Leave expert out (it is for Wan2.2 two-expert models).")


def load_backbone(config: TrainConfig) -> tuple[WanComponents, bool]:
    """Components to train: a preset (seeded random init), a local Wan directory or ``embedded`` (the
    shipped pose model, a warm start); each brings its codec. A Wan2.2 MoE model comes whole: train one
    expert of it through :meth:`WanComponents.only_expert` (``config.expert``)."""
    check_backbone(config)
    if config.model in BACKBONES:
        components, fresh = build_components(get_preset(config.model), seed=config.seed), True
    else:
        components, fresh = load_components(resolve_model(config.model)), False
    return components, fresh


def trained_part(components: WanComponents, config: TrainConfig) -> WanComponents:
    """What trains: the components, or one expert of a two-expert model (``config.expert``)."""
    return components if config.expert == "none" else components.only_expert(config.expert)


def prepare_transformer(components: WanComponents, config: TrainConfig, recipe: TrainingRecipe) -> list[str]:
    """Give the transformer the recipe's inputs (:meth:`TrainingRecipe.prepare`), choose what trains (all, or a
    LoRA plus any patch embedding the recipe changed or added); returns trainable names."""
    transformer = components.transformer
    changed = recipe.prepare(components)
    if config.adapter == "full":
        transformer.requires_grad_(True)
    else:
        transformer.requires_grad_(False)
        add_lora(transformer, lora_config(config.adapter, config.lora_rank))
        if changed:  # new inputs must learn too, and ship with the adapter
            for name in ("patch_embedding", *extra_embeddings(transformer)):
                getattr(transformer, name).requires_grad_(True)
    if config.gradient_checkpointing:
        transformer.enable_gradient_checkpointing()
    transformer.train()
    for module in (components.text_encoder, components.image_encoder):
        if module is not None:
            module.requires_grad_(False)
    return [n for n, p in transformer.named_parameters() if p.requires_grad]


def learning_rate(config: TrainConfig, step: int) -> float:
    """Linear warm-up to ``optim.lr`` over ``optim.warmup_steps``, constant, then linear decay to zero over
    the last ``optim.decay_steps`` (the lower of the two ramps wins where they overlap)."""
    warm, decay = config.optim.warmup_steps, config.optim.decay_steps
    scale = min(1.0, (step + 1) / warm) if warm else 1.0
    if decay:
        scale = min(scale, (config.steps - step) / decay)
    return config.optim.lr * scale


class EMA:
    """Exponential moving average of the trainable parameters, decay warmed up as min(d, (1+n)/(10+n))."""

    def __init__(self, params: dict[str, nn.Parameter], decay: float) -> None:
        self.decay = decay
        self.shadow = {k: p.detach().clone().float() for k, p in params.items()}

    @torch.no_grad()
    def update(self, params: dict[str, nn.Parameter], step: int) -> None:
        d = min(self.decay, (1 + step) / (10 + step))
        for k, p in params.items():
            self.shadow[k].lerp_(p.detach().float(), 1 - d)


def on_device(data: list[dict[str, torch.Tensor]], device: torch.device,
              share: float = 0.5) -> list[dict[str, torch.Tensor]]:
    """The encoded samples moved to an accelerator ``device`` when they fill at most ``share`` of its free memory
    (each step then gathers its batch there, not on the CPU); as they are on the CPU or when they would not fit."""
    if device.type != "cuda":
        return data
    size = sum(v.numel() * v.element_size() for s in data for v in s.values())
    if size > share * torch.cuda.mem_get_info(device)[0]:
        return data
    return [{k: v.to(device) for k, v in s.items()} for s in data]


def batch_noise(shape: tuple[int, ...], generator: torch.Generator, device: torch.device) -> torch.Tensor:
    """Standard normal noise of the global batch, a function of ``generator``'s state: drawn by it on a CPU; on an
    accelerator by a generator there seeded from it (millions of draws on the CPU would outlast the step)."""
    if device.type == "cpu":
        return torch.randn(shape, generator=generator)
    seed = int(torch.randint(2**62, (1,), generator=generator))
    return torch.randn(shape, generator=torch.Generator(device).manual_seed(seed), device=device)


def cache_metadata(path: Path) -> dict[str, str] | None:
    """The metadata of an existing latents cache, None when there is none; KinemaInputError when unreadable."""
    if not path.exists():
        return None
    try:
        with safe_open(str(path), "pt") as f:
            return f.metadata() or {}
    except (OSError, SafetensorError) as err:
        raise KinemaInputError(f"latents cache '{path}'", f"is not a readable safetensors file ({type(err).__name__})",
                               "Delete it (it is rebuilt from the data) or pass another --latents path.") from None


def divergence(config: TrainConfig, loss: float, step: int, kept: bool) -> KinemaInputError:
    """The error for a non-finite loss at ``step``, naming the setting to change: the loss settings when the
    initial weights give it, else ``optim.lr``. ``kept``: the run holds checkpoints, so a rerun needs a new --out."""
    rerun = "rerun with a new --out (this run's checkpoints are kept)" if kept else "rerun (the same --out is reused)"
    if step == 1:
        return KinemaInputError("training config", f"makes the loss {loss} before any update",
                                f"Use the preset's flow.* and prediction settings, and {rerun}.")
    lr = config.optim.lr
    return KinemaInputError(f"optim.lr {lr:g}", f"made the loss {loss} at step {step}",
                            f"Lower it, e.g. --set optim.lr={min(lr / 10, OptimConfig.lr):g}, and {rerun}.")


@dataclass
class TrainResult:
    """Where the run lives, the last step and the per-step global losses of this invocation."""

    run: RunDir
    step: int
    losses: list[float]


# A card's inference defaults chosen by evaluation: the sampler's (pipelines.models.sampler_for) and the long-video
# cross-fade (pipelines.windows).
SAMPLING_KEYS = ("sampling_steps", "guidance", "flow_shift", "overlap")


class Trainer:
    """One training run in ``out``; ``train()`` runs to ``config.steps`` (resuming if asked)."""

    def __init__(self, config: TrainConfig, out: str | os.PathLike, resume: bool = False, progress: bool = True,
                 latents: str | os.PathLike | None = None, workers: int = 1) -> None:
        self.config, self.progress, self.workers, self.world = config, progress, workers, dist_.init_world()
        self.run = RunDir(out, notes=self.world.main)
        self.latents_path = Path(latents) if latents else self.run.path / "latents.safetensors"
        check_backbone(config)  # a missing model or an unreadable cache fails before the run directory is touched
        cache_metadata(self.latents_path)
        if self.world.main:
            self.run.start(config, resume)
        self.world.barrier()
        torch.manual_seed(config.seed)
        self.recipe = get_recipe(config)
        whole, _ = load_backbone(config)
        self.components = trained_part(whole, config)
        self.interval = None if config.expert == "none" else whole.noise_interval(config.expert)
        self.components.to(self.world.device)
        names = prepare_transformer(self.components, config, self.recipe)
        self.data = on_device(self._latents(self.latents_path), self.world.device)
        self.empty_text = encode_prompt(self.components, [""])[0].float().cpu()
        self.model = dist_.wrap(SegmentModel(self.components.transformer, self.recipe), self.world, config.fsdp)
        self.params = {n: p for n, p in self.components.transformer.named_parameters() if n in names}
        o = config.optim
        self.optimizer = torch.optim.AdamW(list(self.params.values()), lr=o.lr, betas=o.betas, weight_decay=o.weight_decay)
        self.ema = EMA(self.params, config.ema_decay)
        self.step = 0
        self.prepare_networks()
        latest = self.run.load_latest(*self.state_names()) if resume else None
        if latest is not None:
            self._restore(latest)
        elif resume and self.world.main:
            print(f"note: no checkpoint to resume in {self.run.path}; starting at step 0", file=sys.stderr)
        if self.world.main:  # what a killed or failed run logged after its checkpoint is logged again from here
            self.run.truncate_metrics(self.step)

    # -- data -------------------------------------------------------------------------------------
    def _latents(self, path: Path) -> list[dict[str, torch.Tensor]]:
        """Encode the data set once (rank 0 writes ``path``; a later run or resume reads it). Floating-point
        tensors are kept as :data:`CACHE_DTYPE`, in memory as in the file, so a resumed run sees the same data."""
        key = json.dumps({**self.recipe.cache_key(), "codec": self.components.codec.fingerprint()}, sort_keys=True)
        if (cache_metadata(path) or {}).get("key") == key:
            data = [{} for _ in range(self.config.data.samples)]
            for key, value in load_file(path).items():  # "INDEX/NAME"
                index, name = key.split("/", 1)
                data[int(index)][name] = value
            return data
        encoded = self.recipe.encode(self.components, range(self.config.data.samples), self.progress and self.world.main,
                                     self.workers)
        data = [{k: v.to(CACHE_DTYPE) if v.is_floating_point() else v for k, v in s.items()} for s in encoded]
        if self.world.main:
            with atomic_path(path) as tmp:
                save_file({f"{i}/{k}": v for i, s in enumerate(data) for k, v in s.items()}, tmp, metadata={"key": key})
        return data

    # -- state ------------------------------------------------------------------------------------
    def prepare_networks(self) -> None:
        """Build what else a subclass trains or reads (before a checkpoint restores it); nothing here."""

    def state_names(self) -> tuple[list[str], list[str]]:
        """The tensors of a checkpoint's model and of its EMA."""
        return list(self.params), list(self.params)

    def checkpoint(self) -> Checkpoint:
        """Gather the full (unsharded) state; collective under FSDP."""
        model_state = dist_.full_model_state(self.model)
        prefix = "transformer."
        trainable = {k[len(prefix):]: v for k, v in model_state.items() if k[len(prefix):] in self.params}
        ema = {k: dist_.full_tensor(v).cpu() for k, v in self.ema.shadow.items()}
        return Checkpoint(self.step, trainable, ema, dist_.full_optimizer_state(self.model, self.optimizer))

    def _restore(self, ckpt: Checkpoint) -> None:
        model_state = {f"transformer.{k}": v for k, v in ckpt.model.items()}
        dist_.load_full_state(self.model, self.optimizer, model_state, ckpt.optimizer)
        for k, v in ckpt.ema.items():
            shadow = self.ema.shadow[k]
            if hasattr(shadow, "device_mesh"):  # FSDP2: keep this rank's shard
                v = distribute_tensor(v.to(shadow.dtype), shadow.device_mesh, shadow.placements).to_local()
                shadow.to_local().copy_(v)
            else:
                shadow.copy_(v)
        self.step = ckpt.step

    # -- one optimiser step ---------------------------------------------------------------------
    def _autocast(self):
        if self.config.mixed_precision == "bf16":
            return torch.autocast(self.world.device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    def train_step(self) -> float:
        """One optimiser step on the global batch of ``self.step``; returns its mean loss."""
        c, world = self.config, self.world
        generator = torch.Generator().manual_seed(c.seed * 1_000_003 + self.step)
        indices = self.recipe.batch(self.step)
        shapes = self.data[indices[0]]["x0"].shape
        sigmas = sample_sigmas(c.batch_size, c.flow, generator, self.interval)  # global draws, then this rank's share
        noise = batch_noise((c.batch_size, *shapes), generator, world.device)
        drop = torch.rand(c.batch_size, generator=generator) < c.text_dropout
        local = world.shard(list(range(c.batch_size)))
        micro = len(local) // c.grad_accum
        for group in self.optimizer.param_groups:
            group["lr"] = learning_rate(c, self.step)
        total = 0.0
        for m in range(c.grad_accum):
            rows = local[m * micro:(m + 1) * micro]
            samples = [self.data[indices[i]] for i in rows]
            text = torch.stack([(self.empty_text if drop[i] else s["text"]).to(world.device, torch.float32)
                                for i, s in zip(rows, samples)])
            x0, eps, sigma = stack(samples, "x0", world.device), noise[rows].to(world.device), sigmas[rows].to(world.device)
            anchor = self.recipe.anchor(samples, world.device)
            if anchor is not None:
                x0 = x0 - anchor
            x_t, _ = noisy_latents(x0, eps, sigma)
            sync = m == c.grad_accum - 1 or not hasattr(self.model, "no_sync")
            with (contextlib.nullcontext() if sync else self.model.no_sync()), self._autocast():
                output = self.model(x_t, sigma * NUM_TRAIN_TIMESTEPS,
                                    **self.recipe.conditions(samples, text.to(world.device), world.device))
                pred, target = loss_pair(output.float(), x_t, x0, eps, sigma, c.prediction, c.flow)
                if anchor is not None and c.flow.motion_weight:
                    pred, target = weight_motion(pred, target, x0, c.flow.motion_weight)
                loss = self.recipe.loss(pred, target, samples).sum() / len(local)
            loss.backward()
            total += float(loss.detach())
        norm = torch.nn.utils.clip_grad_norm_(list(self.params.values()), c.optim.grad_clip)
        self.optimizer.step()
        self.optimizer.zero_grad(set_to_none=True)
        self.ema.update(self.params, self.step)
        self.step += 1
        self._last_grad_norm = float(dist_.full_tensor(norm)) if torch.is_tensor(norm) else float(norm)
        return world.mean(total)

    def step_metrics(self) -> dict[str, float]:
        """What the metrics log records of the last step besides its loss."""
        return {"grad_norm": self._last_grad_norm}

    # -- the loop -------------------------------------------------------------------------------
    def train(self) -> TrainResult:
        c, losses = self.config, []
        bar = tqdm(total=c.steps, initial=self.step, desc="training", disable=not (self.progress and self.world.main))
        while self.step < c.steps:
            start = time.perf_counter()
            loss = self.train_step()
            losses.append(loss)
            if not math.isfinite(loss):
                raise divergence(c, loss, self.step, self.run.holds_results())
            if self.world.main and (self.step % c.log_every == 0 or self.step == c.steps):
                self.run.log({"step": self.step, "loss": loss, "lr": learning_rate(c, self.step - 1),
                              **self.step_metrics(), "seconds": time.perf_counter() - start})
            bar.update(1)
            bar.set_postfix(loss=f"{loss:.4f}")
            if self.step % c.checkpoint_every == 0 or self.step == c.steps:
                ckpt = self.checkpoint()
                if self.world.main:
                    self.run.save(ckpt, c.keep_checkpoints)
                self.world.barrier()
        bar.close()
        self.export()
        return TrainResult(self.run, self.step, losses)

    # -- export ---------------------------------------------------------------------------------
    def model_card(self) -> dict:
        """``kinema.json``: what the inference pipeline needs to drive the exported model. A fine-tune keeps the
        inference settings its base's card chose by evaluation (``SAMPLING_KEYS``), for the same recipe."""
        card = {**self.recipe.card(self.step), "codec": self.components.codec.describe()}
        base = model_card(self.config.model)
        if base.get("recipe") != card["recipe"]:
            return card
        return {**{k: base[k] for k in SAMPLING_KEYS if k in base}, **card}

    def export(self) -> Path:
        """Write EMA inference weights: a full diffusers directory, or a LoRA file (+ kinema.json, + the patch
        embeddings when the recipe changed or added them)."""
        ema = {k: dist_.full_tensor(v).cpu() for k, v in self.ema.shadow.items()}
        full = dist_.full_model_state(self.model)
        if not self.world.main:
            return self.run.export
        whole, _ = load_backbone(self.config)
        components = trained_part(whole, self.config)  # one expert of a MoE model: trained in place within whole
        trained = prepare_transformer(components, self.config, self.recipe)
        state = {k[len("transformer."):]: v for k, v in full.items()}
        state.update(ema)
        components.transformer.load_state_dict(state)
        components.transformer.eval()
        out = self.run.export
        if self.config.adapter == "full":
            components.transformer.to(getattr(torch, self.config.export_dtype))  # loaders cast back to theirs
            with atomic_dir(out / "model") as tmp:
                whole.save(tmp)
                write_json_atomic(tmp / MODEL_CARD, self.model_card())
        else:  # the adapter, its card, and the patch embeddings that trained with it
            card = self.model_card()
            if self.config.expert != "none":  # a Wan2.2 expert's adapter loads into that expert
                card["expert"] = self.config.expert
            if "patch_embedding.weight" in trained:
                save_patch_embeddings(components.transformer, out / PATCH_EMBEDDING)
                card["patch_embedding"] = PATCH_EMBEDDING
            save_lora(components.transformer, out / "lora.safetensors")
            write_json_atomic(out / MODEL_CARD, card)
        return out
