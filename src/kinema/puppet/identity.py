"""Identities: a seed -> body proportions, colours, pattern, accessories and a description."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from kinema.puppet.skeletons import get_family

Colour = tuple[int, int, int]
PALETTE: dict[str, Colour] = {
    "red": (200, 40, 40), "orange": (235, 130, 30), "yellow": (240, 205, 50), "green": (50, 160, 70),
    "teal": (30, 150, 150), "blue": (45, 90, 200), "navy": (30, 40, 110), "purple": (130, 60, 170),
    "pink": (235, 120, 170), "white": (235, 235, 235), "grey": (130, 130, 135), "black": (35, 35, 40),
    "brown": (120, 75, 40), "beige": (215, 190, 150),
}
SKIN: dict[str, Colour] = {"pale": (245, 210, 185), "light": (230, 180, 140), "tan": (195, 140, 95),
                           "brown": (140, 95, 60), "dark": (90, 60, 40), "green": (120, 190, 110)}
PATTERNS = ("plain", "stripes", "dots", "checks")


@dataclass(frozen=True)
class Identity:
    """One character: ``dims`` (lengths and widths, body units), ``colours`` RGB by part key,
    a clothing/coat ``pattern`` drawn in ``colours['pattern']`` with period ``pattern_period``
    (body units), accessory ``flags``, structured ``attributes`` and a ``description`` sentence."""

    seed: int
    family: str
    dims: dict[str, float]
    colours: dict[str, Colour]
    pattern: str
    pattern_period: float
    flags: frozenset[str] = field(default_factory=frozenset)
    attributes: dict[str, str] = field(default_factory=dict)
    description: str = ""

    @property
    def leg_length(self) -> float:
        return float(sum(self.dims[k] for k in get_family(self.family).leg))


def _colour(rng: np.random.Generator, names: tuple[str, ...] | None = None) -> tuple[str, Colour]:
    name = str(rng.choice(names or tuple(PALETTE)))
    jitter = rng.integers(-18, 19, size=3)
    return name, tuple(int(c) for c in np.clip(np.array(PALETTE[name]) + jitter, 0, 255))


def _a(word: str) -> str:
    return f"{'an' if word[0] in 'aeiou' else 'a'} {word}"


def _grade(x: float, lo: float, hi: float, words: tuple[str, str, str]) -> str:
    """Map x in [lo, hi] onto three words by thirds."""
    return words[min(2, int(3 * (x - lo) / (hi - lo)))]


def _humanoid(rng: np.random.Generator) -> tuple[dict, dict, frozenset, dict, str]:
    u = rng.uniform
    height, build, head_r = u(0.8, 1.15), u(0.7, 1.4), u(0.065, 0.1)
    torso = height * u(0.27, 0.34)
    neck = height * u(0.03, 0.06)
    leg = height - torso - neck - 2 * head_r
    thigh = leg * u(0.48, 0.54)
    upper = height * u(0.16, 0.21)
    dims = {
        "torso": torso, "neck": neck + head_r, "head_r": head_r, "thigh": thigh, "shin": leg - thigh,
        "upper_arm": upper, "forearm": upper * u(0.85, 1.0), "hand": height * u(0.08, 0.1),
        "shoulders": height * u(0.2, 0.3) * build ** 0.3, "hips": height * u(0.12, 0.2) * build ** 0.4,
        "foot": height * u(0.07, 0.1), "arm": 0.055 * build, "forearm_w": 0.048 * build, "leg": 0.075 * build,
        "shin_w": 0.065 * build, "neck_w": 0.05 * build, "finger": 0.012, "hair_r": head_r * u(1.02, 1.25),
        "hat_w": head_r * 1.3, "brim_w": head_r * 0.35, "strap": 0.018, "bag_w": 0.1, "stick": height * 0.3,
    }
    skin_name = str(rng.choice(tuple(SKIN)))
    shirt, trousers, shoes, hair, hat, bag, obj = (_colour(rng) for _ in range(7))
    second = _colour(rng, tuple(n for n in PALETTE if n != shirt[0]))
    shoes = _colour(rng, ("black", "brown", "white", "grey", "red"))
    hair = _colour(rng, ("black", "brown", "yellow", "orange", "grey", "white", "pink"))
    flags = {f for f, p in (("hat", 0.3), ("bag", 0.25), ("stick", 0.2)) if rng.random() < p}
    bald = rng.random() < 0.12
    if not bald:
        flags.add("hair")
    shorts, short_sleeves = rng.random() < 0.3, rng.random() < 0.4
    skin = SKIN[skin_name]
    colours = {"skin": skin, "shirt": shirt[1], "sleeve": skin if short_sleeves else shirt[1],
               "trousers": trousers[1], "legwear": skin if shorts else trousers[1], "shoes": shoes[1],
               "hair": hair[1], "hat": hat[1], "bag": bag[1], "object": obj[1], "pattern": second[1], "eyes": (20, 20, 25)}
    attrs = {
        "height": _grade(height, 0.8, 1.15, ("short", "medium-height", "tall")),
        "build": _grade(build, 0.7, 1.4, ("slim", "average-build", "heavy")),
        "legs": "long-legged" if leg / height > 0.5 else "short-legged",
        "head": _grade(head_r, 0.065, 0.1, ("small-headed", "", "big-headed")),
        "skin": skin_name, "shirt": shirt[0], "sleeves": "short" if short_sleeves else "long",
        "bottoms": f"{trousers[0]} {'shorts' if shorts else 'trousers'}", "shoes": shoes[0],
        "hair": "bald" if bald else f"{hair[0]} hair", "pattern_colour": second[0],
    }
    words = [w for w in (attrs["height"], attrs["build"], attrs["legs"], attrs["head"]) if w]
    extra = [f"{_a(hat[0])} hat"] * ("hat" in flags) + [f"{_a(bag[0])} bag"] * ("bag" in flags) + [f"{_a(obj[0])} stick"] * ("stick" in flags)
    colours["hat"], colours["bag"], colours["object"] = hat[1], bag[1], obj[1]
    text = (f"{_a(', '.join(words))} humanoid with {skin_name} skin and {'no hair' if bald else attrs['hair']}, wearing "
            f"{_a(shirt[0])} {attrs['sleeves']}-sleeved shirt{{pattern}}, {attrs['bottoms']} and {shoes[0]} shoes")
    return dims, colours, frozenset(flags), attrs, text + (f", with {' and '.join(extra)}" if extra else "")


def _quadruped(rng: np.random.Generator) -> tuple[dict, dict, frozenset, dict, str]:
    u = rng.uniform
    body, leg, girth, tail = u(0.4, 0.7), u(0.28, 0.5), u(0.16, 0.28), u(0.12, 0.4)
    upper = leg * u(0.45, 0.55)
    dims = {"body": body, "leg_upper": upper, "leg_lower": leg - upper, "girth": girth, "girth_w": girth,
            "neck": u(0.12, 0.25), "neck_w": girth * 0.55, "head_r": u(0.06, 0.1), "snout": u(0.07, 0.14),
            "snout_w": u(0.05, 0.08), "tail": tail, "tail_w": u(0.025, 0.06), "ear_w": u(0.03, 0.05),
            "leg_w": girth * u(0.3, 0.45), "paw_w": girth * u(0.22, 0.32)}
    coat = _colour(rng, ("brown", "grey", "black", "white", "orange", "beige", "yellow"))
    second = _colour(rng, tuple(n for n in ("white", "black", "brown", "beige", "grey") if n != coat[0]))
    colours = {"coat": coat[1], "legs": coat[1] if rng.random() < 0.6 else second[1], "snout": second[1],
               "ears": coat[1] if rng.random() < 0.5 else second[1], "pattern": second[1]}
    attrs = {"size": _grade(body + leg, 0.68, 1.2, ("small", "medium-sized", "large")),
             "legs": "long-legged" if leg > 0.4 else "short-legged", "tail": "long-tailed" if tail > 0.26 else "short-tailed",
             "coat": coat[0], "pattern_colour": second[0]}
    text = f"{_a(attrs['size'])}, {attrs['legs']}, {attrs['tail']} quadruped with {_a(coat[0])} coat{{pattern}} and {_a(second[0])} snout"
    return dims, colours, frozenset(), attrs, text


def _bird(rng: np.random.Generator) -> tuple[dict, dict, frozenset, dict, str]:
    u = rng.uniform
    girth, wing, leg = u(0.22, 0.34), u(0.3, 0.55), u(0.14, 0.24)
    dims = {"girth": girth, "girth_w": girth * 1.1, "neck": u(0.1, 0.2), "neck_w": girth * 0.45,
            "head_r": u(0.06, 0.09), "beak": u(0.1, 0.17), "beak_w": 0.03, "tail": u(0.18, 0.32), "tail_w": 0.07,
            "wing": wing, "wing_w": 0.05, "leg": leg, "leg_w": 0.022, "foot": u(0.05, 0.08)}
    plumage, wings, crest = (_colour(rng) for _ in range(3))
    beak = _colour(rng, ("orange", "yellow", "black", "grey"))
    second = _colour(rng, tuple(n for n in ("white", "black", "yellow", "navy") if n != wings[0]))
    colours = {"plumage": plumage[1], "wings": wings[1], "crest": crest[1], "beak_c": beak[1], "pattern": second[1]}
    attrs = {"wingspan": "broad-winged" if wing > 0.43 else "short-winged", "legs": "long-legged" if leg > 0.19 else "short-legged",
             "plumage": plumage[0], "wings": wings[0], "head": crest[0], "beak": beak[0], "pattern_colour": second[0]}
    text = (f"{_a(attrs['wingspan'])}, {attrs['legs']} bird with {plumage[0]} plumage, {wings[0]} wings{{pattern}}, "
            f"{_a(crest[0])} head and {_a(beak[0])} beak")
    return dims, colours, frozenset(), attrs, text


SAMPLERS = {"humanoid": _humanoid, "quadruped": _quadruped, "bird": _bird}


def sample_identity(seed: int, family: str = "humanoid") -> Identity:
    """Draw an identity of ``family`` from ``seed`` (same seed, same identity)."""
    get_family(family)
    rng = np.random.default_rng([seed, 17])
    dims, colours, flags, attrs, text = SAMPLERS[family](rng)
    pattern = str(rng.choice(PATTERNS))
    attrs = {k: v for k, v in attrs.items() if v} | {"family": family, "pattern": pattern}
    phrase = "" if pattern == "plain" else f" with {attrs['pattern_colour']} {pattern}"
    return Identity(seed, family, {k: float(v) for k, v in dims.items()}, colours, pattern,
                    float(rng.uniform(0.04, 0.08)), flags, attrs, text.format(pattern=phrase))
