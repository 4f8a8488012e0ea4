"""A real ``kinema serve`` in a subprocess on a free loopback port, and a headless Chromium driven by Selenium.

The browser tests skip, saying what is missing, only when Gradio, Selenium, Chromium or chromedriver is absent
(``.ci/run`` installs chromium and chromium-driver with apt-get; the ``test`` extra installs gradio and selenium).
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

CHROMIUM = next(filter(None, map(shutil.which, ("chromium", "chromium-browser", "google-chrome"))), None)
CHROMEDRIVER = shutil.which("chromedriver")
MISSING = [what for what, there in (("gradio (pip install -e \".[ui]\")", importlib.util.find_spec("gradio")),
                                    ("selenium (pip install -e \".[test]\")", importlib.util.find_spec("selenium")),
                                    ("chromium (apt-get install chromium)", CHROMIUM),
                                    ("chromedriver (apt-get install chromium-driver)", CHROMEDRIVER)) if not there]
needs_browser = pytest.mark.skipif(bool(MISSING), reason=f"browser test needs {', '.join(MISSING)}")
STARTUP_S = 120  # imports torch, diffusers and gradio, renders the puppet examples: ~12 s on 2 busy cores


def free_port() -> int:
    """A loopback port nothing listens on now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def serve_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "kinema.cli.main", "serve", *args]


def wait_until_up(process: subprocess.Popen, url: str, log: Path) -> None:
    """Poll ``url`` until it answers; fail with the server's log if it exits or takes too long."""
    deadline = time.monotonic() + STARTUP_S
    while time.monotonic() < deadline:
        if process.poll() is not None:
            pytest.fail(f"kinema serve exited with {process.returncode}:\n{log.read_text()}")
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    pytest.fail(f"kinema serve did not answer within {STARTUP_S} s:\n{log.read_text()}")


def stop(process: subprocess.Popen) -> None:
    """SIGTERM (kinema exits 143 after removing its temporary files), then wait for it."""
    process.send_signal(signal.SIGTERM)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    """(URL, results directory) of a ``kinema serve`` started for this module."""
    root = tmp_path_factory.mktemp("serve")
    port, out, log = free_port(), root / "results", root / "serve.log"
    env = {**os.environ, "GRADIO_TEMP_DIR": str(root / "uploads"), "GRADIO_ANALYTICS_ENABLED": "False"}
    with open(log, "w") as stream:
        process = subprocess.Popen(serve_command("--port", str(port), "--out", str(out)), env=env, stdout=stream,
                                   stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}/"
    try:
        wait_until_up(process, url, log)
        yield url, out
    finally:
        stop(process)


def chromium():  # noqa: ANN201 - selenium's WebDriver, imported only when the browser tests run
    """Headless Chromium (root-safe flags, autoplay allowed) through the system chromedriver."""
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service

    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1400,1000",
                 "--autoplay-policy=no-user-gesture-required"):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(60)
    return driver


@pytest.fixture(scope="module")
def browser():
    driver = chromium()
    try:
        yield driver
    finally:
        driver.quit()


@pytest.fixture(scope="module")
def media(tmp_path_factory) -> Path:
    """A held-out puppet case as files a person would upload (reference_0.png, driving.mp4), a corrupt video and a
    corrupt image."""
    from kinema.eval.benchmarks import get_benchmark, render_case
    from kinema.puppet.dataset import write_triplet

    root = tmp_path_factory.mktemp("media")
    benchmark = get_benchmark("puppet-animate")
    write_triplet(root, render_case(benchmark, benchmark.case_specs(2)[1]).triplet)
    (root / "corrupt.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + bytes(range(256)) * 8)
    (root / "corrupt.png").write_bytes(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4)
    return root
