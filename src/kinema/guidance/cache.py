"""A content-addressed answer cache: sha256 of the request (never the API key) -> the checked answer."""

from __future__ import annotations

import hashlib
import json
import os
import sys
import threading
from pathlib import Path
from typing import Any

from kinema.errors import KinemaInputError
from kinema.io import write_json_atomic


def request_key(endpoint: str, body: dict[str, Any]) -> str:
    """Hex sha256 of the endpoint URL and the canonical JSON request body (images included)."""
    canonical = json.dumps({"endpoint": endpoint, "body": body}, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode("utf-8")).hexdigest()


class AnswerCache:
    """Answers stored as ``root/ab/abcdef….json``; writes are atomic, so readers see whole files.

    A cache that cannot be written costs only the reuse of answers: a warning on stderr, once, not a failure.
    """

    def __init__(self, root: str | os.PathLike) -> None:
        self.root = Path(root)
        self.writable = True
        self._lock = threading.Lock()  # backends ask in parallel threads: the first failing write warns

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
        """Store ``answer`` with ``meta`` (model, kind): never credentials. Unwritable: warn once and stop trying."""
        if not self.writable:
            return
        try:
            write_json_atomic(self._path(key), {"answer": answer, **meta})
        except (OSError, KinemaInputError) as err:
            with self._lock:
                if not self.writable:
                    return
                self.writable = False
            reason = err.problem if isinstance(err, KinemaInputError) else f"cannot be written ({err.strerror or err})"
            print(f"warning: answer cache '{self.root}': {reason}; answers are not cached. "
                  "Pass a writable --cache (or KINEMA_LLM_CACHE), or --no-cache.", file=sys.stderr)
