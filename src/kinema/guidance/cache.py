"""A content-addressed answer cache: sha256 of the request (never the API key) -> the checked answer."""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path
from typing import Any

from kinema.io import write_json_atomic


def request_key(endpoint: str, body: dict[str, Any]) -> str:
    """Hex sha256 of the endpoint URL and the canonical JSON request body (images included)."""
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AnswerCache:
    """Answers stored as ``root/ab/abcdef….json``; writes are atomic, so readers see whole files."""

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.json"

    def get(self, key: str) -> str | None:
        """The cached answer text, or None (a missing or unreadable entry is a miss)."""
        try:
            entry = json.loads(self._path(key).read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None
        answer = entry.get("answer") if isinstance(entry, dict) else None
        return answer if isinstance(answer, str) else None

    def put(self, key: str, answer: str, meta: dict[str, Any]) -> None:
        """Store ``answer`` with ``meta`` (model, kind): never credentials."""
        write_json_atomic(self._path(key), {"answer": answer, **meta})
