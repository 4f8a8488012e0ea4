"""`kinema demo` end to end, as a user runs it: best wall time of fresh interpreters and the time of each phase.

    python benchmarks/demo_time.py [--repeats 3] [--steps N (default: the model card's)] [--model embedded]

Each phase starts with a status line on stderr that ends in "…" (see ``kinema.pipelines.demo.status``); a phase
lasts until the next such line, the last one until the process exits. Issue 18 asks for ≤ 10 s end to end.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time

TARGET_S = 10.0  # issue 18
START = "interpreter start-up"


def run_once(out: str, steps: int | None, model: str) -> tuple[float, list[tuple[str, float]]]:
    """Wall seconds of one ``kinema demo`` in a fresh interpreter, and (phase, seconds) in the order they ran."""
    command = [sys.executable, "-m", "kinema.cli.main", "demo", "--out", out, "--model", model,
               *(["--steps", str(steps)] if steps else [])]
    start = time.perf_counter()
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    marks, pending = [(START, start)], b""
    while chunk := os.read(proc.stderr.fileno(), 4096):
        *lines, pending = (pending + chunk).split(b"\n")
        now = time.perf_counter()
        marks += [(text, now) for text in (line.split(b"\r")[-1].decode().strip() for line in lines)
                  if text.endswith("…")]
    if proc.wait():
        raise SystemExit(f"kinema demo failed (exit {proc.returncode}): {' '.join(command)}")
    end = time.perf_counter()
    ends = [t for _, t in marks[1:]] + [end]
    return end - start, [(name, stop - begin) for (name, begin), stop in zip(marks, ends)]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--steps", type=int, default=None)
    parser.add_argument("--model", default="embedded")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        runs = [run_once(os.path.join(tmp, f"demo{i}"), args.steps, args.model) for i in range(args.repeats)]
    wall, phases = min(runs)
    steps = f"--steps {args.steps}" if args.steps else "(the card's steps)"
    print(f"kinema demo {steps} --model {args.model}: best of {args.repeats} "
          f"{wall:.1f} s (all: {', '.join(f'{w:.1f}' for w, _ in runs)}); target ≤ {TARGET_S:.0f} s "
          f"({'met' if wall <= TARGET_S else 'missed'})")
    for name, seconds in phases:
        print(f"  {seconds:5.1f} s  {name}")


if __name__ == "__main__":
    main()
