"""Puppet families: node trees for forward kinematics, drawable parts, and their keypoint layouts.

Coordinates are body-frame ``(u, v, f)``: ``u`` toward the puppet's left, ``v`` down, ``f`` toward
its front. A bone's direction is ``R_a R_s (0, 1, 0) = (sin a cos s, cos a cos s, sin s)``: ``a``
turns in the frontal plane from straight down toward +u, ``s`` pitches toward +f. A motion adds
(a, s) per channel; a node inherits its ancestors' channel deltas (never their rest angles), so one
set of channels drives every body of the family and the bone lengths stay the identity's.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

import numpy as np

from kinema.pose.layouts import HAND21, get_layout


@dataclass(frozen=True)
class Node:
    """A skeleton node: a bone of ``length`` from ``parent`` or a fixed ``offset`` (u, v, f) from it.

    ``length`` is an identity length key (times ``scale``) giving the bone length or offset unit;
    ``rest`` is the bone's rest (a, s) in degrees; ``channel`` names the motion channel it adds;
    ``mirror`` marks a right-side copy (a and u negated).
    """

    name: str
    parent: str | None
    length: str = ""
    scale: float = 1.0
    rest: tuple[float, float] = (0.0, 0.0)
    channel: str = ""
    offset: tuple[float, float, float] | None = None
    mirror: bool = False


@dataclass(frozen=True)
class Part:
    """A drawable piece: ``limb`` (thick segment), ``disc`` (at joints[0]), ``poly`` or ``hand``.

    ``width``/``colour`` are identity keys; ``covers`` lists extra joints that count as lying on
    this part for visibility; ``requires`` is an identity flag the part needs (an accessory).
    """

    name: str
    kind: str
    joints: tuple[str, ...]
    width: str
    colour: str
    pattern: bool = False
    covers: tuple[str, ...] = ()
    requires: str = ""
    bias: float = 0.0


@dataclass(frozen=True)
class Family:
    """A puppet family: its nodes (parents first), parts, ground contacts and keypoint layout.

    ``surface`` joints sit on a part's surface and are hidden when they face away from the camera
    (z behind their parent node). ``leg`` is the length keys summing to the leg length, the unit of
    a motion's root translation.
    """

    name: str
    layout: str
    nodes: tuple[Node, ...]
    parts: tuple[Part, ...]
    feet: tuple[str, ...]
    leg: tuple[str, ...]
    surface: tuple[str, ...] = ()

    def index(self, name: str) -> int:
        return self.node_names.index(name)

    @property
    def node_names(self) -> tuple[str, ...]:
        return tuple(n.name for n in self.nodes)

    @property
    def layout_nodes(self) -> np.ndarray:
        """(J,) node index of each layout joint, in layout order."""
        return np.array([self.index(j) for j in get_layout(self.layout).joints])

    @property
    def channels(self) -> tuple[str, ...]:
        return tuple(sorted({n.channel for n in self.nodes if n.channel}))


def _mirror(nodes: list[Node]) -> list[Node]:
    """Right-side copies of left-side nodes (``l_``/``fl_``/``bl_`` prefixes become right)."""
    swap = lambda s: s.replace("l_", "r_", 1) if s.startswith(("l_", "fl_", "bl_")) else s  # noqa: E731
    swap_node = lambda s: None if s is None else (s.replace("l_", "r_", 1) if "l_" in s[:3] else s)  # noqa: E731
    return [replace(n, name=swap(n.name), parent=swap_node(n.parent), channel=swap(n.channel), mirror=True) for n in nodes]


def _sided(nodes: list[Node]) -> list[Node]:
    return nodes + _mirror(nodes)


def _hand(side: str) -> list[Node]:
    """21 hand nodes (layout HAND21 order) hanging from ``{side}_wrist``."""
    spread = {"thumb": 40.0, "index": 12.0, "middle": 3.0, "ring": -6.0, "pinky": -15.0}
    base = {"thumb": 0.35, "index": 0.9, "middle": 0.95, "ring": 0.9, "pinky": 0.8}
    nodes = [Node(f"{side}_hand_wrist", f"{side}_wrist", offset=(0.0, 0.0, 0.0))]
    for finger, a in spread.items():
        parent = f"{side}_hand_wrist"
        for i, frac in enumerate((base[finger], 0.45, 0.28, 0.22), start=1):
            length = frac * (1.0 if i == 1 else base[finger] + 0.3)
            channel = f"{side}_wrist" if i == 1 else f"{side}_{finger}"
            nodes.append(Node(f"{side}_hand_{finger}_{i}", parent, "hand", length, (5.0 + a, 0.0), channel))
            parent = f"{side}_hand_{finger}_{i}"
    assert [n.name.split("_hand_")[1] for n in nodes] == list(HAND21)
    return nodes


def _humanoid() -> Family:
    left = [
        Node("l_shoulder", "neck", "shoulders", 0.5, offset=(1.0, 0.12, 0.0)),
        Node("l_elbow", "l_shoulder", "upper_arm", rest=(12.0, 0.0), channel="l_shoulder"),
        Node("l_wrist", "l_elbow", "forearm", rest=(4.0, 0.0), channel="l_elbow"),
        *_hand("l"),
        Node("l_hip", "pelvis", "hips", 0.5, offset=(1.0, 0.0, 0.0)),
        Node("l_knee", "l_hip", "thigh", rest=(2.0, 0.0), channel="l_hip"),
        Node("l_ankle", "l_knee", "shin", channel="l_knee"),
        Node("l_toe", "l_ankle", "foot", rest=(0.0, 80.0), channel="l_ankle"),
        Node("l_eye", "head", "head_r", offset=(0.35, -0.15, 0.85)),
        Node("l_ear", "head", "head_r", offset=(0.95, -0.05, 0.05)),
        Node("l_brim", "head", "head_r", offset=(1.25, -0.7, 0.0)),
    ]
    nodes = [
        Node("pelvis", None),
        Node("neck", "pelvis", "torso", rest=(180.0, 0.0), channel="spine"),
        Node("head", "neck", "neck", rest=(180.0, 0.0), channel="head"),
        Node("nose", "head", "head_r", offset=(0.0, 0.15, 0.9)),
        Node("hair", "head", "head_r", offset=(0.0, -0.22, -0.35)),
        Node("hat", "head", "head_r", offset=(0.0, -0.75, 0.0)),
        Node("hat_top", "head", "head_r", offset=(0.0, -1.5, 0.0)),
        Node("bag_top", "pelvis", "hips", offset=(0.85, -0.15, 0.1)),
        Node("bag_bottom", "pelvis", "hips", offset=(0.85, 0.35, 0.1)),
        *_sided(left),
        Node("stick", "r_hand_middle_1", "stick", rest=(-10.0, 0.0), mirror=True),
    ]
    arm = lambda s: (  # noqa: E731
        Part(f"{s}_upper_arm", "limb", (f"{s}_shoulder", f"{s}_elbow"), "arm", "shirt", bias=0.02),
        Part(f"{s}_forearm", "limb", (f"{s}_elbow", f"{s}_wrist"), "forearm_w", "sleeve", bias=0.03),
        Part(f"{s}_hand", "hand", (f"{s}_hand_wrist",), "finger", "skin", bias=0.04,
             covers=tuple(f"{s}_hand_{j}" for j in HAND21) + (f"{s}_wrist",)),
    )
    leg = lambda s: (  # noqa: E731
        Part(f"{s}_thigh", "limb", (f"{s}_hip", f"{s}_knee"), "leg", "trousers", bias=0.01),
        Part(f"{s}_shin", "limb", (f"{s}_knee", f"{s}_ankle"), "shin_w", "legwear", bias=0.01),
        Part(f"{s}_foot", "limb", (f"{s}_ankle", f"{s}_toe"), "shin_w", "shoes", bias=0.015),
    )
    face = ("nose", "l_eye", "r_eye", "l_ear", "r_ear")
    parts = (
        Part("hair", "disc", ("hair",), "hair_r", "hair", requires="hair", bias=-0.01),
        Part("pelvis", "limb", ("l_hip", "r_hip"), "leg", "trousers"),
        Part("torso", "poly", ("l_shoulder", "r_shoulder", "r_hip", "l_hip"), "arm", "shirt", pattern=True, covers=("neck",)),
        Part("neck", "limb", ("neck", "head"), "neck_w", "skin", bias=-0.005),
        Part("head", "disc", ("head",), "head_r", "skin", covers=face, bias=0.005),
        Part("hat", "limb", ("hat", "hat_top"), "hat_w", "hat", requires="hat", bias=0.02),
        Part("brim", "limb", ("l_brim", "r_brim"), "brim_w", "hat", requires="hat", bias=0.021),
        Part("strap", "limb", ("r_shoulder", "bag_top"), "strap", "bag", requires="bag", bias=0.05),
        Part("bag", "limb", ("bag_top", "bag_bottom"), "bag_w", "bag", requires="bag", bias=0.06),
        Part("stick", "limb", ("r_hand_middle_1", "stick"), "strap", "object", requires="stick", bias=0.05),
        *arm("l"), *arm("r"), *leg("l"), *leg("r"),
    )
    return Family("humanoid", "humanoid", tuple(nodes), parts, ("l_ankle", "r_ankle", "l_toe", "r_toe"),
                  ("thigh", "shin"), surface=face)


def _quadruped() -> Family:
    left = [
        Node("fl_shoulder", "withers", "girth", offset=(0.35, 0.3, 0.1)),
        Node("fl_knee", "fl_shoulder", "leg_upper", channel="fl_upper"),
        Node("fl_paw", "fl_knee", "leg_lower", channel="fl_lower"),
        Node("bl_hip", "croup", "girth", offset=(0.35, 0.3, -0.1)),
        Node("bl_knee", "bl_hip", "leg_upper", channel="bl_upper"),
        Node("bl_paw", "bl_knee", "leg_lower", channel="bl_lower"),
        Node("l_ear", "head", "head_r", offset=(0.45, -1.1, -0.2)),
    ]
    nodes = [
        Node("withers", None),
        Node("croup", "withers", "body", rest=(0.0, -90.0), channel="back"),
        Node("neck", "withers", "neck", rest=(180.0, 45.0), channel="neck"),
        Node("head", "neck", "head_r", 1.2, rest=(180.0, 80.0), channel="head"),
        Node("nose", "head", "snout", rest=(0.0, 75.0), channel="jaw"),
        Node("tail_base", "croup", "girth", offset=(0.0, -0.2, -0.45)),
        Node("tail_mid", "tail_base", "tail", 0.5, rest=(180.0, -60.0), channel="tail"),
        Node("tail_tip", "tail_mid", "tail", 0.5, rest=(180.0, -40.0), channel="tail"),
        *_sided(left),
    ]
    leg = lambda p, j: (  # noqa: E731
        Part(f"{p}_upper", "limb", (f"{p}_{j}", f"{p}_knee"), "leg_w", "coat", bias=0.01),
        Part(f"{p}_lower", "limb", (f"{p}_knee", f"{p}_paw"), "paw_w", "legs", bias=0.01),
    )
    parts = (
        Part("body", "limb", ("withers", "croup"), "girth_w", "coat", pattern=True,
             covers=("fl_shoulder", "fr_shoulder", "bl_hip", "br_hip", "tail_base")),
        Part("neck", "limb", ("withers", "neck"), "neck_w", "coat", bias=0.01),
        Part("head", "disc", ("head",), "head_r", "coat", bias=0.02),
        Part("snout", "limb", ("head", "nose"), "snout_w", "snout", bias=0.03),
        Part("l_ear", "limb", ("head", "l_ear"), "ear_w", "ears", bias=-0.01),
        Part("r_ear", "limb", ("head", "r_ear"), "ear_w", "ears", bias=-0.01),
        Part("tail", "limb", ("tail_base", "tail_mid", "tail_tip"), "tail_w", "coat", bias=-0.01),
        *leg("fl", "shoulder"), *leg("fr", "shoulder"), *leg("bl", "hip"), *leg("br", "hip"),
    )
    return Family("quadruped", "quadruped", tuple(nodes), parts, ("fl_paw", "fr_paw", "bl_paw", "br_paw"),
                  ("leg_upper", "leg_lower"))


def _bird() -> Family:
    left = [
        Node("l_wing_root", "body", "girth", offset=(0.4, -0.35, 0.15)),
        Node("l_wing_mid", "l_wing_root", "wing", 0.5, rest=(110.0, -20.0), channel="l_wing"),
        Node("l_wing_tip", "l_wing_mid", "wing", 0.5, rest=(100.0, -30.0), channel="l_wingtip"),
        Node("l_hip", "body", "girth", offset=(0.25, 0.35, 0.0)),
        Node("l_ankle", "l_hip", "leg", channel="l_leg"),
        Node("l_foot", "l_ankle", "foot", rest=(0.0, 80.0), channel="l_foot"),
    ]
    nodes = [
        Node("body", None),
        Node("neck", "body", "girth", offset=(0.0, -0.3, 0.55)),
        Node("head", "neck", "neck", rest=(180.0, 20.0), channel="neck"),
        Node("beak", "head", "beak", rest=(0.0, 85.0), channel="head"),
        Node("tail", "body", "tail", rest=(0.0, -100.0), channel="tail"),
        *_sided(left),
    ]
    wing = lambda s: (  # noqa: E731
        Part(f"{s}_wing", "poly", (f"{s}_wing_root", f"{s}_wing_mid", f"{s}_wing_tip"), "wing_w", "wings", pattern=True, bias=0.05),
    )
    parts = (
        Part("body", "limb", ("neck", "tail"), "girth_w", "plumage", covers=("body", "l_wing_root", "r_wing_root", "l_hip", "r_hip")),
        Part("neck", "limb", ("neck", "head"), "neck_w", "plumage", bias=0.01),
        Part("head", "disc", ("head",), "head_r", "crest", bias=0.02),
        Part("beak", "limb", ("head", "beak"), "beak_w", "beak_c", bias=0.03),
        Part("tail", "limb", ("body", "tail"), "tail_w", "wings", bias=-0.01),
        *wing("l"), *wing("r"),
        *(Part(f"{s}_{p}", "limb", (f"{s}_{a}", f"{s}_{b}"), "leg_w", "beak_c", bias=0.01)
          for s in "lr" for p, a, b in (("leg", "hip", "ankle"), ("foot", "ankle", "foot"))),
    )
    return Family("bird", "bird", tuple(nodes), parts, ("l_foot", "r_foot", "l_ankle", "r_ankle"), ("leg",))


FAMILIES: dict[str, Family] = {f.name: f for f in (_humanoid(), _quadruped(), _bird())}


def get_family(name: str) -> Family:
    """Look up a family; the error lists the valid names."""
    from kinema.errors import KinemaInputError

    if name not in FAMILIES:
        raise KinemaInputError(f"family '{name}'", "is not a puppet family", f"Use one of: {', '.join(FAMILIES)}.")
    return FAMILIES[name]
