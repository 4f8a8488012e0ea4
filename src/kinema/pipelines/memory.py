"""The memory plan a GPU run prints before its model loads: parameters by component (read from the weight
files' headers, or a preset's shapes on the meta device) and an estimate of the transformer's activations at
the requested size, so that a user sees whether a 24 GB card will hold it."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

import torch
from safetensors import safe_open

from kinema.backbone.codecs import vae_stride
from kinema.backbone.components import build_components
from kinema.backbone.config import PRESETS, get_preset
from kinema.pipelines.models import resolve_model

COMPONENTS = ("transformer", "transformer_2", "text_encoder", "image_encoder", "vae")
GB = 1e9
WAN_VAE_STRIDE = 8


def count_parameters(folder: Path) -> int:
    """Values in the ``.safetensors`` files of ``folder``, from their headers (nothing is loaded)."""
    total = 0
    for file in sorted(folder.glob("*.safetensors")):
        with safe_open(str(file), "pt") as f:
            for key in f.keys():
                shape = f.get_slice(key).get_shape()
                total += int(torch.Size(shape).numel())
    return total


def component_parameters(model: str) -> dict[str, int]:
    """Parameters of each component of a preset or a model directory (``embedded`` included)."""
    path = resolve_model(model)
    if path in PRESETS:
        components = build_components(get_preset(path), device="meta")
        modules = {"transformer": components.transformer, "transformer_2": components.transformer_2,
                   "text_encoder": components.text_encoder,
                   "image_encoder": components.image_encoder, "vae": getattr(components.codec, "vae", None)}
        return {k: sum(p.numel() for p in m.parameters()) for k, m in modules.items() if m is not None}
    return {k: count_parameters(Path(path) / k) for k in COMPONENTS if (Path(path) / k).is_dir()}


@dataclass(frozen=True)
class MemoryPlan:
    """Bytes a run needs: each component's weights at ``bytes_per_value``, and the activations' estimate."""

    parameters: dict[str, int]
    bytes_per_value: int
    activations: int
    at: str  # the size the activations are estimated at, e.g. "832x480, 81 frames"

    @property
    def total(self) -> int:
        return sum(self.parameters.values()) * self.bytes_per_value + self.activations

    def describe(self) -> str:
        parts = [f"{name} {n / 1e9:.2f} B parameters ({n * self.bytes_per_value / GB:.1f} GB)" if n >= 1e8 else
                 f"{name} {n / 1e6:.1f} M ({n * self.bytes_per_value / GB:.2f} GB)" for name, n in self.parameters.items()]
        return (f"memory plan: {', '.join(parts)}; transformer activations ~{self.activations / GB:.1f} GB at "
                f"{self.at}; about {self.total / GB:.1f} GB in all")

    def peak(self, offload: str) -> int:
        """GPU bytes at the peak under ``offload`` (kinema.backbone.offload): everything (none); the larger of its
        two stages, one expert or the encoders with the VAE, plus the activations (model); the activations and
        about one layer (group, counted as the activations)."""
        if offload == "none":
            return self.total
        counts = self.parameters
        experts = max(counts.get("transformer", 0), counts.get("transformer_2", 0))
        encoders = sum(counts.get(k, 0) for k in ("text_encoder", "image_encoder", "vae"))
        return self.activations + (max(experts, encoders) * self.bytes_per_value if offload == "model" else 0)

    def describe_offload(self, chosen: str) -> str:
        peaks = ", ".join(f"{mode} ~{self.peak(mode) / GB:.1f} GB" for mode in ("none", "model", "group"))
        return f"GPU memory at the peak by --offload: {peaks} (this run: {chosen})"


def activation_bytes(model: str, size: tuple[int, int], frames: int, bytes_per_value: int,
                     token_factor: float = 1.0) -> int:
    """Peak activations of one transformer block without gradients: tokens × (ffn + 6 × width) values.

    ``token_factor``: how many times the video's own tokens the recipe's stream holds (2 for R1's spatial or
    temporal layouts, whose condition segment is as large as the video; about 1.3 for R2's references and
    half-resolution driving).
    """
    path = resolve_model(model)
    if path in PRESETS:
        preset = get_preset(path)
        config = asdict(preset.transformer)
        stride = getattr(preset.codec, "spatial_stride", None) or vae_stride(preset.codec)
    else:
        config = json.loads((Path(path) / "transformer" / "config.json").read_text())
        codec, vae = Path(path) / "codec" / "config.json", Path(path) / "vae" / "config.json"  # kinema's pixel codec | a Wan VAE
        stride = (json.loads(codec.read_text())["spatial_stride"] if codec.is_file() else
                  vae_stride(json.loads(vae.read_text())) if vae.is_file() else WAN_VAE_STRIDE)
    _, ph, pw = config.get("patch_size", (1, 2, 2))
    width = config["num_attention_heads"] * config["attention_head_dim"]
    tokens = (1 + (frames - 1) // 4) * (size[1] // stride // ph) * (size[0] // stride // pw) * token_factor
    return int(tokens * (config["ffn_dim"] + 6 * width) * bytes_per_value)


def memory_plan(model: str, size: tuple[int, int], frames: int, dtype: torch.dtype,
                token_factor: float = 1.0) -> MemoryPlan:
    """The plan of running ``model`` at ``size`` (W, H) for ``frames`` frames in ``dtype``."""
    per_value = torch.tensor([], dtype=dtype).element_size()
    return MemoryPlan(component_parameters(model), per_value,
                      activation_bytes(model, size, frames, per_value, token_factor), f"{size[0]}x{size[1]}, {frames} frames")
