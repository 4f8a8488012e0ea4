"""The generator version: a release number plus a hash of every module that shapes the pixels."""

from __future__ import annotations

import hashlib
from pathlib import Path

RELEASE = "1.0"
_RENDERING = ("skeletons.py", "kinematics.py", "identity.py", "motions.py", "render.py", "background.py", "scene.py", "pairs.py")


def _source_hash() -> str:
    here = Path(__file__).parent
    digest = hashlib.sha1()
    for name in _RENDERING:
        path = here / name
        digest.update(path.read_bytes() if path.exists() else b"")
    return digest.hexdigest()[:10]


GENERATOR_VERSION = f"puppet-{RELEASE}+{_source_hash()}"
