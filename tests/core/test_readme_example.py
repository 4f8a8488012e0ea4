"""The README's Python API example runs as printed, on the model card's sampling settings."""

import json
import re
from pathlib import Path

from PIL import Image

from kinema.eval.benchmarks import get_benchmark, render_case
from kinema.io import read_video, write_video
from kinema.pipelines.models import model_card

README = Path(__file__).resolve().parents[2] / "README.md"


def python_api_block() -> str:
    """The ```python block of the README's "Python API" section, exactly as printed."""
    section = README.read_text().split("## Python API\n", 1)[1].split("\n## ", 1)[0]
    return re.search(r"```python\n(.*?)```", section, re.S).group(1)


def test_readme_python_api_example_runs(tmp_path, monkeypatch):
    bench = get_benchmark("puppet-animate")
    triplet = render_case(bench, bench.case_specs(1)[0]).triplet
    Image.fromarray(triplet.reference_images[0]).save(tmp_path / "character.png")
    write_video(tmp_path / "dance.mp4", triplet.driving.frames, triplet.driving.fps)
    frames = len(triplet.driving.frames)
    monkeypatch.chdir(tmp_path)

    namespace: dict = {}
    exec(compile(python_api_block(), str(README), "exec"), namespace)

    assert read_video(tmp_path / "result.mp4").num_frames == frames
    settings = json.loads((tmp_path / "result.json").read_text())
    card = model_card("embedded")
    assert ((settings["sampler"]["guidance"], settings["sampler"]["flow_shift"], settings["sampler"]["steps"])
            == (card["guidance"], card["flow_shift"], card["sampling_steps"]))
    assert namespace["result"].frames.shape[0] == frames
    assert namespace["result"].settings["sampler"]["guidance"] == card["guidance"]
