"""An OpenAI-compatible chat-completions client on the standard library.

Retries connection failures, broken HTTP, timeouts and HTTP 408/429/5xx with exponential
back-off, honouring ``Retry-After``; ``timeout_s`` bounds each request as a whole (connect, send and
every read), so a server trickling bytes cannot stretch it. At most ``concurrency`` requests are in
flight per client; checked answers are cached by request content. The API key goes only into the
``Authorization`` header: it is never logged, cached or put into an error message.
"""

from __future__ import annotations

import email.utils
import http.client
import io
import json
import logging
import random
import socket
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from typing import Any

from kinema.errors import KinemaInputError
from kinema.guidance.cache import AnswerCache, request_key
from kinema.guidance.config import ENV_API_KEY, LLMConfig
from kinema.guidance.errors import LLMConnectionError, LLMHTTPError, LLMTimeoutError, MalformedAnswerError, RefusalError

log = logging.getLogger("kinema.guidance")
RETRY_STATUS = frozenset({408, 429, 500, 502, 503, 504})
MAX_BODY_BYTES = 32 * 2**20  # far above any chat answer; a larger body is refused, not buffered


class _Retryable(Exception):
    """One failed attempt that may succeed if repeated; ``wait_s`` is the server's Retry-After."""

    def __init__(self, error: Exception, wait_s: float | None = None) -> None:
        super().__init__(str(error))
        self.error, self.wait_s = error, wait_s


def retry_after_s(value: str | None) -> float | None:
    """Seconds from a ``Retry-After`` header (delta-seconds or an HTTP date), None if absent or unreadable."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
    except (TypeError, ValueError):
        return None


def _time_left(deadline: float) -> float:
    """Seconds until ``deadline`` (on time.monotonic()); TimeoutError once it has passed."""
    left = deadline - time.monotonic()
    if left <= 0:
        raise TimeoutError("the request deadline passed")
    return left


class _DeadlineSocket:
    """A connected socket whose every send and read ends by one ``deadline``: before each, its timeout
    is set to the time left, so the timeout bounds the request rather than each read."""

    def __init__(self, sock: socket.socket, deadline: float) -> None:
        self.sock, self.deadline = sock, deadline

    def arm(self) -> None:
        self.sock.settimeout(_time_left(self.deadline))

    def sendall(self, data: bytes) -> None:
        self.arm()
        self.sock.sendall(data)

    def makefile(self, mode: str = "rb") -> io.BufferedReader:
        return io.BufferedReader(_DeadlineReader(self))

    def close(self) -> None:
        self.sock.close()  # deferred by the socket while a reader from makefile is open


class _DeadlineReader(io.RawIOBase):
    """The raw byte stream of a :class:`_DeadlineSocket`, arming its deadline before each read."""

    def __init__(self, sock: _DeadlineSocket) -> None:
        super().__init__()
        self.sock, self.raw = sock, sock.sock.makefile("rb", buffering=0)

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int | None:
        self.sock.arm()
        return self.raw.readinto(buffer)

    def close(self) -> None:
        self.raw.close()
        super().close()


class _DeadlineConnection(http.client.HTTPConnection):
    """An HTTP connection whose connect, sends and reads all end by ``deadline``."""

    def __init__(self, *args: Any, deadline: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.deadline = deadline

    def connect(self) -> None:
        self.timeout = _time_left(self.deadline)  # a redirect connects again, with less time
        super().connect()
        self.sock = _DeadlineSocket(self.sock, self.deadline)


class _DeadlineHTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    """The HTTPS form of :class:`_DeadlineConnection` (the deadline wraps the TLS socket)."""


class _DeadlineHandler(urllib.request.HTTPHandler, urllib.request.HTTPSHandler):
    """Opens http and https URLs (directly or through the environment's proxy) on deadline connections."""

    def __init__(self, deadline: float) -> None:
        super().__init__()
        self.deadline = deadline

    def http_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineConnection, req, deadline=self.deadline)

    def https_open(self, req: urllib.request.Request) -> http.client.HTTPResponse:
        return self.do_open(_DeadlineHTTPSConnection, req, deadline=self.deadline)


def _read_body(response: http.client.HTTPResponse) -> bytes:
    """The whole body; IncompleteRead when it is shorter than its Content-Length, MalformedAnswerError
    when it is larger than :data:`MAX_BODY_BYTES`."""
    chunks, size = [], 0
    while chunk := response.read(2**16):
        size += len(chunk)
        if size > MAX_BODY_BYTES:
            raise MalformedAnswerError(f"the response is larger than {MAX_BODY_BYTES // 2**20} MiB")
        chunks.append(chunk)
    body = b"".join(chunks)
    if response.length:  # bytes the Content-Length promised that never came (read(n) does not raise for them)
        raise http.client.IncompleteRead(body, response.length)
    return body


def _named(err: Exception) -> str:
    """``err`` as its type and text, the type once (``IncompleteRead(6 bytes read, ...)`` names itself)."""
    text = str(err)
    return text if text.startswith(type(err).__name__) else f"{type(err).__name__}: {text}"


def _part_text(part: Any) -> str:
    """The text of one content part; parts that are not text contribute nothing."""
    text = part.get("text") if isinstance(part, dict) else None
    return text if isinstance(text, str) else ""


def message_text(data: Any) -> str:
    """The answer text of a chat-completions response, or a typed error for refusals and bad shapes."""
    try:
        choice = data["choices"][0]
        message = choice["message"]
    except (KeyError, IndexError, TypeError) as err:
        raise MalformedAnswerError("the response has no choices[0].message") from err
    if not isinstance(message, dict):
        raise MalformedAnswerError("the response's choices[0].message is not an object")
    if message.get("refusal"):
        raise RefusalError(f"the model refused: {str(message['refusal'])[:200]}")
    if choice.get("finish_reason") == "content_filter":
        raise RefusalError("the answer was stopped by the provider's content filter")
    if choice.get("finish_reason") == "length":
        raise MalformedAnswerError("the answer was cut off at max_tokens; raise max_tokens")
    content = message.get("content")
    if isinstance(content, list):  # content parts
        content = "".join(_part_text(p) for p in content)
    if not isinstance(content, str) or not content.strip():
        raise MalformedAnswerError("the answer is empty")
    return content


def _check_http_fields(config: LLMConfig) -> LLMConfig:
    """``config``, or a KinemaInputError for a base URL or API key that HTTP cannot carry, found now
    rather than as a failed request after every retry. The key itself is never shown."""
    url = config.base_url
    try:
        parts = urllib.parse.urlsplit(url)
        valid = url.isprintable() and " " not in url and bool(parts.hostname) and parts.port != 0  # .port: ValueError unless 0-65535
    except ValueError:
        valid = False
    if not valid:
        raise KinemaInputError(f"LLM base URL '{url}'", "is not a valid URL (host, port or characters)",
                               "Use e.g. http://localhost:8000/v1.")
    if not (config.api_key.isascii() and config.api_key.isprintable()):
        raise KinemaInputError("LLM API key", "contains a line break, control or non-ASCII character (no HTTP header can carry it)",
                               f"Set {ENV_API_KEY} to the key alone.")
    return config


class ChatClient:
    """``complete(messages, check)`` -> the checked answer, from the cache or the server."""

    def __init__(self, config: LLMConfig) -> None:
        self.config = _check_http_fields(config.require_endpoint())
        self.endpoint = config.base_url.rstrip("/") + "/chat/completions"
        self.cache = AnswerCache(config.cache_dir) if config.cache_dir is not None else None
        self._slots = threading.BoundedSemaphore(config.concurrency)

    def complete(self, messages: list[dict], check: Callable[[str], str], kind: str = "chat") -> str:
        """Send ``messages``; ``check`` turns the raw text into the answer or raises MalformedAnswerError/RefusalError.

        Only answers that pass ``check`` are cached, so a bad answer is never reused.
        """
        body = {"model": self.config.model, "messages": messages, "temperature": self.config.temperature,
                "max_tokens": self.config.max_tokens}
        key = request_key(self.endpoint, body)
        if self.cache is not None and (hit := self.cache.get(key)) is not None:
            log.debug("cache hit %s (%s)", key[:12], kind)
            return check(hit)
        answer = check(message_text(self._post_with_retries(body)))
        if self.cache is not None:
            self.cache.put(key, answer, {"model": self.config.model, "kind": kind})
        return answer

    def _post_with_retries(self, body: dict) -> Any:
        cfg, attempt = self.config, 0
        while True:
            try:
                with self._slots:
                    return self._post(body)
            except _Retryable as failure:
                if attempt == cfg.max_retries:
                    raise failure.error from None
                wait = min(cfg.backoff_s * 2**attempt, cfg.max_backoff_s) * random.uniform(0.9, 1.1)
                if failure.wait_s is not None:
                    if failure.wait_s > cfg.max_retry_after_s:
                        raise LLMHTTPError(429, f"server asks to retry after {failure.wait_s:.0f} s, beyond max_retry_after_s") from None
                    wait = max(wait, failure.wait_s)
                log.warning("LLM request failed (%s); retry %d/%d in %.2f s", failure.error, attempt + 1, cfg.max_retries, wait)
                time.sleep(wait)
                attempt += 1

    def _post(self, body: dict) -> Any:
        """One request, bounded as a whole by ``timeout_s``; _Retryable for transient failures, typed errors otherwise."""
        request = urllib.request.Request(self.endpoint, json.dumps(body).encode("utf-8"), self._headers(), method="POST")
        opener = urllib.request.build_opener(_DeadlineHandler(time.monotonic() + self.config.timeout_s))
        timeout = LLMTimeoutError(f"{self.endpoint}: no complete answer within {self.config.timeout_s} s")
        try:
            with opener.open(request, timeout=self.config.timeout_s) as response:
                raw = _read_body(response)
        except urllib.error.HTTPError as err:
            raise self._status_error(err) from None
        except (TimeoutError, socket.timeout) as err:
            raise _Retryable(timeout) from err
        except urllib.error.URLError as err:
            if isinstance(err.reason, (TimeoutError, socket.timeout)):
                raise _Retryable(timeout) from err
            raise _Retryable(LLMConnectionError(f"{self.endpoint}: {err.reason}")) from err
        except OSError as err:  # resets, TLS errors, a connection closed before any answer
            raise _Retryable(LLMConnectionError(f"{self.endpoint}: {err}")) from err
        except (http.client.HTTPException, ValueError) as err:  # a garbage status line, a short body, a broken chunk
            problem = self._redact(_named(err))[:200]  # a garbage status line can be 64 KiB
            raise _Retryable(LLMConnectionError(f"{self.endpoint}: the server broke the HTTP protocol ({problem})")) from err
        try:
            return json.loads(raw)
        except (ValueError, RecursionError) as err:
            raise MalformedAnswerError(f"{self.endpoint} answered with invalid JSON: {self._redact(raw.decode('utf-8', 'replace'))[:120]!r}") from err

    def _headers(self) -> dict[str, str]:
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if self.config.api_key:
            headers["Authorization"] = f"Bearer {self.config.api_key}"
        return headers

    def _status_error(self, err: urllib.error.HTTPError) -> Exception:
        """The LLMHTTPError of an error status, as _Retryable when the status is transient."""
        try:
            detail = err.read(4096).decode("utf-8", "replace")
        except (OSError, http.client.HTTPException, ValueError):  # the error body itself broke off
            detail = str(err.reason)
        error = LLMHTTPError(err.code, f"{self.endpoint}: {self._redact(detail)[:300]}")  # redacted before cut: no half key
        if err.code in RETRY_STATUS:
            return _Retryable(error, retry_after_s(err.headers.get("Retry-After")))
        return error

    def _redact(self, text: str) -> str:
        """``text`` with the API key replaced by ``***``."""
        return text.replace(self.config.api_key, "***") if self.config.api_key else text
