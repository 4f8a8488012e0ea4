"""Per-step cost of recipe R2 with full attention, with block attention, and with the condition K/V cache.

    python benchmarks/condition_cache.py          # CPU: the embedded model's shapes, 64 x 64, 17 and 33 frames
    python benchmarks/condition_cache.py --gpu    # CUDA: Wan2.1-1.3B and -14B shapes (random bf16), 480 x 832

The driving video is at full resolution, so the condition (reference + driving) is longer than the video
it drives. Per step, "full" runs every token through every block; "block" runs the block mask's two passes
(what training does); "cached" runs the video tokens alone against the conditions' cached keys and values
(inference: the conditions' pass runs once per clip and text branch, timed apart). Goal: cached ≤ 0.6 x full.
Also printed: a whole clip of N steps, the conditions' pass included.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from diffusers import WanTransformer3DModel

from kinema.backbone.block_attention import ConditionCache
from kinema.backbone.config import get_preset
from kinema.recipes import scail2 as r2

GOAL = 0.6


def r2_inputs(model: WanTransformer3DModel, frames: int, height: int, width: int, attention: str,
              device: str, dtype: torch.dtype) -> r2.R2Inputs:
    """Random R2 conditions for ``model`` (latent grid f x h x w): one reference, a full-resolution driving video."""
    g = torch.Generator().manual_seed(0)
    c = model.config.in_channels
    rand = lambda *shape: torch.randn(*shape, generator=g).to(device, dtype)  # noqa: E731
    config = r2.R2Config(driving_resolution="full", attention=attention)
    return r2.R2Inputs("replace", config, rand(1, c, 1, height, width), rand(1, r2.MASK_DIM, 1, height, width),
                       rand(1, c, frames, height, width), rand(1, r2.MASK_DIM, frames, height, width), frames, None)


def timed(fn, repeats: int, sync) -> float:
    """Median seconds of ``fn`` after one warm-up call."""
    fn()
    times = []
    for _ in range(repeats):
        sync()
        start = time.perf_counter()
        fn()
        sync()
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def measure(model: WanTransformer3DModel, name: str, grid: tuple[int, int, int], steps: int, repeats: int,
            device: str, dtype: torch.dtype, sync) -> float:
    """Print one line per attention mode; return cached / full per step."""
    f, h, w = grid
    text = torch.randn(1, 512, model.config.text_dim, generator=torch.Generator().manual_seed(1)).to(device, dtype)
    noisy = torch.randn(1, model.config.out_channels, f, h, w, generator=torch.Generator().manual_seed(2)).to(device, dtype)
    t = torch.tensor([500.0], device=device)
    full, block = (r2_inputs(model, f, h, w, a, device, dtype) for a in ("full", "block"))
    cache = ConditionCache()
    with torch.no_grad():
        per_step = {
            "full": timed(lambda: r2.predict(model, full, noisy, t, text), repeats, sync),
            "block": timed(lambda: r2.predict(model, block, noisy, t, text), repeats, sync),
        }
        fill = timed(lambda: r2.predict(model, block, noisy, t, text, ConditionCache()), repeats, sync)
        r2.predict(model, block, noisy, t, text, cache)
        per_step["cached"] = timed(lambda: r2.predict(model, block, noisy, t, text, cache), repeats, sync)
    patch = model.config.patch_size
    video = f * (h // patch[1]) * (w // patch[2])
    condition = video + h // patch[1] * w // patch[2]
    ratio = per_step["cached"] / per_step["full"]
    print(f"{name}: {video} video tokens, {condition} condition tokens (reference + full-resolution driving)")
    for mode, seconds in per_step.items():
        print(f"  {mode:7s} {seconds * 1e3:9.1f} ms per step  ({seconds / per_step['full']:.2f} x full)")
    clip_full, clip_cached = steps * per_step["full"], (fill - per_step["cached"]) + steps * per_step["cached"]
    print(f"  a {steps}-step clip: full {clip_full:.2f} s, cached {clip_cached:.2f} s (conditions' pass once: "
          f"{(fill - per_step['cached']) * 1e3:.1f} ms)  speed-up {clip_full / clip_cached:.2f} x")
    print(f"  cached / full per step {ratio:.2f}: goal <= {GOAL} {'met' if ratio <= GOAL else 'NOT met'}")
    return ratio


def build(preset: str, device: str, dtype: torch.dtype) -> WanTransformer3DModel:
    """A randomly initialised transformer of ``preset``'s shapes in recipe R2's layout."""
    config = get_preset(preset).transformer
    with torch.device(device):
        torch.manual_seed(0)
        model = WanTransformer3DModel(**vars(config))
    r2.prepare_transformer(model, config.out_channels)
    return (model if dtype == torch.float32 else model.to(dtype)).eval()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--repeats", type=int, default=10)
    args = parser.parse_args()
    if args.gpu:
        for preset in ("wan2.1-t2v-1.3b", "wan2.1-i2v-14b"):
            model = build(preset, "cuda", torch.bfloat16)
            measure(model, f"{preset} 480x832, 33 frames", (9, 60, 104), 40, max(3, args.repeats // 3), "cuda",
                    torch.bfloat16, torch.cuda.synchronize)
            del model
            torch.cuda.empty_cache()
        return
    torch.set_num_threads(2)
    model = build("puppet", "cpu", torch.float32)  # the embedded model's DiT: 64 x 64 is a 16 x 16 latent grid
    for frames in (5, 9):  # latent frames of 17 and 33 video frames
        measure(model, f"puppet 64x64, {4 * frames - 3} frames", (frames, 16, 16), 2, args.repeats, "cpu",
                torch.float32, lambda: None)


if __name__ == "__main__":
    main()
