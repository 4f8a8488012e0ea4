"""The ``kinema serve`` app: the page, its events, one job at a time, and the server.

A job runs :func:`kinema.ui.jobs.run` (the CLI's code path) in Gradio's queue; every sampling event shares one
concurrency slot, so jobs from both tabs and every browser run one after another, each waiting browser shown its
position. Progress comes from the sampler's own tqdm bar, which ``gr.Progress(track_tqdm=True)`` follows.
"""

from __future__ import annotations

import secrets
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import click
import gradio as gr

from kinema.errors import KinemaInputError
from kinema.io import write_json_atomic
from kinema.pipelines.dreamactor_m2 import AnimationResult
from kinema.pipelines.models import model_card
from kinema.ui.access import Login
from kinema.ui.examples import PuppetExample, make_examples, score, unscorable
from kinema.ui.forms import DEFAULT_MODELS, as_adapters
from kinema.cli.jobs import Request
from kinema.ui.jobs import card_defaults, output_path, run
from kinema.ui.results import Outcome, error_markdown, gallery
from kinema.ui.style import CSS, HEADER, theme
from kinema.ui.tabs import Tab, animate_tab, replace_tab

JOB = "job"  # the concurrency id of every event that samples: one job at a time, across tabs and sessions
EXAMPLES = {"animate": 3, "replace": 1}  # puppet cases per tab
MAX_UPLOAD = "1gb"  # per file; read_video refuses what would decode past 4 GiB anyway
HIDDEN = {"value": None, "visible": False}  # an output box emptied and hidden (no downloads, no target)


@dataclass(frozen=True)
class ServeConfig:
    """Where the server listens, who may use it, and where results are written."""

    host: str = "127.0.0.1"
    port: int = 7860
    login: Login | None = None
    out: Path = Path("out/serve")


def new_run_id(mode: str) -> str:
    """A unique, sortable name for one job's files."""
    return f"{time.strftime('%Y%m%d-%H%M%S')}-{mode}-{secrets.token_hex(2)}"


def finish(request: Request, result: AnimationResult, out: Path, example: PuppetExample | None,
           seconds: float) -> Outcome:
    """The outcome of a written job; a puppet example's output is scored against its exact target
    (scores saved as ``<name>-metrics.json`` beside the video)."""
    files = (str(out), str(out.with_suffix(".json")))
    done = Outcome(request, result.settings["sampler"]["steps"], str(out), files, tuple(result.notes), seconds)
    if example is None:
        return done
    why = unscorable(example, result.frames)
    if why is not None:
        return replace(done, example=example.key, unscored=why)
    scores = score(example, result.frames)
    metrics = out.with_name(f"{out.stem}-metrics.json")
    write_json_atomic(metrics, {"example": example.key, "motion": example.case.spec.motion, "scores": scores})
    return replace(done, files=(*files, str(metrics)), example=example.key, scores=scores)


def job_handler(tab: Tab, examples: dict[str, PuppetExample], out: Path, history: gr.State,
                shelf: gr.Gallery) -> Callable[..., dict]:
    """The function one tab's button (and example click) runs in the queue."""

    def run_job(values: dict[gr.components.Component, Any],
                progress: gr.Progress = gr.Progress(track_tqdm=True)) -> dict:
        example = examples.get(values[tab.form.example])
        video = output_path(out, new_run_id(tab.form.mode))
        progress(0, desc="reading the inputs, loading the model")
        start = time.monotonic()
        request = None
        try:
            request = tab.form.request(values)  # a bad Size or Bind is refused here, with the CLI's message
            result = run(request, video)
        except (KinemaInputError, click.ClickException) as err:  # the CLI's refusals: shown, nothing written
            return {tab.status: error_markdown(err, request.uploads if request else ()), tab.result: None,
                    tab.downloads: gr.File(**HIDDEN), tab.target: gr.Video(**HIDDEN), history: gr.skip(),
                    shelf: gr.skip()}
        progress(1, desc="scoring against the exact target" if example else "done")
        outcome = finish(request, result, video, example, time.monotonic() - start)
        past = [*values[history], outcome]
        target = None if example is None else example.file("target.mp4")
        return {tab.status: outcome.markdown(), tab.result: outcome.video,
                tab.downloads: gr.File(value=list(outcome.files), visible=True),
                tab.target: gr.Video(value=target, visible=target is not None), history: past, shelf: gallery(past)}

    return run_job


def card_sampling(model: str, adapters: str | None) -> tuple[Any, Any, Any]:
    """Steps, guidance and flow shift of a newly chosen model's card (unchanged when the model cannot be read:
    the job will name the problem)."""
    try:
        defaults = card_defaults(model.strip(), as_adapters(adapters))
    except KinemaInputError:
        return gr.skip(), gr.skip(), gr.skip()
    return defaults.steps, defaults.guidance, defaults.flow_shift


def wire(tab: Tab, examples: dict[str, PuppetExample], out: Path, history: gr.State, shelf: gr.Gallery) -> None:
    """Connect one tab: run on click and on example click (queued, one at a time); a new upload is no longer
    the example; a new model brings its card's sampling defaults."""
    handler = job_handler(tab, examples, out, history, shelf)
    job = {"inputs": tab.form.inputs | {history}, "outputs": tab.outputs | {history, shelf}, "concurrency_limit": 1,
           "concurrency_id": JOB, "api_visibility": "private"}
    tab.run.click(handler, **job)
    tab.examples.load_input_event.then(handler, **job)
    for event in tab.own_files:
        event(lambda: "", outputs=tab.form.example, queue=False, api_visibility="private")
    model, adapters = tab.form.widget("model"), tab.form.widget("adapters")
    sampling = [tab.form.widget(n) for n in ("steps", "guidance", "flow_shift")]
    for event in (model.change, adapters.blur):
        event(card_sampling, [model, adapters], sampling, queue=False, api_visibility="private")


def build(examples_root: Path, out: Path) -> gr.Blocks:
    """The page: header, one tab per mode with its puppet examples (written under ``examples_root``), and the
    session's history; results go to ``out``."""
    cases = {mode: make_examples(examples_root, mode, count, model_card(DEFAULT_MODELS[mode]))
             for mode, count in EXAMPLES.items()}
    lookup = {ex.key: ex for examples in cases.values() for ex in examples}
    with gr.Blocks(title="kinema", analytics_enabled=False) as app:
        gr.Markdown(HEADER)
        history = gr.State([])
        with gr.Tabs():
            tabs = [animate_tab(cases["animate"]), replace_tab(cases["replace"])]
        shelf = gr.Gallery(label="This session's results (newest first)", columns=8, height=230, object_fit="contain",
                           fit_columns=False, preview=False, elem_id="history")
        for tab in tabs:
            wire(tab, lookup, out, history, shelf)
    return app


def launch(config: ServeConfig, ready: Callable[[str], None]) -> None:
    """Serve until Ctrl-C or SIGTERM; ``ready`` is told the URL once the server answers."""
    config.out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="kinema-examples-") as examples:
        app = build(Path(examples), config.out)
        app.queue(default_concurrency_limit=1)
        login = None if config.login is None else (config.login.user, config.login.password)
        try:
            _, url, _ = app.launch(server_name=config.host, server_port=config.port, auth=login, show_error=True,
                                   quiet=True, prevent_thread_lock=True, ssr_mode=False, mcp_server=False,
                                   allowed_paths=[str(config.out.resolve()), examples], max_file_size=MAX_UPLOAD,
                                   footer_links=["gradio"], theme=theme(), css=CSS)
        except OSError:  # Gradio's message names its own environment variable and launch() argument
            raise KinemaInputError(f"--host {config.host} --port {config.port}",
                                   "cannot be listened on (the port is in use, or the address is not this machine's)",
                                   "Pass a free --port, e.g. --port 7861, or another --host.") from None
        ready(url)
        try:
            app.block_thread()
        finally:
            app.close()
