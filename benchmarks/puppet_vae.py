"""Reconstruction PSNR of the puppet VAE, decode(encode(x)), on held-out puppet clips.

Held-out scenes use seeds >= 2**31, never drawn in training (``TRAIN_SEEDS``). Each clip has 17
frames; three inputs are measured: plain 64x64 frames, ``[frame | skeleton]`` 64x128 composites and
the R1 composites ``[reference then black | skeleton]`` the animation model encodes. PSNR (8-bit
output, per clip, then averaged) over the whole frame and inside the character masks (the frame
half), for the trained VAE and for an untrained VAE of the same shape. Also the *static drift*: the
mean squared change between consecutive 4-frame latents (normalised by the VAE's latent stats) of
held-out still clips — 0 for an encoder whose identical 4-frame groups get identical latents.

    python benchmarks/puppet_vae.py                       # the shipped src/kinema/assets/puppet/vae
    python benchmarks/puppet_vae.py --vae runs/vae --clips 8
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch
from diffusers import AutoencoderKLWan

import kinema
from kinema.eval.metrics import psnr
from kinema.training.autoencoder import AutoencoderTrainConfig, build_vae, render_clip, skeleton_video, to_tensor

HELD_OUT_SEED = 2**31
SHIPPED = Path(kinema.__file__).parent / "assets" / "puppet" / "vae"


@torch.no_grad()
def reconstruct(vae: AutoencoderKLWan, video: np.ndarray) -> np.ndarray:
    """(T, H, W, 3) uint8 -> decode(encode(video)) with the posterior mode, as uint8."""
    z = vae.encode(to_tensor(video[None])).latent_dist.mode()
    out = vae.decode(z).sample.clamp(-1, 1)[0]  # (3, T, H, W)
    return ((out.permute(1, 2, 3, 0) + 1) * 127.5).round().to(torch.uint8).numpy()


def cases(seed: int, config: AutoencoderTrainConfig) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Input video and character mask (T, H, W) of each measured case for one held-out scene."""
    clip = render_clip(seed, 17, config)
    skeleton = skeleton_video(clip, np.random.default_rng(seed), augment_prob=0.0)
    mask = clip.masks.any(axis=1)  # (T, H, W)
    reference = np.zeros_like(clip.frames)
    reference[0] = clip.frames[0]
    r1_mask = np.zeros_like(mask)
    r1_mask[0] = mask[0]
    pad = np.zeros_like(mask)
    return {
        "frames 64x64": (clip.frames, mask),
        "[frame|skeleton] 64x128": (np.concatenate([clip.frames, skeleton], 2), np.concatenate([mask, pad], 2)),
        "R1 [ref,0..|skeleton] 64x128": (np.concatenate([reference, skeleton], 2), np.concatenate([r1_mask, pad], 2)),
    }


def evaluate(vae: AutoencoderKLWan, clips: int) -> dict[str, tuple[float, float]]:
    """Mean (whole-frame, character-mask) PSNR per case over ``clips`` held-out scenes."""
    config = AutoencoderTrainConfig(camera_prob=0.5)
    scores: dict[str, list[tuple[float, float]]] = {}
    for i in range(clips):
        for name, (video, mask) in cases(HELD_OUT_SEED + i, config).items():
            recon = reconstruct(vae, video)
            scores.setdefault(name, []).append((psnr(recon, video), psnr(recon, video, mask)))
    return {name: tuple(np.mean(v, axis=0)) for name, v in scores.items()}


@torch.no_grad()
def static_drift(vae: AutoencoderKLWan, clips: int, frames: int = 21) -> float:
    """Mean squared change between consecutive 4-frame latents of still held-out frames, in units of
    the latent std (the DiT's normalisation)."""
    config = AutoencoderTrainConfig(camera_prob=0.0)
    std = torch.tensor(vae.config.latents_std or [1.0] * vae.config.z_dim).view(1, -1, 1, 1, 1)
    drifts = []
    for i in range(clips):
        still = np.repeat(render_clip(HELD_OUT_SEED + i, 1, config).frames[:1], frames, axis=0)
        z = vae.encode(to_tensor(still[None])).latent_dist.mode()[:, :, 1:] / std  # (1, C, f-1, h, w)
        drifts.append(float((z[:, :, 1:] - z[:, :, :-1]).pow(2).mean()))
    return float(np.mean(drifts))


def windows(vae: AutoencoderKLWan, clips: int, crop: int = 32) -> tuple[float, float, float, float]:
    """PSNR of the crop x crop windows of plain 9-frame clips: (min, max) over windows of the whole-frame
    reconstruction, and the mean of it and of reconstructing each window alone (training used crops)."""
    config = AutoencoderTrainConfig(camera_prob=0.0)
    whole, alone = [], []
    for i in range(clips):
        clip = render_clip(HELD_OUT_SEED + i, 9, config).frames
        recon = reconstruct(vae, clip)
        for y in range(0, clip.shape[1] - crop + 1, crop):
            for x in range(0, clip.shape[2] - crop + 1, crop):
                window = np.s_[:, y:y + crop, x:x + crop]
                whole.append(psnr(recon[window], clip[window]))
                alone.append(psnr(reconstruct(vae, clip[window]), clip[window]))
    return min(whole), max(whole), float(np.mean(whole)), float(np.mean(alone))


def ceiling(vae: AutoencoderKLWan, cases: int) -> dict[str, float]:
    """The exact puppet-animate targets through decode(encode(·)), scored like ``kinema eval``: the
    best any model using this VAE could score (a perfect DiT still decodes through it)."""
    from kinema.eval.benchmarks import get_benchmark, render_case
    from kinema.eval.scoring import pose_estimator, score_case

    bench, estimator = get_benchmark("puppet-animate"), pose_estimator("humanoid")[0]
    scores: dict[str, list[float]] = {}
    for spec in bench.case_specs(cases):
        case = render_case(bench, spec)
        for k, v in score_case(case, reconstruct(vae, case.triplet.target.frames), estimator).items():
            scores.setdefault(k, []).append(v)
    return {k: float(np.nanmean(v)) for k, v in scores.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--vae", type=Path, default=SHIPPED, help="trained VAE directory (diffusers format)")
    parser.add_argument("--clips", type=int, default=16, help="held-out scenes")
    parser.add_argument("--cases", type=int, default=16, help="puppet-animate cases for the ceiling")
    parser.add_argument("--threads", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    models = {"untrained": build_vae().eval(), "trained": AutoencoderKLWan.from_pretrained(args.vae).eval()}
    print(f"{args.clips} held-out clips x 17 frames, seeds {HELD_OUT_SEED}..; PSNR dB (whole frame / character mask)")
    for label, vae in models.items():
        for name, (whole, inside) in evaluate(vae, args.clips).items():
            print(f"{label:10s} {name:30s} {whole:6.2f} / {inside:6.2f}")
        print(f"{label:10s} static drift (21 still frames)  {static_drift(vae, args.clips):.4f}")
        lo, hi, whole, alone = windows(vae, args.clips)
        print(f"{label:10s} 32-px windows: {lo:.2f}..{hi:.2f} dB, mean {whole:.2f} in the whole frame, {alone:.2f} alone")
    keys = ("psnr", "psnr_char", "ssim", "ssim_char", "kp_pck_body", "kp_pck_hands", "kp_err_body")
    top = ceiling(models["trained"], args.cases)
    print(f"VAE ceiling on {args.cases} puppet-animate cases (exact target round trip): "
          + "  ".join(f"{k} {top[k]:.3f}" for k in keys))


if __name__ == "__main__":
    main()
