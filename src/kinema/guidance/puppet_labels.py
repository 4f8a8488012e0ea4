"""Finding the puppet labels of real files: the ``labels.json`` that ``kinema synth`` writes per sample.

A sample directory holds ``reference_{k}.png``, ``driving.mp4`` and ``labels.json`` (with the
sample's ``references``, ``driving`` and ``binding``). Given a reference file and a driving file,
the labels are that ``labels.json`` (or the one passed explicitly); reference ``k`` is read from
the file name (``reference_0.png`` when the name says nothing) and plays the driving subject that
``binding`` assigns to it.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from kinema.errors import KinemaInputError, require_file

FIX = "Use the files of a `kinema synth` sample with its labels.json beside them (kinema caption also takes --labels FILE)."


@dataclass(frozen=True)
class PuppetPair:
    """Clip labels of reference ``k`` and of the driving clip, and the driving subject it plays."""

    reference: dict[str, Any]
    driving: dict[str, Any]
    subject: int


def load_sample_labels(path: Path) -> dict[str, Any]:
    """A sample's ``labels.json``; a KinemaInputError when it is missing or not a synth sample's labels."""
    require_file(path, "puppet labels", FIX)
    try:
        labels = json.loads(path.read_text(encoding="utf-8"))
    except (ValueError, UnicodeDecodeError) as err:
        raise KinemaInputError(f"puppet labels '{path}'", "is not JSON", FIX) from err
    if not isinstance(labels, dict) or not {"references", "driving", "binding"} <= labels.keys():
        raise KinemaInputError(f"puppet labels '{path}'", "has no references/driving/binding (not a sample's labels.json)", FIX)
    return labels


def reference_index(reference: Path) -> int:
    """k of ``reference_{k}.png``; 0 for any other name."""
    match = re.fullmatch(r"reference_(\d+)", reference.stem)
    return int(match.group(1)) if match else 0


def puppet_pair(reference: Path, labels_path: Path | None) -> PuppetPair:
    """The labels for ``reference`` and the driving clip, from ``labels_path`` or the ``labels.json`` beside ``reference``."""
    path = labels_path or reference.parent / "labels.json"
    if labels_path is None and not path.is_file():
        raise KinemaInputError(f"reference '{reference}'", "has no labels.json beside it", FIX)
    labels = load_sample_labels(path)
    k = reference_index(reference)
    if not 0 <= k < len(labels["references"]):
        raise KinemaInputError(f"reference '{reference}'", f"is reference {k}, but '{path}' has {len(labels['references'])}", FIX)
    if k not in labels["binding"]:
        raise KinemaInputError(f"reference '{reference}'", f"is bound to no driving subject in '{path}'", FIX)
    return PuppetPair(labels["references"][k], labels["driving"], labels["binding"].index(k))


def check_size(clip_labels: dict[str, Any], size: tuple[int, int], what: str) -> None:
    """A KinemaInputError when a file's (width, height) differs from the size its labels record."""
    expected = tuple(clip_labels.get("size", size))
    if expected != tuple(size):
        raise KinemaInputError(what, f"is {size[0]}x{size[1]} but its puppet labels say {expected[0]}x{expected[1]}",
                               "Pass the labels.json of the sample these files come from.")
