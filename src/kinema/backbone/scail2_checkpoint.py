"""The released SCAIL-2 checkpoint (zai-org/SCAIL-2) as a kinema model directory (``kinema convert scail2``).

The release ships its DiT as a SAT training checkpoint, ``model/<iteration>/fsdp2_rank_0000_checkpoint.pt``
(a full state dict, fp32, ~65 GB for the 14B model), and its VAE, umT5 and CLIP as the original Wan2.1
files; the wan-scail2 branch's own ``convert.py`` turns the DiT into "Wan-native" safetensors. Either is
read here. The keys go through two renamings:

1. SAT -> Wan-native, the layout of the original Wan code (``blocks.i.self_attn.q``, ``head.head``, ...):
   SAT fuses q/k/v (``attention.query_key_value``) and k/v (``cross_attention.key_value``,
   ``clip_feature_key_value_list``), split here along the output dimension, and keeps the per-block
   norms and modulations in ``mixins.adaln_layer.*_list.i``.
2. Wan-native -> diffusers ``WanTransformer3DModel`` (the names of diffusers' own Wan conversion:
   ``attn1.to_q``, ``ffn.net.0.proj``, ``scale_shift_table``, ...). SCAIL-2's driving and mask
   embeddings keep their released names, ``patch_embedding_pose`` / ``patch_embedding_mask``, and
   load beside the diffusers model (:mod:`kinema.backbone.embeddings`).

The VAE, text encoder and CLIP are Wan2.1-I2V's, so they are taken from a diffusers-format Wan2.1-I2V
directory (``--base``), whose transformer config also gives the attention heads (not readable from
shapes). The model card records recipe R2 with the released settings (:class:`~kinema.recipes.scail2.R2Config`
defaults) and sampling (UniPC, 40 steps, guidance 5, flow shift 5).
"""

from __future__ import annotations

import json
import math
import re
import shutil
from collections.abc import Iterator
from dataclasses import asdict
from pathlib import Path

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from kinema.errors import KinemaInputError
from kinema.io import write_json_atomic
from kinema.io.atomic import atomic_dir
from kinema.recipes.scail2 import MASK_DIM, MASK_EMBEDDING, POSE_EMBEDDING, R2Config

SAT_PREFIX = "model.diffusion_model."
CHECKPOINT = "fsdp2_rank_0000_checkpoint.pt"
SHARD_BYTES = 5 * 1024 ** 3  # diffusers' default shard size
BASE_PARTS = ("vae", "text_encoder", "tokenizer", "image_encoder", "image_processor")
RELEASED_SAMPLING = {"sampling_steps": 40, "guidance": 5.0, "flow_shift": 5.0}  # SCAIL2Pipeline.generate defaults

# 1. SAT -> Wan-native: (pattern, replacement(s)); several replacements split the tensor along dim 0.
SAT_RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (r"transformer\.layers\.(\d+)\.attention\.query_key_value\.(\w+)",
     (r"blocks.\1.self_attn.q.\2", r"blocks.\1.self_attn.k.\2", r"blocks.\1.self_attn.v.\2")),
    (r"transformer\.layers\.(\d+)\.attention\.dense\.(\w+)", (r"blocks.\1.self_attn.o.\2",)),
    (r"transformer\.layers\.(\d+)\.cross_attention\.query\.(\w+)", (r"blocks.\1.cross_attn.q.\2",)),
    (r"transformer\.layers\.(\d+)\.cross_attention\.key_value\.(\w+)",
     (r"blocks.\1.cross_attn.k.\2", r"blocks.\1.cross_attn.v.\2")),
    (r"transformer\.layers\.(\d+)\.cross_attention\.dense\.(\w+)", (r"blocks.\1.cross_attn.o.\2",)),
    (r"transformer\.layers\.(\d+)\.post_cross_attention_layernorm\.(\w+)", (r"blocks.\1.norm3.\2",)),
    (r"transformer\.layers\.(\d+)\.mlp\.dense_h_to_4h\.(\w+)", (r"blocks.\1.ffn.0.\2",)),
    (r"transformer\.layers\.(\d+)\.mlp\.dense_4h_to_h\.(\w+)", (r"blocks.\1.ffn.2.\2",)),
    (r"mixins\.adaln_layer\.adaLN_modulations\.(\d+)", (r"blocks.\1.modulation",)),
    (r"mixins\.adaln_layer\.query_layernorm_list\.(\d+)\.(\w+)", (r"blocks.\1.self_attn.norm_q.\2",)),
    (r"mixins\.adaln_layer\.key_layernorm_list\.(\d+)\.(\w+)", (r"blocks.\1.self_attn.norm_k.\2",)),
    (r"mixins\.adaln_layer\.cross_query_layernorm_list\.(\d+)\.(\w+)", (r"blocks.\1.cross_attn.norm_q.\2",)),
    (r"mixins\.adaln_layer\.cross_key_layernorm_list\.(\d+)\.(\w+)", (r"blocks.\1.cross_attn.norm_k.\2",)),
    (r"mixins\.adaln_layer\.clip_feature_key_layernorm_list\.(\d+)\.(\w+)", (r"blocks.\1.cross_attn.norm_k_img.\2",)),
    (r"mixins\.adaln_layer\.clip_feature_key_value_list\.(\d+)\.(\w+)",
     (r"blocks.\1.cross_attn.k_img.\2", r"blocks.\1.cross_attn.v_img.\2")),
    (r"mixins\.final_layer\.adaLN_modulation", ("head.modulation",)),
    (r"mixins\.final_layer\.linear\.(\w+)", (r"head.head.\1",)),
    (r"mixins\.patch_embed\.proj\.(\w+)", (r"patch_embedding.\1",)),
    (r"mixins\.patch_embed\.proj_pose\.(\w+)", (POSE_EMBEDDING + r".\1",)),
    (r"mixins\.patch_embed\.proj_mask\.(\w+)", (MASK_EMBEDDING + r".\1",)),
    (r"time_embed\.(\d+)\.(\w+)", (r"time_embedding.\1.\2",)),
    (r"adaln_projection\.(\d+)\.(\w+)", (r"time_projection.\1.\2",)),
    (r"text_embedding\.(\d+)\.(\w+)", (r"text_embedding.\1.\2",)),
    (r"clip_proj\.proj\.(\d+)\.(\w+)", (r"img_emb.proj.\1.\2",)),
)

# 2. Wan-native -> diffusers.
WAN_RULES: tuple[tuple[str, str], ...] = (
    (r"time_embedding\.0\.", "condition_embedder.time_embedder.linear_1."),
    (r"time_embedding\.2\.", "condition_embedder.time_embedder.linear_2."),
    (r"text_embedding\.0\.", "condition_embedder.text_embedder.linear_1."),
    (r"text_embedding\.2\.", "condition_embedder.text_embedder.linear_2."),
    (r"time_projection\.1\.", "condition_embedder.time_proj."),
    (r"img_emb\.proj\.0\.", "condition_embedder.image_embedder.norm1."),
    (r"img_emb\.proj\.1\.", "condition_embedder.image_embedder.ff.net.0.proj."),
    (r"img_emb\.proj\.3\.", "condition_embedder.image_embedder.ff.net.2."),
    (r"img_emb\.proj\.4\.", "condition_embedder.image_embedder.norm2."),
    (r"(blocks\.\d+)\.self_attn\.([qkv])\.", r"\1.attn1.to_\2."),
    (r"(blocks\.\d+)\.self_attn\.o\.", r"\1.attn1.to_out.0."),
    (r"(blocks\.\d+)\.self_attn\.norm_([qk])\.", r"\1.attn1.norm_\2."),
    (r"(blocks\.\d+)\.cross_attn\.([qkv])\.", r"\1.attn2.to_\2."),
    (r"(blocks\.\d+)\.cross_attn\.o\.", r"\1.attn2.to_out.0."),
    (r"(blocks\.\d+)\.cross_attn\.norm_([qk])\.", r"\1.attn2.norm_\2."),
    (r"(blocks\.\d+)\.cross_attn\.k_img\.", r"\1.attn2.add_k_proj."),
    (r"(blocks\.\d+)\.cross_attn\.v_img\.", r"\1.attn2.add_v_proj."),
    (r"(blocks\.\d+)\.cross_attn\.norm_k_img\.", r"\1.attn2.norm_added_k."),
    (r"(blocks\.\d+)\.norm3\.", r"\1.norm2."),
    (r"(blocks\.\d+)\.ffn\.0\.", r"\1.ffn.net.0.proj."),
    (r"(blocks\.\d+)\.ffn\.2\.", r"\1.ffn.net.2."),
    (r"(blocks\.\d+)\.modulation$", r"\1.scale_shift_table"),
    (r"head\.modulation$", "scale_shift_table"),
    (r"head\.head\.", "proj_out."),
)
EXTRA_KEYS = (f"{POSE_EMBEDDING}.weight", f"{MASK_EMBEDDING}.weight")


def sat_to_wan(key: str, value: torch.Tensor) -> dict[str, torch.Tensor]:
    """One SAT tensor as Wan-native tensors (fused projections split). ValueError for an unknown key."""
    name = key.removeprefix(SAT_PREFIX)
    for pattern, targets in SAT_RULES:
        if re.fullmatch(pattern, name):
            parts = value.chunk(len(targets), dim=0) if len(targets) > 1 else (value,)
            return {re.sub(f"^{pattern}$", target, name): part for target, part in zip(targets, parts)}
    raise ValueError(key)


def wan_to_diffusers(key: str) -> str:
    """A Wan-native key under diffusers' ``WanTransformer3DModel`` name (the patch embeddings keep theirs)."""
    for pattern, target in WAN_RULES:
        if re.search(pattern, key):
            return re.sub(pattern, target, key)
    return key


def read_checkpoint(src: Path) -> tuple[dict[str, torch.Tensor], Path]:
    """The DiT state dict under diffusers names, from the release directory, its SAT ``.pt`` or the
    Wan-native safetensors of the release's ``convert.py``; and the file read."""
    path = _checkpoint_path(src)
    what = f"SCAIL-2 checkpoint '{path}'"
    if path.suffix == ".safetensors":
        try:
            wan = load_file(path)
        except (OSError, SafetensorError) as err:
            raise KinemaInputError(what, f"is not a readable safetensors file ({type(err).__name__})",
                                   "Re-run the release's convert.py, or give its SAT .pt.") from None
    else:
        wan = _read_sat(path, what)
    state = {wan_to_diffusers(k): v for k, v in wan.items()}
    missing = [k for k in ("patch_embedding.weight", *EXTRA_KEYS, "proj_out.weight") if k not in state]
    if missing:
        raise KinemaInputError(what, f"is not a SCAIL-2 DiT: it lacks {', '.join(missing)}",
                               "Give the SCAIL-2 release (zai-org/SCAIL-2), not another Wan checkpoint.")
    if state[f"{MASK_EMBEDDING}.weight"].shape[1] != MASK_DIM:
        raise KinemaInputError(what, f"has a {state[f'{MASK_EMBEDDING}.weight'].shape[1]}-channel mask embedding, not "
                               f"the released {MASK_DIM}", "Give the SCAIL-2 release.")
    return state, path


def _checkpoint_path(src: Path) -> Path:
    if src.is_file():
        return src
    if not src.is_dir():
        raise KinemaInputError(f"SCAIL-2 checkpoint '{src}'", "does not exist",
                               "Give the downloaded release directory (with model/1/" + CHECKPOINT + ").")
    latest = src / "model" / "latest"
    iteration = latest.read_text().strip() if latest.is_file() else None
    candidates = ([src / "model" / iteration / CHECKPOINT] if iteration else []) + sorted(src.glob(f"model/*/{CHECKPOINT}"))
    found = [c for c in candidates if c.is_file()]
    if not found:
        raise KinemaInputError(f"SCAIL-2 checkpoint '{src}'", f"has no model/<iteration>/{CHECKPOINT}",
                               "Download the whole release, or give the .pt / the convert.py safetensors file itself.")
    return found[0]


def _read_sat(path: Path, what: str) -> dict[str, torch.Tensor]:
    """A SAT ``.pt`` (``{"module": state}`` or the state itself), loaded with ``weights_only=True`` and
    memory-mapped, as Wan-native tensors."""
    try:
        loaded = torch.load(path, map_location="cpu", weights_only=True, mmap=True)
    except Exception as err:  # a pickle that needs code, a truncated download, not a zip at all
        raise KinemaInputError(what, f"cannot be read as a weights-only checkpoint ({type(err).__name__}: "
                               f"{str(err).splitlines()[0][:160]})", "Download it again (it is ~65 GB; check its size).") from None
    state = loaded.get("module", loaded) if isinstance(loaded, dict) else None
    if not isinstance(state, dict) or not all(isinstance(v, torch.Tensor) for v in state.values()):
        raise KinemaInputError(what, "holds no state dict of tensors", "Give the release's fsdp2_rank_0000_checkpoint.pt.")
    out: dict[str, torch.Tensor] = {}
    for key, value in state.items():
        if not key.startswith(SAT_PREFIX):
            continue  # SAT keeps other modules (the VAE / text encoder) under other prefixes
        try:
            out.update(sat_to_wan(key, value))
        except ValueError:
            raise KinemaInputError(what, f"has a key of another architecture: '{key}'",
                                   "Give the SCAIL-2 release (its DiT is a Wan2.1-I2V-14B with pose and mask "
                                   "embeddings).") from None
    return out


def transformer_config(state: dict[str, torch.Tensor], base: dict) -> dict:
    """diffusers' ``WanTransformer3DModel`` config of ``state``: the base model's config (attention heads, norms,
    RoPE table: not readable from shapes) with every size read from the tensors' shapes."""
    weight = state["patch_embedding.weight"]  # (D, C_in, pt, ph, pw)
    dim, patch = weight.shape[0], tuple(weight.shape[2:])
    if base["num_attention_heads"] * base["attention_head_dim"] != dim:
        raise KinemaInputError("--base transformer config", f"has {base['num_attention_heads']} heads x "
                               f"{base['attention_head_dim']}, not the SCAIL-2 checkpoint's width {dim}",
                               "Use the Wan2.1-I2V-14B diffusers directory as --base.")
    image = "condition_embedder.image_embedder.norm1.weight" in state
    return {**{k: v for k, v in base.items() if not k.startswith("_")},
            "patch_size": list(patch), "in_channels": weight.shape[1],
            "out_channels": state["proj_out.weight"].shape[0] // math.prod(patch),
            "text_dim": state["condition_embedder.text_embedder.linear_1.weight"].shape[1],
            "freq_dim": state["condition_embedder.time_embedder.linear_1.weight"].shape[1],
            "ffn_dim": state["blocks.0.ffn.net.0.proj.weight"].shape[0],
            "num_layers": 1 + max(int(k.split(".")[1]) for k in state if k.startswith("blocks.")),
            "image_dim": state["condition_embedder.image_embedder.norm1.weight"].shape[0] if image else None,
            "added_kv_proj_dim": dim if image else None}


def _shards(state: dict[str, torch.Tensor], itemsize: int) -> Iterator[dict[str, torch.Tensor]]:
    """``state`` in runs of at most :data:`SHARD_BYTES` once cast to a dtype of ``itemsize`` bytes."""
    shard, size = {}, 0
    for key in sorted(state):
        nbytes = state[key].numel() * itemsize
        if shard and size + nbytes > SHARD_BYTES:
            yield shard
            shard, size = {}, 0
        shard[key], size = state[key], size + nbytes
    yield shard


def write_transformer(state: dict[str, torch.Tensor], config: dict, out: Path, dtype: torch.dtype) -> None:
    """``out`` as diffusers writes a transformer: config.json and one safetensors file, or shards and their
    index. Each shard is cast to ``dtype`` as it is written (the fp32 release never sits in memory whole)."""
    out.mkdir(parents=True)
    (out / "config.json").write_text(json.dumps({"_class_name": "WanTransformer3DModel", **config}, indent=2))
    itemsize = torch.empty((), dtype=dtype).element_size()
    shards = list(_shards(state, itemsize))
    names = (["diffusion_pytorch_model.safetensors"] if len(shards) == 1 else
             [f"diffusion_pytorch_model-{i + 1:05d}-of-{len(shards):05d}.safetensors" for i in range(len(shards))])
    for name, shard in zip(names, shards):
        save_file({k: v.to(dtype).contiguous() for k, v in shard.items()}, out / name, metadata={"format": "pt"})
    if len(shards) > 1:
        weight_map = {k: name for name, shard in zip(names, shards) for k in shard}
        total = sum(v.numel() for v in state.values()) * itemsize
        (out / "diffusion_pytorch_model.safetensors.index.json").write_text(
            json.dumps({"metadata": {"total_size": total}, "weight_map": weight_map}, indent=2))


def convert_scail2(src: str | Path, base: str | Path, out: str | Path, dtype: torch.dtype = torch.bfloat16) -> Path:
    """Write a kinema model directory for the SCAIL-2 release ``src`` with Wan2.1-I2V's other components from
    ``base`` (a diffusers directory), atomically; ``kinema replace --model OUT`` runs it."""
    base, out = Path(base), Path(out)
    if out.exists():
        raise KinemaInputError(f"--out '{out}'", "already exists", "Choose a new directory (nothing is overwritten).")
    for part in ("transformer", *BASE_PARTS[:3]):
        if not (base / part).is_dir():
            raise KinemaInputError(f"--base '{base}'", f"has no '{part}/'",
                                   "Give the diffusers-format Wan2.1-I2V-14B directory (Wan2.1-I2V-14B-480P-Diffusers).")
    state, path = read_checkpoint(Path(src))
    config = transformer_config(state, json.loads((base / "transformer" / "config.json").read_text()))
    with atomic_dir(out) as tmp:
        write_transformer(state, config, tmp / "transformer", dtype)
        for part in BASE_PARTS:
            if (base / part).is_dir():
                shutil.copytree(base / part, tmp / part)
        write_json_atomic(tmp / "kinema.json", {
            "recipe": "scail-2", "driving": "rgb", "prediction": "velocity", "r2": asdict(R2Config()),
            **RELEASED_SAMPLING, "converted_from": str(path)})
    return out
