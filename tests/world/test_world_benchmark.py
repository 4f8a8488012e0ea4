"""The puppet-world benchmarks: held-out seeds, balanced categories, the prefix property, long-horizon chaining
(each clip continuing the last one's root, heading and camera exactly) and `kinema synth --benchmark`."""

import json
from collections import Counter

import numpy as np
import pytest

from kinema.cli.main import main
from kinema.eval.benchmarks import SEED_BASE as PUPPET_SEED_BASE
from kinema.eval.benchmarks import MAX_CASES as PUPPET_MAX_CASES
from kinema.world.benchmark import (BENCHMARKS, CATEGORIES, MAX_CASES, SEED_STRIDE, get_world_benchmark, render_case)
from kinema.world.instructions import parse_instruction
from kinema.world.puppets import VIEWS
from kinema.world.tuples import (TRAINING_SEEDS, WORLD_VERSION, WorldConfig, draw_world, first_fit, make_world_tuple,
                                 world_rng, write_world_dataset, write_world_tuple)

XS, LONG_XS = BENCHMARKS["puppet-world-xs"], BENCHMARKS["puppet-world-long-xs"]


@pytest.fixture(scope="module")
def long_case():
    return render_case(LONG_XS, LONG_XS.case_specs(1)[0])


def _category(text: str) -> str:
    return parse_instruction(text).category


@pytest.mark.parametrize("name", ["puppet-world-xs", "puppet-world-long-xs"])
def test_fewer_cases_are_a_prefix_and_deterministic(name):
    benchmark = BENCHMARKS[name]
    assert benchmark.case_specs(3) == benchmark.case_specs(6)[:3]
    assert benchmark.case_specs(3) == get_world_benchmark(name).case_specs(3)


def test_categories_are_balanced():
    for benchmark in BENCHMARKS.values():
        cases = [benchmark.case_instructions(i) for i in range(benchmark.cases)]
        counts = Counter(_category(text) for texts in cases for text in texts)
        assert set(counts) == set(CATEGORIES) and len(set(counts.values())) == 1  # every category equally often
        assert len({text for texts in cases for text in texts}) >= 4 * len(CATEGORIES)  # several actions each
        if benchmark.clips > 1:  # a long case runs through all four categories
            assert all({_category(text) for text in texts} == set(CATEGORIES) for texts in cases)
    first = [_category(XS.case_instructions(i)[0]) for i in range(4)]
    assert sorted(first) == sorted(CATEGORIES)  # even 4 cases cover every category


def test_seeds_are_held_out():
    puppet_ranges = [range(b, b + SEED_STRIDE * PUPPET_MAX_CASES) for b in PUPPET_SEED_BASE.values()]
    held_out = set()
    for benchmark in BENCHMARKS.values():
        base = benchmark.seed_base
        assert base >= TRAINING_SEEDS and all(base not in r for r in puppet_ranges)
        for spec in benchmark.case_specs(4):
            assert base + SEED_STRIDE * spec.index <= spec.seed < base + SEED_STRIDE * (spec.index + 1)
        held_out |= {base, base + SEED_STRIDE * MAX_CASES - 1}
    assert min(held_out) >= TRAINING_SEEDS


def test_training_data_seeds_stay_below_the_held_out_ones(tmp_path):
    manifest = write_world_dataset(tmp_path, XS.config, 1, seed=123)
    assert all(s["seed"] < TRAINING_SEEDS for s in json.loads(manifest.read_text())["samples"])


def test_every_case_instruction_parses_and_fits():
    for benchmark in (BENCHMARKS["puppet-world"], XS):  # one-clip cases, checked as make_world_tuple would
        for spec in benchmark.case_specs():
            (text,) = spec.instructions
            plan = parse_instruction(text, benchmark.config.duration_s, benchmark.config.fps)
            scene = draw_world(world_rng(spec.seed), benchmark.config)[0]
            assert first_fit(scene, [plan], benchmark.config) is not None


def test_one_clip_case_is_the_seed_tuple():
    spec = XS.case_specs(2)[1]
    case, tup = render_case(XS, spec), make_world_tuple(spec.seed, spec.instructions[0], XS.config)
    (clip,) = case.clips
    assert clip.text == spec.instructions[0] and clip.labels() == tup.labels()
    for name in ("video", "scene_video", "masks", "views"):
        assert np.array_equal(getattr(clip, name), getattr(tup, name))


def test_long_case_clips_continue_each_other(long_case):
    clips = long_case.clips
    assert len(clips) == LONG_XS.clips and [c.text for c in clips] == list(long_case.spec.instructions)
    for before, after in zip(clips, clips[1:]):
        last, first = before.track.cameras[-1], after.track.cameras[0]
        assert np.array_equal(last.rotation, first.rotation) and np.array_equal(last.translation, first.translation)
        assert (last.fx, last.fy, last.cx, last.cy) == (first.fx, first.fy, first.cx, first.cy)
        assert np.array_equal(before.track.root[-1], after.track.root[0])
        assert before.track.heading[-1] == after.track.heading[0]
    moved = np.linalg.norm(clips[-1].track.root[-1] - clips[0].track.root[0])
    assert moved > 0.5  # the locomotion clip carried the character on, and later clips start from there
    assert long_case.views is clips[0].views and long_case.views.shape == (4, 32, 32, 3)


def test_long_case_ground_truth_is_exact(long_case):
    for clip in long_case.clips:
        outside = ~clip.masks
        assert (clip.video[outside] == clip.scene_video[outside]).all()
        assert clip.masks.any(axis=(1, 2)).all() and (clip.boxes >= clip.masks).all()
        assert clip.keypoints.xy.shape[:2] == (LONG_XS.config.frames, 1)


def test_long_case_is_deterministic(long_case):
    again = render_case(LONG_XS, LONG_XS.case_specs(1)[0])
    for a, b in zip(long_case.clips, again.clips):
        assert np.array_equal(a.video, b.video) and a.labels() == b.labels()


def test_to_dict_pins_the_version():
    for benchmark in BENCHMARKS.values():
        d = json.loads(json.dumps(benchmark.to_dict()))
        assert d["world_version"] == WORLD_VERSION and d["name"] == benchmark.name
        assert d["config"] == json.loads(json.dumps(benchmark.config.to_dict())) and d["clips"] == benchmark.clips
    assert BENCHMARKS["puppet-world"].config == WorldConfig(size=(64, 64), frames=32, fps=16.0, categories=CATEGORIES)


def test_writer_leaves_views_out_when_asked(long_case, tmp_path):
    out = write_world_tuple(tmp_path / "clip", long_case.clips[1], views=False)
    assert not any(p.name.startswith("C_") for p in out.iterdir()) and (out / "V.mp4").exists()


def test_synth_benchmark_end_to_end(tmp_path):
    out = tmp_path / "bench"
    assert main(["synth", "--mode", "world", "--benchmark", "puppet-world-xs", "--samples", "2", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["benchmark"] == json.loads(json.dumps(XS.to_dict())) and manifest["count"] == 2
    for sample, spec in zip(manifest["samples"], XS.case_specs(2)):
        assert sample["seed"] == spec.seed and sample["instructions"] == list(spec.instructions)
        labels = json.loads((out / sample["dir"] / "labels.json").read_text())
        assert labels["seed"] == spec.seed and labels["instruction"] == spec.instructions[0]
        assert {f"C_{v}.png" for v in VIEWS} <= {p.name for p in (out / sample["dir"]).iterdir()}


def test_synth_long_benchmark_writes_clips(tmp_path):
    out = tmp_path / "long"
    assert main(["synth", "--mode", "world", "--benchmark", "puppet-world-long-xs", "--samples", "1",
                 "--out", str(out)]) == 0
    (sample,) = json.loads((out / "manifest.json").read_text())["samples"]
    assert len(sample["clips"]) == LONG_XS.clips
    for k, rel in enumerate(sample["clips"]):
        names = {p.name for p in (out / rel).iterdir()}
        assert "V.mp4" in names and "S.mp4" in names and ("C_front.png" in names) == (k == 0)


@pytest.mark.parametrize("args, needle", [
    (["--mode", "world", "--benchmark", "puppet-world-huge"], "puppet-world, puppet-world-xs, puppet-world-long"),
    (["--mode", "puppet", "--benchmark", "puppet-world-xs"], "--mode world only"),
    (["--mode", "world", "--benchmark", "puppet-world-xs", "--size", "64x64"], "fixed by benchmark"),
    (["--mode", "world", "--benchmark", "puppet-world-xs", "--samples", str(MAX_CASES + 1)], "--samples"),
])
def test_synth_benchmark_bad_input(tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    assert main(["synth", "--out", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()
