"""GPU memory and time of ``--offload none|model|group`` on a Wan2.1-1.3B-sized model, beside the memory plan.

    python benchmarks/offload.py --gpu      # on a CUDA GPU: Wan2.1-T2V-1.3B shapes + UMT5-XXL, random bf16 weights
    python benchmarks/offload.py --dry      # the same logic on the CPU with the tiny preset (no memory figures)

Each mode builds the model afresh (group offloading cannot be undone), animates one clip with recipe R1 and
prints the peak GPU memory allocated during the call (``torch.cuda.max_memory_allocated``), the wall time, and
the memory plan's estimate of the peak for that mode (``MemoryPlan.peak``), so the estimate is checked too.
"""

from __future__ import annotations

import argparse
import time

import numpy as np
import torch

from kinema.backbone.components import build_components
from kinema.backbone.config import get_preset
from kinema.backbone.offload import OFFLOADS, place
from kinema.pipelines.dreamactor_m2 import AnimateConfig, Animator
from kinema.pipelines.memory import memory_plan
from kinema.sampling import SamplerConfig

GPU_PRESET, GPU_SIZE, GPU_FRAMES = "wan2.1-t2v-1.3b", (832, 480), 33
DRY_PRESET, DRY_SIZE, DRY_FRAMES = "tiny", (32, 32), 5


def run(mode: str, preset: str, size: tuple[int, int], frames: int, device: str) -> tuple[float, float]:
    """(peak GB allocated on the GPU, seconds) of one animation under ``mode``."""
    config = get_preset(preset)
    components = build_components(config, seed=0, device=device)  # random weights drawn where they are fast to draw
    if device != "cpu":
        components.text_encoder.to(torch.bfloat16)
    animator = Animator(components, random_weights=True)
    dtype = torch.bfloat16 if device != "cpu" else torch.float32
    place(animator.components, device, dtype, mode)
    rng = np.random.default_rng(0)
    reference = rng.integers(0, 255, (size[1], size[0], 3), np.uint8)
    driving = rng.integers(0, 255, (frames, size[1], size[0], 3), np.uint8)
    if device != "cpu":
        torch.cuda.synchronize()
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    animator(reference, driving, AnimateConfig(sampler=SamplerConfig("unipc", 4, 3.0, 1.0)), progress=False)
    if device != "cpu":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    peak = torch.cuda.max_memory_allocated() / 1e9 if device != "cpu" else float("nan")
    del animator, components
    if device != "cpu":
        torch.cuda.empty_cache()
    return peak, seconds


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    which = parser.add_mutually_exclusive_group(required=True)
    which.add_argument("--gpu", action="store_true")
    which.add_argument("--dry", action="store_true")
    args = parser.parse_args()
    preset, size, frames, device = ((GPU_PRESET, GPU_SIZE, GPU_FRAMES, "cuda") if args.gpu else
                                    (DRY_PRESET, DRY_SIZE, DRY_FRAMES, "cpu"))
    plan = memory_plan(preset, size, frames, torch.bfloat16, token_factor=2.0)  # R1's spatial layout: 2x the tokens
    print(plan.describe())
    print(f"{'offload':<8} {'peak GB':>8} {'plan GB':>8} {'seconds':>8}   ({preset}, {size[0]}x{size[1]}, {frames} frames, "
          "4 UniPC steps, guidance 1)")
    for mode in OFFLOADS if args.gpu else ("none", "model"):  # group on the CPU would only reload the CPU
        peak, seconds = run(mode, preset, size, frames, device)
        print(f"{mode:<8} {peak:8.2f} {plan.peak(mode) / 1e9:8.2f} {seconds:8.1f}", flush=True)


if __name__ == "__main__":
    main()
