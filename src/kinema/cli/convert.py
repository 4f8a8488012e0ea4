"""``kinema convert``: turn a released checkpoint into a model directory kinema runs with ``--model DIR``."""

from __future__ import annotations

from pathlib import Path

import click

DTYPES = ("bfloat16", "float16", "float32")


@click.group(help="Convert released checkpoints into kinema model directories.")
def convert() -> None:
    pass


@convert.command(help="SCAIL-2 (zai-org/SCAIL-2): its SAT checkpoint (the release directory or the .pt), or the "
                      "safetensors of its own convert.py, plus Wan2.1-I2V's VAE, umT5 and CLIP from a diffusers directory.")
@click.argument("src", type=click.Path(path_type=Path))
@click.option("--base", required=True, type=click.Path(path_type=Path),
              help="The diffusers-format Wan2.1-I2V-14B directory (Wan2.1-I2V-14B-480P-Diffusers): VAE, text and image encoders.")
@click.option("--out", required=True, type=click.Path(path_type=Path), help="The new model directory.")
@click.option("--dtype", type=click.Choice(DTYPES), default="bfloat16", show_default=True,
              help="Precision of the written transformer (the release is float32).")
def scail2(src: Path, base: Path, out: Path, dtype: str) -> None:
    import torch

    from kinema.backbone.scail2_checkpoint import convert_scail2

    written = convert_scail2(src, base, out, getattr(torch, dtype))
    click.echo(f"wrote {written}: run it with kinema replace / kinema animate --driving-mode rgb --model {written}")
