"""The run directory: config, metrics, atomic checkpoints (last N kept) and exported weights.

Layout::

    RUN/config.json                    the TrainConfig
    RUN/metrics.jsonl                  one JSON object per logged step
    RUN/checkpoints/step-00000250/     model.safetensors (trainable weights), ema.safetensors,
                                       optimizer.pt (tensors only; loaded with weights_only=True), state.json
    RUN/export/                        inference weights (EMA), separate from resumable state

A checkpoint directory is written under a temporary name and renamed when complete, so a crash
never leaves a half-written checkpoint that ``--resume`` could pick up.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

from kinema.errors import KinemaInputError
from kinema.io import atomic_path, write_json_atomic
from kinema.training.config import TrainConfig, config_from_dict


@dataclass
class Checkpoint:
    """Resumable state at ``step`` (every tensor on CPU, unsharded)."""

    step: int
    model: dict[str, torch.Tensor]
    ema: dict[str, torch.Tensor]
    optimizer: dict


class RunDir:
    """Reads and writes one run directory."""

    def __init__(self, path: str | os.PathLike) -> None:
        self.path = Path(path)
        self.checkpoints = self.path / "checkpoints"
        self.metrics = self.path / "metrics.jsonl"
        self.export = self.path / "export"

    def start(self, config: TrainConfig, resume: bool) -> None:
        """Create the directory; a fresh run refuses to overwrite an existing one. A resumed run must
        keep its config, except ``steps`` and ``optim.decay_steps`` (to extend a finished run, or end it
        with a decay: the resumed run matches a single run with the new schedule while the decay starts
        after the checkpoint)."""
        saved = self.path / "config.json"
        if saved.exists() and not resume:
            raise KinemaInputError(f"run directory '{self.path}'", "already holds a run",
                                   "Pass --resume to continue it, or choose a new --out.")
        if saved.exists() and _schedule_free(config_from_dict(json.loads(saved.read_text()))) != _schedule_free(config):
            raise KinemaInputError(f"run directory '{self.path}'", "was started with a different config",
                                   "Resume with the same preset and options, or choose a new --out.")
        write_json_atomic(saved, config.to_dict())

    def latest(self) -> Path | None:
        """The newest complete checkpoint directory, or None."""
        done = sorted(p for p in self.checkpoints.glob("step-*") if (p / "state.json").exists())
        return done[-1] if done else None

    def save(self, ckpt: Checkpoint, keep: int) -> Path:
        """Write ``ckpt`` atomically, then delete all but the newest ``keep`` checkpoints."""
        self.checkpoints.mkdir(parents=True, exist_ok=True)
        final = self.checkpoints / f"step-{ckpt.step:08d}"
        tmp = Path(tempfile.mkdtemp(prefix=".tmp-", dir=self.checkpoints))
        try:
            save_file({k: v.contiguous() for k, v in ckpt.model.items()}, tmp / "model.safetensors")
            save_file({k: v.contiguous() for k, v in ckpt.ema.items()}, tmp / "ema.safetensors")
            torch.save(ckpt.optimizer, tmp / "optimizer.pt")
            (tmp / "state.json").write_text(json.dumps({"step": ckpt.step}))
            if final.exists():
                shutil.rmtree(final)
            os.replace(tmp, final)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
        for old in sorted(self.checkpoints.glob("step-*"))[:-keep]:
            shutil.rmtree(old)
        return final

    def load(self, path: Path) -> Checkpoint:
        """Read a checkpoint written by :meth:`save` (no pickled code is executed)."""
        step = json.loads((path / "state.json").read_text())["step"]
        optimizer = torch.load(path / "optimizer.pt", map_location="cpu", weights_only=True)
        return Checkpoint(step, load_file(path / "model.safetensors"), load_file(path / "ema.safetensors"), optimizer)

    def log(self, record: dict) -> None:
        with self.metrics.open("a") as f:
            f.write(json.dumps(record) + "\n")

    def truncate_metrics(self, step: int) -> None:
        """Drop records after ``step`` (logged after the checkpoint a resumed run restarts from)."""
        if not self.metrics.exists():
            return
        kept = [line for line in self.metrics.read_text().splitlines() if json.loads(line)["step"] <= step]
        with atomic_path(self.metrics) as tmp:
            tmp.write_text("".join(line + "\n" for line in kept))

    def read_metrics(self) -> list[dict]:
        if not self.metrics.exists():
            return []
        return [json.loads(line) for line in self.metrics.read_text().splitlines()]


def _schedule_free(config: TrainConfig) -> TrainConfig:
    """``config`` without the settings a resume may change (the end of the schedule)."""
    return replace(config, steps=1, optim=replace(config.optim, decay_steps=0))
