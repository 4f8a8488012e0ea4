"""``kinema train`` in a subprocess, its metrics and exported weights, and the kill-and-resume and
2-process torchrun checks."""

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
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


def assert_torchrun_matches_one_process(tmp: Path, *args: str) -> None:
    """2 torchrun processes (gloo) on the same global batch: the losses and weights of 1 process."""
    assert train_cli(tmp / "one", *args).wait() == 0
    cmd = [sys.executable, "-m", "torch.distributed.run", "--nproc-per-node", "2", "--standalone",
           "-m", "kinema.cli.main", "train", "--out", str(tmp / "two"), "--no-progress", *args]
    done = subprocess.run(cmd, env={**os.environ, "OMP_NUM_THREADS": "1"}, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    assert losses(tmp / "two") == pytest.approx(losses(tmp / "one"), rel=1e-5)
    one, two = weights(tmp / "one"), weights(tmp / "two")
    assert max(float((one[k] - two[k]).abs().max()) for k in one) < 1e-5


def predict_seeing_timesteps(recipe, transformer, noisy: torch.Tensor, timestep: torch.Tensor,
                             **conditions) -> tuple[torch.Tensor, torch.Tensor]:
    """``recipe.predict`` without gradients, and the timesteps the transformer's condition embedder received
    (per token when they differ)."""
    seen = []
    hook = transformer.condition_embedder.register_forward_pre_hook(
        lambda _, args, kwargs: seen.append(args[0].clone()), with_kwargs=True)
    try:
        with torch.no_grad():
            return recipe.predict(transformer, noisy, timestep, **conditions), seen[0]
    finally:
        hook.remove()

