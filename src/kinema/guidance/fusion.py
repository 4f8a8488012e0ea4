"""Rule-based target-oriented fusion (DreamActor-M2 §3.3, app. G listing 3) without a language model.

The motion caption's body parts are mapped onto the target's body (hands/arms -> wings for birds,
hands -> forepaws and arms -> forelegs for quadrupeds, legs -> hind limbs, …), people-words and
pronouns become the target's, and the appearance sentence is put in front:
"In the video, <appearance>. <mapped motion>".
"""

from __future__ import annotations

import re

HUMAN, BIRD, QUADRUPED, OTHER = "humanoid", "bird", "quadruped", "other"

# Nouns that say which body a description is about (the first one in the text wins).
FAMILY_WORDS = {
    BIRD: ("bird", "parrot", "chicken", "hen", "rooster", "duck", "goose", "owl", "eagle", "penguin", "pigeon",
           "sparrow", "crow", "swan", "flamingo", "ostrich"),
    QUADRUPED: ("quadruped", "dog", "puppy", "cat", "kitten", "horse", "pony", "fox", "wolf", "cow", "sheep", "goat",
                "pig", "lion", "tiger", "deer", "bear", "rabbit", "mouse", "rat", "groundhog", "squirrel"),
    HUMAN: ("humanoid", "person", "man", "woman", "boy", "girl", "child", "human", "lady", "gentleman", "people"),
}
GENDER_WORDS = ("male", "female", "gender")  # a caption that gives a gender and no noun is about a person

# Human body part -> the target's part (DreamActor-M2 app. G listing 3, rule 3). Plural before singular.
PART_MAPS = {
    BIRD: {"arms": "wings", "arm": "wing", "hands": "wingtips", "hand": "wingtip", "palms": "undersides of the wings",
           "palm": "underside of the wing", "fists": "folded wingtips", "fist": "folded wingtip", "fingers": "flight feathers",
           "finger": "flight feather", "fingertips": "feather tips", "fingertip": "feather tip", "thumbs": "leading feathers", "thumb": "leading feather", "elbows": "wing joints",
           "elbow": "wing joint", "wrists": "wing bends", "wrist": "wing bend", "shoulders": "wing roots",
           "shoulder": "wing root", "feet": "claws", "foot": "claw", "toes": "talons", "knees": "legs", "knee": "leg",
           "hips": "hips", "chest": "breast"},
    QUADRUPED: {"arms": "forelegs", "arm": "foreleg", "hands": "forepaws", "hand": "forepaw", "palms": "forepaw pads",
                "palm": "forepaw pad", "fists": "curled forepaws", "fist": "curled forepaw", "fingers": "toes",
                "finger": "toe", "fingertips": "toe tips", "fingertip": "toe tip", "thumbs": "dewclaws", "thumb": "dewclaw", "legs": "hind legs", "leg": "hind leg",
                "feet": "hind paws", "foot": "hind paw"},
    OTHER: {"arms": "forelimbs", "arm": "forelimb", "hands": "forelimb tips", "hand": "forelimb tip", "legs": "hind limbs",
            "leg": "hind limb", "feet": "supporting limbs", "foot": "supporting limb", "fingers": "appendages",
            "finger": "appendage", "fingertips": "appendage tips", "fingertip": "appendage tip", "fists": "curled forelimbs",
            "fist": "curled forelimb", "palms": "undersides of the forelimbs", "palm": "underside of the forelimb"},
}
PRONOUNS = {"he": "it", "she": "it", "they": "it", "him": "it", "her": "its", "his": "its", "their": "its",
            "them": "it", "himself": "itself", "herself": "itself", "themselves": "itself", "person": "{noun}",
            "human": "{noun}", "man": "{noun}", "woman": "{noun}", "character": "{noun}"}
# "hind"/"fore" already in the text (an animal's own caption) stop a second mapping of that word.
_GUARD = r"(?<!hind )(?<!fore)(?<!-)"


def detect_family(text: str) -> str:
    """The body a description is about: bird, quadruped, humanoid, or other when no word tells."""
    words = re.findall(r"[a-z]+", text.lower())
    for word in words:
        for family, names in FAMILY_WORDS.items():
            if word in names:
                return family
    return HUMAN if set(words) & set(GENDER_WORDS) else OTHER


def _subject_noun(appearance: str, family: str) -> str:
    """The noun the fused text uses for the target: its first family word (e.g. parrot), else the family."""
    names = FAMILY_WORDS.get(family, ())
    for word in re.findall(r"[a-z]+", appearance.lower()):
        if word in names:
            return word
    return {HUMAN: "character", OTHER: "creature"}.get(family, family)


def _swap(text: str, table: dict[str, str]) -> str:
    """Replace whole words of ``text`` by ``table`` in one pass (so replacements are never re-mapped)."""
    pattern = re.compile(_GUARD + r"\b(" + "|".join(sorted(map(re.escape, table), key=len, reverse=True)) + r")\b", re.IGNORECASE)

    def sub(m: re.Match) -> str:
        out = table[m.group(0).lower()]
        return out[:1].upper() + out[1:] if m.group(0)[0].isupper() else out

    return pattern.sub(sub, text)


def map_body_parts(motion: str, target: str, source: str = HUMAN, noun: str = "") -> str:
    """``motion`` (about a ``source`` body) rewritten for a ``target`` body; unchanged when they match."""
    if target == source or target == HUMAN or source != HUMAN:
        return motion
    noun = noun or _subject_noun("", target)
    text = _swap(motion, PART_MAPS[target])
    return _swap(text, {k: v.format(noun=noun) for k, v in PRONOUNS.items()})


def appearance_core(appearance: str) -> str:
    """The noun phrase of an appearance caption: "The character in the image is a red bird. It…" -> "a red bird. It…"."""
    core = re.sub(r"^the character in the image is\s+", "", appearance.strip(), flags=re.IGNORECASE)
    return core.rstrip(". ")


def motion_body(motion: str, noun: str) -> str:
    """Motion caption without its fixed opening: "In the video, the character's initial pose is X." -> "Initially, the <noun> is X."."""
    text = re.sub(r"^in the video,\s+the character's initial pose is\s+", f"Initially, the {noun} is ", motion.strip(),
                  flags=re.IGNORECASE)
    return re.sub(r"\bthe character\b", f"the {noun}", text)


def fuse_rule_based(appearance: str, motion: str, target: str | None = None, source: str | None = None) -> str:
    """Fused target-oriented text: "In the video, <appearance core>. <motion mapped onto the target's body>".

    ``target``/``source`` are families (humanoid, bird, quadruped, other); by default they are read
    from the captions' words (the motion source defaults to a human when it names no body).
    """
    target = target or detect_family(appearance)
    source = source or (detect_family(motion) if detect_family(motion) != OTHER else HUMAN)
    noun = _subject_noun(appearance, target)
    body = map_body_parts(motion_body(motion, noun), target, source, noun)
    return f"In the video, {appearance_core(appearance)}. {body}"
