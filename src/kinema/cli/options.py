"""Option parsers shared by the verbs."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from kinema.errors import KinemaInputError

SEED = click.IntRange(0, 2**63 - 1)  # what torch's generators take
CAPTION_HELP = ("Write the prompt from captions (DreamActor-M2 §3.3). puppet: from the labels.json beside each "
                "--reference (a `kinema synth` sample), within the model card's text budget; openai: the fused caption "
                "from the chat server in KINEMA_LLM_BASE_URL / KINEMA_LLM_MODEL (one reference).")


def parse_size(text: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' -> (W, H), both positive; range checks belong to each consumer."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise KinemaInputError(f"--size '{text}'", "is not WIDTHxHEIGHT", "Write it like 512x512.") from None
    if width <= 0 or height <= 0:
        raise KinemaInputError(f"--size '{text}'", "must be positive", "Write it like 512x512.")
    return width, height


def size_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """click callback form of :func:`parse_size` for optional ``--size`` options."""
    return None if value is None else parse_size(value)


def adapters_callback(ctx: click.Context, param: click.Parameter, value: tuple[str, ...]) -> tuple:
    """click callback: each ``--adapter PATH[:WEIGHT]`` as a :class:`~kinema.backbone.lora.AdapterSpec`."""
    from kinema.backbone.lora import parse_adapter

    return tuple(parse_adapter(v) for v in value)


def generation_options(command: Callable) -> Callable:
    """The options every generating verb shares: adapter, steps, seed, size, frames, prompt, caption, scheduler."""
    options = [
        click.option("--adapter", multiple=True, callback=adapters_callback, metavar="PATH[:WEIGHT]",
                     help="LoRA .safetensors (diffusers, original Wan / ComfyUI or musubi keys) at a weight "
                          "(default 1); repeat to combine several."),
        click.option("--steps", type=int, default=None, help="Denoising steps (default: the model's, else 30)."),
        click.option("--seed", type=SEED, default=0, show_default=True),
        click.option("--size", default=None, callback=size_callback,
                     help="Output WxH (default: the model's, else the driving video's size)."),
        click.option("--frames", type=int, default=None, help="Output frames, rounded to 1 + 4k (default: all)."),
        click.option("--prompt", default="", help="Text description of the target video."),
        click.option("--caption", type=click.Choice(["none", "puppet", "openai"]), default="none", show_default=True,
                     help=CAPTION_HELP),
        click.option("--scheduler", type=click.Choice(["unipc", "euler"]), default="unipc", show_default=True),
        click.option("--device", default="auto", show_default=True,
                     help="cpu, cuda or cuda:N; auto takes the CUDA GPU when there is one (bf16 there, float32 on the CPU)."),
        click.option("--offload", type=click.Choice(["none", "model", "group"]), default="none", show_default=True,
                     help="GPU only: where weights wait while another network runs. model: each network on the GPU "
                          "only for its stage (peak: the largest one); group: layer by layer (least memory, slowest)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


def generation_inputs(references: tuple[str, ...], driving: str, caption: str, *others: str | None) -> list[str | Path]:
    """Every file a generating verb reads, which its --out must not replace: ``references``, ``driving``,
    the given ``others`` (None: an option not given) and, for --caption puppet, each reference's labels.json."""
    labels = [Path(r).parent / "labels.json" for r in references] if caption == "puppet" else []
    return [*references, driving, *(o for o in others if o is not None), *labels]


def window_options(command: Callable) -> Callable:
    """Long-video options (:mod:`kinema.pipelines.windows`) of the animating verbs."""
    options = [
        click.option("--window", type=int, default=None,
                     help="Long videos: frames generated per window (1 + 4k). Default: the model's trained frames, else 81."),
        click.option("--history", type=int, default=None,
                     help="Latent frames (4 output frames each) a window continues from the one before; 0: independent "
                          "windows. Default: the model's (when trained for it), else 0."),
        click.option("--history-match", type=click.Choice(["none", "reference"]), default="none", show_default=True,
                     help="Match the history's colour statistics to the reference's before each window (against drift)."),
        click.option("--history-noise", type=click.FloatRange(0, 1), default=0.0, show_default=True,
                     help="Gaussian noise (σ) added to the history at inference."),
        click.option("--overlap", type=int, default=None,
                     help="Frames (a multiple of 4) two consecutive windows both generate and cross-fade, against seams. "
                          "Default: the model's (4 for the embedded one), else 0."),
    ]
    for option in reversed(options):
        command = option(command)
    return command
