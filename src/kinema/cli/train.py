"""``kinema train``: train recipe R1 or R2 on the puppet world (one process, or N under torchrun)."""

from __future__ import annotations

import json
import os

import click

from kinema.errors import KinemaInputError
from kinema.io import check_output, check_output_dir


def parse_overrides(items: tuple[str, ...]) -> dict:
    """``key=value`` pairs (``data.samples=100``, values as JSON when they parse) -> nested dict."""
    out: dict = {}
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key:
            raise KinemaInputError(f"--set '{item}'", "is not key=value", "Use e.g. --set steps=100 --set data.samples=64.")
        try:
            value = json.loads(raw)
        except json.JSONDecodeError:
            value = raw
        *parents, leaf = key.split(".")
        node = out
        for depth, p in enumerate(parents, 1):
            node = node.setdefault(p, {})
            if not isinstance(node, dict):
                raise _group_and_field(item, ".".join(parents[:depth]))
        if isinstance(node.get(leaf), dict):
            raise _group_and_field(item, key)
        node[leaf] = value
    return out


def _group_and_field(item: str, group: str) -> KinemaInputError:
    """The error for ``--set`` of a config group (``data=1``) together with one of its fields (``data.samples=4``)."""
    return KinemaInputError(f"--set '{item}'", f"conflicts with another --set: '{group}' is given whole and by field",
                            f"Set the fields of '{group}' one by one, e.g. --set {group}.FIELD=VALUE.")


@click.command()
@click.option("--preset", default="tiny", show_default=True,
              help="Training preset: tiny, puppet (recipe R1); tiny-r2, puppet-r2 (recipe R2).")
@click.option("--out", required=True, type=click.Path(file_okay=False), help="Run directory.")
@click.option("--resume", is_flag=True, help="Continue from the latest checkpoint in --out.")
@click.option("--set", "overrides", multiple=True, metavar="KEY=VALUE", help="Override a config field (repeatable).")
@click.option("--latents", type=click.Path(dir_okay=False), default=None,
              help="Shared cache of encoded samples (default: RUN/latents.safetensors).")
@click.option("--no-progress", is_flag=True, help="No progress bar.")
@click.option("--threads", type=click.IntRange(min=1), default=None, help="CPU threads for torch (default: torch's).")
@click.option("--workers", type=click.IntRange(min=1, max=256), default=1, show_default=True,
              help="Processes that draw the training samples (the same data for any number).")
def train(preset: str, out: str, resume: bool, overrides: tuple[str, ...], latents: str | None, no_progress: bool,
          threads: int | None, workers: int) -> None:
    """Train; checkpoints, metrics.jsonl and exported weights go to --out."""
    import torch

    from kinema.training.config import get_config
    from kinema.training.trainer import Trainer

    if threads is not None:
        torch.set_num_threads(threads)

    config = get_config(preset, **parse_overrides(overrides))  # a KinemaInputError names a bad key or value
    check_output_dir(out, "--out")
    if latents is not None and not os.path.exists(latents):  # an existing (maybe read-only, shared) cache is only read
        check_output(latents, "--latents")
    result = Trainer(config, out, resume=resume, progress=not no_progress, latents=latents, workers=workers).train()
    if os.environ.get("RANK", "0") == "0" and result.losses:
        click.echo(f"step {result.step}: loss {result.losses[-1]:.4f}; weights in {result.run.export}")
