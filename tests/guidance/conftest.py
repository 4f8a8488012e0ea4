"""A real chat-completions server on 127.0.0.1 whose answers each test scripts."""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


def completion(content: str, finish_reason: str = "stop", refusal: str | None = None) -> dict:
    message = {"role": "assistant", "content": content} | ({"refusal": refusal} if refusal else {})
    return {"id": "x", "object": "chat.completion", "choices": [{"index": 0, "message": message, "finish_reason": finish_reason}]}


@dataclass
class Step:
    """One scripted answer: HTTP ``status``, JSON ``body`` (or ``raw`` bytes), ``headers``, and a ``delay_s`` first."""

    body: dict | None = None
    status: int = 200
    raw: bytes | None = None
    headers: dict = field(default_factory=dict)
    delay_s: float = 0.0


class FakeServer:
    """Serves ``steps`` in order (the last one repeats), or ``answer(request_json)`` when set."""

    def __init__(self) -> None:
        self.steps: deque[Step] = deque()
        self.answer = None
        self.requests: list[dict] = []
        self.headers: list[dict] = []
        self.in_flight = self.max_in_flight = 0
        self.lock = threading.Lock()
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args) -> None:  # keep test output quiet
                pass

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with server.lock:
                    server.requests.append(body)
                    server.headers.append(dict(self.headers))
                    server.in_flight += 1
                    server.max_in_flight = max(server.max_in_flight, server.in_flight)
                    step = server.answer(body) if server.answer else (server.steps.popleft() if len(server.steps) > 1 else server.steps[0])
                time.sleep(step.delay_s)
                with server.lock:  # done before answering: the client may send its next request the moment it reads this
                    server.in_flight -= 1
                try:
                    payload = step.raw if step.raw is not None else json.dumps(step.body).encode()
                    self.send_response(step.status)
                    for k, v in ({"Content-Type": "application/json"} | step.headers).items():
                        self.send_header(k, v)
                    self.send_header("Content-Length", str(len(payload)))
                    self.end_headers()
                    self.wfile.write(payload)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client timed out and left

        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.httpd.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    @property
    def count(self) -> int:
        return len(self.requests)

    def script(self, *steps: Step) -> FakeServer:
        self.steps = deque(steps)
        return self


@pytest.fixture
def server(monkeypatch):
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    fake = FakeServer()
    thread = threading.Thread(target=fake.httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
    thread.start()
    yield fake
    fake.httpd.shutdown()
    fake.httpd.server_close()
