"""The ``kinema`` entry point. Each verb lives in its own module and is imported only when used."""

from __future__ import annotations

import contextlib
import importlib
import signal
import sys
from collections.abc import Iterator
from types import FrameType

import click

from kinema.errors import KinemaInputError

# verb -> "module:attribute" of a click command; keeps `kinema --help` free of torch imports.
VERBS = {
    "animate": "kinema.cli.animate:animate",
    "demo": "kinema.cli.demo:demo",
    "synth": "kinema.cli.synth:synth",
    "pose": "kinema.cli.pose:pose",
    "eval": "kinema.cli.eval:eval",
    "caption": "kinema.cli.caption:caption",
    "replace": "kinema.cli.replace:replace",
    "train": "kinema.cli.train:train",
    "distill": "kinema.cli.distill:distill",
    "serve": "kinema.cli.serve:serve",
    "scene": "kinema.cli.scene:scene",
    "convert": "kinema.cli.convert:convert",
    "world": "kinema.cli.world:world",
}
HELP = {
    "animate": "Animate a reference character with a driving video.",
    "demo": "Run the main job on a held-out puppet and score it against the exact target.",
    "synth": "Render puppet-world training triplets, or (--mode world) AniX tuples in 3D splat scenes.",
    "pose": "Extract or render 2D pose keypoints.",
    "eval": "Score a method and its baselines on a puppet benchmark; compare results.",
    "caption": "Describe the driving motion, the reference's appearance and their fusion (text guidance).",
    "replace": "Put reference characters into a driving video in place of its subjects.",
    "train": "Train a model (flow matching; LoRA or full; torchrun for several processes).",
    "distill": "Distil a trained model into a few-step student (DMD2).",
    "scene": "Make procedural Gaussian-splat scenes; render a scene along an instruction's camera path.",
    "convert": "Convert a released checkpoint (SCAIL-2) into a model directory for --model.",
    "world": "Direct a character by text in a Gaussian-splat scene, clip after clip (AniX, recipe R3).",
    "serve": "Serve the web UI (Gradio, the [ui] extra) on this machine: animate and replace in the browser.",
}


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(VERBS)

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name not in VERBS:
            return None
        module, attr = VERBS[name].split(":")
        return getattr(importlib.import_module(module), attr)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        with formatter.section("Commands"):
            formatter.write_dl([(name, HELP.get(name, "")) for name in self.list_commands(ctx)])


class Terminated(BaseException):
    """SIGTERM or SIGHUP, raised wherever the process was. Like Ctrl-C's KeyboardInterrupt it unwinds the
    stack, so every ``finally`` deletes its temporary files, and it passes ``except Exception`` by."""

    def __init__(self, signum: int) -> None:
        super().__init__(signal.Signals(signum).name)
        self.signum = signum


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated(signum)


@contextlib.contextmanager
def _unwind_on_termination() -> Iterator[None]:
    """Within: SIGTERM and SIGHUP raise :class:`Terminated` instead of ending the process on the spot
    (which leaves hidden temporary files). A signal that is ignored (``nohup``) stays ignored."""
    previous = {s: signal.getsignal(s) for s in (signal.SIGTERM, signal.SIGHUP)}
    for s, handler in previous.items():
        if handler == signal.SIG_DFL:
            signal.signal(s, _terminate)
    try:
        yield
    finally:
        for s, handler in previous.items():
            signal.signal(s, handler)


def _show(err: click.ClickException) -> None:
    """Print a click error (a usage error with its usage line and help hint) as ``error: ...``, the form of
    kinema's own errors, where click itself would write ``Error: ...``."""
    if isinstance(err, click.UsageError) and err.ctx is not None:
        ctx = err.ctx
        click.echo(f"{ctx.get_usage()}\nTry '{ctx.command_path} {ctx.help_option_names[0]}' for help.\n", err=True)
    click.echo(f"error: {err.format_message()}", err=True)


@click.group(cls=LazyGroup)
@click.version_option(package_name="kinema")
def cli() -> None:
    """kinema: make any character move."""


def main(argv: list[str] | None = None) -> int:
    """Run the CLI; bad input exits with status 2 and a one-line message naming the fix. Ctrl-C exits
    with 130, SIGTERM with 143 (SIGHUP 129), each after removing its temporary files."""
    try:
        with _unwind_on_termination():
            cli.main(args=argv, standalone_mode=False)
    except Terminated as err:
        click.echo(f"terminated ({err})", err=True)
        return 128 + err.signum
    except KinemaInputError as err:
        click.echo(f"error: {err}", err=True)
        return 2
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as err:
        _show(err)
        return err.exit_code
    return 0


if __name__ == "__main__":
    sys.exit(main())
