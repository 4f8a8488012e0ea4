"""``kinema demo`` says on stderr which phase it is in (issue 18: no silent gaps), and ``--no-progress`` silences it."""

import subprocess
import sys

from kinema.cli.main import main

PHASES = ("importing torch", "rendering case", "loading the model", "sampling", "writing the videos", "scoring")


def _status_lines(stderr: str) -> list[str]:
    """The phase lines: each ends in an ellipsis (``benchmarks/demo_time.py`` times the same lines)."""
    return [line.split("\r")[-1] for line in stderr.splitlines() if line.endswith("…")]


def test_demo_announces_each_phase_in_order(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--steps", "2", "--model", "tiny"]) == 0
    lines = _status_lines(capsys.readouterr().err)
    assert len(lines) == len(PHASES)
    assert all(line.startswith(phase) for line, phase in zip(lines, PHASES)), lines


def test_demo_no_progress_prints_no_phases_but_keeps_notes(tmp_path, capsys):
    assert main(["demo", "--out", str(tmp_path / "demo"), "--steps", "2", "--model", "tiny", "--no-progress"]) == 0
    err = capsys.readouterr().err
    assert _status_lines(err) == []
    assert "random weights" in err


def test_demo_no_progress_hides_the_libraries_loading_bars(tmp_path):
    """Loading the embedded model (a diffusers directory) showed transformers' "Loading weights" bar."""
    run = subprocess.run([sys.executable, "-m", "kinema.cli.main", "demo", "--no-progress", "--model", "embedded",
                          "--steps", "1", "--out", str(tmp_path / "demo")], capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stderr
    assert "Loading weights" not in run.stderr, run.stderr
