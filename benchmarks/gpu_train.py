"""Train puppet models on one GPU within a fixed time budget (a device lease), and report the step rates.

    python benchmarks/gpu_train.py --gpu --budget 480 --out OUT            # puppet-gpu (the wide model) alone
    python benchmarks/gpu_train.py --gpu --budget 480 --runs wide,tune     # and the shipped model fine-tuned beside it
    python benchmarks/gpu_train.py --dry --budget 150 --out /tmp/g         # the same logic on a CPU, tiny data

Each run is a plain ``kinema train`` in ``runs/gpu/NAME``. It first runs ``P`` steps at a constant learning rate,
then is resumed with the step count and linear decay that fill the time left (the trainer's resume with a new
``steps`` / ``optim.decay_steps`` equals one straight run with that schedule, so the result is reproduced by the
one ``kinema train`` command that ``plan.json`` records). While a run draws its samples the log is watched: when
drawing them all would take more than a quarter of the budget, the run restarts with as many samples as fit. A run
still going at the hard limit is stopped and exported from its last checkpoint. The exported models, metrics, logs
and ``plan.json`` end up in one tar split into 15 MB parts under ``--out``.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

RUNS = {  # name: (kinema train arguments, phase-1 steps = checkpoint interval)
    "wide": (["--preset", "puppet-gpu"], 250),
    "tune": (["--preset", "puppet", "--set", "model=embedded", "--set", "batch_size=32", "--set", "data.samples=4096",
              "--set", "optim.lr=0.0003", "--set", "optim.warmup_steps=100"], 500),
}
DRY = ["--set", "data.samples=12", "--set", "batch_size=4"]  # --dry: the logic on a CPU in minutes
ROOT = Path("runs/gpu")
PROGRESS = re.compile(r"encoding samples:\s+\d+%\|[^|]*\|\s*(\d+)/(\d+) \[(\d+):(\d+)")


class Run:
    """One ``kinema train`` run through its phases."""

    def __init__(self, name: str, args: argparse.Namespace, start: float) -> None:
        self.name, self.args, self.start = name, args, start
        self.base, self.p1 = RUNS[name]
        self.p1 = 4 if args.dry else self.p1
        self.samples: int | None = None  # set when the data had to shrink
        self.phase, self.plan, self.proc = 1, {"phase1_steps": self.p1}, None
        self.dir, self.log = ROOT / name, ROOT / f"{name}.log"

    def command(self, *extra: str) -> list[str]:
        shrink = ["--set", f"data.samples={self.samples}"] if self.samples else []
        lat = self.args.latents / f"{self.name}.safetensors"
        return [sys.executable, "-m", "kinema.cli.main", "train", *self.base, *(DRY if self.args.dry else []), *shrink,
                "--set", f"checkpoint_every={self.p1}", "--set", "log_every=10", "--out", str(self.dir),
                "--latents", str(lat), "--workers", str(self.args.workers), *extra]

    def launch(self, *extra: str) -> None:
        cmd = self.command(*extra)
        self.plan.setdefault("commands", []).append(" ".join(cmd[2:]))
        with self.log.open("a") as f:
            f.write("\n$ " + " ".join(cmd) + "\n")
        self.proc = subprocess.Popen(cmd, stdout=self.log.open("a"), stderr=subprocess.STDOUT)

    def records(self) -> list[dict]:
        path = self.dir / "metrics.jsonl"
        return [json.loads(line) for line in path.read_text().splitlines()] if path.exists() else []

    def drawing(self) -> tuple[int, int, float] | None:
        """(samples done, total, seconds) of the data being drawn now, from the log's progress bar."""
        tail = self.log.read_bytes()[-4000:].decode(errors="ignore")
        found = PROGRESS.findall(tail)
        if not found:
            return None
        done, total, minutes, seconds = map(int, found[-1])
        return done, total, 60 * minutes + seconds

    def watch_data(self, budget: float) -> None:
        """Restart with fewer samples when drawing them all would take more than a quarter of the budget."""
        progress = self.drawing() if self.phase == 1 and not self.records() else None
        if not progress or progress[0] in (0, progress[1]) or progress[2] < 15:
            return
        done, total, seconds = progress
        if total * seconds / done > budget / 4:
            self.samples = max(8, min(total - 1, int(done / seconds * budget / 4 * 0.8)))
            log(self.start, self.name, f"drawing {total} samples would take {total * seconds / done:.0f} s: "
                                       f"restarting with {self.samples}")
            self.plan["samples"] = self.samples
            self.stop()
            shutil.rmtree(self.dir, ignore_errors=True)
            self.launch("--set", f"steps={self.p1}", "--set", "optim.decay_steps=0")

    def finished_phase1(self, deadline: float) -> None:
        """Resume with the steps (and a decay over their last 40 %) that end by ``deadline``."""
        sec = statistics.median(r["seconds"] for r in self.records()[-10:])
        left = deadline - time.time() - 45  # load the cache again, export
        steps = self.p1 + max(0, int(left / (sec * self.args.safety)))
        decay = min(int(0.4 * steps), steps - self.p1)
        self.plan.update(phase1_seconds_per_step=sec, steps=steps, decay_steps=decay)
        self.phase = 2
        self.launch("--resume", "--set", f"steps={steps}", "--set", f"optim.decay_steps={decay}")

    def stop(self) -> None:
        self.proc.kill()
        self.proc.wait()

    def export_last_checkpoint(self) -> None:
        steps = sorted(int(p.name.split("-")[1]) for p in (self.dir / "checkpoints").glob("step-????????"))
        if steps:
            self.plan["exported_checkpoint"] = steps[-1]
            self.launch("--resume", "--set", f"steps={steps[-1]}", "--set", "optim.decay_steps=0")
            self.proc.wait()


def log(start: float, *parts) -> None:
    print(f"[{time.time() - start:6.1f} s]", *parts, flush=True)


def drive(runs: list[Run], args: argparse.Namespace, start: float) -> None:
    """Phase 1, then phase 2, of every run side by side; stop the ones past the hard limit."""
    deadline, hard = start + args.budget, start + args.budget + 45
    for run in runs:
        run.launch("--set", f"steps={run.p1}", "--set", "optim.decay_steps=0")
    active = list(runs)
    while active:
        time.sleep(1)
        for run in list(active):
            run.watch_data(args.budget)
            code = run.proc.poll()
            if code is None and time.time() > hard:
                run.stop()
                log(start, run.name, "stopped at the hard limit")
                run.plan["stopped"] = True
                code = -9
            if code is None:
                continue
            log(start, run.name, f"phase {run.phase} ended ({code})")
            if code == 0 and run.phase == 1:
                run.finished_phase1(deadline)
                log(start, run.name, {k: v for k, v in run.plan.items() if k != "commands"})
                continue
            active.remove(run)
            if code != 0:
                run.export_last_checkpoint()


def pack(runs: list[Run], out: Path) -> None:
    """The exports, metrics, logs and plan as one tar in 15 MB parts."""
    keep = [p for r in runs for p in (r.dir / "export", r.dir / "metrics.jsonl", r.dir / "config.json", r.log)
            if p.exists()] + [ROOT / "plan.json"]
    subprocess.run(["tar", "cf", str(ROOT / "result.tar"), *map(str, keep)], check=True)
    out.mkdir(parents=True, exist_ok=True)
    subprocess.run(["split", "-b", "15M", "-d", str(ROOT / "result.tar"), str(out / "result.tar.part")], check=True)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    mode = parser.add_mutually_exclusive_group(required=True)
    mode.add_argument("--gpu", action="store_true", help="Train on the CUDA GPU.")
    mode.add_argument("--dry", action="store_true", help="The same logic on a CPU with 12 samples of batch 4.")
    parser.add_argument("--budget", type=float, default=480, help="Seconds from start by which the runs have exported.")
    parser.add_argument("--runs", default="wide", help=f"Comma-separated, of: {', '.join(RUNS)}.")
    parser.add_argument("--out", type=Path, default=Path(os.environ.get("OUT", "runs/gpu/out")))
    parser.add_argument("--workers", type=int, default=None,
                        help="Drawing processes per run (default: the cores but two, shared by the runs).")
    parser.add_argument("--safety", type=float, default=1.3, help="Phase-2 steps assume steps this much slower.")
    args = parser.parse_args()
    names = args.runs.split(",")
    if any(n not in RUNS for n in names):
        parser.error(f"--runs takes names from {', '.join(RUNS)}")
    args.workers = args.workers or max(1, ((os.cpu_count() or 2) - 2) // len(names))
    import torch

    if args.gpu and not torch.cuda.is_available():
        print("no CUDA GPU here: run with --dry to try the logic on a CPU", file=sys.stderr)
        return 2
    start = time.time()
    shm = shutil.disk_usage("/dev/shm").free if os.path.isdir("/dev/shm") else 0
    args.latents = Path("/dev/shm") if shm > 40e9 or args.dry else ROOT  # the caches: tens of GB at full size
    ROOT.mkdir(parents=True, exist_ok=True)
    runs = [Run(n, args, start) for n in names]
    drive(runs, args, start)
    for run in runs:
        records = run.records()
        run.plan["last"] = records[-1] if records else None
        log(start, run.name, "last record", run.plan["last"])
    (ROOT / "plan.json").write_text(json.dumps({r.name: r.plan for r in runs}, indent=1))
    pack(runs, args.out)
    log(start, "packed into", sorted(os.listdir(args.out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
