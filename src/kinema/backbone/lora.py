"""LoRA adapters via peft, saved in the format diffusers' ``WanPipeline.load_lora_weights`` reads.

Loading takes the formats people share for Wan, through diffusers' converters: diffusers / peft keys
(``transformer.blocks.0.attn1.to_q.lora_A.weight``), the original Wan and ComfyUI layout
(``diffusion_model.blocks.0.self_attn.q.lora_down.weight`` with ``alpha``, e.g. the lightx2v few-step
LoRAs) and musubi / kohya keys (``lora_unet_blocks_0_self_attn_q.lora_down.weight``). Several adapters
load together, each with its weight (``PATH:WEIGHT``).

Presets: ``ffn`` (DreamActor-M2: feed-forward layers only, text branch excluded) and
``attn_ffn`` (AniX: self/cross attention projections and feed-forward layers).

A recipe that changes the patch embedding or adds embeddings (R1's aligned layout widens it; R2 narrows
it and adds SCAIL-2's driving and mask embeddings) trains them beside the adapter; they ship as their
own safetensors file (:func:`save_patch_embeddings`), so the adapter file stays one diffusers can read.
"""

from __future__ import annotations

import math
import os
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from diffusers import WanPipeline, WanTransformer3DModel
from peft import LoraConfig
from peft.utils import get_peft_model_state_dict
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from kinema.backbone.embeddings import attach_embeddings, embedding_state
from kinema.backbone.widen import narrow_patch_embedding, widen_patch_embedding
from kinema.errors import KinemaInputError, require_file
from kinema.io.atomic import atomic_path

FFN = ("ffn.net.0.proj", "ffn.net.2")
ATTN = tuple(f"{a}.{p}" for a in ("attn1", "attn2") for p in ("to_q", "to_k", "to_v", "to_out.0"))
LORA_TARGETS: dict[str, tuple[str, ...]] = {"ffn": FFN, "attn_ffn": ATTN + FFN}
ADAPTER = "kinema"
PATCH_EMBEDDING = "patch_embedding.safetensors"  # the trained patch embeddings beside an adapter


@dataclass(frozen=True)
class AdapterSpec:
    """One LoRA file to load, the weight its update is scaled by, and for a Wan2.2 two-expert model the expert it
    is for (``high`` or ``low``; None: the one its kinema card names)."""

    path: Path
    weight: float = 1.0
    expert: str | None = None

    def __str__(self) -> str:
        text = str(self.path) if self.weight == 1.0 else f"{self.path}:{self.weight:g}"
        return text if self.expert is None else f"{self.expert}:{text}"


MAX_ADAPTER_WEIGHT = 100.0


EXPERTS = ("high", "low")  # a Wan2.2 MoE model's experts, as an adapter names them: high:PATH, low:PATH


def parse_adapter(text: str | os.PathLike) -> AdapterSpec:
    """``[high:|low:]PATH[:WEIGHT]`` (weight 1 when none is given; the prefix: the Wan2.2 expert it is for);
    KinemaInputError for a weight that is not a finite number in [-100, 100]."""
    text = str(text)
    expert, sep, rest = text.partition(":")
    if sep and expert in EXPERTS:
        return replace(parse_adapter(rest), expert=expert)
    path, sep, weight = text.rpartition(":")
    try:
        value = float(weight) if sep else None
    except ValueError:
        value = None  # a colon inside the path, not a weight
    if value is None:
        return AdapterSpec(Path(text))
    if not math.isfinite(value) or abs(value) > MAX_ADAPTER_WEIGHT:
        raise KinemaInputError(f"--adapter '{text}'", f"has weight {weight}",
                               f"Give a weight in [-{MAX_ADAPTER_WEIGHT:g}, {MAX_ADAPTER_WEIGHT:g}], e.g. {path}:0.8.")
    return AdapterSpec(Path(path), value)


Adapters = Sequence[AdapterSpec | str | os.PathLike] | AdapterSpec | str | os.PathLike | None  # see as_adapters


def as_adapters(items: Adapters) -> tuple[AdapterSpec, ...]:
    """Adapters given as specs, ``PATH[:WEIGHT]`` strings or paths (None or empty: none)."""
    if items is None or isinstance(items, (str, os.PathLike, AdapterSpec)):
        items = () if items is None else (items,)
    return tuple(i if isinstance(i, AdapterSpec) else parse_adapter(i) for i in items)


def lora_config(preset: str = "ffn", rank: int = 256, alpha: float | None = None) -> LoraConfig:
    """peft ``LoraConfig`` for a named target preset; ``alpha`` defaults to ``rank`` (scale 1)."""
    if preset not in LORA_TARGETS:
        raise KeyError(f"unknown LoRA preset '{preset}'; known: {', '.join(LORA_TARGETS)}")
    if rank < 1:
        raise ValueError(f"LoRA rank must be >= 1, got {rank}")
    # Regex anchored on the block path so only transformer blocks match (not condition_embedder).
    pattern = r"blocks\.\d+\.(" + "|".join(t.replace(".", r"\.") for t in LORA_TARGETS[preset]) + r")"
    return LoraConfig(r=rank, lora_alpha=alpha or rank, init_lora_weights=True, target_modules=pattern)


def add_lora(model: WanTransformer3DModel, config: LoraConfig) -> WanTransformer3DModel:
    """Attach a trainable adapter named ``kinema`` (B is zero-initialised: output unchanged)."""
    model.add_adapter(config, adapter_name=ADAPTER)
    return model


def save_lora(model: WanTransformer3DModel, path: str | os.PathLike) -> Path:
    """Write the adapter as ``pytorch_lora_weights.safetensors``-style file at ``path``, atomically."""
    path = Path(path)
    layers = get_peft_model_state_dict(model, adapter_name=ADAPTER)
    metadata = model.peft_config[ADAPTER].to_dict()  # target_modules is kinema's regex string: JSON-safe
    with atomic_path(path) as tmp:
        WanPipeline.save_lora_weights(tmp.parent, transformer_lora_layers=layers, weight_name=tmp.name,
                                      transformer_lora_adapter_metadata=metadata)
    return path


def load_lora(model: WanTransformer3DModel, path: str | os.PathLike, name: str = ADAPTER) -> WanTransformer3DModel:
    """Load a Wan LoRA file in any format diffusers reads (module docstring) into ``model`` as adapter ``name``."""
    path = Path(path)
    require_file(path, "adapter", "Pass a .safetensors LoRA file.")
    if path.suffix != ".safetensors":
        raise KinemaInputError(f"adapter '{path}'", "is not a .safetensors file", "kinema loads adapters only from safetensors.")
    try:
        state_dict, metadata = WanPipeline.lora_state_dict(str(path), return_lora_metadata=True)
    except (OSError, ValueError, KeyError, SafetensorError) as err:
        raise KinemaInputError(f"adapter '{path}'", f"is not a readable safetensors file ({type(err).__name__})",
                               "Pass a LoRA .safetensors file, e.g. the one kinema train exports.") from None
    try:
        model.load_lora_adapter(state_dict, prefix="transformer", adapter_name=name, metadata=metadata)
    except (RuntimeError, ValueError) as err:  # e.g. a size mismatch: trained on another base model
        raise KinemaInputError(f"adapter '{path}'", f"does not fit this model ({str(err).splitlines()[0][:200]})",
                               "Use the --model it was trained on (kinema train writes it into kinema.json beside it).") from None
    if name not in getattr(model, "peft_config", {}):  # diffusers only warns when no key matches
        raise KinemaInputError(f"adapter '{path}'", "has no LoRA weights for this Wan transformer",
                               "Pass a Wan LoRA (diffusers or original format) trained for this model.")
    return model


def load_loras(model: WanTransformer3DModel, adapters: Adapters) -> WanTransformer3DModel:
    """Load several adapters (:func:`as_adapters`), each scaled by its weight, all active together."""
    adapters = as_adapters(adapters)
    names = [ADAPTER if len(adapters) == 1 else f"{ADAPTER}-{i}" for i in range(len(adapters))]
    with warnings.catch_warnings():  # peft warns on every adapter after the first: several are what was asked for
        warnings.filterwarnings("ignore", message="Already found a `peft_config`")
        for name, spec in zip(names, adapters):
            load_lora(model, spec.path, name)
    if adapters:
        model.set_adapters(names, [spec.weight for spec in adapters])
    return model


def save_patch_embeddings(model: WanTransformer3DModel, path: str | os.PathLike) -> Path:
    """Write every patch embedding (the widened or narrowed own one, and the extras a recipe added, e.g.
    R2's driving and mask embeddings) under their checkpoint names, atomically."""
    path = Path(path)
    tensors = {k: v.detach().cpu().contiguous() for k, v in embedding_state(model).items()}
    with atomic_path(path) as tmp:
        save_file(tensors, tmp)
    return path


def load_patch_embeddings(model: WanTransformer3DModel, path: str | os.PathLike) -> WanTransformer3DModel:
    """Load the patch embeddings written by :func:`save_patch_embeddings`: the model's own is resized to the
    saved one (the recipe's layout), the extras are created where the base model lacks them."""
    path = Path(path)
    require_file(path, "patch embedding", "Keep the adapter's directory whole (the trainer writes it beside lora.safetensors).")
    try:
        state = load_file(path)
    except (OSError, SafetensorError) as err:
        raise KinemaInputError(f"patch embedding '{path}'", f"is not a readable safetensors file ({type(err).__name__})",
                               "Re-export the adapter's run (kinema train --resume exports it).") from None
    own = model.patch_embedding
    weight = state.get("patch_embedding.weight")
    if weight is None or weight.shape[0] != own.out_channels or weight.shape[2:] != own.weight.shape[2:]:
        raise KinemaInputError(f"patch embedding '{path}'", f"has shape {None if weight is None else tuple(weight.shape)}, "
                               f"which does not fit the model's {tuple(own.weight.shape)}",
                               "Use the base model the adapter was trained on.")
    if weight.shape[1] > own.in_channels:
        widen_patch_embedding(model, weight.shape[1])
    elif weight.shape[1] < own.in_channels:
        narrow_patch_embedding(model, weight.shape[1])
    model.patch_embedding.load_state_dict({"weight": weight, "bias": state["patch_embedding.bias"]})
    attach_embeddings(model, state)
    return model
