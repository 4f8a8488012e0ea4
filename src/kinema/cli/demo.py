"""``kinema demo``: the main job on the embedded default, scored against the puppet world's exact target."""

from __future__ import annotations

import click


@click.command(help="Animate a held-out puppet character and compare with the exact target.")
@click.option("--out", default="out/demo", show_default=True, type=click.Path(), help="Output directory.")
@click.option("--model", default="tiny", show_default=True, help="Wan diffusers directory or a preset name.")
@click.option("--seed", type=int, default=0, show_default=True, help="Puppet triplet and noise seed.")
@click.option("--steps", type=int, default=30, show_default=True)
def demo(out, model, seed, steps) -> None:
    from kinema.pipelines.demo import run_demo

    metrics = run_demo(out, model, seed, steps)
    for note in metrics["notes"]:
        click.echo(f"note: {note}", err=True)
    click.echo(f"wrote {out}/side_by_side.mp4 (reference | driving | output | exact target)")
    click.echo(f"PSNR vs exact target: output {metrics['psnr_output_vs_target_db']:.2f} dB | baselines: static "
               f"reference {metrics['baseline_static_reference_psnr_db']:.2f} dB, driving copy "
               f"{metrics['baseline_driving_copy_psnr_db']:.2f} dB")
