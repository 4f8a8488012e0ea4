"""The run directory: config, metrics, atomic checkpoints (last N kept) and exported weights.

Layout::

    RUN/config.json                    the TrainConfig
    RUN/metrics.jsonl                  one JSON object per logged step
    RUN/checkpoints/step-00000250/     model.safetensors (trainable weights), ema.safetensors,
                                       optimizer.pt (tensors only; loaded with weights_only=True), state.json
    RUN/export/                        inference weights (EMA), separate from resumable state

A checkpoint directory is written under a temporary name and renamed when complete, so a crash
never leaves a half-written checkpoint that ``--resume`` could pick up; the temporaries a crash does
leave are removed when the run directory is next started. A checkpoint damaged later is named and
the one before it resumed instead.
"""

from __future__ import annotations

import itertools
import json
import os
import pickle
import shutil
import sys
from collections.abc import Callable, Collection
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from kinema.errors import KinemaInputError
from kinema.io import atomic_path, write_json_atomic
from kinema.io.atomic import atomic_dir
from kinema.training.config import TrainConfig, config_from_dict

# What a truncated or overwritten file raises when read: JSON, safetensors and torch's zip/pickle formats.
DAMAGE = (OSError, ValueError, TypeError, AttributeError, KeyError, EOFError, RuntimeError, pickle.UnpicklingError,
          SafetensorError)
# kinema.io.atomic's temporary files and directories (".NAME.HEX.tmp[.SUFFIX]"), and the checkpoint
# directories of earlier versions (".tmp-XXXX").
TEMPORARIES = (".*.tmp*", ".tmp-*")


@dataclass
class Checkpoint:
    """Resumable state at ``step`` (every tensor on CPU, unsharded)."""

    step: int
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor]
    optimizer: dict


class RunDir:
    """Reads and writes one run directory; ``notes`` prints what was repaired (off on all ranks but one)."""

    def __init__(self, path: str | os.PathLike, notes: bool = True) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.metrics = self.path / "metrics.jsonl"
        self.export = self.path / "export"
        self.notes = notes

    def start(self, config: TrainConfig, resume: bool) -> None:
        """Claim the directory for a run of ``config``, then remove the temporaries a killed run left.

        A fresh run refuses a directory holding checkpoints or exported weights, and reuses one that holds
        neither (a run that failed or was killed before its first checkpoint). A resumed run must keep its
        config, except ``steps`` and ``optim.decay_steps`` (to extend a finished run, or end it with a decay:
        the resumed run matches a single run with the new schedule while the decay starts after the checkpoint).
        """
        saved = self.path / "config.json"
        if not resume and self.holds_results():
            raise KinemaInputError(f"run directory '{self.path}'", "already holds a run",
                                   "Pass --resume to continue it, or choose a new --out.")
        if resume and saved.exists() and _schedule_free(self.saved_config()) != _schedule_free(config):
            raise KinemaInputError(f"run directory '{self.path}'", "was started with a different config",
                                   "Resume with the same preset and options, or choose a new --out.")
        self.remove_temporaries()
        write_json_atomic(saved, config.to_dict())

    def holds_results(self) -> bool:
        """Whether the directory holds a checkpoint (intact or not) or exported weights."""
        return bool(self.checkpoint_dirs()) or (self.export.is_dir() and any(self.export.iterdir()))

    def saved_config(self) -> TrainConfig:
        """The config the run was started with; KinemaInputError naming ``config.json`` when it is damaged."""
        path = self.path / "config.json"
        try:
            return config_from_dict(json.loads(path.read_text()))
        except DAMAGE as err:
            detail = f"{err.what}: {err.problem}" if isinstance(err, KinemaInputError) else type(err).__name__
            raise KinemaInputError(f"run config '{path}'", f"is damaged or not a kinema config ({detail})",
                                   "Delete it to resume with the options given now (they must be the run's own), "
                                   "or choose a new --out.") from None

    def remove_temporaries(self) -> None:
        """Delete the temporary files and directories of interrupted writes (checkpoints, export, config, metrics)."""
        for folder, pattern in itertools.product((self.path, self.checkpoints, self.export), TEMPORARIES):
            for tmp in folder.glob(pattern):
                if tmp.is_dir() and not tmp.is_symlink():
                    shutil.rmtree(tmp)
                else:
                    tmp.unlink(missing_ok=True)

    def checkpoint_dirs(self) -> list[Path]:
        """Every checkpoint directory, oldest first (complete when written; one may have been damaged since)."""
        return sorted(p for p in self.checkpoints.glob("step-*") if p.is_dir() and p.name[5:].isdigit())

    def save(self, ckpt: Checkpoint, keep: int) -> Path:
        """Write ``ckpt`` atomically, then delete all but the newest ``keep`` checkpoints."""
        final = self.checkpoints / f"step-{ckpt.step:08d}"
        with atomic_dir(final) as tmp:
            save_file({k: v.contiguous() for k, v in ckpt.model.items()}, tmp / "model.safetensors")
            save_file({k: v.contiguous() for k, v in ckpt.ema.items()}, tmp / "ema.safetensors")
            torch.save(ckpt.optimizer, tmp / "optimizer.pt")
            (tmp / "state.json").write_text(json.dumps({"step": ckpt.step}))
        for old in self.checkpoint_dirs()[:-keep]:
            shutil.rmtree(old)
        return final

    def load(self, path: Path, trainable: Collection[str], averaged: Collection[str] | None = None) -> Checkpoint:
        """Read a checkpoint written by :meth:`save` (no pickled code is executed); its model holds ``trainable``,
        its EMA ``averaged`` (default: the same).

        Raises:
            KinemaInputError: naming the first file that is missing, unreadable, or does not hold the
                step of its directory or the tensors ``trainable`` and ``averaged`` name.
        """
        averaged = trainable if averaged is None else averaged
        state = _read(path / "state.json", lambda p: json.loads(p.read_text()))
        _require(isinstance(state, dict) and state.get("step") == int(path.name.removeprefix("step-")),
                 path / "state.json", "does not hold the step of its directory")
        model, ema = (_read(path / name, load_file) for name in ("model.safetensors", "ema.safetensors"))
        for name, tensors, names in (("model.safetensors", model, trainable), ("ema.safetensors", ema, averaged)):
            _require(set(tensors) == set(names), path / name, "does not hold the tensors this run trains")
        optimizer = _read(path / "optimizer.pt", lambda p: torch.load(p, map_location="cpu", weights_only=True))
        _require(isinstance(optimizer, dict), path / "optimizer.pt", "does not hold an optimizer state")
        return Checkpoint(state["step"], model, ema, optimizer)

    def load_latest(self, trainable: Collection[str], averaged: Collection[str] | None = None) -> Checkpoint | None:
        """The newest intact checkpoint, None when there is no checkpoint.

        A damaged checkpoint is named in a note and the one before it tried; KinemaInputError naming the
        damaged file when no checkpoint is intact (nothing is deleted: the user decides).
        """
        damaged: list[KinemaInputError] = []
        for path in reversed(self.checkpoint_dirs()):
            try:
                ckpt = self.load(path, trainable, averaged)
            except KinemaInputError as err:
                damaged.append(err)
                continue
            for err in damaged:
                self._note(f"{err.what} {err.problem}; resuming from {path.name} instead")
            return ckpt
        if damaged:
            raise KinemaInputError(damaged[0].what, f"{damaged[0].problem}, and no earlier checkpoint is intact",
                                   f"Restore it, or delete '{self.checkpoints}' to start the run again from step 0.")
        return None

    def log(self, record: dict) -> None:
        with self.metrics.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """Keep the records up to ``step``, the step a (resumed or restarted) run continues from, so that no
        step is logged twice; a line torn by a kill mid-write is dropped."""
        if not self.metrics.exists():
            return
        kept = [record for record in self.read_metrics() if record["step"] <= step]
        with atomic_path(self.metrics) as tmp:
            tmp.write_text("".join(json.dumps(record) + "\n" for record in kept))

    def read_metrics(self) -> list[dict]:
        """The logged records; unreadable lines (torn by a kill, or damaged) are skipped with a note."""
        if not self.metrics.exists():
            return []
        records = [_record(line) for line in self.metrics.read_text(errors="replace").splitlines()]
        if None in records:
            self._note(f"'{self.metrics}': skipped {records.count(None)} unreadable line(s)")
        return [record for record in records if record is not None]

    def _note(self, text: str) -> None:
        if self.notes:
            print(f"note: {text}", file=sys.stderr)


def _read(path: Path, reader: Callable[[Path], Any]) -> Any:
    """``reader(path)``; KinemaInputError naming ``path`` when it is missing or damaged."""
    try:
        return reader(path)
    except DAMAGE as err:
        raise KinemaInputError(f"checkpoint file '{path}'", f"is missing or damaged ({type(err).__name__})") from None


def _require(ok: bool, path: Path, problem: str) -> None:
    if not ok:
        raise KinemaInputError(f"checkpoint file '{path}'", problem)


def _record(line: str) -> dict | None:
    """One metrics line as a record with an integer ``step``, or None."""
    try:
        record = json.loads(line)
    except ValueError:
        return None
    return record if isinstance(record, dict) and isinstance(record.get("step"), int) else None


def _schedule_free(config: TrainConfig) -> TrainConfig:
    """``config`` without the settings a resume may change (the end of the schedule)."""
    return replace(config, steps=1, optim=replace(config.optim, decay_steps=0))
