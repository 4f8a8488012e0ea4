"""The Wan components: built from a preset (offline) or loaded from a local diffusers directory.

Directory layout (what diffusers' Wan pipelines save): ``transformer/``, ``vae/``,
``text_encoder/``, ``tokenizer/`` and, for I2V models, ``image_encoder/`` + ``image_processor/``.
Models on the lossless pixel codec have ``codec/`` (its config) instead of ``vae/``. Wan2.2's
mixture-of-experts models (A14B) add ``transformer_2/``, the low-noise expert, and ``model_index.json``'s
``boundary_ratio``: timesteps t ≥ boundary_ratio · 1000 go to ``transformer`` (high noise), the rest to
``transformer_2``, as diffusers' Wan pipelines switch them. Wan2.2-TI2V-5B sets ``expand_timesteps`` there:
it was trained with a timestep per token, its clean first frame at t = 0, so kinema gives the clean
condition tokens of its recipes t = 0 (:attr:`WanComponents.expand_timesteps`).
"""

from __future__ import annotations

import json
import os
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import torch
from diffusers import AutoencoderKLWan, WanTransformer3DModel
from diffusers.utils import logging as diffusers_logging
from transformers import (
    CLIPImageProcessorPil,
    CLIPVisionConfig,
    CLIPVisionModel,
    PreTrainedTokenizerBase,
    T5Tokenizer,
    UMT5Config,
    UMT5EncoderModel,
)
from transformers.utils import logging as transformers_logging

from kinema.backbone.codecs import Codec, PixelCodec, PixelCodecConfig, WanVAECodec, load_codec
from kinema.backbone.config import BackboneConfig, VAEConfig
from kinema.backbone.embeddings import attach_saved_embeddings
from kinema.errors import KinemaInputError

WAN_TEXT_LEN = 512  # diffusers' I2V attention processor hard-codes 512 text tokens
NUM_TRAIN_TIMESTEPS = 1000
MODEL_INDEX = "model_index.json"  # diffusers' pipeline config: Wan2.2's boundary_ratio and expand_timesteps


@dataclass
class WanComponents:
    """Everything a Wan video model needs; ``source`` names the preset or directory."""

    transformer: WanTransformer3DModel
    codec: Codec
    text_encoder: UMT5EncoderModel
    tokenizer: PreTrainedTokenizerBase
    image_encoder: CLIPVisionModel | None = None
    image_processor: Any | None = None
    source: str = ""
    text_len: int = WAN_TEXT_LEN
    transformer_2: WanTransformer3DModel | None = None  # Wan2.2 MoE: the low-noise expert
    boundary_ratio: float | None = None  # Wan2.2 MoE: where the experts switch, as a share of the 1000 timesteps
    expand_timesteps: bool = False  # Wan2.2-TI2V: a timestep per token; clean condition tokens at t = 0
    device: torch.device = field(default_factory=lambda: torch.device("cpu"))  # where the networks run
    offload: str = "none"  # where their weights wait meanwhile (kinema.backbone.offload)

    @property
    def is_i2v(self) -> bool:
        return self.image_encoder is not None

    @property
    def experts(self) -> tuple[WanTransformer3DModel, ...]:
        """The transformer, and the low-noise expert of a Wan2.2 MoE model."""
        return (self.transformer,) if self.transformer_2 is None else (self.transformer, self.transformer_2)

    def expert(self, timestep: torch.Tensor | float) -> WanTransformer3DModel:
        """The transformer that denoises at ``timestep`` (in [0, 1000]): the high-noise one from the boundary up.
        Under model offload it is brought to the device (the other expert sent back first)."""
        chosen = self.transformer
        if self.transformer_2 is not None:
            t = float(timestep.flatten()[0]) if torch.is_tensor(timestep) else float(timestep)
            chosen = self.transformer if t >= self.boundary_ratio * NUM_TRAIN_TIMESTEPS else self.transformer_2
        if self.offload == "model":
            for expert in self.experts:
                if expert is not chosen:
                    expert.to("cpu")
            chosen.to(self.device)
        return chosen

    def only_expert(self, name: str) -> WanComponents:
        """These components with one transformer: the ``high`` (noise) or ``low`` expert of a Wan2.2 MoE model
        (the same module objects: what trains on the view trains in place)."""
        chosen = {"high": self.transformer, "low": self.transformer_2}[name]
        return replace(self, transformer=chosen, transformer_2=None, boundary_ratio=None)

    def noise_interval(self, name: str) -> tuple[float, float]:
        """The σ range the ``high`` or ``low`` expert denoises (σ = t / 1000; the switch is at ``boundary_ratio``)."""
        return (self.boundary_ratio, 1.0) if name == "high" else (0.0, self.boundary_ratio)

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> WanComponents:
        """Move the networks (the transformers cast to ``dtype``; the codec and encoders keep theirs) and run them
        there."""
        self.device = torch.device(device)
        for expert in self.experts:
            expert.to(device)
            if dtype is not None and dtype != expert.dtype:
                expert.to(dtype)
        self.codec.to(device)
        for module in (self.text_encoder, self.image_encoder):
            if module is not None:
                module.to(device)
        return self

    def save(self, path: str | os.PathLike) -> Path:
        """Save in the diffusers directory layout that :func:`load_components` reads."""
        path = Path(path)
        self.transformer.save_pretrained(path / "transformer")
        if self.transformer_2 is not None:
            self.transformer_2.save_pretrained(path / "transformer_2")
        index = {**({"boundary_ratio": self.boundary_ratio} if self.transformer_2 is not None else {}),
                 **({"expand_timesteps": True} if self.expand_timesteps else {})}
        if index:
            (path / MODEL_INDEX).write_text(json.dumps(index))
        self.codec.save(path)
        self.text_encoder.save_pretrained(path / "text_encoder")
        self.tokenizer.save_pretrained(path / "tokenizer")
        if self.image_encoder is not None:
            self.image_encoder.save_pretrained(path / "image_encoder")
            self.image_processor.save_pretrained(path / "image_processor")
        return path


def tiny_tokenizer(text_len: int = WAN_TEXT_LEN) -> T5Tokenizer:
    """A character-level T5 tokenizer built in memory (no download); the tiny presets use it."""
    words = "the a character person puppet walks runs waves jumps dances turns arms legs hands left right".split()
    pieces = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0)]
    pieces += [(f"\u2581{w}", -1.0) for w in words]
    pieces += [(c, -5.0) for c in string.ascii_lowercase + string.digits + string.punctuation]
    pieces += [("\u2581", -2.0)]
    return T5Tokenizer(vocab=pieces, extra_ids=0, model_max_length=text_len)


def build_codec(config: VAEConfig | PixelCodecConfig) -> Codec:
    """The codec of a preset: a seeded-random ``AutoencoderKLWan`` (call under the caller's seed) or the pixel codec."""
    if isinstance(config, PixelCodecConfig):
        return PixelCodec(config)
    vae = AutoencoderKLWan(**{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()
                              if v is not None})
    return WanVAECodec(vae.eval())


def build_components(config: BackboneConfig, seed: int = 0, device: str = "cpu") -> WanComponents:
    """Instantiate every component from ``config``; seeded random weights, or shapes on ``meta``."""
    te = config.text_encoder
    tokenizer = tiny_tokenizer(te.text_len)
    with torch.random.fork_rng(devices=[]), torch.device(device):
        torch.manual_seed(seed)
        transformer = WanTransformer3DModel(**asdict(config.transformer))
        codec = build_codec(config.codec)
        vocab = 256384 if device == "meta" else len(tokenizer)  # umt5-xxl vocabulary for real shapes
        text_encoder = UMT5EncoderModel(UMT5Config(
            vocab_size=vocab, d_model=te.d_model, d_kv=te.d_kv, d_ff=te.d_ff, num_layers=te.num_layers,
            num_heads=te.num_heads, feed_forward_proj="gated-gelu", pad_token_id=0, eos_token_id=1))
        image_encoder = image_processor = None
        if config.image_encoder is not None:
            ie = config.image_encoder
            image_encoder = CLIPVisionModel(CLIPVisionConfig(**asdict(ie), projection_dim=ie.hidden_size))
            image_processor = CLIPImageProcessorPil(
                size={"shortest_edge": ie.image_size}, crop_size={"height": ie.image_size, "width": ie.image_size})
        low_noise = None if config.boundary_ratio is None else WanTransformer3DModel(**asdict(config.transformer))
    components = WanComponents(transformer, codec, text_encoder, tokenizer, image_encoder, image_processor, config.name,
                               te.text_len, low_noise, config.boundary_ratio, config.expand_timesteps)
    for module in (*components.experts, text_encoder, image_encoder):
        if module is not None:
            module.eval()
    return components


def read_model_index(path: Path) -> dict:
    """The ``model_index.json`` of a model directory ({} when there is none); KinemaInputError when unreadable."""
    index = path / MODEL_INDEX
    try:
        values = json.loads(index.read_text()) if index.is_file() else {}
    except (OSError, ValueError):
        values = None
    if not isinstance(values, dict):
        raise KinemaInputError(f"model directory '{path}'", f"has an unreadable {MODEL_INDEX}",
                               "Restore it from the checkpoint's release.")
    return values


def _expand_timesteps(path: Path, index: dict) -> bool:
    value = index.get("expand_timesteps", False)
    if not isinstance(value, bool):
        raise KinemaInputError(f"model directory '{path}'", f"has expand_timesteps {value!r} in {MODEL_INDEX}",
                               "Set it to true (Wan2.2-TI2V-5B) or false.")
    return value


def _low_noise_expert(path: Path, index: dict,
                      torch_dtype: torch.dtype) -> tuple[WanTransformer3DModel | None, float | None]:
    """A Wan2.2 MoE directory's ``transformer_2/`` and the ``boundary_ratio`` of its ``model_index.json``;
    (None, None) for a one-transformer model. KinemaInputError when only one of the two is there."""
    boundary = index.get("boundary_ratio")
    has_expert = (path / "transformer_2").is_dir()
    if boundary is None and not has_expert:
        return None, None
    if not has_expert:
        raise KinemaInputError(f"model directory '{path}'", f"sets boundary_ratio {boundary} in {MODEL_INDEX} but has no "
                               "transformer_2/ (the low-noise expert)", "Download the whole Wan2.2 checkpoint.")
    if not isinstance(boundary, (int, float)) or not 0 < boundary < 1:
        raise KinemaInputError(f"model directory '{path}'", f"has transformer_2/ but boundary_ratio {boundary!r} in "
                               f"{MODEL_INDEX}", "Give it the release's boundary_ratio (0.875 for T2V-A14B, 0.9 for I2V-A14B).")
    with quiet_loading():
        expert = load_transformer(path / "transformer_2", torch_dtype)
    return expert, float(boundary)


def load_transformer(path: Path, torch_dtype: torch.dtype) -> WanTransformer3DModel:
    """A diffusers ``WanTransformer3DModel`` with the extra patch embeddings saved beside its weights
    (:mod:`kinema.backbone.embeddings`; diffusers itself would drop them, with a warning that they are unused)."""
    level = diffusers_logging.get_verbosity()
    diffusers_logging.set_verbosity_error()
    try:
        transformer = WanTransformer3DModel.from_pretrained(path, torch_dtype=torch_dtype, local_files_only=True)
    finally:
        diffusers_logging.set_verbosity(level)
    attach_saved_embeddings(transformer, path)
    return transformer


@contextmanager
def quiet_loading() -> Iterator[None]:
    """Hide transformers' and diffusers' own progress bars ("Loading weights", "Loading checkpoint shards")
    while loading: kinema prints its own phase lines, and ``--no-progress`` must leave stderr quiet. The
    previous state is restored after."""
    libraries = [lib for lib in (transformers_logging, diffusers_logging) if lib.is_progress_bar_enabled()]
    for lib in libraries:
        lib.disable_progress_bar()
    try:
        yield
    finally:
        for lib in libraries:
            lib.enable_progress_bar()


def load_components(path: str | os.PathLike, torch_dtype: torch.dtype = torch.float32) -> WanComponents:
    """Load Wan components from a local diffusers-format directory, unchanged and offline.

    Raises:
        KinemaInputError: the directory or one of its required sub-folders is missing.
    """
    path = Path(path)
    for sub in ("transformer", "text_encoder", "tokenizer"):
        if not (path / sub).is_dir():
            raise KinemaInputError(
                f"model directory '{path}'", f"has no '{sub}/' sub-folder",
                "Point --model at a Wan checkpoint in diffusers format (e.g. Wan2.1-I2V-14B-480P-Diffusers).")
    index = read_model_index(path)
    expand_timesteps = _expand_timesteps(path, index)
    kwargs = {"local_files_only": True}
    with quiet_loading():
        transformer = load_transformer(path / "transformer", torch_dtype)
        codec = load_codec(path)
        text_encoder = UMT5EncoderModel.from_pretrained(path / "text_encoder", dtype=torch_dtype, **kwargs)
        tokenizer = T5Tokenizer.from_pretrained(path / "tokenizer", **kwargs)
        image_encoder = image_processor = None
        if (path / "image_encoder").is_dir():
            image_encoder = CLIPVisionModel.from_pretrained(path / "image_encoder", dtype=torch.float32, **kwargs)
            image_processor = CLIPImageProcessorPil.from_pretrained(path / "image_processor", **kwargs)
    text_len = min(tokenizer.model_max_length, WAN_TEXT_LEN)  # a kinema-trained small model may use fewer
    low_noise, boundary = _low_noise_expert(path, index, torch_dtype)
    components = WanComponents(transformer, codec, text_encoder, tokenizer, image_encoder, image_processor, str(path),
                               text_len, low_noise, boundary, expand_timesteps)
    for module in (*components.experts, text_encoder, image_encoder):
        if module is not None:
            module.eval()
    return components
