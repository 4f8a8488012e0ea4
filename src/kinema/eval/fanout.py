"""``kinema eval --workers N``: the cases of an eval run fanned out over Ray workers (the ``[ray]`` extra).

Each worker is a Ray actor holding one :class:`~kinema.eval.runner.CaseRunner` (the model loaded once per
worker, ``torch`` threads split between the workers of a machine) and takes one case at a time. Workers
write each (case, method) atomically into the run directory, which every worker of a cluster must see
(one machine, or a shared file system): a killed run resumes with no case lost and none done twice. A
local cluster of ``workers`` CPUs is started for the run unless ``address`` names one (``auto``: the one
``ray start`` runs here). Without Ray the run is in-process (:func:`ray_missing` says so).
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Sequence

from tqdm import tqdm

from kinema.eval.benchmarks import CaseSpec
from kinema.eval.runner import CaseRunner

OBJECT_STORE_BYTES = 256 * 1024**2  # a local cluster's shared memory: the tasks pass case ids, not frames


def ray_missing() -> str | None:
    """Why the cases cannot fan out (Ray is not installed), or None."""
    if importlib.util.find_spec("ray") is None:
        return "Ray is not installed (pip install -e '.[ray]'): running in-process"
    return None


def run_cases(runner: CaseRunner, todo: Sequence[tuple[CaseSpec, list[str]]], workers: int, address: str | None,
              progress: bool, first_run: bool = False) -> None:
    """Do every (case, methods) of ``todo`` on ``workers`` Ray actors, each a copy of ``runner``. ``first_run``: the
    run.json was written for this call, and is removed again when it fails before any case was written."""
    import ray
    from ray.util import ActorPool

    started = not ray.is_initialized()
    if started:
        local = {} if address else {"num_cpus": workers, "object_store_memory": OBJECT_STORE_BYTES,
                                    "_node_ip_address": "127.0.0.1"}  # a local cluster listens on loopback only
        ray.init(address=address, include_dashboard=False, log_to_driver=False, configure_logging=False, **local)
    threads = max(1, (os.cpu_count() or 1) // workers)
    worker = ray.remote(num_cpus=1)(CaseRunner)
    actors = [worker.remote(runner.config, runner.out, runner.bench, threads) for _ in range(min(workers, len(todo)))]
    try:
        done = ActorPool(actors).map_unordered(lambda actor, item: actor.__call__.remote(*item), list(todo))
        for _ in tqdm(done, total=len(todo), desc=f"eval {runner.bench.name} ({len(actors)} workers)",
                      disable=not progress):
            pass
    except ray.exceptions.RayTaskError as err:
        if first_run and not any((runner.out / "cases").glob("*/*.json")):
            (runner.out / "run.json").unlink(missing_ok=True)
        cause = err.cause if isinstance(err.cause, Exception) else None
        raise (cause or RuntimeError(str(err))) from None
    finally:
        for actor in actors:
            ray.kill(actor)
        if started:
            ray.shutdown()
