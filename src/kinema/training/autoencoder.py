"""Train the puppet preset's ``AutoencoderKLWan`` on puppet-world video.

The embedded animation model encodes R1 composites ``[reference | skeleton]`` (64 x 128, the left
half black after frame 0, DreamActor-M2 eq. 2), so the autoencoder sees puppet clips, rendered
skeletons of those clips (some augmented), black frames and such composites. Clips are 1 + 4k
frames (5 or 9) so both the first-frame and the 4-frame causal paths of the Wan VAE are learned.

Loss: L1 + ``mse_weight`` * MSE on the reconstruction + ``kl_weight`` * KL(q(z|x) || N(0, I)),
averaged per element, + ``consistency_weight`` * the mean squared change of the posterior mean between
consecutive 4-frame latents of *static* clips (a ``static_frac`` share of each batch: one frame
repeated). Without it the causal encoder drifts: identical 4-frame groups of a still scene get
different latents, a nuisance the DiT would have to learn to predict exactly. After training the
per-channel mean and std of the posterior mode over fresh training clips are stored as
``latents_mean`` / ``latents_std`` in the VAE config, which is what
:func:`kinema.backbone.encoders.encode_video` normalises with.

    python -m kinema.training.autoencoder --out runs/puppet-vae --steps 600 --seed 0
"""

from __future__ import annotations

import argparse
import json
import math
import os
import shutil
import tempfile
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan

from kinema.backbone.config import VAEConfig, get_preset
from kinema.errors import KinemaInputError
from kinema.pose.augment import PoseAugmentConfig, augment_pose
from kinema.pose.render import render_pose
from kinema.puppet import FAMILIES, SynthConfig, make_scene, render_scene

TRAIN_SEEDS = (0, 1_000_000_000)  # puppet scene seeds used for training; evaluation uses seeds >= 2**31
LEFT_KINDS = ("reference", "frames", "skeleton", "black")  # left half: R1 reference-then-black, ...
LEFT_PROBS = (0.4, 0.3, 0.15, 0.15)
RIGHT_KINDS = ("skeleton", "frames")
RIGHT_PROBS = (0.65, 0.35)


@dataclass(frozen=True)
class AutoencoderTrainConfig:
    """One training run. ``frames`` are the clip lengths drawn per step (each 1 + 4k); ``size`` is
    one half of the composite (W, H); every other step trains on the two halves as separate clips."""

    steps: int = 600
    batch: int = 4
    lr: float = 1e-3
    warmup: int = 20
    weight_decay: float = 0.0
    frames: tuple[int, ...] = (5, 9)
    size: tuple[int, int] = (64, 64)
    kl_weight: float = 1e-4
    mse_weight: float = 1.0
    grad_clip: float = 1.0
    camera_prob: float = 0.5
    pose_augment_prob: float = 0.5
    stats_clips: int = 32
    seed: int = 0
    log_every: int = 25
    max_minutes: float | None = None  # stop early after this much training time (steps done are logged)
    crop: int | None = None  # train on random crop x crop windows (the VAE is convolutional): ~4x cheaper at 32
    decoder_only: bool = False  # freeze the encoder (its latents and stats stay valid for a trained DiT)
    static_frac: float = 0.0  # share of each batch made static (frame 0 repeated), for the consistency term
    consistency_weight: float = 0.0

    def __post_init__(self) -> None:
        if self.steps < 1 or self.batch < 1 or self.lr <= 0:
            raise KinemaInputError("training config", f"steps={self.steps}, batch={self.batch}, lr={self.lr}",
                                   "Use steps >= 1, batch >= 1 and lr > 0.")
        if not self.frames or any(f < 1 or (f - 1) % 4 for f in self.frames):
            raise KinemaInputError("frames", f"{self.frames} are not all of the form 1 + 4k",
                                   "Use clip lengths such as 5 or 9.")
        if not 0.0 <= self.static_frac <= 1.0 or self.consistency_weight < 0:
            raise KinemaInputError("static_frac/consistency_weight", f"{self.static_frac}/{self.consistency_weight}",
                                   "Use static_frac in [0, 1] and consistency_weight >= 0.")
        if min(self.size) < 16 or any(s % 4 for s in self.size):
            raise KinemaInputError("size", f"{self.size} is not a multiple of 4 of at least 16",
                                   "Use e.g. 64x64 (the VAE downsamples space by 4).")


PRESETS: dict[str, AutoencoderTrainConfig] = {
    "tiny": AutoencoderTrainConfig(steps=3, batch=2, frames=(5,), size=(16, 16), stats_clips=2, log_every=1),
    "puppet": AutoencoderTrainConfig(steps=2000, batch=8, frames=(5,), crop=32, log_every=100),
    # Stage 2: the decoder on whole 21-frame clips (stage 1 never saw more than 2 latent frames).
    "puppet-decoder": AutoencoderTrainConfig(steps=600, batch=2, frames=(21,), crop=32, lr=3e-4, warmup=10,
                                             log_every=50, decoder_only=True),
    # Stage 3: encoder and decoder on 9- and 21-frame clips, still ones among them, so the 4-frame latents
    # after the second are trained too and a still scene keeps one latent (a weight of 1 collapsed the posterior).
    "puppet-long": AutoencoderTrainConfig(steps=600, batch=4, frames=(9, 21), crop=32, lr=3e-4, warmup=10,
                                          log_every=25, static_frac=0.25, consistency_weight=0.1),
}


def build_vae(config: VAEConfig | None = None) -> AutoencoderKLWan:
    """A freshly initialised ``AutoencoderKLWan`` of ``config`` (default: the ``puppet`` preset's)."""
    config = config or get_preset("puppet").vae
    return AutoencoderKLWan(base_dim=config.base_dim, z_dim=config.z_dim, dim_mult=list(config.dim_mult),
                            num_res_blocks=config.num_res_blocks, temperal_downsample=list(config.temperal_downsample))


def skeleton_video(clip, rng: np.random.Generator, augment_prob: float) -> np.ndarray:  # noqa: ANN001 - puppet Clip
    """(T, H, W, 3) uint8 skeletons of every actor of ``clip``, some augmented, merged by max."""
    height, width = clip.frames.shape[1:3]
    out = np.zeros_like(clip.frames)
    for kp in clip.keypoints:
        if rng.random() < augment_prob:
            kp = augment_pose(kp, PoseAugmentConfig(bone_scale_prob=1.0, bbox_normalize=bool(rng.random() < 0.5)), rng)
        out = np.maximum(out, render_pose(kp, size=(width, height)))
    return out


def render_clip(seed: int, frames: int, config: AutoencoderTrainConfig):  # noqa: ANN201 - puppet Clip
    """A random puppet scene (all families, 1-2 actors, camera motion with ``camera_prob``)."""
    synth = SynthConfig(size=config.size, frames=frames, families=tuple(FAMILIES), characters=(1, 2), camera_prob=config.camera_prob)
    return render_scene(make_scene(seed, synth))


def _half(kind: str, clip, skeleton: np.ndarray) -> np.ndarray:  # noqa: ANN001 - puppet Clip
    """One (T, H, W, 3) uint8 half of a composite."""
    if kind == "frames":
        return clip.frames
    if kind == "skeleton":
        return skeleton
    out = np.zeros_like(clip.frames)
    if kind == "reference":
        out[0] = clip.frames[0]
    return out


def sample_composite(rng: np.random.Generator, frames: int, config: AutoencoderTrainConfig) -> np.ndarray:
    """(T, H, 2W, 3) uint8 ``[left | right]``: left from LEFT_KINDS, right from RIGHT_KINDS."""
    clips = [render_clip(int(rng.integers(*TRAIN_SEEDS)), frames, config) for _ in range(2)]
    skeletons = [skeleton_video(c, rng, config.pose_augment_prob) for c in clips]
    left = _half(str(rng.choice(LEFT_KINDS, p=LEFT_PROBS)), clips[0], skeletons[1])
    right = _half(str(rng.choice(RIGHT_KINDS, p=RIGHT_PROBS)), clips[1], skeletons[1])
    return np.concatenate([left, right], axis=2)


def to_tensor(videos: np.ndarray) -> torch.Tensor:
    """(B, T, H, W, 3) uint8 -> (B, 3, T, H, W) float in [-1, 1]."""
    return torch.from_numpy(videos).permute(0, 4, 1, 2, 3).float() / 127.5 - 1.0


def static_rows(config: AutoencoderTrainConfig, rows: int) -> int:
    """How many leading rows of a batch of ``rows`` clips are static."""
    return math.ceil(rows * config.static_frac)


def sample_batch(rng: np.random.Generator, step: int, config: AutoencoderTrainConfig) -> torch.Tensor:
    """(B, 3, F, H, 2W) composites on even steps, (2B, 3, F, H, W) halves on odd steps; the first
    :func:`static_rows` of them repeat their frame 0."""
    frames = int(rng.choice(config.frames))
    x = to_tensor(np.stack([sample_composite(rng, frames, config) for _ in range(config.batch)]))
    if step % 2:
        x = torch.cat(x.chunk(2, dim=-1))  # (2B, 3, F, H, W)
    if config.crop:  # one window per sample, on the latent grid (stride 4)
        h, w = x.shape[-2:]
        ys = rng.integers(0, (h - config.crop) // 4 + 1, len(x)) * 4
        xs = rng.integers(0, (w - config.crop) // 4 + 1, len(x)) * 4
        x = torch.stack([v[..., y:y + config.crop, x0:x0 + config.crop] for v, y, x0 in zip(x, ys, xs)])
    k = static_rows(config, len(x))
    x[:k] = x[:k, :, :1].expand_as(x[:k])
    return x


def vae_loss(vae: AutoencoderKLWan, x: torch.Tensor, config: AutoencoderTrainConfig) -> tuple[torch.Tensor, dict[str, float]]:
    """L1 + mse_weight * MSE + kl_weight * KL (the VAE objective, Kingma & Welling eq. 10) + consistency_weight *
    the still clips' latent drift, each a per-element mean."""
    with torch.set_grad_enabled(not config.decoder_only):
        posterior = vae.encode(x).latent_dist
    z = posterior.mode() if config.decoder_only else posterior.sample()  # inference decodes modes
    recon = vae.decode(z).sample  # (B, 3, F, H, W)
    l1 = (recon - x).abs().mean()
    mse = (recon - x).pow(2).mean()
    kl = 0.5 * (posterior.mean.pow(2) + posterior.var - 1.0 - posterior.logvar).mean()
    still = posterior.mean[: static_rows(config, len(x)), :, 1:]  # (k, C, f-1, h, w): the 4-frame latents
    drift = (still[:, :, 1:] - still[:, :, :-1]).pow(2).mean() if still.shape[0] and still.shape[2] > 1 else kl.new_zeros(())
    loss = l1 + config.mse_weight * mse + config.kl_weight * kl + config.consistency_weight * drift
    return loss, {"loss": loss.item(), "l1": l1.item(), "mse": mse.item(), "kl": kl.item(), "drift": drift.item()}


def lr_at(step: int, config: AutoencoderTrainConfig) -> float:
    """Linear warm-up, then cosine decay to 10 % of ``lr``."""
    if step < config.warmup:
        return config.lr * (step + 1) / config.warmup
    progress = (step - config.warmup) / max(1, config.steps - config.warmup)
    return config.lr * (0.1 + 0.45 * (1.0 + math.cos(math.pi * progress)))


def train(config: AutoencoderTrainConfig, vae: AutoencoderKLWan | None = None, log=print,  # noqa: ANN001
          shape: VAEConfig | None = None, device: str = "cpu") -> AutoencoderKLWan:
    """Train ``vae`` (default: a fresh VAE of ``shape``, else of the puppet preset, seeded with
    ``config.seed``) on ``device`` and set its latent stats; returns it on the CPU."""
    torch.manual_seed(config.seed)
    vae = (vae or build_vae(shape)).to(device)
    vae.train()
    if config.decoder_only:
        vae.requires_grad_(False)
        for module in (vae.post_quant_conv, vae.decoder):
            module.requires_grad_(True)
    rng = np.random.default_rng([config.seed, 11])
    params = [p for p in vae.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=config.lr, weight_decay=config.weight_decay)
    start = time.perf_counter()
    for step in range(config.steps):
        if config.max_minutes is not None and time.perf_counter() - start > 60 * config.max_minutes:
            log(f"time budget of {config.max_minutes} min reached after {step} steps")
            break
        for group in opt.param_groups:
            group["lr"] = lr_at(step, config)
        loss, parts = vae_loss(vae, sample_batch(rng, step, config).to(device), config)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, config.grad_clip)
        opt.step()
        if step % config.log_every == 0 or step == config.steps - 1:
            log(f"step {step:5d}  " + "  ".join(f"{k} {v:.4f}" for k, v in parts.items())
                + f"  {time.perf_counter() - start:.0f}s")
    vae.eval()
    if not config.decoder_only:
        set_latent_stats(vae, np.random.default_rng([config.seed, 13]), config)
    return vae.cpu()


@torch.no_grad()
def set_latent_stats(vae: AutoencoderKLWan, rng: np.random.Generator, config: AutoencoderTrainConfig) -> None:
    """Store the per-channel mean / std of the posterior mode over fresh training composites."""
    device = next(vae.parameters()).device
    z = torch.cat([vae.encode(to_tensor(sample_composite(rng, max(config.frames), config)[None]).to(device)).latent_dist.mode()
                   for _ in range(config.stats_clips)], dim=2)  # (1, C, sum f, h, w)
    z = z.transpose(0, 1).flatten(1)  # (C, N)
    vae.register_to_config(latents_mean=z.mean(1).tolist(), latents_std=z.std(1).clamp_min(1e-4).tolist())


def save(vae: AutoencoderKLWan, out: str | os.PathLike, config: AutoencoderTrainConfig) -> Path:
    """``save_pretrained`` (safetensors) plus ``train_config.json`` into a temp dir, then rename to ``out``."""
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", dir=out.parent))
    tmp.chmod(0o755)
    try:
        vae.save_pretrained(tmp, safe_serialization=True)
        (tmp / "train_config.json").write_text(json.dumps(asdict(config), indent=2) + "\n")
        old = out.with_name(f".{out.name}.old")
        if out.exists():
            out.rename(old)
        tmp.rename(out)
        shutil.rmtree(old, ignore_errors=True)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kinema.training.autoencoder", description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True, help="output directory (diffusers format)")
    parser.add_argument("--preset", default="puppet", choices=sorted(PRESETS))
    parser.add_argument("--steps", type=int, help="optimiser steps (default: the preset's)")
    parser.add_argument("--seed", type=int, help="random seed (default: the preset's)")
    parser.add_argument("--max-minutes", type=float, help="stop training after this many minutes")
    parser.add_argument("--batch", type=int, help="clips per step (default: the preset's)")
    parser.add_argument("--init", type=Path, help="continue from a saved VAE directory instead of a fresh one")
    parser.add_argument("--lr", type=float, help="peak learning rate (default: the preset's)")
    parser.add_argument("--warmup", type=int, help="warm-up steps (default: the preset's)")
    parser.add_argument("--base-dim", type=int, help="a fresh VAE's base width (default: the puppet backbone's)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu",
                        help="torch device (default: cuda when available)")
    args = parser.parse_args(argv)
    torch.set_num_threads(args.threads)
    overrides = {k: v for k, v in (("steps", args.steps), ("seed", args.seed),
                                             ("batch", args.batch), ("max_minutes", args.max_minutes), ("lr", args.lr),
                                             ("warmup", args.warmup)) if v is not None}
    try:
        config = AutoencoderTrainConfig(**{**asdict(PRESETS[args.preset]), **overrides})
    except KinemaInputError as err:
        parser.exit(2, f"error: {err}\n")
    if args.init and args.base_dim:
        parser.exit(2, "error: --base-dim sets a fresh VAE's width; leave it out with --init\n")
    shape = replace(get_preset("puppet").vae, base_dim=args.base_dim) if args.base_dim else None
    vae = AutoencoderKLWan.from_pretrained(args.init) if args.init else None
    out = save(train(config, vae, shape=shape, device=args.device), args.out, config)
    print(f"wrote {out}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
