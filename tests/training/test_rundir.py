"""The run directory under faults: runs SIGKILLed mid-write resume without duplicated steps or left-over
temporaries, damaged files are named (and the checkpoint before them resumed), and a diverged run stops
with a named setting and leaves a directory that a rerun can use."""

import json
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from kinema.cli.main import main

from tests.training.runs import losses, weights

ARGS = ["--no-progress", "--set", "data.samples=4", "--set", "batch_size=4", "--set", "checkpoint_every=2",
        "--set", "steps=6", "--set", "keep_checkpoints=3"]

# `kinema train` in a child that SIGKILLs itself right after the first call of MODULE:ATTRIBUTE returns.
KILLER = """
import importlib, os, signal, sys, torch
torch.set_num_threads(1)
module, attributes = sys.argv[1].split(":")
*owners, name = attributes.split(".")
owner = importlib.import_module(module)
for part in owners:
    owner = getattr(owner, part)
real = getattr(owner, name)
def kill_after(*args, **kwargs):
    real(*args, **kwargs)
    os.kill(os.getpid(), signal.SIGKILL)
setattr(owner, name, kill_after)
from kinema.cli.main import main
sys.exit(main(sys.argv[2:]))
"""


def killed_after(target: str, out: Path, *args: str) -> None:
    """Run ``kinema train --out out *args`` until the first call of ``target`` returns, then SIGKILL it."""
    done = subprocess.run([sys.executable, "-c", KILLER, target, "train", "--out", str(out), *args],
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == -signal.SIGKILL, done.stderr[-3000:]


def train(out: Path, *args: str) -> int:
    """``kinema train`` in this process on one thread (as the children run), bit-comparable with them."""
    threads = torch.get_num_threads()
    try:
        return main(["train", "--out", str(out), "--threads", "1", *args])
    finally:
        torch.set_num_threads(threads)


def steps(run: Path) -> list[int]:
    return [json.loads(line)["step"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def temporaries(run: Path) -> list[Path]:
    return [p for p in run.rglob("*") if ".tmp" in p.name]


def assert_matches_straight(run: Path, straight: Path) -> None:
    assert steps(run) == [1, 2, 3, 4, 5, 6]
    assert losses(run) == losses(straight)
    expected, got = weights(straight), weights(run)
    assert all(torch.equal(expected[k], got[k]) for k in expected)
    assert not temporaries(run)


@pytest.fixture(scope="module")
def straight(tmp_path_factory) -> Path:
    """A finished run: checkpoints at steps 2, 4 and 6, metrics, export."""
    run = tmp_path_factory.mktemp("straight") / "run"
    assert train(run, *ARGS) == 0
    return run


def test_run_killed_in_a_checkpoint_write_then_in_the_export_resumes_to_the_straight_result(tmp_path, straight):
    run = tmp_path / "run"
    killed_after("kinema.training.rundir:save_file", run, *ARGS)  # half-way through the first checkpoint
    assert steps(run) == [1, 2] and not (run / "checkpoints" / "step-00000002").exists()
    assert temporaries(run / "checkpoints")

    killed_after("kinema.backbone.components:WanComponents.save", run, "--resume", *ARGS)  # in the export
    assert steps(run) == [1, 2, 3, 4, 5, 6], "steps logged before the kill were logged again"
    assert not temporaries(run / "checkpoints") and temporaries(run / "export")

    assert train(run, "--resume", *ARGS) == 0
    assert_matches_straight(run, straight)


def _truncate(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


def _garble(path: Path) -> None:
    path.write_bytes(bytes(range(256)) * (path.stat().st_size // 256 + 1))


@pytest.mark.parametrize("newest,older", [("model.safetensors", "optimizer.pt"), ("state.json", "ema.safetensors")])
def test_damaged_checkpoints_are_named_and_the_last_intact_one_resumed(tmp_path, capsys, straight, newest, older):
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    shutil.rmtree(run / "export")
    _truncate(run / "checkpoints" / "step-00000006" / newest)
    _garble(run / "checkpoints" / "step-00000004" / older)
    metrics = run / "metrics.jsonl"
    metrics.write_text(metrics.read_text()[:-30])  # the last record torn mid-line

    assert train(run, "--resume", *ARGS) == 0
    err = capsys.readouterr().err
    assert f"step-00000006/{newest}" in err and f"step-00000004/{older}" in err and "resuming from step-00000002" in err
    assert_matches_straight(run, straight)


def test_no_intact_checkpoint_is_an_error_naming_the_file_and_nothing_is_deleted(tmp_path, capsys, straight):
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    _truncate(run / "checkpoints" / "step-00000006" / "optimizer.pt")
    _garble(run / "checkpoints" / "step-00000004" / "model.safetensors")
    (run / "checkpoints" / "step-00000002" / "state.json").unlink()
    before = sorted(p.relative_to(run) for p in run.rglob("*"))

    assert train(run, "--resume", *ARGS) == 2
    err = capsys.readouterr().err
    assert "step-00000006/optimizer.pt" in err and "no earlier checkpoint is intact" in err and "Traceback" not in err
    assert sorted(p.relative_to(run) for p in run.rglob("*")) == before


def test_damaged_config_is_named_on_resume(tmp_path, capsys, straight):
    run = tmp_path / "run"
    shutil.copytree(straight, run)
    _truncate(run / "config.json")
    assert train(run, "--resume", *ARGS) == 2
    err = capsys.readouterr().err
    assert "config.json" in err and "damaged" in err and "Traceback" not in err


def test_diverged_run_is_named_and_the_rerun_reuses_its_directory(tmp_path, capsys):
    run = tmp_path / "run"
    assert train(run, *ARGS, "--set", "prediction=preconditioned", "--set", "flow.sigma_data=1e20") == 2
    err = capsys.readouterr().err
    assert "makes the loss nan before any update" in err and "same --out" in err and "Traceback" not in err
    assert train(run, *ARGS, "--set", "steps=2") == 0
    assert steps(run) == [1, 2]  # the failed run's records are gone


def test_divergence_names_the_setting_that_caused_it():
    from kinema.training.config import get_config
    from kinema.training.trainer import divergence

    def named(step: int, kept: bool = False) -> str:
        return str(divergence(get_config("tiny", optim={"lr": 1.0}), float("nan"), step, kept))

    assert named(2) == "optim.lr 1: made the loss nan at step 2. Lower it, e.g. --set optim.lr=5e-05, and rerun (the same --out is reused)."
    assert "new --out" in named(5, kept=True)
    assert named(1).startswith("training config: makes the loss nan before any update")
