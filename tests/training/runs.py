"""``kinema train`` in a subprocess, its metrics and exported weights, and the kill-and-resume check."""

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch
from safetensors.torch import load_file


def train_cli(out: Path, *args: str) -> subprocess.Popen:
    code = "import sys, torch; torch.set_num_threads(1); from kinema.cli.main import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.Popen([sys.executable, "-c", code, "train", "--out", str(out), "--no-progress", *args],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def losses(run: Path) -> list[float]:
    return [json.loads(line)["loss"] for line in (run / "metrics.jsonl").read_text().splitlines()]


def weights(run: Path) -> dict[str, torch.Tensor]:
    return load_file(run / "export" / "model" / "transformer" / "diffusion_pytorch_model.safetensors")


def assert_killed_run_resumes_bit_identically(tmp: Path, *args: str) -> None:
    """SIGKILL a run after its step-4 checkpoint, resume it: same losses and weights as a straight run."""
    assert train_cli(tmp / "straight", *args).wait() == 0
    proc = train_cli(tmp / "killed", *args)
    first = tmp / "killed" / "checkpoints" / "step-00000004" / "state.json"
    while not first.exists():
        assert proc.poll() is None, proc.stderr.read().decode()
        time.sleep(0.02)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert not (tmp / "killed" / "export").exists(), "the run finished before it was killed"

    assert train_cli(tmp / "killed", "--resume", *args).wait() == 0
    assert losses(tmp / "killed") == losses(tmp / "straight")
    straight, resumed = weights(tmp / "straight"), weights(tmp / "killed")
    assert all(torch.equal(straight[k], resumed[k]) for k in straight)
