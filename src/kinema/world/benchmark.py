"""Versioned 3D puppet-world benchmarks: AniX tuples on held-out seeds, balanced over instruction categories.

Instructions. :data:`INSTRUCTIONS` cycles through the four categories (locomotion, gesture, object action,
camera), six actions each. Case i of a one-clip benchmark takes instruction i (mod 24), so any four
consecutive cases cover the four categories. A long-horizon case (``clips`` K > 1, AniX §3.1.3's
auto-regressive setting) takes instructions iK … iK + K − 1 in a row, each clip continuing from where the
previous ended: its first camera is the previous clip's last, its root starts at the previous last root and
heading (:func:`kinema.world.video.plan_track`'s ``root_start``).

Seeds. Case i's seed is the first in ``[seed_base + 1000·i, seed_base + 1000·(i + 1))`` whose scene fits all
its clips (no camera or body in a solid, the fit check of :mod:`kinema.world.tuples`); the bases are
13_000_000 (one clip) and 14_000_000 (long), above the 2D puppet benchmarks' (10–12_999_999).
``kinema synth --mode world`` draws its tuples' seeds below ``TRAINING_SEEDS`` = 10_000_000
(:func:`kinema.world.tuples.write_world_dataset`), so the scenes and characters of these seeds are held out;
the scene and identity seeds drawn from a case seed are hashed into [0, 2³¹), so a training tuple can share one
only by a hash collision. Case i does not depend on the case count: fewer cases are a prefix.

Version. A benchmark's definition (:meth:`WorldBenchmark.to_dict`) carries WORLD_VERSION, the hash of the
world generator's sources; results carry it, and comparisons refuse different versions.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kinema.errors import KinemaInputError
from kinema.eval.benchmarks import MAX_CASES, SEED_STRIDE, first_seed
from kinema.io import write_json_atomic
from kinema.puppet.motions import make_motion
from kinema.world.instructions import CATEGORIES, Plan, parse_instruction
from kinema.world.tuples import (WORLD_VERSION, WorldConfig, WorldTuple, chain_starts, draw_world, first_fit,
                                 render_world, world_rng, write_world_tuple)
from kinema.world.video import default_anchor

INSTRUCTIONS = (  # locomotion, gesture, object action, camera; six rounds
    "walk forward", "wave", "pick up the box", "the camera circles around the character",
    "turn left", "clap hands", "kick the ball", "follow me",
    "run forward", "jump", "put down the box", "orbit clockwise",
    "walk backward", "squat", "pick up the bottle", "the camera follows the character",
    "turn right", "kick", "kick the can", "circle around to the left",
    "sidestep left", "dance", "put down the bag", "tracking shot",
)
SEED_BASE = {1: 13_000_000, "long": 14_000_000}  # one-clip cases, long-horizon cases
SMALL = WorldConfig(size=(64, 64), frames=32, fps=16.0, categories=CATEGORIES)
XS = WorldConfig(size=(32, 32), frames=9, fps=16.0, categories=CATEGORIES)


@dataclass(frozen=True)
class WorldBenchmark:
    """A named set of world cases: the tuples' ``config``, the default case count, ``clips`` (instructions per
    case, K > 1 for the long-horizon variant) and the ``instructions`` cycled through."""

    name: str
    config: WorldConfig
    cases: int
    clips: int = 1
    instructions: tuple[str, ...] = INSTRUCTIONS
    description: str = ""

    @property
    def seed_base(self) -> int:
        return SEED_BASE[1 if self.clips == 1 else "long"]

    def case_instructions(self, index: int) -> tuple[str, ...]:
        """The K instructions of case ``index``, fixed by the index alone."""
        n = len(self.instructions)
        return tuple(self.instructions[(index * self.clips + k) % n] for k in range(self.clips))

    def case_seed(self, index: int) -> int:
        """Seed of case ``index``: the first in its stride whose scene fits all its clips in a row."""
        plans = self.plans(index)
        return first_seed(self.seed_base, index,
                          lambda seed: first_fit(draw_world(world_rng(seed), self.config)[0], plans, self.config)
                          is not None, f"fits {self.case_instructions(index)}")

    def plans(self, index: int) -> list[Plan]:
        """The plans of case ``index``'s instructions, for clips of the benchmark's duration."""
        return [parse_instruction(text, self.config.duration_s, self.config.fps)
                for text in self.case_instructions(index)]

    def case_specs(self, count: int | None = None) -> list[WorldCaseSpec]:
        """The first ``count`` cases (default: the benchmark's own count)."""
        count = self.cases if count is None else count
        if not 1 <= count <= MAX_CASES:
            raise KinemaInputError(f"--samples {count}", f"must be between 1 and {MAX_CASES} (the benchmark's held-out "
                                   "seeds)", f"Pass e.g. --samples {self.cases}.")
        return [WorldCaseSpec(f"{i:04d}", i, self.case_seed(i), self.case_instructions(i)) for i in range(count)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready definition, pinned to the current world generator version."""
        return {"name": self.name, "config": self.config.to_dict(), "cases": self.cases, "clips": self.clips,
                "instructions": list(self.instructions), "seed_base": self.seed_base, "seed_stride": SEED_STRIDE,
                "world_version": WORLD_VERSION, "description": self.description}


@dataclass(frozen=True)
class WorldCaseSpec:
    """One case before rendering: id, index, seed and its instructions (one per clip)."""

    id: str
    index: int
    seed: int
    instructions: tuple[str, ...]


@dataclass
class WorldCase:
    """A rendered case: its spec, the benchmark, and one exact tuple per clip (the clips continue each other)."""

    spec: WorldCaseSpec
    benchmark: WorldBenchmark
    clips: list[WorldTuple] = field(repr=False)

    @property
    def views(self) -> np.ndarray:
        """C, once per case: the first clip's four views (4, H, W, 3)."""
        return self.clips[0].views

    @property
    def categories(self) -> tuple[str, ...]:
        return tuple(clip.plan.category for clip in self.clips)


def render_case(benchmark: WorldBenchmark, spec: WorldCaseSpec) -> WorldCase:
    """Render the exact tuples of one case. A one-clip case equals ``make_world_tuple(seed, instruction)``; clip
    k's motion is drawn from the seed's motion seed + k."""
    config, plans = benchmark.config, benchmark.plans(spec.index)
    scene, identity, motion_seed = draw_world(world_rng(spec.seed), config)
    anchor = default_anchor(*config.size)
    first = first_fit(scene, plans, config)  # case_seed chose the seed for having one
    clips = []
    for k, (plan, (start, root_start)) in enumerate(zip(plans, chain_starts(first, plans, anchor))):
        motion = make_motion(plan.motion, config.frames, motion_seed + k, config.fps)
        clips.append(render_world(spec.seed, scene, identity, plan, motion, start, anchor, config, root_start))
    return WorldCase(spec, benchmark, clips)


def write_world_benchmark(root: str | os.PathLike, benchmark: WorldBenchmark, count: int | None = None,
                          progress: Callable[[int], None] | None = None) -> Path:
    """Render the first ``count`` cases into ``root``/samples/NNNNNN (a long case's clips in clip_KK/ beneath,
    C only in clip_00) and write manifest.json last; returns its path."""
    root, samples = Path(root), []
    for i, spec in enumerate(benchmark.case_specs(count)):
        case, rel = render_case(benchmark, spec), f"samples/{i:06d}"
        dirs = [rel] if benchmark.clips == 1 else [f"{rel}/clip_{k:02d}" for k in range(benchmark.clips)]
        for k, (clip, directory) in enumerate(zip(case.clips, dirs)):
            write_world_tuple(root / directory, clip, views=k == 0)
        samples.append({"id": spec.id, "seed": spec.seed, "instructions": list(spec.instructions),
                        "actions": [c.plan.action for c in case.clips], "categories": list(case.categories),
                        "dir": rel, "clips": dirs})
        if progress:
            progress(1)
    manifest = {"version": WORLD_VERSION, "mode": "world", "benchmark": benchmark.to_dict(), "count": len(samples),
                "samples": samples}
    write_json_atomic(root / "manifest.json", manifest)
    return root / "manifest.json"


def _make(suffix: str, config: WorldConfig, cases: int, clips: int) -> WorldBenchmark:
    w, h = config.size
    kind = f"{clips} instructions in a row" if clips > 1 else "one instruction"
    return WorldBenchmark(f"puppet-world{suffix}", config, cases, clips,
                          description=f"3D puppet world, {kind} per case, {w}x{h}, {config.frames} frames per clip")


BENCHMARKS: dict[str, WorldBenchmark] = {b.name: b for b in (
    _make("", SMALL, 24, 1), _make("-xs", XS, 24, 1), _make("-long", SMALL, 12, 4), _make("-long-xs", XS, 12, 4))}


def get_world_benchmark(name: str) -> WorldBenchmark:
    """A registered world benchmark; unknown names list the valid ones."""
    if name not in BENCHMARKS:
        raise KinemaInputError(f"--benchmark '{name}'", "is not a world benchmark", f"Use one of: {', '.join(BENCHMARKS)}.")
    return BENCHMARKS[name]
