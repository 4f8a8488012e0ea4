"""``kinema replace``: put reference character(s) into a driving video in place of its subjects (SCAIL-2, R2).

The options that pick subject masks and the binding are shared with ``kinema animate --driving-mode rgb``.
"""

from __future__ import annotations

from collections.abc import Callable

import click

from kinema.cli.options import generation_inputs, generation_options, window_options
from kinema.errors import KinemaInputError


def parse_bind(text: str) -> tuple[int, ...]:
    """'1,0' -> (1, 0): reference character k replaces driving subject bind[k] (counted from the left)."""
    try:
        return tuple(int(v) for v in text.split(","))
    except ValueError:
        raise KinemaInputError(f"--bind '{text}'", "is not a comma-separated list of integers",
                               "Write it like --bind 1,0.") from None


def bind_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, ...] | None:
    """click callback form of :func:`parse_bind` for the optional ``--bind``."""
    return None if value is None else parse_bind(value)


def scail_options(command: Callable) -> Callable:
    """Mask, binding and driving-resolution options of recipe R2."""
    options = [
        click.option("--masks", type=click.Path(), default=None,
                     help="Driving subject masks: .npz/.npy (T, P, H, W), or a binary / colour-coded video (one colour per subject)."),
        click.option("--reference-masks", type=click.Path(), multiple=True,
                     help="Character mask of each --reference (same order): .npz/.npy or a binary / colour-coded image."),
        click.option("--segmenter", type=click.Choice(["mediapipe"]), default="mediapipe", show_default=True,
                     help="Segmenter for masks not given as files (mediapipe: optional extra, one person)."),
        click.option("--bind", callback=bind_callback, default=None,
                     help="Driving subject (0 = leftmost) of each reference character, e.g. 1,0. Default: left to right."),
        click.option("--driving-resolution", type=click.Choice(["full", "half"]), default=None,
                     help="Encode the driving video at full or half resolution (4x fewer condition tokens; "
                          "default: the model's, else full)."),
    ]
    for option in reversed(options):
        command = option(command)
    return command


@click.command(help="Replace subjects of a driving video with reference characters (SCAIL-2 recipe, replacement mode).")
@click.option("--reference", required=True, multiple=True, type=click.Path(),
              help="Reference character image; repeat for several characters (bound in order).")
@click.option("--driving", required=True, type=click.Path(), help="Driving video (raw RGB); its environment is kept.")
@click.option("--out", required=True, type=click.Path(), help="Output .mp4; settings are written beside it as .json.")
@click.option("--model", default="tiny", show_default=True,
              help="A trained R2 (SCAIL-2) Wan diffusers directory, or a preset name. No R2 model ships: the default "
                   "'tiny' has random weights and shows the pipeline working, not a trained replacement.")
@generation_options
@click.option("--guidance", type=float, default=None, help="Text classifier-free guidance scale (default: the model's, else 5).")
@click.option("--flow-shift", type=float, default=None, help="Default: the model's, else 3.0 (480p; 5.0 for 720p).")
@click.option("--fit", type=click.Choice(["error", "crop", "pad"]), default="error", show_default=True,
              help="What to do when an input's aspect ratio differs from the output size.")
@window_options
@scail_options
def replace(reference, driving, out, model, adapter, steps, seed, size, frames, prompt, caption, guidance, scheduler,
            flow_shift, fit, window, history, history_match, history_noise, overlap, masks, reference_masks, segmenter, bind,
            driving_resolution, device, offload) -> None:
    from kinema.pipelines.inputs import check_video_out

    check_video_out(out, generation_inputs(reference, driving, caption, *(a.path for a in adapter), masks, *reference_masks))
    from kinema.cli.jobs import Request, report, run

    request = Request("replace", reference, driving, model, steps=steps, seed=seed, guidance=guidance,
                      flow_shift=flow_shift, scheduler=scheduler, size=size, frames=frames, prompt=prompt, caption=caption,
                      fit=fit, adapters=adapter, masks=masks, reference_masks=reference_masks, segmenter=segmenter,
                      bind=bind, driving_resolution=driving_resolution, device=device, offload=offload, window=window,
                      history=history, history_match=history_match, history_noise=history_noise, overlap=overlap)
    report(run(request, out), out)
