"""The offline backend: captions of puppet-world clips written from their exact labels.

T_m comes from the driving actor's motion label (:mod:`kinema.guidance.puppet_scripts`), T_a from
the reference actor's identity description, and T_fusion from the rule-based fusion with the two
families known exactly. :func:`puppet_description` is the short form the trainer and the demo feed
the text encoder (the embedded puppet model reads 64 tokens).
"""

from __future__ import annotations

from typing import Any

from kinema.errors import KinemaInputError
from kinema.guidance.backend import CaptionBackend, Captions, Driving, Reference
from kinema.guidance.fusion import fuse_rule_based, map_body_parts
from kinema.guidance.puppet_scripts import SCRIPTS, motion_caption
from kinema.puppet.motions import MOTIONS

Labels = dict[str, Any]


def actor(labels: Labels | None, index: int, what: str) -> Labels:
    """Actor ``index`` of a puppet clip's ``labels`` (``Clip.labels``), or a KinemaInputError naming ``what``."""
    actors = (labels or {}).get("actors")
    if not isinstance(actors, list) or not actors:
        raise KinemaInputError(what, "has no puppet labels with actors", "Pass the labels.json that `kinema synth` wrote.")
    if not 0 <= index < len(actors):
        raise KinemaInputError(what, f"has {len(actors)} actor(s), not an actor {index}", "Pick an existing subject.")
    return actors[index]


def _motion_name(driver: Labels) -> str:
    name = driver.get("motion")
    if name not in SCRIPTS:
        raise KinemaInputError(f"puppet motion '{name}'", "has no caption script", f"Use labels of a known motion: {', '.join(SCRIPTS)}.")
    return name


class PuppetBackend(CaptionBackend):
    """Exact captions from ``Clip.labels``; needs no model, network or pixels."""

    name = "puppet"

    def motion(self, driving: Driving) -> str:
        return motion_caption(_motion_name(actor(driving.labels, driving.subject, "driving")))

    def appearance(self, reference: Reference) -> str:
        return f"The character in the image is {actor(reference.labels, 0, 'reference')['identity_description']}."

    def fuse(self, appearance: str, motion: str, target: str | None = None, source: str | None = None) -> str:
        return fuse_rule_based(appearance, motion, target, source)

    def captions(self, reference: Reference, driving: Driving) -> Captions:
        motion, appearance = self.motion(driving), self.appearance(reference)
        target = actor(reference.labels, 0, "reference")["family"]
        source = actor(driving.labels, driving.subject, "driving")["family"]
        return Captions(motion, appearance, self.fuse(appearance, motion, target, source))


def _a(phrase: str) -> str:
    return f"{'an' if phrase[:1] in 'aeiou' else 'a'} {phrase}"


def _subject_and_details(attrs: Labels) -> tuple[str, list[str]]:
    """("a humanoid in a red shirt", ["blue trousers", …]): the subject first, details by importance."""
    family = attrs["family"]
    pattern = [f"{attrs['pattern_colour']} {attrs['pattern']}"] if attrs.get("pattern", "plain") != "plain" else []
    if family == "humanoid":
        return f"a humanoid in {_a(attrs['shirt'])} shirt", [attrs["bottoms"], attrs["hair"], *pattern, f"{attrs['skin']} skin"]
    if family == "quadruped":
        return _a(f"{attrs['coat']} quadruped"), [*pattern, attrs["legs"].replace("-legged", " legs"), attrs["tail"].replace("-tailed", " tail")]
    return _a(f"{attrs['plumage']} bird"), [f"{attrs['wings']} wings", *pattern, f"{attrs['head']} head", f"{attrs['beak']} beak"]


def _join(words: list[str]) -> str:
    return words[0] if len(words) == 1 else f"{', '.join(words[:-1])} and {words[-1]}"


def _fit(text: str, max_chars: int) -> str:
    """``text`` cut at the last word boundary within ``max_chars`` (trailing punctuation dropped)."""
    if len(text) <= max_chars:
        return text
    cut = text[: max_chars + 1].rsplit(" ", 1)[0] if " " in text[:max_chars + 1] else text[:max_chars]
    return cut.rstrip(" ,;:")


def compact_description(reference_actor: Labels, driving_actor: Labels, max_chars: int) -> str:
    """"<subject> [with <details>] <motion>" within ``max_chars``.

    The full motion phrase is kept if it fits, else its main clause (before the first comma);
    details are then added in order of importance while they fit; as a last resort the text is cut.
    """
    target = reference_actor["family"]
    spec = MOTIONS[_motion_name(driving_actor)]
    full = map_body_parts(spec.description, target, spec.family, target)
    subject, details = _subject_and_details(reference_actor["attributes"])
    motion = full if len(f"{subject} {full}") <= max_chars else full.split(",")[0]
    best = f"{subject} {motion}"
    for n in range(1, len(details) + 1):
        text = f"{subject} with {_join(details[:n])} {motion}"
        if len(text) > max_chars:
            break
        best = text
    return _fit(best, max_chars)


def puppet_description(reference_labels: Labels, driving_labels: Labels, max_chars: int | None = None, subject: int = 0) -> str:
    """T_fusion of a puppet reference clip performing driving actor ``subject``'s motion, from exact labels.

    With ``max_chars`` the short form "<subject> with <details> <motion>" is returned instead, cut
    to fit (60 characters fit the embedded puppet model's 64 text tokens).
    """
    if max_chars is None:
        return PuppetBackend().captions(Reference(labels=reference_labels), Driving(labels=driving_labels, subject=subject)).fused
    if max_chars < 8:
        raise KinemaInputError(f"max_chars={max_chars}", "is too small for a description", "Use at least 8.")
    return compact_description(actor(reference_labels, 0, "reference"), actor(driving_labels, subject, "driving"), max_chars)


def pairs_description(pairs: list[tuple[Labels, Labels, int]], max_chars: int | None = None) -> str:
    """The text condition of several (reference labels, driving labels, driving subject) pairs, in
    subject order: one :func:`puppet_description` each; with ``max_chars`` the budget is shared equally."""
    n = len(pairs)
    budget = None if max_chars is None else max(8, (max_chars - 2 * (n - 1)) // n)
    parts = [puppet_description(reference, driving, budget, subject) for reference, driving, subject in sorted(pairs, key=lambda p: p[2])]
    return ("; " if max_chars else " ").join(parts)


def triplet_description(triplet: Any, max_chars: int | None = None) -> str:
    """The text condition of a :class:`kinema.puppet.Triplet`: subject ``i`` of the driving clip is
    played by reference ``triplet.binding[i]`` (see :func:`pairs_description`)."""
    return pairs_description([(triplet.references[k].labels, triplet.driving.labels, i)
                              for i, k in enumerate(triplet.binding)], max_chars)


def model_prompt(triplet: Any, card: dict) -> str:
    """The text a model trained on fused puppet captions reads for ``triplet`` (its card's
    ``text_chars`` budget); empty for a model trained without them."""
    return triplet_description(triplet, card["text_chars"]) if "text_chars" in card else ""
