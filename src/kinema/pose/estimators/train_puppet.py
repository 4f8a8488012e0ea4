"""Train the puppet keypoint estimator on puppet-world frames with exact keypoints.

    python -m kinema.pose.estimators.train_puppet --out puppet_pose.safetensors [--steps 1500] [--seed 0]

Each batch crops characters from freshly rendered scenes: all three families (humanoid twice as
often, for its hands), 1-3 actors (so other characters occlude and crowd the crop), every motion
(occluding ones included), camera pans and zooms, frame sizes 64-256 px, character sizes 0.35-0.9
of the view, and jittered boxes (some whole frames, as the estimator's first pass sees them);
crops are colour-jittered, noised, blurred and JPEG-compressed. Scene seeds start at
``TRAIN_SEED_BASE``; held-out evaluation uses seeds below it.
"""

from __future__ import annotations

import argparse
import sys
import time
from dataclasses import dataclass

import cv2
import numpy as np
import torch

from kinema.pose.estimators.puppet import FAMILIES, HeatmapNet, PuppetPoseConfig, PuppetPoseEstimator, crop, frame_to_heat, save_model, to_tensor
from kinema.puppet import SynthConfig, make_scene, render_scene
from kinema.puppet.scene import Clip

TRAIN_SEED_BASE = 1_000_000


@dataclass(frozen=True)
class TrainConfig:
    """Optimisation and data settings; ``sigma`` is the target heatmap's std in heatmap cells."""

    steps: int = 1500
    batch: int = 32
    lr: float = 2e-3
    weight_decay: float = 1e-4
    seed: int = 0
    sigma: float = 1.0
    occluded_weight: float = 0.5
    whole_frame_prob: float = 0.15
    crops_per_clip: int = 8
    frames_per_clip: int = 5


def sample_clip(rng: np.random.Generator, frames: int) -> Clip:
    """A random training scene (seed >= TRAIN_SEED_BASE) at a random size, character scale and camera."""
    size = (int(rng.choice([64, 96, 128, 192, 256])), int(rng.choice([64, 96, 128, 192, 256])))
    synth = SynthConfig(size=size, frames=frames, families=("humanoid", "humanoid", "quadruped", "bird"), characters=(1, 3),
                        camera_prob=0.5, char_size=float(rng.uniform(0.35, 0.9)))
    return render_scene(make_scene(TRAIN_SEED_BASE + int(rng.integers(2**30)), synth))


def augment(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Colour gain/offset, Gaussian noise, blur and JPEG artefacts on a (S, S, 3) uint8 crop."""
    x = image.astype(np.float32) * rng.uniform(0.75, 1.25, 3) + rng.uniform(-25, 25)
    x = np.clip(x + rng.normal(0, rng.uniform(0, 6), x.shape), 0, 255).astype(np.uint8)
    if rng.random() < 0.2:
        x = cv2.GaussianBlur(x, (0, 0), rng.uniform(0.3, 1.0))
    if rng.random() < 0.3:
        x = cv2.imdecode(cv2.imencode(".jpg", x, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(30, 90))])[1], cv2.IMREAD_UNCHANGED)
    return x


def clip_samples(clip: Clip, net: PuppetPoseConfig, cfg: TrainConfig, rng: np.random.Generator) -> list[tuple]:
    """Up to ``crops_per_clip`` (crop, heatmap xy (J, 2), visibility (J,), channels) samples."""
    h, w = clip.frames.shape[1:3]
    boxes = PuppetPoseEstimator.boxes_from_masks(clip.masks, clip.frames.shape[:3])  # (T, P, 4)
    pairs = [(t, p) for t in range(clip.frames.shape[0]) for p in range(clip.masks.shape[1]) if clip.masks[t, p].sum() >= 6]
    out = []
    for i in rng.permutation(len(pairs))[: cfg.crops_per_clip]:
        t, p = pairs[i]
        x0, y0, x1, y1 = boxes[t, p]
        if clip.masks.shape[1] == 1 and rng.random() < cfg.whole_frame_prob:
            center, side = np.array([w / 2, h / 2]), float(max(w, h))
        else:
            side = max(x1 - x0, y1 - y0) * net.box_padding * rng.uniform(0.85, 1.3)
            center = np.array([(x0 + x1) / 2, (y0 + y1) / 2]) + rng.uniform(-0.08, 0.08, 2) * side
        kp = clip.keypoints[p]
        image = augment(crop(clip.frames[t], center, side, net.input_size), rng)
        out.append((image, frame_to_heat(kp.xy[t, 0], center, side, net), kp.visibility[t, 0], net.joints(kp.layout)))
    return out


def make_batch(samples: list[tuple], net: PuppetPoseConfig, cfg: TrainConfig) -> tuple[torch.Tensor, ...]:
    """Stack samples into images (B, 3, S, S), target distributions (B, J, h*w), location and visibility weights/targets (B, J)."""
    hm = net.input_size // net.stride
    b, j = len(samples), net.num_joints
    xy, vis, fam = np.zeros((b, j, 2)), np.zeros((b, j)), np.zeros((b, j))
    for i, (_, k, v, channels) in enumerate(samples):
        xy[i, channels], vis[i, channels], fam[i, channels] = k, v, 1.0
    inside = ((xy > -0.5) & (xy < hm - 0.5)).all(-1) & (fam > 0)
    g = np.exp(-((np.arange(hm) - xy[..., None]) ** 2) / (2 * cfg.sigma**2)).astype(np.float32)  # (B, J, 2, hm): separable Gaussian
    target = (g[:, :, 1, :, None] * g[:, :, 0, None, :]).reshape(b, j, -1)  # (B, J, h*w), row-major (y, x)
    target /= np.maximum(target.sum(-1, keepdims=True), 1e-12)
    loc_weight = inside * np.where(vis > 0, 1.0, cfg.occluded_weight)
    images = to_tensor(np.stack([s[0] for s in samples]))
    as_t = lambda a: torch.as_tensor(a, dtype=torch.float32)  # noqa: E731
    return images, as_t(target), as_t(loc_weight), as_t(vis * inside), as_t(fam)


def loss_fn(logits: torch.Tensor, target: torch.Tensor, loc_weight: torch.Tensor, vis: torch.Tensor, fam: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Cross-entropy of the spatial softmax against the Gaussian target, and BCE of the visibility
    read under the heatmap (the same quantity :func:`~kinema.pose.estimators.puppet.decode` returns)."""
    logp = logits[:, 0].flatten(2).log_softmax(-1)  # (B, J, h*w)
    location = -(target * logp).sum(-1)  # (B, J)
    vis_logit = (logp.exp().detach() * logits[:, 1].flatten(2)).sum(-1)  # (B, J)
    visibility = torch.nn.functional.binary_cross_entropy_with_logits(vis_logit, vis, reduction="none")
    return (location * loc_weight).sum() / loc_weight.sum().clamp(min=1), (visibility * fam).sum() / fam.sum()


def train(out: str, cfg: TrainConfig, net: PuppetPoseConfig = PuppetPoseConfig(), log_every: int = 100) -> None:
    """Train from scratch for ``cfg.steps`` steps and save weights + metadata to ``out``."""
    rng, start = np.random.default_rng([cfg.seed, 71]), time.time()
    torch.manual_seed(cfg.seed)
    model = HeatmapNet(net).train()
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    # A 5 % warm-up; OneCycleLR divides by (its length - 1), so a 1-step one (10..29 steps) becomes 2 steps.
    warmup = 2 / cfg.steps if round(0.05 * cfg.steps) == 1 else 0.05
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=cfg.lr, total_steps=cfg.steps, pct_start=warmup)
    pool: list[tuple] = []
    for step in range(1, cfg.steps + 1):
        while len(pool) < cfg.batch:
            pool += clip_samples(sample_clip(rng, cfg.frames_per_clip), net, cfg, rng)
        batch, pool = [pool[i] for i in rng.permutation(len(pool))[: cfg.batch]], []
        images, *targets = make_batch(batch, net, cfg)
        location, visibility = loss_fn(model(images), *targets)
        opt.zero_grad()
        (location + visibility).backward()
        opt.step()
        sched.step()
        if step % log_every == 0 or step == cfg.steps:
            print(f"step {step}/{cfg.steps}  location {location.item():.3f}  visibility {visibility.item():.3f}  {time.time() - start:.0f}s", flush=True)
    extra = {"version": "1", "train_command": " ".join(["python -m kinema.pose.estimators.train_puppet", *sys.argv[1:]]),
             "train_steps": str(cfg.steps), "train_seed": str(cfg.seed), "train_seconds": f"{time.time() - start:.0f}",
             "train_seed_base": str(TRAIN_SEED_BASE), "families": ",".join(FAMILIES)}
    save_model(model.eval(), net, out, extra)
    print(f"wrote {out}")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="weights file (.safetensors)")
    parser.add_argument("--steps", type=int, default=TrainConfig.steps)
    parser.add_argument("--batch", type=int, default=TrainConfig.batch)
    parser.add_argument("--seed", type=int, default=TrainConfig.seed)
    parser.add_argument("--threads", type=int, default=1, help="torch CPU threads")
    args = parser.parse_args(argv)
    if args.steps < 1 or args.batch < 1:
        parser.error("--steps and --batch must be at least 1")
    torch.set_num_threads(args.threads)
    cv2.setNumThreads(1)
    train(args.out, TrainConfig(steps=args.steps, batch=args.batch, seed=args.seed))


if __name__ == "__main__":
    main()
