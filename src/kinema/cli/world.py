"""``kinema world``: a character directed by text in a Gaussian-splat scene, one clip per instruction (AniX, R3)."""

from __future__ import annotations

import sys
from collections.abc import Iterator
from pathlib import Path

import click

from kinema.cli.options import SEED, adapters_callback, size_callback
from kinema.cli.scene import SIDECAR, parse_point
from kinema.errors import KinemaInputError


def typed_instructions(seconds: float, fps: float) -> Iterator[str]:
    """Instructions read from the terminal one at a time, until an empty line or end of input; one that is not
    understood is named and asked again (the clips so far are kept)."""
    from kinema.world.instructions import parse_instruction

    while True:
        click.echo("instruction (empty line to finish): ", nl=False, err=True)
        line = sys.stdin.readline().strip()
        if not line:
            return
        try:
            parse_instruction(line, seconds, fps)
        except KinemaInputError as err:
            click.echo(f"error: {err}", err=True)
            continue
        yield line


@click.command(help="Direct a character by text inside a Gaussian-splat scene (AniX): each --instruction renders the "
                    "scene along its camera path and generates a clip continuing the previous one.")
@click.option("--scene", "scene_file", required=True, type=click.Path(path_type=Path), help="Scene .ply (3DGS).")
@click.option("--character", multiple=True, required=True, type=click.Path(path_type=Path),
              help="Character view images: 1 (front), 2 (front, back) or 4 (front, left, right, back), in that order.")
@click.option("--instruction", multiple=True, help="What the character does next, e.g. 'walk forward', 'wave'; repeat.")
@click.option("--interactive", is_flag=True, help="Read the instructions from the terminal, one clip at a time.")
@click.option("--out", required=True, type=click.Path(path_type=Path),
              help="Output .mp4; the scene video goes to .scene.mp4 and the settings to .json beside it.")
@click.option("--model", default="tiny-t2v", show_default=True, help="An R3 model directory, or a preset (random weights).")
@click.option("--adapter", multiple=True, callback=adapters_callback, metavar="PATH[:WEIGHT]", help="LoRA .safetensors; repeat.")
@click.option("--size", default="64x64", show_default=True, callback=size_callback, help="WIDTHxHEIGHT.")
@click.option("--fps", type=click.FloatRange(1, 120), default=16.0, show_default=True)
@click.option("--seconds", type=click.FloatRange(0.25, 60), default=2.0, show_default=True, help="Length of each clip.")
@click.option("--eye", callback=parse_point, default=None, help="Camera position x,y,z (default: the scene layout's).")
@click.option("--target", callback=parse_point, default=None, help="Point the camera looks at, x,y,z.")
@click.option("--fov", type=click.FloatRange(10, 150), default=60.0, show_default=True, help="Vertical field of view, degrees.")
@click.option("--anchor", callback=parse_point, default=None,
              help="Character anchor box x0,y0,x1,y1 in pixels (default: middle of the lower half).")
@click.option("--steps", type=int, default=None, help="Denoising steps (default: the model's, else 30).")
@click.option("--guidance", type=float, default=None, help="Text guidance scale (default: the model's, else 5).")
@click.option("--seed", type=SEED, default=0, show_default=True)
@click.option("--device", default="auto", show_default=True, help="cpu, cuda or cuda:N (bf16 on a GPU).")
@click.option("--offload", type=click.Choice(["none", "model", "group"]), default="none", show_default=True,
              help="GPU only: where weights wait while another network runs (see kinema animate --help).")
@click.option("--no-progress", is_flag=True)
def world(scene_file, character, instruction, interactive, out, model, adapter, size, fps, seconds, eye, target, fov,
          anchor, steps, guidance, seed, device, offload, no_progress) -> None:
    from kinema.cli.scene import start_camera
    from kinema.io import check_output, load_image
    from kinema.pipelines.anix import WorldRunConfig, world as run_world
    from kinema.pipelines.inputs import check_size, check_video_out
    from kinema.pipelines.models import check_offload, model_card, resolve_device, sampler_for
    from kinema.world.paths import AnchorBox
    from kinema.world.ply import read_ply
    from kinema.world.video import default_anchor

    inputs = [scene_file, scene_file.with_suffix(SIDECAR), *character, *(a.path for a in adapter)]
    check_video_out(out, inputs)
    check_output(out.with_suffix(".scene.mp4"), f"the scene video beside --out '{out}'", inputs)
    check_size(size)
    if bool(instruction) == interactive:
        raise KinemaInputError("--instruction / --interactive", "exactly one of them is needed",
                               "Repeat --instruction 'walk forward' --instruction 'wave', or pass --interactive.")
    if any(not text.strip() for text in instruction):
        raise KinemaInputError("--instruction ''", "is empty", "Say what the character does, e.g. 'walk forward'.")
    box = AnchorBox(*anchor) if anchor else default_anchor(*size)
    box.check_inside(*size)
    views = [load_image(path, "character view") for path in character]
    resolved, dtype = resolve_device(device)
    check_offload(offload, resolved)
    gaussians = read_ply(scene_file)
    camera = start_camera(scene_file, gaussians, size, fov, eye, target)
    try:
        sampler = sampler_for(model_card(model), steps, guidance)
    except ValueError as err:
        raise KinemaInputError("sampling options", str(err), "See kinema world --help.") from None
    config = WorldRunConfig(size=size, fps=fps, seconds=seconds, seed=seed, sampler=sampler)

    def report(clip) -> None:
        click.echo(f"clip: '{clip.instruction}' -> {clip.action} ({clip.path}), {clip.frames} frames", err=True)

    result = run_world(views, gaussians, camera, box, typed_instructions(seconds, fps) if interactive else instruction, out, config,
                       model, adapter, resolved, dtype, offload, progress=not no_progress, on_clip=report)
    for note in result.notes:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {out} ({len(result.frames)} frames, {size[0]}x{size[1]}), {out.with_suffix('.scene.mp4').name} "
               f"and {out.with_suffix('.json').name}")
