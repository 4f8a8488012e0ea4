"""Exact cross-identity pairs: one motion on K identities x B backgrounds, and mode triplets.

animate: reference = A alone in background 1; driving = B doing m in background 2;
         target = A doing m in background 1.
replace: reference as above; driving = B doing m (plus bystanders) in background 2;
         target = the same shot with A in B's place.
multi:   references A_1..A_k (each alone in background 1, shuffled); driving = B_1..B_k in
         background 2; target = A_i doing B_i's motion in B_i's place in background 1;
         ``binding[i]`` is the reference index driving subject i maps to.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from kinema.errors import KinemaInputError
from kinema.puppet.background import Camera
from kinema.puppet.config import MODES, SynthConfig
from kinema.puppet.identity import Identity, sample_identity
from kinema.puppet.motions import MotionClip, make_motion, motions_of
from kinema.puppet.scene import Actor, Clip, SceneSpec, render_scene, still
from kinema.puppet.version import GENERATOR_VERSION


@dataclass
class Triplet:
    """References (one-frame clips), the driving clip and the exact target clip of one mode."""

    mode: str
    references: tuple[Clip, ...]
    driving: Clip
    target: Clip
    binding: tuple[int, ...]
    seed: int
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def reference_images(self) -> np.ndarray:
        """(K, H, W, 3) uint8 reference stills."""
        return np.stack([r.frames[0] for r in self.references])


def render_grid(motion: MotionClip, identities: Sequence[Identity], background_seeds: Sequence[int], size: tuple[int, int],
                camera: Camera = Camera(), path: tuple[float, float] = (0.5, 0.5), depth: float = 0.2,
                char_size: float = 0.6) -> list[list[Clip]]:
    """``motion`` on every identity (same family) over every background: clips[k][b]."""
    return [[render_scene(SceneSpec(size, (Actor(ident, motion, path, depth),), bg, camera, char_size))
             for bg in background_seeds] for ident in identities]


def random_camera(rng: np.random.Generator, prob: float) -> Camera:
    """A static camera, or with probability ``prob`` a pan and zoom."""
    if rng.random() >= prob:
        return Camera()
    return Camera((float(rng.uniform(-0.3, 0.3)), float(rng.uniform(-0.05, 0.05))), (1.0, float(rng.uniform(0.9, 1.25))))


def _placements(rng: np.random.Generator, motions: Sequence[MotionClip], leg: Sequence[float], cfg: SynthConfig) -> list[tuple[tuple[float, float], float]]:
    """Paths and depths for n actors: spread across the view, walkers centred on their travel."""
    n = len(motions)
    depths = np.sort(rng.uniform(0.0, 0.8, n))[rng.permutation(n)] if n > 1 else rng.uniform(0.0, 0.4, 1)
    xs = (np.arange(n) + 0.5) / n + rng.uniform(-0.1, 0.1, n) / n
    out = []
    for m, x, d, ll in zip(motions, rng.permutation(xs), depths, leg):
        travel = m.root[-1, 0] * ll * cfg.char_size * (1 - 0.5 * d) * cfg.size[1] / cfg.size[0]
        out.append(((float(x - travel / 2), float(x - travel / 2)), float(d)))
    return out


def make_scene(seed: int, config: SynthConfig = SynthConfig()) -> SceneSpec:
    """A random scene of ``config``: 1-4 actors of the configured families, background, camera."""
    rng = np.random.default_rng([seed, 53])
    n = int(rng.integers(config.characters[0], config.characters[1] + 1))
    idents = [sample_identity(int(rng.integers(2**31)), str(rng.choice(config.families))) for _ in range(n)]
    motions = [make_motion(str(rng.choice([m for m in motions_of(i.family) if m != "idle"])), config.frames, int(rng.integers(2**31)), config.fps)
               for i in idents]
    place = _placements(rng, motions, [i.leg_length for i in idents], config)
    actors = tuple(Actor(i, m, p, d) for i, m, (p, d) in zip(idents, motions, place))
    return SceneSpec(config.size, actors, int(rng.integers(2**31)), random_camera(rng, config.camera_prob), config.char_size, fps=config.fps)


def make_triplet(mode: str, seed: int, config: SynthConfig = SynthConfig()) -> Triplet:
    """The ``mode`` triplet (animate, replace or multi) drawn from ``seed``; exact by construction."""
    if mode not in MODES:
        raise KinemaInputError(f"mode '{mode}'", "is not a pair mode", f"Use one of: {', '.join(MODES)}.")
    # 1. A driving scene: subjects (and, for replace, bystanders) in background 2.
    lo, hi = config.characters
    n = {"animate": 1, "replace": int(np.random.default_rng([seed, 7]).integers(lo, hi + 1)), "multi": max(2, hi)}[mode]
    driving_spec = make_scene(seed, replace(config, characters=(n, n)))
    rng = np.random.default_rng([seed, 59])
    subjects = range(n) if mode == "multi" else range(1)
    # 2. New identities of the same families take the subjects' places; background 1 for animate/multi.
    swaps = {i: sample_identity(int(rng.integers(2**31)), driving_spec.actors[i].identity.family) for i in subjects}
    bg1 = int(rng.integers(2**31))
    target_actors = tuple(replace(a, identity=swaps[i]) if i in swaps else a for i, a in enumerate(driving_spec.actors))
    if mode == "replace":
        target_spec = replace(driving_spec, actors=target_actors)
    else:
        target_spec = replace(driving_spec, actors=tuple(target_actors[i] for i in subjects), background_seed=bg1)
    # 3. Reference stills: each new identity alone in background 1, in a different motion's pose.
    order = rng.permutation(len(swaps)) if mode == "multi" else np.arange(1)
    references = []
    for i in order:
        name = str(rng.choice(motions_of(swaps[i].family)))
        pose = make_motion(name, config.frames, int(rng.integers(2**31)), config.fps)
        actor = still(replace(target_actors[i], motion=pose), int(rng.integers(config.frames)))
        references.append(render_scene(replace(driving_spec, actors=(actor,), background_seed=bg1)))
    binding = tuple(int(np.flatnonzero(order == i)[0]) for i in subjects)
    driving, target = render_scene(driving_spec), render_scene(target_spec)
    labels = {"mode": mode, "seed": seed, "version": GENERATOR_VERSION, "binding": list(binding),
              "config": config.to_dict(), "reference_background_seed": bg1,
              "driving_background_seed": driving_spec.background_seed, "motions": [a.motion.name for a in driving_spec.actors]}
    return Triplet(mode, tuple(references), driving, target, binding, seed, labels)
