"""The chat client against real misbehaving servers on 127.0.0.1: broken HTTP, resets, TLS failures,
trickled answers. Every fault ends as a typed GuidanceError after the retry policy, and ``timeout_s``
bounds the whole request however slowly the bytes come."""

from __future__ import annotations

import json
import shutil
import socket
import ssl
import struct
import subprocess
import threading
import time
from collections.abc import Callable

import pytest

from kinema.guidance import LLMConfig, LLMConnectionError, LLMTimeoutError, MalformedAnswerError
from kinema.guidance.client import MAX_BODY_BYTES, ChatClient

from .conftest import completion
from .test_client import MESSAGES, MOTION, motion

ANSWER = json.dumps(completion(MOTION)).encode()
HEAD = b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
OK = HEAD + b"Content-Length: %d\r\n\r\n" % len(ANSWER) + ANSWER


def read_request(conn: socket.socket) -> None:
    """Read one request (head and Content-Length body), so the client has finished sending."""
    stream = conn.makefile("rb")
    length = 0
    while (line := stream.readline()) not in (b"\r\n", b""):
        name, _, value = line.partition(b":")
        if name.strip().lower() == b"content-length":
            length = int(value)
    stream.read(length)


class RawServer:
    """A TCP (or TLS) server that hands each connection to ``reply(server, conn)``: any bytes, at any pace."""

    def __init__(self, reply: Callable[[RawServer, socket.socket], None], tls: ssl.SSLContext | None = None) -> None:
        self.reply, self.tls = reply, tls
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"{'https' if tls else 'http'}://127.0.0.1:{self.listener.getsockname()[1]}/v1"
        self.count = 0
        self.stopped = threading.Event()
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:  # closed at teardown
                return
            self.count += 1
            threading.Thread(target=self._handle, args=(conn,), daemon=True).start()

    def _handle(self, conn: socket.socket) -> None:
        try:
            with self.tls.wrap_socket(conn, server_side=True) if self.tls else conn as sock:
                self.reply(self, sock)
        except (OSError, ssl.SSLError):  # the client gave up or refused the handshake
            pass

    def trickle(self, conn: socket.socket, data: bytes, every_s: float = 0.5) -> None:
        """Send ``data`` one byte every ``every_s`` until done, the client leaves or the test ends."""
        for i in range(len(data)):
            conn.sendall(data[i:i + 1])
            if self.stopped.wait(every_s):
                return

    def close(self) -> None:
        self.stopped.set()
        self.listener.close()


@pytest.fixture
def raw_server(monkeypatch):
    """``raw_server(reply, tls=None)`` starts a RawServer that is closed after the test."""
    monkeypatch.setenv("NO_PROXY", "127.0.0.1,localhost")
    monkeypatch.setenv("no_proxy", "127.0.0.1,localhost")
    servers: list[RawServer] = []

    def start(reply: Callable[[RawServer, socket.socket], None], tls: ssl.SSLContext | None = None) -> RawServer:
        servers.append(RawServer(reply, tls))
        return servers[-1]

    yield start
    for server in servers:
        server.close()


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 and its key, made by the openssl command."""
    if shutil.which("openssl") is None:
        pytest.skip("needs the openssl command")
    folder = tmp_path_factory.mktemp("tls")
    cert, key = folder / "cert.pem", folder / "key.pem"
    subprocess.run(["openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes",
                    "-keyout", key, "-out", cert, "-days", "1", "-subj", "/CN=127.0.0.1",
                    "-addext", "subjectAltName=IP:127.0.0.1"], check=True, capture_output=True)
    return cert, key


@pytest.fixture
def tls(tls_files, monkeypatch) -> ssl.SSLContext:
    """A server context for the test certificate, which the client trusts through SSL_CERT_FILE."""
    cert, key = tls_files
    monkeypatch.setenv("SSL_CERT_FILE", str(cert))
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
    return context


def client(url: str, **kw) -> ChatClient:
    cfg = dict(base_url=url, model="m", api_key="k", timeout_s=2.0, max_retries=1, backoff_s=0.01, max_backoff_s=0.05,
               cache_dir=None) | kw
    return ChatClient(LLMConfig(**cfg))


def answer_with(data: bytes, reset: bool = False) -> Callable[[RawServer, socket.socket], None]:
    """A reply that reads the request, sends ``data`` and closes (with a TCP reset when ``reset``)."""

    def reply(server: RawServer, conn: socket.socket) -> None:
        read_request(conn)
        conn.sendall(data)
        if reset:
            conn.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))

    return reply


BROKEN = {
    "garbage status line": answer_with(b"SPAM SPAM SPAM\r\n\r\n"),
    "no status line, only JSON": answer_with(ANSWER),
    "status line over 64 KiB": answer_with(b"HTTP/1.1 200 " + b"O" * 70_000 + b"\r\n\r\n"),
    "header over 64 KiB": answer_with(HEAD + b"X-Big: " + b"x" * 70_000 + b"\r\n\r\n"),
    "over 100 headers": answer_with(HEAD + b"".join(b"X-%d: 1\r\n" % i for i in range(120)) + b"\r\n" + ANSWER),
    "closed before answering": answer_with(b""),
    "closed mid-status-line": answer_with(b"HTTP/1.1 2"),
    "body shorter than Content-Length": answer_with(HEAD + b"Content-Length: %d\r\n\r\n" % (len(ANSWER) + 50) + ANSWER),
    "reset mid-body": answer_with(HEAD + b"Content-Length: %d\r\n\r\n" % len(ANSWER) + ANSWER[:30], reset=True),
    "garbage chunk size": answer_with(HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n" + ANSWER),
    "chunked body cut off": answer_with(HEAD + b"Transfer-Encoding: chunked\r\n\r\n%x\r\n" % len(ANSWER) + ANSWER[:30]),
}


@pytest.mark.parametrize("fault", list(BROKEN))
def test_broken_http_is_a_connection_error_after_retries(raw_server, fault):
    server = raw_server(BROKEN[fault])
    with pytest.raises(LLMConnectionError, match="127.0.0.1"):
        client(server.url, max_retries=1).complete(MESSAGES, motion)
    assert server.count == 2  # the first attempt and one retry


def test_broken_then_good_answer_is_retried(raw_server):
    replies = iter([BROKEN["garbage status line"], BROKEN["reset mid-body"], answer_with(OK)])
    server = raw_server(lambda srv, conn: next(replies)(srv, conn))
    assert client(server.url, max_retries=2).complete(MESSAGES, motion) == MOTION
    assert server.count == 3


def http_to_a_tls_hello(server: RawServer, conn: socket.socket) -> None:
    conn.recv(65536)  # the ClientHello, read so that closing sends no reset ahead of the answer
    conn.sendall(OK)


def test_plain_http_server_on_an_https_url_is_a_connection_error(raw_server):
    server = raw_server(http_to_a_tls_hello)
    with pytest.raises(LLMConnectionError, match="SSL|ssl"):
        client(server.url.replace("http:", "https:"), max_retries=1).complete(MESSAGES, motion)
    assert server.count == 2


def test_untrusted_certificate_is_a_connection_error(raw_server, tls, monkeypatch):
    monkeypatch.delenv("SSL_CERT_FILE")
    server = raw_server(answer_with(OK), tls=tls)
    with pytest.raises(LLMConnectionError, match="CERTIFICATE_VERIFY_FAILED"):
        client(server.url, max_retries=0).complete(MESSAGES, motion)


def test_https_answer_is_read(raw_server, tls):
    server = raw_server(answer_with(OK), tls=tls)
    assert client(server.url).complete(MESSAGES, motion) == MOTION


def trickled_body(server: RawServer, conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(HEAD + b"Content-Length: %d\r\n\r\n" % len(ANSWER))
    server.trickle(conn, ANSWER)


def trickled_head(server: RawServer, conn: socket.socket) -> None:
    read_request(conn)
    server.trickle(conn, OK)


@pytest.mark.parametrize("reply", [trickled_body, trickled_head], ids=["body", "status and headers"])
def test_timeout_bounds_a_trickled_answer(raw_server, reply):
    server = raw_server(reply)  # each byte comes well within the timeout; the whole answer would take minutes
    start = time.monotonic()
    with pytest.raises(LLMTimeoutError, match="within 1.0 s"):
        client(server.url, timeout_s=1.0, max_retries=0).complete(MESSAGES, motion)
    assert 0.9 < time.monotonic() - start < 2.0


def test_timeout_bounds_each_retry_of_a_trickled_answer(raw_server):
    server = raw_server(trickled_body)
    start = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        client(server.url, timeout_s=0.6, max_retries=1).complete(MESSAGES, motion)
    assert server.count == 2 and time.monotonic() - start < 2.0


def test_timeout_bounds_a_trickled_tls_answer(raw_server, tls):
    server = raw_server(trickled_body, tls=tls)
    start = time.monotonic()
    with pytest.raises(LLMTimeoutError):
        client(server.url, timeout_s=1.0, max_retries=0).complete(MESSAGES, motion)
    assert time.monotonic() - start < 2.0


def endless_body(server: RawServer, conn: socket.socket) -> None:
    read_request(conn)
    conn.sendall(HEAD + b"Connection: close\r\n\r\n")
    block = b" " * 2**20
    while not server.stopped.is_set():
        conn.sendall(block)


def test_endless_body_is_refused_not_buffered(raw_server):
    server = raw_server(endless_body)
    with pytest.raises(MalformedAnswerError, match=f"larger than {MAX_BODY_BYTES // 2**20} MiB"):
        client(server.url, timeout_s=30.0).complete(MESSAGES, motion)
    assert server.count == 1  # a too-large answer is not asked for again
