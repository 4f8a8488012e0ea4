"""Wall time of ``kinema eval`` in-process against ``--workers N`` Ray workers, the same cases, fresh runs.

    python benchmarks/eval_workers.py [--benchmark puppet-animate] [--cases 16] [--workers 2]

Each run starts from an empty directory (the Ray run's time includes starting the local cluster and
loading the model once per worker); the per-case scores of the two runs are compared as well.
"""

from __future__ import annotations

import argparse
import json
import os
import tempfile
import time
from pathlib import Path

import torch

from kinema.eval import EvalConfig, run_eval


def timed_run(config: EvalConfig, out: Path, workers: int) -> float:
    start = time.perf_counter()
    run_eval(config, out, progress=False, workers=workers)
    return time.perf_counter() - start


def largest_difference(a: Path, b: Path) -> float:
    """The largest absolute difference between the two runs' per-case scores."""
    worst = 0.0
    for path in a.glob("cases/*/*.json"):
        ours, theirs = (json.loads(p.read_text())["scores"] for p in (path, b / path.relative_to(a)))
        worst = max([worst, *(abs(v - theirs[k]) for k, v in ours.items() if v is not None and theirs[k] is not None)])
    return worst


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--benchmark", default="puppet-animate")
    parser.add_argument("--cases", type=int, default=16)
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    config = EvalConfig(args.benchmark, cases=args.cases)
    with tempfile.TemporaryDirectory() as tmp:
        one = timed_run(config, Path(tmp) / "in-process", 1)
        many = timed_run(config, Path(tmp) / "ray", args.workers)
        worst = largest_difference(Path(tmp) / "in-process", Path(tmp) / "ray")
    print(f"{args.benchmark}, {args.cases} cases, {os.cpu_count()} CPUs, torch {torch.get_num_threads()} threads "
          f"in-process")
    print(f"  in-process             {one:7.1f} s")
    print(f"  {args.workers} Ray workers          {many:7.1f} s   speed-up {one / many:.2f} x")
    print(f"  largest per-case score difference between the two runs: {worst:.2g}")


if __name__ == "__main__":
    main()
