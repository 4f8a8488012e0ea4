"""The generator version: a release number plus a hash of every module that shapes the pixels."""

from __future__ import annotations

import hashlib
from pathlib import Path

RELEASE = "1.0"
_RENDERING = ("skeletons.py", "kinematics.py", "identity.py", "motions.py", "render.py", "background.py", "scene.py", "pairs.py")


def source_hash(directory: Path, names: tuple[str, ...]) -> str:
    """10 hex digits of the SHA-1 of the ``names`` modules in ``directory`` (a missing one counts as empty)."""
    digest = hashlib.sha1()
    for name in names:
        path = directory / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:10]


GENERATOR_VERSION = f"puppet-{RELEASE}+{source_hash(Path(__file__).parent, _RENDERING)}"
