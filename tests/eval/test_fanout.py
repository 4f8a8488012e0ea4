"""``kinema eval --workers N``: the cases fanned out over Ray workers equal the in-process run."""

import json

import numpy as np
import pytest

from kinema.cli.main import main
from kinema.eval import EvalConfig, run_eval
from kinema.eval import fanout

CASES = 3


def _scores(out):
    return {p.relative_to(out).as_posix(): json.loads(p.read_text())["scores"] for p in sorted(out.glob("cases/*/*.json"))}


def _frames(out):
    return {p.relative_to(out).as_posix(): np.load(p)["frames"] for p in sorted(out.glob("cases/*/*.npz"))}


@pytest.fixture(scope="module")
def in_process(tmp_path_factory):
    out = tmp_path_factory.mktemp("in-process")
    run_eval(EvalConfig("puppet-animate", cases=CASES), out, progress=False)
    return out


def test_ray_workers_equal_the_in_process_run_and_resume(in_process, tmp_path):
    pytest.importorskip("ray", reason="Ray is not installed (pip install -e '.[ray]'; CI installs it)")
    out = tmp_path / "ray"
    results = run_eval(EvalConfig("puppet-animate", cases=CASES), out, progress=False, workers=2)
    assert len(results["cases"]) == CASES and json.loads((out / "run.json").read_text())["method"] == "r1-pose"
    ours, theirs = _frames(out), _frames(in_process)
    assert ours.keys() == theirs.keys()  # every (case, method), once
    for key in ours:  # one thread per worker against two in-process: the same frames, to a grey level
        assert np.abs(ours[key].astype(int) - theirs[key].astype(int)).max() <= 1, key
    for key, scores in _scores(in_process).items():
        assert _scores(out)[key] == pytest.approx(scores, rel=1e-2, abs=1e-2, nan_ok=True), key

    killed = out / "cases" / "0001" / "r1-pose.npz"  # as if killed before case 1's model output was written
    killed.unlink()
    (out / "cases" / "0001" / "r1-pose.json").unlink()
    kept = {p: p.stat().st_mtime_ns for p in out.glob("cases/*/*") if p.exists()}
    run_eval(EvalConfig("puppet-animate", cases=CASES), out, progress=False, workers=2)
    assert killed.exists() and all(p.stat().st_mtime_ns == t for p, t in kept.items())  # only the lost one redone


def test_without_ray_the_run_is_in_process(in_process, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(fanout, "ray_missing", lambda: "Ray is not installed (pip install -e '.[ray]'): running in-process")
    out = tmp_path / "no-ray"
    run_eval(EvalConfig("puppet-animate", cases=CASES), out, progress=False, workers=2)
    assert "--workers 2: Ray is not installed" in capsys.readouterr().err
    assert _scores(out) == _scores(in_process)


def test_an_address_needs_workers(tmp_path, capsys):
    assert main(["eval", "--benchmark", "puppet-animate", "--out", str(tmp_path / "e"), "--address", "auto"]) == 2
    assert "--address auto: is for fanning the cases out over Ray workers" in capsys.readouterr().err
    assert not (tmp_path / "e").exists()
