"""The runner end to end (tiny preset, 2 steps), resume, the report in headless Chromium, and the CLI."""

import json
import re
import shutil
import subprocess

import pytest

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.eval import EvalConfig, MethodOptions, run_eval

from tests.eval.conftest import CONFIG, SMALL


def test_results_hold_every_method_with_intervals(evaluated):
    out, results = evaluated
    assert results["methods"] == ["r1", "static-reference", "driving-copy", "paste", "target"]
    assert [c["id"] for c in results["cases"]] == ["0000", "0001", "0002"]
    for method in results["methods"]:
        agg = results["aggregates"][method]["psnr"]
        assert agg["n"] == 3 and agg["ci95"][0] <= agg["mean"] <= agg["ci95"][1]
    assert results["aggregates"]["target"]["ssim"]["mean"] == pytest.approx(1.0)
    kp = results["keypoints"]
    has_kp = any(k.startswith("kp_") for k in results["metrics"])
    assert has_kp == kp["available"] and (kp["available"] or kp["reason"])  # never silently missing
    assert json.loads((out / "results.json").read_text()) == json.loads(json.dumps(results))
    assert (out / "report.html").is_file() and len(list((out / "videos").glob("*.mp4"))) == 2


def test_resume_skips_finished_cases(evaluated, tmp_path):
    out, results = evaluated
    run = tmp_path / "run"
    shutil.copytree(out, run)
    stamps = {p: p.stat().st_mtime_ns for p in (run / "cases").rglob("*.npz")}
    for suffix in (".json", ".npz"):
        (run / "cases" / "0001" / f"r1{suffix}").unlink()
    again = run_eval(CONFIG, run, progress=False)
    changed = {p.relative_to(run).as_posix() for p in (run / "cases").rglob("*.npz") if p.stat().st_mtime_ns != stamps.get(p)}
    assert changed == {"cases/0001/r1.npz"}
    assert again["aggregates"] == results["aggregates"]  # deterministic given the seed


def test_scores_of_an_older_scoring_version_are_recomputed_from_the_saved_frames(evaluated, tmp_path):
    out, results = evaluated
    run = tmp_path / "run"
    shutil.copytree(out, run)
    stamps = {p: p.stat().st_mtime_ns for p in (run / "cases").rglob("*.npz")}
    old = run / "cases" / "0002" / "paste.json"
    stored = json.loads(old.read_text())
    del stored["scoring"], stored["scores"]["psnr"]  # as written before the scoring version existed
    old.write_text(json.dumps(stored))
    again = run_eval(CONFIG, run, progress=False)
    assert json.loads(old.read_text())["scores"]["psnr"] == results["cases"][2]["scores"]["paste"]["psnr"]
    assert all(p.stat().st_mtime_ns == t for p, t in stamps.items())  # rescored, not regenerated
    assert again["aggregates"] == results["aggregates"]


def test_a_different_run_in_the_same_directory_is_refused(evaluated, tmp_path):
    out, _ = evaluated
    shutil.copytree(out, tmp_path / "run")
    other = EvalConfig(SMALL.name, "r1", None, MethodOptions(model="tiny", steps=3))
    with pytest.raises(KinemaInputError, match=r"other settings \(steps 2\)"):
        run_eval(other, tmp_path / "run", progress=False)


@pytest.mark.parametrize("damaged", ["run.json", "cases/0000/paste.json", "cases/0000/paste.npz"])
def test_a_damaged_file_of_a_stored_run_is_named(evaluated, tmp_path, damaged):
    out, _ = evaluated
    shutil.copytree(out, tmp_path / "run")
    (tmp_path / "run" / damaged).write_text("{trunc")
    if damaged.endswith(".npz"):  # frames are read only when their score must be recomputed
        (tmp_path / "run" / damaged).with_suffix(".json").unlink()
    with pytest.raises(KinemaInputError, match=damaged.rsplit("/", 1)[-1]):
        run_eval(CONFIG, tmp_path / "run", progress=False)


def test_nothing_is_written_when_the_method_cannot_be_built(tmp_path):
    config = EvalConfig(SMALL.name, "r1", 1, MethodOptions(model=str(tmp_path / "nosuch"), steps=2))
    with pytest.raises(KinemaInputError, match="nosuch"):
        run_eval(config, tmp_path / "run", progress=False)
    assert not (tmp_path / "run" / "run.json").exists()


def _chromium():
    return next((p for p in map(shutil.which, ("chromium", "chromium-browser", "google-chrome")) if p), None)


PROBE = """<script>
const inside = (e, box) => { const r = e.getBoundingClientRect();
  return r.left >= box.left - 1 && r.right <= box.right + 1 && r.top >= box.top - 1 && r.bottom <= box.bottom + 1; };
const layout = () => { const charts = [...document.querySelectorAll('figure.chart')];
  return {viewport: innerWidth, pageWidth: document.documentElement.scrollWidth,
    titles: charts.map(f => f.querySelector('figcaption').textContent),
    ticks: charts.map(f => [...f.querySelectorAll('svg text.ytick')].map(t => t.textContent)),
    clipped: charts.flatMap(f => [...f.querySelectorAll('svg text')].filter(t => !inside(t, f.querySelector('svg').getBoundingClientRect()))
      .concat([...f.querySelectorAll('figcaption')].filter(c => c.scrollWidth > c.clientWidth || !inside(c, f.getBoundingClientRect())))
      .map(t => t.textContent))}; };
addEventListener('load', () => {
  const videos = [...document.querySelectorAll('video')];
  Promise.all(videos.map(v => v.readyState >= 2 ? 'ok' : new Promise(r => {
    v.addEventListener('loadeddata', () => r('ok')); v.addEventListener('error', () => r('error')); })))
  .then(states => { document.title = 'PROBE ' + JSON.stringify({rows: document.querySelectorAll('#scores tr').length,
    states, widths: videos.map(v => v.videoWidth), ...layout()}); });
});
</script></body>"""


@pytest.mark.skipif(_chromium() is None, reason="no chromium binary (chromium, chromium-browser, google-chrome) to render the report")
def test_report_renders_table_charts_and_videos_in_headless_chromium(evaluated, tmp_path):
    out, results = evaluated
    shutil.copytree(out, tmp_path / "run")
    probe = tmp_path / "run" / "probe.html"
    probe.write_text((out / "report.html").read_text().replace("</body>", PROBE))
    dom = subprocess.run([_chromium(), "--headless=new", "--no-sandbox", "--disable-gpu", "--autoplay-policy=no-user-gesture-required",
                          "--window-size=1400,900", "--virtual-time-budget=15000", "--dump-dom", probe.as_uri()],
                         capture_output=True, text=True, timeout=120).stdout
    state = json.loads(re.search(r"<title>PROBE (.*?)</title>", dom).group(1).replace("&quot;", '"'))
    assert state["rows"] == 1 + len(results["methods"])
    assert state["states"] == ["ok", "ok"] and state["widths"] == [4 * 32, 4 * 32]
    assert state["viewport"] == 1400 and state["pageWidth"] <= 1400, "the page scrolls sideways at 1400 px"
    assert state["titles"] and all(state["titles"]) and state["clipped"] == []
    assert all(len(ticks) >= 3 and float(ticks[0]) == 0 and float(ticks[-1]) > 0 for ticks in state["ticks"])


def test_cli_runs_and_rejects_bad_input(tmp_path, capsys):
    assert main(["eval", "--benchmark", SMALL.name, "--method", "paste", "--cases", "1", "--out", str(tmp_path / "p")]) == 0
    assert "paste" in capsys.readouterr().out and (tmp_path / "p" / "report.html").is_file()
    assert main(["eval", "--benchmark", "puppet-nope", "--out", str(tmp_path / "x")]) == 2
    assert "puppet-animate" in capsys.readouterr().err and not (tmp_path / "x").exists()
    assert main(["eval", "--benchmark", SMALL.name, "--method", "static-reference", "--model", "embedded", "--cases", "1",
                 "--out", str(tmp_path / "e")]) == 0  # the guidance of the model's card (TRAINING.md's figures)
    assert json.loads((tmp_path / "e" / "run.json").read_text())["options"]["guidance"] == 1.0
    for absurd in (["--guidance", "nan"], ["--guidance", "1e9"], ["--seed", str(2**70)]):
        assert main(["eval", "--benchmark", SMALL.name, *absurd, "--out", str(tmp_path / "g")]) == 2
        assert not (tmp_path / "g").exists()
    (tmp_path / "file").write_text("")
    assert main(["eval", "--benchmark", SMALL.name, "--out", str(tmp_path / "file")]) == 2
    assert main(["eval", "--out", str(tmp_path / "y")]) == 2
