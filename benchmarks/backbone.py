"""Time kinema's segment forward against diffusers' stock WanTransformer3DModel.forward, same inputs.

CPU: the tiny preset and a small config at 64x128 latents. With CUDA: Wan-1.3B and Wan-14B
shapes with random bf16 weights at 480x832 and 480x1664 (in-context width), 81 frames, against
the FLOP floors in shared/NOTES.md.

    python benchmarks/backbone.py            # CPU
    python benchmarks/backbone.py --gpu      # needs CUDA
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch

from kinema.backbone.components import build_components
from kinema.backbone.config import TransformerConfig, get_preset
from kinema.backbone.segments import Segment, forward_segments

GPU_CASES = [  # preset, height, width, FLOP floor (PFLOP) from NOTES.md
    ("wan2.1-t2v-1.3b", 480, 832, 0.28), ("wan2.1-t2v-1.3b", 480, 1664, 0.96),
    ("wan2.1-i2v-14b", 480, 832, 1.68), ("wan2.1-i2v-14b", 480, 1664, 5.11),
]


def timed_pair(a, b, repeats: int, sync) -> tuple[float, float]:
    """Median seconds per call of ``a`` and ``b``, interleaved so machine load hits both alike."""
    times: tuple[list[float], list[float]] = ([], [])
    for fn in (a, b):
        fn()
    for _ in range(repeats):
        for fn, out in ((a, times[0]), (b, times[1])):
            sync()
            start = time.perf_counter()
            fn()
            sync()
            out.append(time.perf_counter() - start)
    return statistics.median(times[0]), statistics.median(times[1])


def compare(model, latent_shape, text_dim, image_dim, device, dtype, repeats, sync) -> tuple[float, float]:
    g = torch.Generator(device="cpu").manual_seed(0)
    x = torch.randn(latent_shape, generator=g).to(device, dtype)
    t = torch.tensor([500.0], device=device)
    text = torch.randn(1, 512, text_dim, generator=g).to(device, dtype)
    image = torch.randn(1, 257, image_dim, generator=g).to(device, dtype) if image_dim else None
    with torch.no_grad():
        return timed_pair(lambda: model(x, t, text, image),
                          lambda: forward_segments(model, [Segment(x, t)], text, image), repeats, sync)


def cpu(repeats: int) -> None:
    torch.set_num_threads(2)
    small = TransformerConfig(num_layers=4, num_attention_heads=4, attention_head_dim=32, ffn_dim=512, text_dim=32)
    for name, config, shape in [("tiny", get_preset("tiny"), (1, 36, 5, 8, 16)),
                                ("small", get_preset("tiny", **vars(small)), (1, 36, 5, 16, 32)),
                                ("small-wide", get_preset("tiny", **vars(small)), (1, 36, 5, 16, 64))]:
        model = build_components(config).transformer
        stock, ours = compare(model, shape, model.config.text_dim, model.config.image_dim, "cpu", torch.float32,
                              repeats, lambda: None)
        print(f"cpu {name:6s} latents {tuple(shape)}: stock {stock * 1e3:8.2f} ms  kinema {ours * 1e3:8.2f} ms  "
              f"speed ratio stock/kinema {stock / ours:.3f}")


def gpu(repeats: int) -> None:
    for preset, height, width, floor in GPU_CASES:
        config = get_preset(preset).transformer
        with torch.device("cuda"):
            from diffusers import WanTransformer3DModel
            model = WanTransformer3DModel(**vars(config)).to(torch.bfloat16).eval()
        shape = (1, config.in_channels, 21, height // 8, width // 8)
        stock, ours = compare(model, shape, config.text_dim, config.image_dim, "cuda", torch.bfloat16, repeats,
                              torch.cuda.synchronize)
        print(f"gpu {preset} {height}x{width}x81: stock {stock:.2f} s  kinema {ours:.2f} s  "
              f"ratio {stock / ours:.3f}  FLOP floor {floor / 0.79:.2f} s ({floor} PFLOP at 790 TF/s)")
        del model
        torch.cuda.empty_cache()


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gpu", action="store_true")
    parser.add_argument("--repeats", type=int, default=20)
    args = parser.parse_args()
    gpu(max(2, args.repeats // 10)) if args.gpu else cpu(args.repeats)
