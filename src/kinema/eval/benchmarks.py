"""Versioned puppet benchmarks: N cases per mode, drawn from held-out seeds, balanced over motions.

Seeds. Case i of a benchmark is the first seed in ``[base + 1000·i, base + 1000·(i + 1))`` whose
driving subject performs motion ``motions[i mod M]``; bases are 10_000_000 (humanoid animate),
11_000_000 (replace), 12_000_000 (multi), 15_000_000 (quadruped animate), 16_000_000 (bird animate)
and 19_000_000 (the keypoint-certainty calibration, ``benchmarks/keypoint_certainty.py``); the world
benchmarks take 13_000_000 and 14_000_000. Puppet training code draws its data seeds below
10_000_000 (the dataset writer's per-sample seeds are hashed, so keep training seed *arguments*
below that too); identities and backgrounds are drawn from the case seed, so they are held out with
it. Case i does not depend on N, so a run with fewer cases is a prefix of a longer one.

Families. ``puppet-animate`` and the other humanoid benchmarks put the hand-detail and occlusion
motions first (below); ``puppet-animate-quadruped`` and ``-bird`` animate a character of that family
with every motion of it in turn (DreamActor-M2 and SCAIL-2 both claim non-human characters).

Motions. The order puts the hand-detail (``hand_sign``) and occlusion (``clap``, ``spin``,
``arms_crossed``) motions first, so even 4 cases cover them.

Sizes. ``puppet-<mode>`` is 64x64 / 17 frames (the embedded models' size), ``-large`` 256x256 / 33
frames, ``-xs`` 32x32 / 9 frames (for ablations that train many variants on CPU), and
``puppet-animate-long`` the puppet-animate cases at 81 frames (long videos, generated in windows).

Version. A benchmark's identity is its definition plus :data:`kinema.puppet.GENERATOR_VERSION`;
results carry both, and comparisons refuse different versions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from typing import Any

from kinema.errors import KinemaInputError
from kinema.puppet import GENERATOR_VERSION, MOTIONS, SynthConfig, Triplet, make_scene, make_triplet
from kinema.puppet.motions import motions_of

HUMANOID_MOTIONS = ("hand_sign", "clap", "spin", "arms_crossed", "walk", "wave", "jump", "dance", "squat", "kick",
                    "run_in_place")
SEED_BASE = {"animate": 10_000_000, "replace": 11_000_000, "multi": 12_000_000}  # humanoid benchmarks, per mode
FAMILY_SEED_BASE = {"quadruped": 15_000_000, "bird": 16_000_000}  # the non-human animate benchmarks
CALIBRATION_SEED_BASE = 19_000_000  # keypoint-certainty calibration cases (benchmarks/keypoint_certainty.py)
SEED_STRIDE = 1000
MAX_CASES = 1000  # cases of one mode before its seeds run into the next mode's SEED_BASE
SMALL = {"size": (64, 64), "frames": 17}
LARGE = {"size": (256, 256), "frames": 33}
XS = {"size": (32, 32), "frames": 9}
SUFFIX = {"": SMALL, "-large": LARGE, "-xs": XS}
CASES = {"": 44, "-large": 22, "-xs": 22, "-long": 22}


def first_seed(base: int, index: int, accept: Callable[[int], bool], wanted: str) -> int:
    """The first seed of case ``index``'s stride [base + SEED_STRIDE·index, base + SEED_STRIDE·(index + 1)) that
    ``accept`` takes; case i so depends on i alone (fewer cases are a prefix). RuntimeError naming ``wanted``
    when none does."""
    start = base + SEED_STRIDE * index
    for seed in range(start, start + SEED_STRIDE):
        if accept(seed):
            return seed
    raise RuntimeError(f"no seed in [{start}, {start + SEED_STRIDE}) {wanted}")


@dataclass(frozen=True)
class Benchmark:
    """A named set of puppet triplets: ``mode``, rendering ``config``, default case count, motions."""

    name: str
    mode: str
    config: SynthConfig
    cases: int
    motions: tuple[str, ...] = HUMANOID_MOTIONS
    description: str = ""
    seed_base: int | None = None  # None: SEED_BASE[mode]

    @property
    def base(self) -> int:
        """The first seed of case 0's stride."""
        return SEED_BASE[self.mode] if self.seed_base is None else self.seed_base

    @property
    def family(self) -> str:
        """The family of the characters (the keypoint layout scored)."""
        return self.config.families[0]

    def case_seed(self, index: int) -> int:
        """Seed of case ``index``: the first in its stride whose driving subject does the wanted motion."""
        wanted = self.motions[index % len(self.motions)]
        return first_seed(self.base, index,  # make_scene is make_triplet's driving scene
                          lambda seed: make_scene(seed, self.config).actors[0].motion.name == wanted,
                          f"drives motion '{wanted}'")

    def case_specs(self, count: int | None = None) -> list[CaseSpec]:
        """The first ``count`` cases (default: the benchmark's own count)."""
        count = self.cases if count is None else count
        if not 1 <= count <= MAX_CASES:
            raise KinemaInputError(f"--cases {count}", f"must be between 1 and {MAX_CASES} (the held-out seeds of a mode)",
                                   f"Pass e.g. --cases {self.cases}.")
        return [CaseSpec(f"{i:04d}", i, self.case_seed(i), self.motions[i % len(self.motions)]) for i in range(count)]

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready definition, pinned to the current generator version."""
        return {"name": self.name, "mode": self.mode, "config": self.config.to_dict(), "cases": self.cases,
                "motions": list(self.motions), "seed_base": self.base, "seed_stride": SEED_STRIDE,
                "generator_version": GENERATOR_VERSION, "description": self.description}


@dataclass(frozen=True)
class CaseSpec:
    """One case before rendering: id, index, seed and the subject's motion."""

    id: str
    index: int
    seed: int
    motion: str

    @property
    def tags(self) -> tuple[str, ...]:
        return MOTIONS[self.motion].tags


@dataclass
class Case:
    """A rendered case: its spec, the benchmark's mode and size, and the exact triplet."""

    spec: CaseSpec
    benchmark: Benchmark
    triplet: Triplet = field(repr=False)

    @property
    def mode(self) -> str:
        return self.benchmark.mode

    @property
    def size(self) -> tuple[int, int]:
        return self.benchmark.config.size

    @property
    def frames(self) -> int:
        return self.benchmark.config.frames


def render_case(benchmark: Benchmark, spec: CaseSpec) -> Case:
    """Render the exact triplet of one case (deterministic in the seed and generator version)."""
    return Case(spec, benchmark, make_triplet(benchmark.mode, spec.seed, benchmark.config))


def _make(mode: str, suffix: str) -> Benchmark:
    actors = (1, 1) if mode == "animate" else (2, 2)  # replace: subject + one bystander; multi: two subjects
    config = SynthConfig(families=("humanoid",), characters=actors, camera_prob=0.3, modes=(mode,), **SUFFIX[suffix])
    w, h = config.size
    return Benchmark(f"puppet-{mode}{suffix}", mode, config, CASES[suffix],
                     description=f"humanoid {mode}, {w}x{h}, {config.frames} frames")


BENCHMARKS: dict[str, Benchmark] = {f"puppet-{mode}{suffix}": _make(mode, suffix) for mode in SEED_BASE for suffix in SUFFIX}
# Long videos (kinema.pipelines.windows): the puppet-animate cases (same seeds, identities and motions) for 81
# frames, several windows of the embedded model.
LONG = replace(BENCHMARKS["puppet-animate"], name="puppet-animate-long", cases=CASES["-long"],
               config=replace(BENCHMARKS["puppet-animate"].config, frames=81),
               description="humanoid animate, 64x64, 81 frames (several windows)")
BENCHMARKS[LONG.name] = LONG


def _family(family: str) -> Benchmark:
    small = BENCHMARKS["puppet-animate"]
    return replace(small, name=f"puppet-animate-{family}", config=replace(small.config, families=(family,)), cases=48,
                   motions=motions_of(family), seed_base=FAMILY_SEED_BASE[family],
                   description=f"{family} animate, 64x64, {small.config.frames} frames")


BENCHMARKS.update({b.name: b for b in map(_family, FAMILY_SEED_BASE)})


def get_benchmark(name: str) -> Benchmark:
    """A registered benchmark; unknown names list the valid ones."""
    if name not in BENCHMARKS:
        raise KinemaInputError(f"--benchmark '{name}'", "is not a benchmark", f"Use one of: {', '.join(BENCHMARKS)}.")
    return BENCHMARKS[name]


def register_benchmark(benchmark: Benchmark) -> Benchmark:
    """Add a benchmark (e.g. a smaller one for tests); names are unique."""
    if benchmark.name in BENCHMARKS and BENCHMARKS[benchmark.name] != benchmark:
        raise ValueError(f"benchmark '{benchmark.name}' is already registered with a different definition")
    BENCHMARKS[benchmark.name] = benchmark
    return benchmark

