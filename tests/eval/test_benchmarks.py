"""Benchmark definitions, baselines and scoring of exact targets."""

import numpy as np
import pytest

from kinema.errors import KinemaInputError
from kinema.eval import BENCHMARKS, MethodOptions, get_benchmark, get_method, render_case, score_case
from kinema.eval.benchmarks import SEED_BASE
from kinema.eval.metrics import PSNR_CAP
from kinema.eval.methods import METHODS
from kinema.eval.stats import bootstrap_ci, paired_difference, sign_test
from kinema.puppet import GENERATOR_VERSION


def test_registry_sizes_and_held_out_seeds():
    for mode in ("animate", "replace", "multi"):
        small, large, xs = (get_benchmark(f"puppet-{mode}{s}") for s in ("", "-large", "-xs"))
        assert (small.config.size, small.config.frames) == ((64, 64), 17)
        assert (large.config.size, large.config.frames) == ((256, 256), 33)
        assert (xs.config.size, xs.config.frames) == ((32, 32), 9)
        assert small.to_dict()["generator_version"] == GENERATOR_VERSION
    specs = get_benchmark("puppet-animate").case_specs(4)
    assert [s.motion for s in specs] == ["hand_sign", "clap", "spin", "arms_crossed"]
    assert {"hands", "occlusion"} <= {t for s in specs for t in s.tags}
    assert all(s.seed >= 10_000_000 for b in BENCHMARKS.values() for s in b.case_specs(2))
    assert get_benchmark("puppet-replace").case_specs(2) == get_benchmark("puppet-replace").case_specs(5)[:2]


def test_non_human_benchmarks_are_their_family_on_seeds_of_their_own():
    from kinema.eval.benchmarks import CALIBRATION_SEED_BASE, MAX_CASES, SEED_STRIDE
    from kinema.puppet.motions import motions_of
    from kinema.world.benchmark import BENCHMARKS as WORLD

    for family in ("quadruped", "bird"):
        bench = get_benchmark(f"puppet-animate-{family}")
        assert bench.family == family and bench.motions == motions_of(family) and bench.mode == "animate"
        assert bench.to_dict()["generator_version"] == GENERATOR_VERSION
        case = render_case(bench, bench.case_specs(2)[1])
        assert case.triplet.target.keypoints[0].layout == family and case.triplet.labels["motions"][0] == bench.motions[1]
    span = SEED_STRIDE * MAX_CASES
    bases = {b.base for b in BENCHMARKS.values()} | {b.seed_base for b in WORLD.values()} | {CALIBRATION_SEED_BASE}
    assert min(bases) >= 10_000_000  # above every training seed
    assert all(a == b or abs(a - b) >= span for a in bases for b in bases)  # the seed ranges never overlap
    assert len({b.base for b in BENCHMARKS.values() if b.family != "humanoid"}) == 2


def test_unknown_benchmark_and_method():
    with pytest.raises(KinemaInputError, match="puppet-animate"):
        get_benchmark("puppet-nope")
    with pytest.raises(KinemaInputError, match="does not support replace"):
        get_method("r1", "replace")
    for absurd in (0, 10**9):  # 10**9 would have searched seeds for hours, into the next mode's
        with pytest.raises(KinemaInputError, match="between 1 and 1000"):
            get_benchmark("puppet-animate").case_specs(absurd)


@pytest.mark.parametrize("mode", ["animate", "replace", "multi"])
def test_cases_are_the_planned_motion_and_targets_score_perfectly(mode):
    bench = get_benchmark(f"puppet-{mode}")
    spec = bench.case_specs(2)[1]
    case = render_case(bench, spec)
    assert case.triplet.labels["motions"][0] == spec.motion and spec.seed >= SEED_BASE[mode]
    scores = score_case(case, METHODS["target"].build(MethodOptions())(case))
    assert scores["psnr"] == scores["psnr_char"] == scores["psnr_bg"] == PSNR_CAP
    assert scores["ssim"] == pytest.approx(1.0) and scores["warp_error"] == 0.0
    assert {"replace": "bg_fidelity", "multi": "binding_acc"}.get(mode, "psnr") in scores
    if mode == "replace":
        assert scores["bg_fidelity"] == PSNR_CAP  # outside the subjects, driving and target agree exactly
        assert score_case(case, METHODS["driving-copy"].build(MethodOptions())(case))["bg_fidelity"] == PSNR_CAP
    if mode == "multi":
        assert scores["binding_acc"] == 1.0


def test_baselines_shapes_and_paste_places_the_reference():
    bench = get_benchmark("puppet-replace")
    case = render_case(bench, bench.case_specs(1)[0])
    outputs = {m: METHODS[m].build(MethodOptions())(case) for m in ("static-reference", "driving-copy", "paste")}
    for frames in outputs.values():
        assert frames.shape == case.triplet.target.frames.shape and frames.dtype == np.uint8
    paste, static = (score_case(case, outputs[m]) for m in ("paste", "static-reference"))
    assert paste["mask_iou"] > static["mask_iou"]  # pasted where the subject is


def test_stats():
    assert sign_test(np.ones(10)) == pytest.approx(2 / 1024)
    assert sign_test(np.zeros(3)) == 1.0
    ci = bootstrap_ci([2.0, 2.0, None, float("nan")])
    assert ci == {"mean": 2.0, "ci95": [2.0, 2.0], "n": 2}
    diff = paired_difference([1, 2, 3, 4], [2, 3, 4, 5.5])
    assert diff["delta"] == pytest.approx(1.125) and diff["wins"] == 4 and diff["p_sign"] == pytest.approx(0.125)
