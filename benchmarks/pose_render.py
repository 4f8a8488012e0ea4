"""Skeleton rendering throughput: frames per second of `render_pose` at several canvas sizes.

    python benchmarks/pose_render.py [--frames 200] [--people 1] [--sizes 64,256,512]
"""

from __future__ import annotations

import argparse
import time

from kinema.pose.render import render_pose
from kinema.pose.synthetic import waving_humanoid


def bench(side: int, frames: int, people: int, repeats: int = 3) -> float:
    """Best-of-``repeats`` frames/s for humanoids (body + both hands) on a side x side canvas."""
    kp = waving_humanoid(frames, people, (side, side))
    render_pose(waving_humanoid(1, people, (side, side)))  # warm-up (cv2 initialisation)
    best = float("inf")
    for _ in range(repeats):
        start = time.perf_counter()
        render_pose(kp)
        best = min(best, time.perf_counter() - start)
    return frames / best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--frames", type=int, default=200)
    parser.add_argument("--people", type=int, default=1)
    parser.add_argument("--sizes", default="64,256,512")
    args = parser.parse_args()
    for side in (int(s) for s in args.sizes.split(",")):
        print(f"{side}x{side}  {args.people} humanoid(s), 60 joints: {bench(side, args.frames, args.people):8.0f} frames/s")


if __name__ == "__main__":
    main()
