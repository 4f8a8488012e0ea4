"""The Wan components: built from a preset (offline) or loaded from a local diffusers directory.

Directory layout (what diffusers' Wan pipelines save): ``transformer/``, ``vae/``,
``text_encoder/``, ``tokenizer/`` and, for I2V models, ``image_encoder/`` + ``image_processor/``.
Models on the lossless pixel codec have ``codec/`` (its config) instead of ``vae/``.
"""

from __future__ import annotations

import os
import string
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass
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
from kinema.errors import KinemaInputError

WAN_TEXT_LEN = 512  # diffusers' I2V attention processor hard-codes 512 text tokens


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

    @property
    def is_i2v(self) -> bool:
        return self.image_encoder is not None

    def to(self, device: torch.device | str, dtype: torch.dtype | None = None) -> WanComponents:
        """Move the networks; the codec and encoders stay float32 unless ``dtype`` is given for all."""
        self.transformer.to(device)
        if dtype is not None and dtype != self.transformer.dtype:
            self.transformer.to(dtype)
        self.codec.to(device)
        for module in (self.text_encoder, self.image_encoder):
            if module is not None:
                module.to(device)
        return self

    def save(self, path: str | os.PathLike) -> Path:
        """Save in the diffusers directory layout that :func:`load_components` reads."""
        path = Path(path)
        self.transformer.save_pretrained(path / "transformer")
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
    vae = AutoencoderKLWan(**{k: list(v) if isinstance(v, tuple) else v for k, v in asdict(config).items()})
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
    components = WanComponents(transformer, codec, text_encoder, tokenizer, image_encoder, image_processor, config.name,
                               te.text_len)
    for module in (transformer, text_encoder, image_encoder):
        if module is not None:
            module.eval()
    return components


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
    kwargs = {"local_files_only": True}
    with quiet_loading():
        transformer = WanTransformer3DModel.from_pretrained(path / "transformer", torch_dtype=torch_dtype, **kwargs)
        codec = load_codec(path)
        text_encoder = UMT5EncoderModel.from_pretrained(path / "text_encoder", dtype=torch_dtype, **kwargs)
        tokenizer = T5Tokenizer.from_pretrained(path / "tokenizer", **kwargs)
        image_encoder = image_processor = None
        if (path / "image_encoder").is_dir():
            image_encoder = CLIPVisionModel.from_pretrained(path / "image_encoder", dtype=torch.float32, **kwargs)
            image_processor = CLIPImageProcessorPil.from_pretrained(path / "image_processor", **kwargs)
    text_len = min(tokenizer.model_max_length, WAN_TEXT_LEN)  # a kinema-trained small model may use fewer
    components = WanComponents(transformer, codec, text_encoder, tokenizer, image_encoder, image_processor, str(path),
                               text_len)
    for module in (transformer, text_encoder, image_encoder):
        if module is not None:
            module.eval()
    return components
