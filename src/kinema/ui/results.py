"""What the page says after a job: notes, scores against the exact target, errors, and the session's history.

Plain text and data only (Markdown for Gradio to render); the page's layout is ``kinema.ui.tabs``.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from kinema.cli.jobs import Request
from kinema.errors import KinemaInputError
from kinema.eval.scoring import metric_info
from kinema.ui.examples import Scores

MARKDOWN_SPECIAL = re.compile(r"([\\`*_{}\[\]<>()#+|~!])")
METHOD_LABELS = {"output": "**output**", "static_reference": "static reference", "driving_copy": "driving copy"}


def escape(text: str) -> str:
    """``text`` shown literally in Markdown (upload paths hold underscores, messages hold brackets)."""
    return MARKDOWN_SPECIAL.sub(r"\\\1", text)


def error_markdown(err: Exception, uploads: Iterable[str] = ()) -> str:
    """A refused job: the CLI's message (what, problem, fix), and that nothing was written. ``uploads`` are named
    by the file name the person chose, not the path Gradio stored them under."""
    def shown(text: str) -> str:
        for path in uploads:
            text = text.replace(path, Path(path).name)
        return escape(text)

    if isinstance(err, KinemaInputError):
        message = f"{shown(err.what)}: {shown(err.problem)}." + (f"  \n{shown(err.fix)}" if err.fix else "")
    else:
        message = shown(str(err))
    return f"> **Not run: bad input. Nothing was written.**  \n> {message}"


def scores_markdown(scores: Scores) -> str:
    """A table of the output and the two baselines against the exact target, one column per metric."""
    metrics = list(scores["output"])
    header = ["vs the exact target", *(_metric_label(m) for m in metrics)]
    rows = [[METHOD_LABELS[name], *(f"{values[m]:.3f}" for m in metrics)] for name, values in scores.items()]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    return "\n".join(lines + ["| " + " | ".join(row) + " |" for row in rows])


def _metric_label(name: str) -> str:
    """The metric's label, its unit, and which way is better."""
    info = metric_info(name)
    return info.label + (f" ({info.unit})" if info.unit else "") + (" ↑" if info.higher_is_better else " ↓")


@dataclass(frozen=True)
class Outcome:
    """A finished job: its request, the files it wrote, its notes and timing, and its scores if it was an example."""

    request: Request
    steps: int
    video: str
    files: tuple[str, ...]
    notes: tuple[str, ...]
    seconds: float
    example: str = ""
    scores: Scores | None = None
    unscored: str | None = None

    @property
    def summary(self) -> str:
        """One line naming the job: verb, example, model, steps, seed, time."""
        verb = {"pose": "animate", "animate": "animate (rgb)", "replace": "replace"}[self.request.recipe_mode]
        return (f"{verb} · {self.example or 'own files'} · {self.request.model} · {self.steps} steps · "
                f"seed {self.request.seed} · {self.seconds:.1f} s")

    def markdown(self) -> str:
        """The job's line, its notes, and the score table (or why there is none)."""
        parts = [f"**Done** · {escape(self.summary)}"]
        parts += [f"- note: {escape(note)}" for note in self.notes]
        if self.scores is not None:
            parts.append(scores_markdown(self.scores))
        elif self.unscored:
            parts.append(f"Not scored: {escape(self.unscored)}.")
        return "\n\n".join(parts)


def gallery(history: list[Outcome]) -> list[tuple[str, str]]:
    """The session's results for a Gallery, newest first: (video, caption)."""
    return [(o.video, f"#{i + 1} · {o.summary}") for i, o in reversed(list(enumerate(history)))]
