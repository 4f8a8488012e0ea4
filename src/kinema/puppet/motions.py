"""Labelled procedural motions: joint-angle curves per family, retargetable to any body of it.

A motion is channel angles plus a root track; the identity supplies the bone lengths, so the same
clip on two bodies has equal angles and different limbs. Angles below are degrees; ``a`` turns a
limb sideways (outward for either side), ``s`` pitches it forward.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from kinema.errors import KinemaInputError

Curves = dict[str, np.ndarray]
TAU = 2 * np.pi


@dataclass(frozen=True)
class MotionClip:
    """A rendered-ready motion: ``channels`` name -> (T, 2) radians (a, s); ``root`` (T, 3) is
    (dx, lift) in leg lengths and yaw in radians; ``tags`` flag content such as hands/occlusion."""

    name: str
    family: str
    description: str
    channels: dict[str, np.ndarray]
    root: np.ndarray
    tags: tuple[str, ...] = ()
    seed: int = 0

    @property
    def num_frames(self) -> int:
        return int(self.root.shape[0])


@dataclass(frozen=True)
class MotionSpec:
    """A library entry: ``make(t, w, amp, side)`` -> curves in degrees (plus ``root`` as (dx, lift, yaw°))."""

    family: str
    description: str
    hz: tuple[float, float]
    make: Callable[[np.ndarray, np.ndarray, float, float], Curves]
    tags: tuple[str, ...] = ()


def _c(a: np.ndarray | float, s: np.ndarray | float, like: np.ndarray) -> np.ndarray:
    return np.stack(np.broadcast_arrays(np.asarray(a, float) + 0 * like, np.asarray(s, float) + 0 * like), axis=1)


def _root(dx, lift, yaw, like: np.ndarray) -> np.ndarray:  # noqa: ANN001 - scalars or (T,) arrays
    return np.stack(np.broadcast_arrays(dx + 0 * like, lift + 0 * like, yaw + 0 * like), axis=1).astype(float)


def _ease(t: np.ndarray, start: float, dur: float) -> np.ndarray:
    """0 -> 1 smoothly between ``start`` and ``start + dur`` seconds."""
    x = np.clip((t - start) / dur, 0, 1)
    return x * x * (3 - 2 * x)


def _walk(t, w, amp, side):
    sw = np.sin(w)
    return {"l_hip": _c(0, 28 * amp * sw, t), "r_hip": _c(0, -28 * amp * sw, t),
            "l_knee": _c(0, -40 * amp * np.maximum(0, -np.cos(w)), t), "r_knee": _c(0, -40 * amp * np.maximum(0, np.cos(w)), t),
            "l_shoulder": _c(0, -25 * amp * sw, t), "r_shoulder": _c(0, 25 * amp * sw, t),
            "l_elbow": _c(0, 20, t), "r_elbow": _c(0, 20, t),
            "root": _root(side * 0.25 * w / np.pi, 0.02 * np.abs(np.sin(w)), 90 * side, t)}


def _run(t, w, amp, side):
    up_l, up_r = np.maximum(0, np.sin(w)), np.maximum(0, -np.sin(w))
    return {"l_hip": _c(0, 75 * amp * up_l, t), "r_hip": _c(0, 75 * amp * up_r, t),
            "l_knee": _c(0, -110 * amp * up_l, t), "r_knee": _c(0, -110 * amp * up_r, t),
            "l_shoulder": _c(5, -45 * amp * np.sin(w), t), "r_shoulder": _c(5, 45 * amp * np.sin(w), t),
            "l_elbow": _c(0, 85, t), "r_elbow": _c(0, 85, t),
            "root": _root(0, 0.06 * np.abs(np.sin(w)), 20 * side, t)}


def _wave(t, w, amp, side):
    return {"r_shoulder": _c(140 * _ease(t, 0, 0.3), 10, t), "r_elbow": _c(25 * amp * np.sin(2 * w) * _ease(t, 0.2, 0.2), 0, t),
            "l_shoulder": _c(-4, 0, t), "head": _c(8 * np.sin(w), 0, t), "root": _root(0, 0, 15 * side, t)}


def _jump(t, w, amp, side):
    phase = (w / TAU) % 1.0
    air = np.clip(np.sin(np.clip((phase - 0.35) / 0.5, 0, 1) * np.pi), 0, 1)
    crouch = np.clip(np.sin(np.clip(phase / 0.4, 0, 1) * np.pi), 0, 1) + np.clip(np.sin(np.clip((phase - 0.8) / 0.2, 0, 1) * np.pi), 0, 1)
    return {"l_hip": _c(0, 60 * crouch + 20 * air, t), "r_hip": _c(0, 60 * crouch + 20 * air, t),
            "l_knee": _c(0, -100 * crouch - 30 * air, t), "r_knee": _c(0, -100 * crouch - 30 * air, t),
            "l_shoulder": _c(150 * air * amp, -30 * crouch, t), "r_shoulder": _c(150 * air * amp, -30 * crouch, t),
            "spine": _c(0, 20 * crouch, t), "root": _root(0, 0.45 * amp * air, 10 * side, t)}


def _clap(t, w, amp, side):
    close = 0.5 + 0.5 * np.cos(2 * w)
    return {"l_shoulder": _c(30 - 40 * close, 70, t), "r_shoulder": _c(30 - 40 * close, 70, t),
            "l_elbow": _c(-20 - 25 * close * amp, 10, t), "r_elbow": _c(-20 - 25 * close * amp, 10, t),
            "root": _root(0, 0, 10 * side, t)}


def _spin(t, w, amp, side):
    return {"l_shoulder": _c(45, 0, t), "r_shoulder": _c(45, 0, t), "l_elbow": _c(20, 0, t), "r_elbow": _c(20, 0, t),
            "root": _root(0, 0, side * np.degrees(w) * amp, t)}


def _squat(t, w, amp, side):
    q = amp * (0.5 - 0.5 * np.cos(w))
    return {"l_hip": _c(8, 85 * q, t), "r_hip": _c(8, 85 * q, t), "l_knee": _c(0, -125 * q, t), "r_knee": _c(0, -125 * q, t),
            "l_shoulder": _c(0, 85 * q, t), "r_shoulder": _c(0, 85 * q, t), "spine": _c(0, 25 * q, t),
            "root": _root(0, 0, 35 * side, t)}


def _kick(t, w, amp, side):
    k = np.clip(np.sin(w), 0, 1) ** 2
    return {"r_hip": _c(0, 95 * k * amp, t), "r_knee": _c(0, -80 * (1 - k) * np.clip(np.sin(w), 0, 1), t),
            "l_shoulder": _c(45, -20 * k, t), "r_shoulder": _c(45, 20 * k, t), "spine": _c(0, -10 * k, t),
            "root": _root(0, 0, 75 * side, t)}


def _dance(t, w, amp, side):
    return {"spine": _c(12 * np.sin(w), 0, t), "head": _c(-10 * np.sin(w), 0, t),
            "l_shoulder": _c(90 + 60 * amp * np.sin(w), 0, t), "r_shoulder": _c(90 - 60 * amp * np.sin(w), 0, t),
            "l_elbow": _c(40 * np.cos(w), 0, t), "r_elbow": _c(-40 * np.cos(w), 0, t),
            "l_knee": _c(0, -30 * np.maximum(0, np.sin(w)), t), "r_knee": _c(0, -30 * np.maximum(0, -np.sin(w)), t),
            "l_hip": _c(0, 20 * np.maximum(0, np.sin(w)), t), "r_hip": _c(0, 20 * np.maximum(0, -np.sin(w)), t),
            "root": _root(0, 0.03 * np.abs(np.sin(w)), 30 * np.sin(w / 2) + 10 * side, t)}


def _arms_crossed(t, w, amp, side):
    x = _ease(t, 0.05, 0.45)
    return {"l_shoulder": _c(-30 * x, 45 * x, t), "r_shoulder": _c(-24 * x, 42 * x, t),
            "l_elbow": _c(-105 * x, 15 * x, t), "r_elbow": _c(-105 * x, 25 * x, t),
            "head": _c(6 * np.sin(w), 0, t), "root": _root(0, 0, side * (10 + 20 * x), t)}


SIGNS = {"open": (0, 0, 0, 0, 0), "fist": (60, 80, 80, 80, 80), "victory": (60, 0, 0, 80, 80),
         "point": (60, 0, 80, 80, 80), "thumbs_up": (0, 80, 80, 80, 80), "three": (0, 0, 0, 80, 80)}


def _hand_sign(t, w, amp, side):
    order = ("open", "fist", "victory", "point", "thumbs_up", "three")
    k = np.floor(w / np.pi).astype(int)
    curls = np.array([SIGNS[order[i % len(order)]] for i in k], float)  # (T, 5)
    out = {f"r_{f}": _c(0, curls[:, i], t) for i, f in enumerate(("thumb", "index", "middle", "ring", "pinky"))}
    return out | {"r_shoulder": _c(25, 55, t), "r_elbow": _c(110, 0, t), "r_wrist": _c(-10, 0, t),
                  "root": _root(0, 0, 5 * side, t)}


def _idle(t, w, amp, side):
    return {"spine": _c(2 * np.sin(w), 0, t), "l_shoulder": _c(3 * np.sin(w), 0, t), "r_shoulder": _c(3 * np.sin(w), 0, t),
            "root": _root(0, 0, 10 * side, t)}


def _legs4(swing: np.ndarray, flex: np.ndarray, t: np.ndarray) -> Curves:
    """Diagonal pairs: front-left with back-right, front-right with back-left."""
    return {"fl_upper": _c(0, swing, t), "br_upper": _c(0, swing, t), "fr_upper": _c(0, -swing, t), "bl_upper": _c(0, -swing, t),
            "fl_lower": _c(0, -flex, t), "br_lower": _c(0, flex, t), "fr_lower": _c(0, flex, t), "bl_lower": _c(0, -flex, t)}


def _q_walk(t, w, amp, side):
    return _legs4(25 * amp * np.sin(w), 20 * np.cos(w), t) | {"head": _c(0, 6 * np.sin(2 * w), t),
                                                              "root": _root(side * 0.3 * w / np.pi, 0, 90 * side, t)}


def _q_trot(t, w, amp, side):
    return _legs4(40 * amp * np.sin(w), 45 * np.maximum(0, np.cos(w)), t) | {
        "tail": _c(0, 20 * np.sin(2 * w), t), "root": _root(side * 0.5 * w / np.pi, 0.06 * np.abs(np.sin(w)), 90 * side, t)}


def _q_sit(t, w, amp, side):
    x = _ease(t, 0.1, 0.5) * amp
    return {"back": _c(0, 35 * x, t), "bl_upper": _c(0, 70 * x, t), "br_upper": _c(0, 70 * x, t), "bl_lower": _c(0, -120 * x, t),
            "br_lower": _c(0, -120 * x, t), "fl_upper": _c(0, -10 * x, t), "fr_upper": _c(0, -10 * x, t),
            "neck": _c(0, -20 * x, t), "tail": _c(0, 15 * np.sin(2 * w), t), "root": _root(0, 0, 80 * side, t)}


def _q_wag(t, w, amp, side):
    return {"tail": _c(0, 35 * amp * np.sin(2 * w), t), "head": _c(0, 15 * np.sin(w), t), "jaw": _c(0, 15 * np.abs(np.sin(w)), t),
            "root": _root(0, 0, 65 * side, t)}


def _q_jump(t, w, amp, side):
    air = np.clip(np.sin(w), 0, 1)
    return _legs4(35 * air, 40 * air, t) | {"back": _c(0, -10 * air, t),
                                            "root": _root(side * 0.2 * w / np.pi, 0.5 * amp * air, 90 * side, t)}


def _q_graze(t, w, amp, side):
    x = 0.5 - 0.5 * np.cos(w)
    return {"neck": _c(0, 110 * x * amp, t), "head": _c(0, 50 * x, t), "tail": _c(0, 10 * np.sin(2 * w), t),
            "root": _root(0, 0, 80 * side, t)}


def _b_flap(t, w, amp, side):
    f = np.sin(2 * w)
    return {"l_wing": _c(45 * amp * f, 0, t), "r_wing": _c(45 * amp * f, 0, t), "l_wingtip": _c(25 * f, 0, t),
            "r_wingtip": _c(25 * f, 0, t), "root": _root(0, 0.15 + 0.15 * f, 45 * side, t)}


def _b_hop(t, w, amp, side):
    air = np.clip(np.sin(2 * w), 0, 1)
    return {"l_leg": _c(0, -40 * air, t), "r_leg": _c(0, -40 * air, t), "l_wing": _c(-60 + 30 * air, -40, t),
            "r_wing": _c(-60 + 30 * air, -40, t), "tail": _c(0, 20 * air, t),
            "root": _root(side * 0.6 * w / np.pi, 0.8 * amp * air, 70 * side, t)}


def _b_peck(t, w, amp, side):
    x = np.clip(np.sin(2 * w), 0, 1)
    return {"neck": _c(0, 120 * x * amp, t), "tail": _c(0, -25 * x, t), "l_wing": _c(-70, -40, t), "r_wing": _c(-70, -40, t),
            "root": _root(0, 0, 75 * side, t)}


def _b_walk(t, w, amp, side):
    return {"l_leg": _c(0, 30 * amp * np.sin(w), t), "r_leg": _c(0, -30 * amp * np.sin(w), t), "neck": _c(0, 15 * np.sin(2 * w), t),
            "l_wing": _c(-70, -40, t), "r_wing": _c(-70, -40, t), "root": _root(side * 0.3 * w / np.pi, 0, 80 * side, t)}


MOTIONS: dict[str, MotionSpec] = {
    "walk": MotionSpec("humanoid", "walks sideways across the ground, swinging arms and legs", (0.8, 1.2), _walk, ("locomotion",)),
    "run_in_place": MotionSpec("humanoid", "runs on the spot, lifting the knees high and pumping the arms", (1.4, 2.0), _run),
    "wave": MotionSpec("humanoid", "raises the right arm and waves", (0.8, 1.2), _wave),
    "jump": MotionSpec("humanoid", "crouches and jumps with both arms thrown up", (0.8, 1.1), _jump),
    "clap": MotionSpec("humanoid", "claps both hands in front of the chest", (0.8, 1.2), _clap, ("occlusion",)),
    "spin": MotionSpec("humanoid", "turns all the way around on the spot with arms held out", (0.8, 1.0), _spin, ("occlusion", "turn")),
    "squat": MotionSpec("humanoid", "squats down with arms stretched forward and stands up again", (0.8, 1.1), _squat),
    "kick": MotionSpec("humanoid", "kicks the right leg forward and high", (0.8, 1.1), _kick),
    "dance": MotionSpec("humanoid", "dances, swaying the hips and waving both arms overhead", (1.0, 1.4), _dance),
    "arms_crossed": MotionSpec("humanoid", "crosses both arms over the chest", (0.8, 1.2), _arms_crossed, ("occlusion",)),
    "hand_sign": MotionSpec("humanoid", "holds up the right hand and shows a series of finger signs", (1.2, 1.6), _hand_sign, ("hands",)),
    "idle": MotionSpec("humanoid", "stands still, breathing", (0.3, 0.5), _idle),
    "q_walk": MotionSpec("quadruped", "walks along on four legs", (0.9, 1.2), _q_walk, ("locomotion",)),
    "q_trot": MotionSpec("quadruped", "trots briskly with the tail bouncing", (1.4, 1.8), _q_trot, ("locomotion",)),
    "q_sit": MotionSpec("quadruped", "sits down on its haunches, tail sweeping", (0.8, 1.2), _q_sit),
    "q_wag": MotionSpec("quadruped", "stands wagging its tail and barking", (0.9, 1.3), _q_wag),
    "q_jump": MotionSpec("quadruped", "leaps forward with legs stretched", (0.5, 0.6), _q_jump),
    "q_graze": MotionSpec("quadruped", "lowers its head to the ground to graze", (0.6, 0.9), _q_graze),
    "b_flap": MotionSpec("bird", "flaps its wings and hovers", (1.0, 1.5), _b_flap),
    "b_hop": MotionSpec("bird", "hops forward with folded wings", (0.8, 1.1), _b_hop, ("locomotion",)),
    "b_peck": MotionSpec("bird", "pecks at the ground", (0.8, 1.2), _b_peck),
    "b_walk": MotionSpec("bird", "walks along, bobbing its head", (0.8, 1.2), _b_walk, ("locomotion",)),
}


def motions_of(family: str) -> tuple[str, ...]:
    """Names of the motions of ``family``."""
    return tuple(name for name, spec in MOTIONS.items() if spec.family == family)


def make_motion(name: str, frames: int, seed: int = 0, fps: float = 16.0) -> MotionClip:
    """Render motion ``name`` as ``frames`` frames; ``seed`` varies tempo, amplitude and facing side."""
    if name not in MOTIONS:
        raise KinemaInputError(f"motion '{name}'", "is not in the motion library", f"Use one of: {', '.join(MOTIONS)}.")
    spec = MOTIONS[name]
    rng = np.random.default_rng([seed, 29])
    hz, amp, side, phase = rng.uniform(*spec.hz), rng.uniform(0.85, 1.15), float(rng.choice([-1.0, 1.0])), rng.uniform(0, 0.25)
    t = np.arange(frames) / fps  # (T,) seconds
    curves = spec.make(t, TAU * (hz * t + phase * (name not in ("spin", "hand_sign"))), amp, side)
    root = curves.pop("root")
    root = root - np.array([root[0, 0], 0.0, 0.0])  # clips start at dx = 0
    channels = {k: np.radians(v) for k, v in curves.items()}
    sentence = f"{'a person' if spec.family == 'humanoid' else 'a ' + spec.family} {spec.description}"
    return MotionClip(name, spec.family, sentence, channels, root * np.array([1.0, 1.0, np.pi / 180]), spec.tags, seed)
