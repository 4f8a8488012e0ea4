"""``kinema demo``: the main job on the embedded default, scored against the puppet world's exact target."""

from __future__ import annotations

import click


@click.command(help="Animate a held-out puppet character and compare with the exact target.")
@click.option("--out", default="out/demo", show_default=True, type=click.Path(), help="Output directory.")
@click.option("--model", default="embedded", show_default=True,
              help="embedded (the shipped puppet model), a Wan diffusers directory, or a preset (random weights).")
@click.option("--case", type=int, default=0, show_default=True, help="Case of the puppet-animate benchmark.")
@click.option("--steps", type=int, default=None, help="Denoising steps (default: the model's, else 30).")
@click.option("--guidance", type=float, default=None, help="Text guidance scale (default: the model's).")
@click.option("--no-progress", is_flag=True, help="No phase lines or sampling bar on stderr.")
@click.option("--device", default="cpu", show_default=True,
              help="cpu, cuda or cuda:N (bf16 there), or auto: the CUDA GPU when there is one.")
def demo(out: str, model: str, case: int, steps: int | None, guidance: float | None, no_progress: bool,
         device: str) -> None:
    from kinema.io import check_output_dir

    if case < 0 or (steps is not None and steps < 1):
        from kinema.errors import KinemaInputError
        raise KinemaInputError("--case/--steps", "must be >= 0 and >= 1", "Use e.g. --case 0 --steps 30.")
    check_output_dir(out, "--out")
    if not no_progress:  # torch and diffusers take seconds to import: say so before the first of them
        click.echo("importing torch and diffusers…", err=True)
    from kinema.pipelines.demo import run_demo
    from kinema.pipelines.models import resolve_device

    resolve_device(device)  # a GPU this machine lacks is named before anything is written

    metrics = run_demo(out, model, case, steps, guidance, progress=not no_progress, device=device)
    for note in metrics["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {out}/side_by_side.mp4 (reference | driving | output | exact target)")
    click.echo(f"case {metrics['case']} ({metrics['motion']}); vs the exact target:")
    for name, scores in metrics["scores"].items():
        click.echo(f"  {name:17s}" + "  ".join(f"{k} {v:.3f}" for k, v in scores.items()))
