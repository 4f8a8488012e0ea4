"""Puppet-world rendering throughput (frames per second, one process, one thread).

Usage: python benchmarks/puppet_render.py [--clips 40] [--frames 17]
"""

from __future__ import annotations

import argparse
import time

import cv2

from kinema.puppet import SynthConfig, make_scene, make_triplet, render_scene


def fps(size: int, characters: int, clips: int, frames: int, families: tuple[str, ...]) -> tuple[float, float]:
    """(fps with a new background per clip, fps when backgrounds repeat) for random scenes."""
    cfg = SynthConfig(size=(size, size), frames=frames, families=families, characters=(characters, characters), camera_prob=0.3)
    specs = [make_scene(1000 + i, cfg) for i in range(clips)]
    out = []
    for _ in range(2):  # first pass builds each background, second pass reuses the cached ones
        start = time.perf_counter()
        for spec in specs:
            render_scene(spec)
        out.append(clips * frames / (time.perf_counter() - start))
    return out[0], out[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--frames", type=int, default=17)
    args = parser.parse_args()
    cv2.setNumThreads(1)
    print(f"{'size':>8} {'actors':>6} {'families':>28} {'fps(new bg)':>12} {'fps(cached bg)':>15}")
    for size, chars, fams in ((64, 1, ("humanoid",)), (64, 1, ("humanoid", "quadruped", "bird")), (64, 3, ("humanoid",)),
                              (256, 1, ("humanoid",)), (256, 3, ("humanoid",)), (512, 1, ("humanoid",))):
        new, cached = fps(size, chars, args.clips, args.frames, fams)
        print(f"{size:>5}^2 {chars:>6} {','.join(fams):>28} {new:>12.0f} {cached:>15.0f}")
    start = time.perf_counter()
    n = 12
    for i in range(n):
        make_triplet(("animate", "replace", "multi")[i % 3], i, SynthConfig())
    print(f"triplets at 64^2 x 17 frames (animate/replace/multi mix): {n / (time.perf_counter() - start):.1f} per second")


if __name__ == "__main__":
    main()
