"""``kinema distill``: DMD2 few-step distillation of a trained model (kinema.training.dmd)."""

from __future__ import annotations

import click

from kinema.cli.train import parse_overrides
from kinema.io import check_output_dir


@click.command()
@click.option("--teacher", required=True,
              help="The model to distil: embedded, or a model directory kinema trained (its card gives the data).")
@click.option("--steps", "student_steps", type=click.IntRange(1, 50), default=4, show_default=True,
              help="The student's sampling steps (its model card's).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory (resumable).")
@click.option("--iterations", type=click.IntRange(1, 1_000_000), default=1000, show_default=True,
              help="Critic updates; the student updates on every distill.critic_ratio-th (5).")
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in --out.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE",
              help="Override a config field, as kinema train's (distill.critic_ratio=5, optim.lr=2e-5, batch_size=8, ...).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch (default: torch's).")
def distill(teacher: str, student_steps: int, out: str, iterations: int, resume: bool, overrides: tuple[str, ...],
            no_progress: bool, threads: int | None) -> None:
    """Distil --teacher into a --steps-step student; checkpoints, metrics.jsonl and the student go to --out."""
    import torch

    from kinema.training.dmd import Distiller, distill_config

    if threads is not None:
        torch.set_num_threads(threads)
    config = distill_config(teacher, student_steps, iterations, **parse_overrides(overrides))
    check_output_dir(out, "--out")
    result = Distiller(config, out, resume=resume, progress=not no_progress).train()
    if result.losses:
        click.echo(f"iteration {result.step}: critic loss {result.losses[-1]:.4f}; "
                   f"{student_steps}-step student in {result.run.export / 'model'}")
