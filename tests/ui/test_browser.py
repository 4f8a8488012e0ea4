"""The web UI as a person uses it, in a real browser: upload a reference and a driving video, press Animate, watch
the result play; a corrupt upload shows the CLI's message in the page and writes nothing; a puppet example runs
in one click and is shown beside its exact target with its scores.

Each test saves a screenshot of the whole page in its tmp_path; KINEMA_UI_SCREENSHOT=PATH also keeps a copy of
the puppet example's (the fullest page) there.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest

from kinema.errors import KinemaInputError
from kinema.io import load_image, read_video

from .conftest import chromium, needs_browser

pytestmark = needs_browser
JOB_S = 90  # one job of the embedded model at 64x64: a few seconds, more on 2 cores shared with other work
DURATION = "const v = document.querySelector(arguments[0] + ' video'); return v && v.readyState >= 1 ? v.duration : null"
PLAYED = ("const v = document.querySelector(arguments[0] + ' video'); v.muted = true; v.currentTime = 0; v.play();"
          "return new Promise(done => setTimeout(() => done(v.currentTime), 500));")


def wait_for(driver, condition, timeout: float, what: str):
    """The first truthy value of ``condition(driver)`` within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = condition(driver)
        if value:
            return value
        time.sleep(0.25)
    pytest.fail(f"timed out after {timeout} s waiting for {what}; the page says:\n{text(driver, 'body')[:2000]}")


def text(driver, selector: str) -> str:
    return driver.execute_script("const e = document.querySelector(arguments[0]); return e ? e.innerText : ''", selector)


def outcome(driver, mode: str) -> str:
    """The status line once a job is over ('Done …' or 'Not run …'; the queue and progress text before)."""
    status = text(driver, f"#{mode}-status")
    return status if status.startswith(("Done", "Not run")) else ""


def open_page(driver, url: str) -> None:
    driver.get(url)
    wait_for(driver, lambda d: d.execute_script("return !!document.querySelector('#animate-run')"), 60, "the page")


def upload(driver, widget: str, path: Path, shown: str) -> None:
    """Drop ``path`` on the ``widget`` box, as a file chooser would, and wait until the box shows it (``shown``)."""
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, f"{widget} input[type=file]").send_keys(str(path))
    wait_for(driver, lambda d: d.execute_script("return !!document.querySelector(arguments[0])", f"{widget} {shown}"),
             30, f"the upload in {widget}")


def press(driver, button: str) -> None:
    from selenium.webdriver.common.by import By

    driver.find_element(By.CSS_SELECTOR, button).click()


def set_number(driver, widget: str, value: int) -> None:
    from selenium.webdriver.common.by import By

    box = driver.find_element(By.CSS_SELECTOR, f"{widget} input")
    box.clear()
    box.send_keys(str(value))


def screenshot(driver, path: Path, keep: bool = False) -> None:
    """The whole page (the window grown to its height); ``keep``: also a copy where KINEMA_UI_SCREENSHOT says."""
    driver.set_window_size(1400, driver.execute_script("return document.documentElement.scrollHeight") + 40)
    time.sleep(0.5)
    driver.save_screenshot(str(path))
    driver.set_window_size(1400, 1000)
    if keep and os.environ.get("KINEMA_UI_SCREENSHOT"):
        shutil.copyfile(path, os.environ["KINEMA_UI_SCREENSHOT"])


def results(out: Path) -> set[str]:
    return {p.name for p in out.iterdir()} if out.exists() else set()


def test_uploads_animate_and_the_result_plays(server, browser, media, tmp_path):
    url, out = server
    before = results(out)
    open_page(browser, url)
    upload(browser, "#animate-reference", media / "reference_0.png", "img")
    upload(browser, "#animate-driving", media / "driving.mp4", "video")
    set_number(browser, "#animate-steps", 2)
    press(browser, "#animate-run")
    duration = wait_for(browser, lambda d: d.execute_script(DURATION, "#animate-result"), JOB_S, "the result video")
    assert duration > 0
    assert browser.execute_script(PLAYED, "#animate-result") > 0, "the result video does not play"
    status = wait_for(browser, lambda d: outcome(d, "animate"), JOB_S, "the status line")
    assert status.startswith("Done") and "own files" in status and "2 steps" in status, status
    written = results(out) - before
    assert {Path(n).suffix for n in written} == {".mp4", ".json"}, written
    settings = json.loads((out / next(n for n in written if n.endswith(".json"))).read_text())
    assert settings["sampler"]["steps"] == 2 and settings["model"].endswith("model") and settings["frames"] == 17
    links = browser.execute_script("return [...document.querySelectorAll('#animate-downloads a')].map(a => a.href)")
    assert sorted(Path(link).name for link in links) == sorted(written), links
    assert browser.execute_script("return document.querySelectorAll('#history video, #history img').length") >= 1
    assert not browser.execute_script("return document.querySelector('#animate-target video')"), "a target for own files"
    screenshot(browser, tmp_path / "ui.png")


def cli_message(read, path: Path, name: str) -> KinemaInputError:
    """What the CLI says of ``path`` (``kinema animate`` reads its inputs with the same functions)."""
    with pytest.raises(KinemaInputError) as refused:
        read(path, name=name)
    return refused.value


def test_corrupt_uploads_show_the_cli_message_and_write_nothing(server, browser, media, tmp_path):
    url, out = server
    before = results(out)
    for reference, driving, err in (
            ("reference_0.png", "corrupt.mp4", cli_message(read_video, media / "corrupt.mp4", "driving video")),
            ("corrupt.png", "driving.mp4", cli_message(load_image, media / "corrupt.png", "reference image"))):
        open_page(browser, url)
        upload(browser, "#animate-reference", media / reference, "img")
        upload(browser, "#animate-driving", media / driving, "video")
        press(browser, "#animate-run")
        status = wait_for(browser, lambda d: outcome(d, "animate"), JOB_S, "the error message")
        assert "Not run: bad input. Nothing was written." in status, status
        name = err.what.split("'")[0]  # the upload's path differs: Gradio stores it under its own name
        assert f"{name}'" in status and f"{reference if 'image' in name else driving}': {err.problem}" in status, status
        assert err.fix in status, status
        assert results(out) == before
        assert not browser.execute_script(DURATION, "#animate-result")
    screenshot(browser, tmp_path / "error.png")


def test_a_puppet_example_runs_in_one_click_beside_its_exact_target(server, browser, tmp_path):
    from selenium.webdriver.common.by import By

    url, out = server
    open_page(browser, url)
    row = browser.find_elements(By.CSS_SELECTOR, "tbody tr")[0]
    assert "puppet-animate case 0000: hand sign" in row.text
    row.click()
    wait_for(browser, lambda d: d.execute_script(DURATION, "#animate-result"), JOB_S, "the example's result")
    assert wait_for(browser, lambda d: d.execute_script(DURATION, "#animate-target"), 30, "the exact target") > 0
    status = wait_for(browser, lambda d: outcome(d, "animate"), JOB_S, "the status line")
    assert "puppet-animate case 0000: hand sign" in status and "static reference" in status and "PCK body" in status
    metrics = json.loads(next(out.glob("*-metrics.json")).read_text())
    assert set(metrics["scores"]) == {"output", "static_reference", "driving_copy"}
    assert {"psnr", "ssim", "kp_pck_body"} <= set(metrics["scores"]["output"])
    screenshot(browser, tmp_path / "example.png", keep=True)


def test_a_second_job_waits_in_the_queue_with_its_position_shown(server, browser):
    from selenium.webdriver.common.by import By

    url, _ = server
    other = chromium()  # another person's browser
    try:
        pages = (browser, other)
        for page in pages:
            open_page(page, url)
        for page in pages:
            page.find_elements(By.CSS_SELECTOR, "tbody tr")[1].click()
        queued = wait_for(other, lambda d: "queue: 1/1" in text(d, "#animate-result"), JOB_S, "the queue position")
        assert queued and not outcome(browser, "animate"), "the second job was queued while the first ran"
        for page in pages:
            assert wait_for(page, lambda d: outcome(d, "animate"), JOB_S, "the job").startswith("Done")
    finally:
        other.quit()
