"""``kinema scene``: make procedural Gaussian-splat scenes and render them along an instruction's camera path."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import click

from kinema.cli.options import size_callback
from kinema.errors import KinemaInputError

if TYPE_CHECKING:  # the verb imports torch only when it runs
    from kinema.world.camera import Camera
    from kinema.world.gaussians import Gaussians

SIDECAR = ".json"  # `scene make` writes the layout (walkable area, props, camera) beside the .ply
PATH_INSTRUCTIONS = {"static": "stand still", "follow": "follow me", "orbit": "orbit"}  # --path as an instruction


def parse_point(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[float, ...] | None:
    """'x,y,z' (or 'x0,y0,x1,y1' for --anchor) -> floats, all finite."""
    if value is None:
        return None
    count = 4 if param.name == "anchor" else 3
    try:
        numbers = tuple(float(v) for v in value.split(","))
    except ValueError:
        numbers = ()
    if len(numbers) != count or not all(abs(v) < float("inf") for v in numbers):
        raise KinemaInputError(f"--{param.name} '{value}'", f"is not {count} finite comma-separated numbers",
                               "Write it like --eye 0,-5,1.6 or --anchor 28,30,36,54.")
    return numbers


@click.group(help="Gaussian-splat scenes: make procedural ones, render any along a camera path.")
def scene() -> None:
    pass


@scene.command(help="Make the procedural splat scene of a seed: a standard 3DGS .ply, its layout beside it as .json.")
@click.option("--seed", type=click.IntRange(0, 2**63 - 1), default=0, show_default=True)
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output .ply (the layout goes to .json).")
@click.option("--gaussians", type=int, default=20_000, show_default=True, help="Gaussian budget.")
def make(seed: int, out: Path, gaussians: int) -> None:
    from kinema.io import check_output, write_json_atomic
    from kinema.world.ply import write_ply
    from kinema.world.scenes import SceneConfig, make_scene

    if out.suffix.lower() != ".ply":
        raise KinemaInputError(f"--out {out}", "is not a .ply path", "Name the output like scene.ply.")
    check_output(out, "--out")
    check_output(out.with_suffix(SIDECAR), "--out's layout file")
    made = make_scene(seed, SceneConfig(budget=gaussians))
    write_ply(made.gaussians, out)
    write_json_atomic(out.with_suffix(SIDECAR), made.labels())
    click.echo(f"wrote {out} ({len(made.gaussians)} Gaussians, {made.kind}, {len(made.props)} props) and "
               f"{out.with_suffix(SIDECAR).name}")


@scene.command(help="Render a splat scene along the camera path of an instruction (AniX: follow for locomotion, "
                    "static for gestures and object actions, orbit or follow for camera behaviour).")
@click.argument("scene_file", metavar="SCENE.ply", type=click.Path(path_type=Path))
@click.option("--out", required=True, type=click.Path(path_type=Path), help="Output .mp4; cameras go to .json.")
@click.option("--instruction", default=None,
              help="What the character does, e.g. 'run forward', 'wave', 'the camera circles around the character'.")
@click.option("--path", "path_kind", type=click.Choice(sorted(PATH_INSTRUCTIONS)), default=None,
              help="The camera path alone: static (the character stands still), follow (it walks forward), orbit. "
                   "Default: the instruction's, else static.")
@click.option("--seconds", type=float, default=2.0, show_default=True)
@click.option("--fps", type=float, default=16.0, show_default=True)
@click.option("--size", default="128x128", show_default=True, callback=size_callback, help="WIDTHxHEIGHT.")
@click.option("--fov", type=click.FloatRange(10, 150), default=60.0, show_default=True, help="Vertical field of view, degrees.")
@click.option("--eye", callback=parse_point, default=None, help="Camera position x,y,z (default: the layout's, else from the scene's bounds).")
@click.option("--target", callback=parse_point, default=None, help="Point the camera looks at, x,y,z.")
@click.option("--anchor", callback=parse_point, default=None,
              help="Character anchor box x0,y0,x1,y1 in pixels: the root stands under its bottom centre (default: middle of the lower half).")
@click.option("--radius", type=float, default=None, help="Orbit radius (default: the camera's distance).")
@click.option("--speed", type=float, default=None, help="Orbit speed, degrees per second (default 45).")
@click.option("--no-progress", is_flag=True)
def render(scene_file: Path, out: Path, instruction: str | None, path_kind: str | None, seconds: float, fps: float, size: tuple[int, int], fov: float,
           eye: tuple[float, ...] | None, target: tuple[float, ...] | None, anchor: tuple[float, ...] | None,
           radius: float | None, speed: float | None, no_progress: bool) -> None:
    from dataclasses import replace

    from tqdm import tqdm

    from kinema.io import write_json_atomic, write_video
    from kinema.pipelines.inputs import check_size, check_video_out
    from kinema.world.instructions import parse_instruction
    from kinema.world.paths import AnchorBox, OrbitPath
    from kinema.world.ply import read_ply
    from kinema.world.video import default_anchor, render_plan

    check_video_out(out, [scene_file, scene_file.with_suffix(SIDECAR)])
    check_size(size)
    if instruction is not None and path_kind is not None:
        raise KinemaInputError("--instruction and --path", "were both given (an instruction chooses its own path)",
                               "Drop one of them.")
    instruction = instruction or PATH_INSTRUCTIONS[path_kind or "static"]
    plan = parse_instruction(instruction, seconds, fps)
    if radius is not None or speed is not None:
        if not isinstance(plan.camera, OrbitPath):
            raise KinemaInputError("--radius/--speed", f"set an orbit, but '{instruction}' gives a {plan.category} "
                                   "camera path", "Drop them, or ask for an orbit ('the camera circles around').")
        plan = replace(plan, camera=replace(plan.camera, **{k: v for k, v in (("radius", radius), ("speed_deg_s", speed))
                                                            if v is not None}))
    gaussians = read_ply(scene_file)
    camera = start_camera(scene_file, gaussians, size, fov, eye, target)
    box = AnchorBox(*anchor) if anchor else default_anchor(*size)
    with tqdm(total=plan.camera.num_frames, desc="rendering", unit="frame", disable=no_progress) as bar:
        video = render_plan(gaussians, camera, plan, box, progress=bar.update)
    write_video(out, video.frames, fps)
    write_json_atomic(out.with_suffix(".json"), {"scene": str(scene_file), "instruction": instruction,
                                                 "action": plan.action, "category": plan.category,
                                                 "motion": plan.motion, "fps": fps, **video.labels()})
    click.echo(f"wrote {out} ({len(video.frames)} frames, {plan.action}: {type(plan.camera).__name__})")


def start_camera(scene_file: Path, gaussians: Gaussians, size: tuple[int, int], fov: float,
                  eye: tuple[float, ...] | None, target: tuple[float, ...] | None) -> Camera:
    """--eye/--target where given, else the layout's camera (`scene make`'s .json), else one looking at the
    scene's centre from its −y side, above the ground."""
    import json

    import numpy as np

    from kinema.world.camera import Camera
    from kinema.world.video import scene_bounds

    layout = scene_file.with_suffix(SIDECAR)
    default_eye = default_target = None
    if layout.is_file():
        try:
            saved = json.loads(layout.read_text())["camera"]
            default_eye, default_target = np.array(saved["eye"], float), np.array(saved["target"], float)
        except (ValueError, KeyError, TypeError) as err:
            raise KinemaInputError(f"layout file {layout}", f"is not a `kinema scene make` layout ({err})",
                                   "Delete it, or pass --eye and --target.") from None
    if default_eye is None:
        lo, hi = scene_bounds(gaussians)
        default_target = np.array([(lo[0] + hi[0]) / 2, (lo[1] + hi[1]) / 2, lo[2]])
        default_eye = default_target + np.array([0.0, -0.45 * (hi[1] - lo[1]), 0.15 * (hi[2] - lo[2]) + 1.6])
    try:
        return Camera.looking_at(np.array(eye if eye else default_eye), np.array(target if target else default_target),
                                 size[0], size[1], fov)
    except ValueError as err:
        raise KinemaInputError("--eye/--target", str(err), "Give a target away from the eye, not straight below it.") from None
