"""``kinema serve``: the web UI (Gradio, the optional ``[ui]`` extra) on this machine by default."""

from __future__ import annotations

from pathlib import Path

import click

from kinema.ui.access import AUTH_ENV

INSTALL = 'pip install -e ".[ui]"'


def require_gradio() -> None:
    """A clear message naming the install command when Gradio, an optional extra, is missing."""
    try:
        import gradio  # noqa: F401
    except ImportError:
        raise click.ClickException(f"kinema serve needs Gradio, which is not installed. Install the web UI extra "
                                   f"from a kinema checkout: {INSTALL}") from None


@click.command(help="Serve the web UI: animate and replace in the browser, with puppet examples and their scores.")
@click.option("--host", default="127.0.0.1", show_default=True,
              help="Address to listen on; one other machines can reach (e.g. 0.0.0.0) needs --auth.")
@click.option("--port", type=click.IntRange(1, 65535), default=7860, show_default=True)
@click.option("--auth", envvar=AUTH_ENV, default=None, metavar="USER:PASSWORD",
              help=f"Ask for this login (also read from {AUTH_ENV}, which keeps the password out of `ps`).")
@click.option("--out", default="out/serve", show_default=True, type=click.Path(path_type=Path),
              help="Directory of the results: each job's .mp4, its settings .json and, for examples, -metrics.json.")
def serve(host: str, port: int, auth: str | None, out: Path) -> None:
    from kinema.io import check_output_dir
    from kinema.ui.access import check_binding, parse_auth

    login = parse_auth(auth)
    check_binding(host, login)
    check_output_dir(out, "--out")
    require_gradio()
    click.echo("importing torch, diffusers and gradio…", err=True)
    from kinema.ui.app import ServeConfig, launch

    launch(ServeConfig(host, port, login, out),
           ready=lambda url: click.echo(f"kinema UI at {url} (results in {out}; Ctrl-C stops it)", err=True))
