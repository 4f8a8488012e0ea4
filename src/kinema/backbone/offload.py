"""Memory for real GPUs: where the networks' weights wait while they are not running (``--offload``).

* ``none``: every network on the GPU (fastest; the memory plan's whole total must fit).
* ``model``: the networks wait on the CPU and each comes to the GPU only for its stage (the text and image
  encoders and the codec while the conditions are encoded, the transformer while sampling, the codec while
  decoding), as diffusers' ``enable_model_cpu_offload``; a Wan2.2 MoE keeps one expert there at a time. Peak:
  the largest network plus the activations.
* ``group``: diffusers' group offloading at leaf level (``diffusers.hooks.apply_group_offloading``): each
  layer's weights come to the GPU just before it runs and leave after. Peak: the activations plus a layer;
  the slowest.

kinema runs the transformer through its submodules (:mod:`kinema.backbone.segments`), never through its own
``forward``, so a hook on that (accelerate's, which ``enable_model_cpu_offload`` uses) would never fire: the
model level is staged here by the pipelines (:func:`stage`), and the group level uses diffusers' leaf hooks,
which fire on every layer call. The few weights the segment forward reads without calling their module (the
transformer's output modulation table and its RoPE tables, kilobytes: :func:`resident`) are brought to the
device once and stay. Diffusers' CUDA-stream prefetching learns the layer order from a hook on the
transformer's own forward, which kinema never calls, so it is left off: each layer loads, in order, on the
compute stream when it is called.

Structural changes (a widened patch embedding, LoRA layers, added embeddings) come first: a module added after
group offloading has no hook.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

import torch
from diffusers.hooks import HookRegistry, apply_group_offloading

from kinema.backbone.components import WanComponents

Offload = Literal["none", "model", "group"]
OFFLOADS: tuple[Offload, ...] = ("none", "model", "group")
HOME = torch.device("cpu")  # where offloaded weights wait
GROUP_HOOK = "group_offloading"  # the name diffusers registers its group offloading hook under


def networks(components: WanComponents) -> list[torch.nn.Module]:
    """Every network with weights: the experts, the encoders and a Wan VAE (the pixel codec has none)."""
    vae = getattr(components.codec, "vae", None)
    return [m for m in (*components.experts, components.text_encoder, components.image_encoder, vae) if m is not None]


def resident(network: torch.nn.Module) -> list[torch.nn.Module]:
    """Modules whose own weights the segment forward reads without calling them: a transformer itself (its
    ``scale_shift_table``) and its ``rope`` (the angle tables). Group offloading hooks those weights on forwards
    kinema never calls, so they are brought to the device once instead."""
    return [network, network.rope] if hasattr(network, "rope") else []


def place(components: WanComponents, device: torch.device | str, dtype: torch.dtype | None = None,
          offload: Offload = "none", disk: str | None = None) -> WanComponents:
    """Put ``components`` where they run on ``device`` (the transformers in ``dtype``) under ``offload``.

    ``disk``: group offloading keeps the offloaded weights in safetensors files in this folder instead of in
    CPU memory (diffusers' ``offload_to_disk_path``), for machines with less memory than the model.
    """
    if offload not in OFFLOADS:
        raise ValueError(f"unknown offload '{offload}'; use one of {', '.join(OFFLOADS)}")
    if offload == "none":
        components.offload = "none"
        return components.to(device, dtype)
    components.to(HOME, dtype)
    components.device, components.offload = torch.device(device), offload
    if offload == "group":
        for index, module in enumerate(networks(components)):  # a folder each: diffusers names files by layer name
            folder = None if disk is None else str(Path(disk) / f"{index}-{type(module).__name__}")
            apply_group_offloading(module, onload_device=components.device, offload_device=HOME,
                                   offload_type="leaf_level", offload_to_disk_path=folder)
            for kept in resident(module):
                hook = HookRegistry.check_if_exists_or_initialize(kept).get_hook(GROUP_HOOK)
                if hook is not None:
                    hook.group.onload_()
    return components


@contextmanager
def stage(components: WanComponents, *parts: str) -> Iterator[None]:
    """Model offload: ``parts`` ("encoders", "codec", "transformer") on the execution device for the block, back on
    the CPU after; nothing under the other modes. The experts come to the device one at a time, when
    :meth:`WanComponents.expert` picks one."""
    if components.offload != "model":
        yield
        return
    held = {"encoders": [components.text_encoder, components.image_encoder], "codec": [components.codec],
            "transformer": []}
    modules = [m for part in parts for m in held[part] if m is not None]
    for module in modules:
        module.to(components.device)
    try:
        yield
    finally:
        for module in (*modules, *(components.experts if "transformer" in parts else ())):
            module.to(HOME)
