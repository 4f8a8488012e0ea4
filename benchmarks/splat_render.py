"""Gaussian-splat rendering throughput: frames/s of `kinema.world.render` on a random scene filling the view.

    python benchmarks/splat_render.py [--gaussians 20000] [--frames 24] [--threads 2] [--gpu]

The scene: seeded random Gaussians (SH degree 3) in a 6 × 6 × 4 box seen from 6 units away with a 60° field of
view, so they cover the whole frame; the camera swings 10° around it over the frames. Targets (issue 17):
≥ 30 frames/s at 64×64 and ≥ 5 frames/s at 256×256 for 20 k Gaussians on the 2-core CPU. ``--gpu`` renders the
same frames on CUDA with the torch and gsplat backends and prints their agreement and speed.
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from kinema.world.camera import Camera
from kinema.world.gaussians import Gaussians
from kinema.world.render import render

TARGETS = {64: 30.0, 256: 5.0}  # image side -> frames/s the CPU renderer must reach (issue 17)


def random_scene(count: int, seed: int = 0) -> Gaussians:
    """``count`` random Gaussians of SH degree 3 in the box [-3, 3] × [-3, 3] × [-2, 2]."""
    g = torch.Generator().manual_seed(seed)
    means = (torch.rand(count, 3, generator=g) * 2 - 1) * torch.tensor([3.0, 3.0, 2.0])
    sh = torch.cat([torch.randn(count, 1, 3, generator=g) * 0.6, torch.randn(count, 15, 3, generator=g) * 0.1], 1)
    log_scales = math.log(0.03) + torch.rand(count, 3, generator=g) * math.log(5.0)  # σ in 3 to 15 cm
    return Gaussians(means, sh, torch.randn(count, generator=g) * 2, log_scales, torch.randn(count, 4, generator=g))


def camera_path(frames: int, side: int) -> list[Camera]:
    """A 10° swing around the scene at 6 units, looking at its centre."""
    angles = np.radians(np.linspace(-5.0, 5.0, frames))
    return [Camera.looking_at([6 * np.sin(a), -6 * np.cos(a), 1.0], [0, 0, 0], side, side) for a in angles]


def frames_per_second(scene: Gaussians, cameras: list[Camera], backend: str, repeats: int = 2) -> float:
    """Best-of-``repeats`` frames/s rendering ``cameras`` (after one warm-up frame)."""
    render(scene, cameras[0], backend=backend)
    best = float("inf")
    for _ in range(repeats):
        if scene.means.is_cuda:
            torch.cuda.synchronize()
        start = time.perf_counter()
        for camera in cameras:
            render(scene, camera, backend=backend)
        if scene.means.is_cuda:
            torch.cuda.synchronize()
        best = min(best, time.perf_counter() - start)
    return len(cameras) / best


def compare_backends(scene: Gaussians, cameras: list[Camera]) -> str:
    """Max abs difference of image, alpha and depth (where alpha > 0.5) between the torch and gsplat backends."""
    diffs = np.zeros(3)
    for camera in cameras:
        ours, theirs = render(scene, camera, backend="torch"), render(scene, camera, backend="gsplat")
        seen = (ours.alpha > 0.5) & (theirs.alpha > 0.5)
        diffs = np.maximum(diffs, [(ours.image - theirs.image).abs().max().item(),
                                   (ours.alpha - theirs.alpha).abs().max().item(),
                                   (ours.depth - theirs.depth)[seen].abs().max().item() if seen.any() else 0.0])
    return f"max |torch - gsplat|: image {diffs[0]:.2e}, alpha {diffs[1]:.2e}, depth (alpha > 0.5) {diffs[2]:.2e}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--gaussians", type=int, default=20_000)
    parser.add_argument("--frames", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (the target machine has 2 cores)")
    parser.add_argument("--gpu", action="store_true", help="also render on CUDA with both backends")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    scene = random_scene(args.gaussians)
    for side, target in TARGETS.items():
        cameras = camera_path(args.frames, side)
        fps = frames_per_second(scene, cameras, "torch")
        verdict = "meets" if fps >= target else "MISSES"
        coverage = render(scene, cameras[0], backend="torch").alpha.mean().item()
        print(f"cpu   {side:3d}x{side:<3d} {args.gaussians} Gaussians (mean alpha {coverage:.2f}): {fps:7.1f} frames/s "
              f"(target {target:g}: {verdict})")
    if args.gpu:
        cuda = Gaussians(*(getattr(scene, f).cuda() for f in
                           ("means", "sh", "opacity_logits", "log_scales", "quaternions")))
        for side in TARGETS:
            cameras = camera_path(args.frames, side)
            speeds = {backend: frames_per_second(cuda, cameras, backend) for backend in ("torch", "gsplat")}
            print(f"cuda  {side:3d}x{side:<3d} torch {speeds['torch']:7.1f} frames/s, gsplat {speeds['gsplat']:7.1f} "
                  f"frames/s; {compare_backends(cuda, cameras)}")


if __name__ == "__main__":
    main()
