"""``kinema synth``: render puppet-world triplets (``--mode puppet``) or 3D-world AniX tuples (``--mode world``)
into a dataset directory (and, for triplets, a preview)."""

from __future__ import annotations

from pathlib import Path

import click
from click.core import ParameterSource

from kinema.cli.options import SEED, parse_size
from kinema.errors import KinemaInputError


def _range(text: str) -> tuple[int, int]:
    try:
        parts = [int(v) for v in text.split("-")]
    except ValueError as err:
        raise KinemaInputError(f"--characters-per-scene '{text}'", "is not N or MIN-MAX", "Use e.g. 1-2.") from err
    if len(parts) not in (1, 2):
        raise KinemaInputError(f"--characters-per-scene '{text}'", "is not N or MIN-MAX", "Use e.g. 1-2.")
    return parts[0], parts[-1]


PUPPET_ONLY = ("families", "characters", "modes", "camera_prob", "preview")  # options the 2D triplets alone use
PUPPET_FRAMES = 17
BENCHMARK_FIXED = ("size", "frames", "seed")  # options a world benchmark defines itself


@click.command()
@click.option("--mode", type=click.Choice(["puppet", "world"]), default="puppet", show_default=True,
              help="puppet: 2D triplets; world: AniX tuples in 3D splat scenes.")
@click.option("--out", required=True, type=click.Path(file_okay=False, path_type=Path), help="Dataset directory.")
@click.option("--samples", default=16, show_default=True, help="Number of triplets.")
@click.option("--size", default="64x64", show_default=True, help="Frame size WIDTHxHEIGHT.")
@click.option("--frames", type=int, default=None, help=f"Frames per clip [default: {PUPPET_FRAMES}; world: 32].")
@click.option("--seed", type=SEED, default=0, show_default=True, help="Dataset seed (same seed, same dataset).")
@click.option("--families", default="humanoid", show_default=True, help="Comma list: humanoid,quadruped,bird.")
@click.option("--characters-per-scene", "characters", default="1-2", show_default=True, help="N or MIN-MAX (1..4).")
@click.option("--modes", default="animate,replace,multi", show_default=True, help="Comma list of triplet modes.")
@click.option("--camera-prob", default=0.3, show_default=True, help="Chance of a panning/zooming camera.")
@click.option("--preview", is_flag=True, help="Also write preview.png and preview.gif of the first samples.")
@click.option("--benchmark", default=None, help="World mode: write this benchmark's first --samples cases "
              "(default all), e.g. puppet-world, puppet-world-long.")
@click.pass_context
def synth(ctx: click.Context, mode: str, out: Path, samples: int, size: str, frames: int | None, seed: int,
          families: str, characters: str, modes: str, camera_prob: float, preview: bool, benchmark: str | None) -> None:
    """Render puppet-world samples and training pairs."""
    if mode == "world":
        _synth_world(ctx, out, samples, size, frames, seed, benchmark)
        return
    if benchmark is not None:
        raise KinemaInputError("--benchmark", "applies to --mode world only",
                               "Use kinema eval's puppet benchmarks, or add --mode world.")
    from tqdm import tqdm

    from kinema.puppet.config import SynthConfig
    from kinema.puppet.dataset import iter_triplets, write_dataset

    # 1. Check every input before anything is written.
    config = SynthConfig(size=parse_size(size), frames=PUPPET_FRAMES if frames is None else frames, families=tuple(f.strip() for f in families.split(",") if f.strip()),
                         characters=_range(characters), camera_prob=camera_prob, modes=tuple(m.strip() for m in modes.split(",") if m.strip()))
    _check_output(out, samples)
    # 2. Render and write, manifest last.
    with tqdm(total=samples, desc="synth", unit="sample") as bar:
        manifest = write_dataset(out, config, samples, seed, progress=bar.update)
    click.echo(f"wrote {samples} samples: {manifest}")
    # 3. Preview of the first few samples (re-rendered; identical by seed).
    if preview:
        from kinema.puppet.preview import write_preview

        paths = write_preview(out, list(iter_triplets(config, min(samples, 6), seed)))
        click.echo("preview: " + ", ".join(str(p) for p in paths))


def _check_output(out: Path, samples: int) -> None:
    """KinemaInputError unless ``samples`` is positive and ``out`` is a new, writable dataset directory."""
    from kinema.io import check_output_dir

    if samples < 1:
        raise KinemaInputError("--samples", f"{samples} requested", "Ask for at least 1 sample.")
    if (out / "manifest.json").exists():
        raise KinemaInputError(f"--out '{out}'", "already holds a puppet dataset", "Choose a new directory or delete the old one.")
    check_output_dir(out, "--out")


def _synth_world(ctx: click.Context, out: Path, samples: int, size: str, frames: int | None, seed: int,
                 benchmark: str | None) -> None:
    """``--mode world``: AniX tuples (kinema.world.tuples), one directory per sample, manifest last; with
    ``benchmark``, that benchmark's cases (kinema.world.benchmark)."""
    from tqdm import tqdm

    from kinema.world.tuples import WorldConfig, write_world_dataset

    # 1. Check every input before anything is written.
    given = [f"--{name.replace('_', '-')}" for name in PUPPET_ONLY
             if ctx.get_parameter_source(name) is ParameterSource.COMMANDLINE]
    if given:
        raise KinemaInputError(", ".join(given), "applies to --mode puppet only", "Leave it out with --mode world.")
    if benchmark is not None:
        _synth_benchmark(ctx, out, samples, benchmark)
        return
    config = WorldConfig(size=parse_size(size), **({"frames": frames} if frames is not None else {}))
    _check_output(out, samples)
    # 2. Render and write, manifest last.
    with tqdm(total=samples, desc="synth world", unit="sample") as bar:
        manifest = write_world_dataset(out, config, samples, seed, progress=bar.update)
    click.echo(f"wrote {samples} world tuples: {manifest}")


def _synth_benchmark(ctx: click.Context, out: Path, samples: int, name: str) -> None:
    """``--mode world --benchmark NAME``: the benchmark's first ``samples`` cases (all unless --samples is given)."""
    from tqdm import tqdm

    from kinema.world.benchmark import get_world_benchmark, write_world_benchmark

    # 1. Check every input before anything is written.
    benchmark = get_world_benchmark(name)
    fixed = [f"--{option}" for option in BENCHMARK_FIXED if ctx.get_parameter_source(option) is ParameterSource.COMMANDLINE]
    if fixed:
        raise KinemaInputError(", ".join(fixed), f"is fixed by benchmark {name}", "Leave it out with --benchmark.")
    if ctx.get_parameter_source("samples") is not ParameterSource.COMMANDLINE:
        samples = benchmark.cases
    _check_output(out, samples)
    # 2. Render and write, manifest last.
    with tqdm(total=samples, desc=f"synth {name}", unit="case") as bar:
        manifest = write_world_benchmark(out, benchmark, samples, progress=bar.update)
    click.echo(f"wrote {samples} cases of {name}: {manifest}")
