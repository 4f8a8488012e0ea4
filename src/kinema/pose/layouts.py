"""Named keypoint layouts: joint names, limbs (parent, child) and body-part groups.

The humanoid layout is OpenPose-18 body followed by two 21-point hands (60 joints), the format
the puppet world emits and the skeleton renderer draws. Other families register their own.
"""

from __future__ import annotations

from dataclasses import dataclass, field

OPENPOSE18 = (
    "nose", "neck", "r_shoulder", "r_elbow", "r_wrist", "l_shoulder", "l_elbow", "l_wrist",
    "r_hip", "r_knee", "r_ankle", "l_hip", "l_knee", "l_ankle", "r_eye", "l_eye", "r_ear", "l_ear",
)
# OpenPose's limb order (the order its colour table follows), 0-based.
OPENPOSE18_LIMBS = (
    (1, 2), (1, 5), (2, 3), (3, 4), (5, 6), (6, 7), (1, 8), (8, 9), (9, 10),
    (1, 11), (11, 12), (12, 13), (1, 0), (0, 14), (14, 16), (0, 15), (15, 17),
)
HAND21 = ("wrist",) + tuple(
    f"{finger}_{i}" for finger in ("thumb", "index", "middle", "ring", "pinky") for i in range(1, 5)
)
HAND21_LIMBS = tuple(
    (0 if i == 0 else base + i - 1, base + i) for base in (1, 5, 9, 13, 17) for i in range(4)
)


@dataclass(frozen=True)
class Layout:
    """A keypoint layout: ``joints`` names, ``limbs`` as index pairs, ``groups`` name -> indices.

    ``root`` is where the kinematic chain starts (bone scaling keeps it fixed); ``attach`` lists
    (component root, joint) pairs for parts with no limb to the body, e.g. a hand's wrist point and
    the body's wrist: the part moves with that joint.
    """

    name: str
    joints: tuple[str, ...]
    limbs: tuple[tuple[int, int], ...]
    groups: dict[str, tuple[int, ...]] = field(default_factory=dict)
    root: int = 0
    attach: tuple[tuple[int, int], ...] = ()

    @property
    def num_joints(self) -> int:
        return len(self.joints)

    def index(self, joint: str) -> int:
        return self.joints.index(joint)


def _humanoid() -> Layout:
    hand = lambda side, off: tuple(f"{side}_hand_{j}" for j in HAND21)  # noqa: E731
    joints = OPENPOSE18 + hand("l", 18) + hand("r", 39)
    limbs = OPENPOSE18_LIMBS + tuple((a + 18, b + 18) for a, b in HAND21_LIMBS) + tuple(
        (a + 39, b + 39) for a, b in HAND21_LIMBS
    )
    groups = {
        "head": (0, 14, 15, 16, 17),
        "torso": (1, 2, 5, 8, 11),
        "arms": (3, 4, 6, 7),
        "legs": (9, 10, 12, 13),
        "hands": tuple(range(18, 60)),
    }
    return Layout("humanoid", joints, limbs, groups, root=1, attach=((18, 7), (39, 4)))


LAYOUTS: dict[str, Layout] = {}


def register_layout(layout: Layout) -> Layout:
    """Add a layout to the registry (names are unique)."""
    if layout.name in LAYOUTS and LAYOUTS[layout.name] != layout:
        raise ValueError(f"layout '{layout.name}' is already registered with a different definition")
    LAYOUTS[layout.name] = layout
    return layout


def get_layout(name: str) -> Layout:
    """Look up a layout by name; the error lists the valid names."""
    if name not in LAYOUTS:
        raise KeyError(f"unknown keypoint layout '{name}'; known: {', '.join(sorted(LAYOUTS))}")
    return LAYOUTS[name]


register_layout(_humanoid())
BODY18_GROUPS = {"head": (0, 14, 15, 16, 17), "torso": (1, 2, 5, 8, 11), "arms": (3, 4, 6, 7), "legs": (9, 10, 12, 13)}
register_layout(Layout("body18", OPENPOSE18, OPENPOSE18_LIMBS, BODY18_GROUPS, root=1))

QUADRUPED = (
    "nose", "head", "l_ear", "r_ear", "neck", "withers", "croup", "tail_base", "tail_mid", "tail_tip",
    "fl_shoulder", "fl_knee", "fl_paw", "fr_shoulder", "fr_knee", "fr_paw",
    "bl_hip", "bl_knee", "bl_paw", "br_hip", "br_knee", "br_paw",
)
register_layout(Layout(
    "quadruped", QUADRUPED,
    ((1, 0), (1, 2), (1, 3), (4, 1), (5, 4), (5, 6), (6, 7), (7, 8), (8, 9), (5, 10), (10, 11), (11, 12),
     (5, 13), (13, 14), (14, 15), (6, 16), (16, 17), (17, 18), (6, 19), (19, 20), (20, 21)),
    {"head": (0, 1, 2, 3), "torso": (4, 5, 6), "tail": (7, 8, 9), "legs": tuple(range(10, 22))},
    root=5,
))
BIRD = (
    "beak", "head", "neck", "body", "tail", "l_wing_root", "l_wing_mid", "l_wing_tip",
    "r_wing_root", "r_wing_mid", "r_wing_tip", "l_hip", "l_ankle", "l_foot", "r_hip", "r_ankle", "r_foot",
)
register_layout(Layout(
    "bird", BIRD,
    ((1, 0), (2, 1), (3, 2), (3, 4), (3, 5), (5, 6), (6, 7), (3, 8), (8, 9), (9, 10),
     (3, 11), (11, 12), (12, 13), (3, 14), (14, 15), (15, 16)),
    {"head": (0, 1, 2), "torso": (3, 4), "wings": (5, 6, 7, 8, 9, 10), "legs": tuple(range(11, 17))},
    root=3,
))
