"""Paired comparison of two results files, and its refusals."""

import json

import pytest

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.eval import compare, format_comparison, load_results


def test_compare_method_against_baseline_and_itself(evaluated):
    out, _ = evaluated
    results = load_results(out / "results.json")
    same = compare(results, results)
    assert same["cases"] == 3 and all(m["delta"] in (0.0, None) and m["p_sign"] == 1.0 for m in same["metrics"].values())
    vs_target = compare(results, results, method_b="target")
    assert vs_target["metrics"]["ssim"]["better"] and vs_target["metrics"]["ssim"]["wins"] == 3
    assert vs_target["metrics"]["warp_error"]["better"]  # lower is better
    assert "ssim" in format_comparison(vs_target)


def test_refuses_other_generator_missing_and_foreign_files(evaluated, tmp_path, capsys):
    out, _ = evaluated
    other = json.loads((out / "results.json").read_text())
    other["generator_version"] = "puppet-0.0+old"
    (tmp_path / "old.json").write_text(json.dumps(other))
    with pytest.raises(KinemaInputError, match="generator versions"):
        compare(load_results(out / "results.json"), load_results(tmp_path / "old.json"))
    with pytest.raises(KinemaInputError, match="file not found"):
        load_results(tmp_path / "missing.json")
    (tmp_path / "foreign.json").write_text('{"a": 1}')
    with pytest.raises(KinemaInputError, match="not a kinema.eval.results"):
        load_results(tmp_path / "foreign.json")
    del other["cases"]
    (tmp_path / "damaged.json").write_text(json.dumps(other))
    with pytest.raises(KinemaInputError, match="lacks cases"):
        load_results(tmp_path / "damaged.json")
    assert main(["eval", "compare", str(out / "results.json"), str(tmp_path / "old.json")]) == 2
    assert "generator versions" in capsys.readouterr().err
    assert main(["eval", "compare", str(out / "results.json"), str(out / "results.json")]) == 0
    assert "shared cases" in capsys.readouterr().out
