"""``kinema serve`` before any page: it binds this machine only unless a login protects it, and says how to
install Gradio when it is missing. Each runs the real command in a subprocess."""

from __future__ import annotations

import importlib.util
import os
import socket
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request

import pytest

from kinema.errors import KinemaInputError
from kinema.ui.access import Login, check_binding, is_loopback, parse_auth

from .conftest import MISSING, free_port, serve_command, stop, wait_until_up

HIDE_GRADIO = ("import sys; sys.modules['gradio'] = None  # import gradio now raises ImportError\n"
               "from kinema.cli.main import main; sys.exit(main(sys.argv[1:]))")


def run_serve(*args: str, env: dict | None = None, command: list[str] | None = None) -> subprocess.CompletedProcess:
    return subprocess.run(command or serve_command(*args), capture_output=True, text=True, timeout=120,
                          env={**os.environ, **(env or {})})


@pytest.mark.parametrize("host", ["0.0.0.0", "::", "192.168.1.20", "my-machine.example.org"])
def test_a_host_other_machines_reach_needs_a_login(host, tmp_path):
    done = run_serve("--host", host, "--port", str(free_port()), "--out", str(tmp_path / "out"))
    assert done.returncode == 2, done.stderr
    assert f"error: --host {host}: lets other machines reach the UI" in done.stderr
    assert "Add --auth USER:PASSWORD" in done.stderr
    assert not (tmp_path / "out").exists()


def test_loopback_hosts_and_logins():
    assert all(map(is_loopback, ("127.0.0.1", "127.0.0.2", "::1", "localhost")))
    assert not any(map(is_loopback, ("0.0.0.0", "::", "10.0.0.1", "example.org")))
    assert parse_auth("alice:s3:cret") == Login("alice", "s3:cret") and parse_auth(None) is None
    check_binding("0.0.0.0", Login("alice", "s3cret"))
    for bad in ("alice", "alice:", ":s3cret"):
        with pytest.raises(KinemaInputError, match="USER:PASSWORD"):
            parse_auth(bad)


def test_a_malformed_login_is_refused(tmp_path):
    done = run_serve("--host", "0.0.0.0", "--out", str(tmp_path / "out"), env={"KINEMA_SERVE_AUTH": "alice"})
    assert done.returncode == 2 and "error: --auth: is not USER:PASSWORD" in done.stderr, done.stderr


def test_missing_gradio_names_the_install_command(tmp_path):
    done = run_serve(command=[sys.executable, "-c", HIDE_GRADIO, "serve", "--port", str(free_port()),
                              "--out", str(tmp_path / "out")])
    assert done.returncode == 1, done.stderr
    assert done.stderr.strip() == ('error: kinema serve needs Gradio, which is not installed. Install the web UI extra '
                                   'from a kinema checkout: pip install -e ".[ui]"')


@pytest.mark.skipif(any(m.startswith("gradio") for m in MISSING), reason="needs gradio (pip install -e \".[ui]\")")
def test_with_a_login_it_serves_every_address_and_asks_for_the_login(tmp_path):
    port, log = free_port(), tmp_path / "serve.log"
    with open(log, "w") as stream:
        process = subprocess.Popen(serve_command("--host", "0.0.0.0", "--port", str(port), "--out", str(tmp_path / "out")),
                                   env={**os.environ, "KINEMA_SERVE_AUTH": "alice:s3cret",
                                        "GRADIO_TEMP_DIR": str(tmp_path / "uploads")},
                                   stdout=stream, stderr=subprocess.STDOUT)
    try:
        wait_until_up(process, f"http://127.0.0.1:{port}/", log)
        with pytest.raises(urllib.error.HTTPError) as refused:
            urllib.request.urlopen(f"http://127.0.0.1:{port}/config", timeout=10)
        assert refused.value.code == 401
        for password, answer in (("wrong", 400), ("s3cret", 200)):
            form = urllib.parse.urlencode({"username": "alice", "password": password}).encode()
            try:
                status = urllib.request.urlopen(f"http://127.0.0.1:{port}/login", form, timeout=10).status
            except urllib.error.HTTPError as err:
                status = err.code
            assert status == answer, password
    finally:
        stop(process)


@pytest.mark.skipif(any(m.startswith("gradio") for m in MISSING), reason="needs gradio (pip install -e \".[ui]\")")
def test_a_busy_port_is_named(tmp_path):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        done = run_serve("--port", str(port), "--out", str(tmp_path / "out"), env={"GRADIO_TEMP_DIR": str(tmp_path / "up")})
    assert done.returncode == 2, done.stderr
    assert f"error: --host 127.0.0.1 --port {port}: cannot be listened on (the port is in use" in done.stderr


@pytest.mark.skipif(importlib.util.find_spec("gradio") is None, reason="Gradio is not installed")
def test_building_the_page_writes_nothing_into_the_installed_package(tmp_path):
    """Gradio writes a .pyi stub beside the source of any component subclass; an installed kinema may be
    read-only, so the page must be built from stock components only."""
    from pathlib import Path

    import kinema.ui

    package = Path(kinema.ui.__file__).parent
    before = sorted(p.name for p in package.iterdir())
    code = ("from pathlib import Path; from kinema.ui.app import build; "
            f"build(Path({str(tmp_path / 'examples')!r}), Path({str(tmp_path / 'out')!r}))")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert sorted(p.name for p in package.iterdir() if p.name != "__pycache__") == [n for n in before if n != "__pycache__"]
