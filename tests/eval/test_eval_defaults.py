"""`kinema eval` and its Python API (`run_eval`) take their defaults from the model card: the embedded model,
evaluated with the method and guidance its card fits; a method that does not fit the model is refused before
anything is written."""

import json

import pytest
import torch

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.eval import EvalConfig, MethodOptions, run_eval
from kinema.eval.methods import choose_method

POSE_R1 = {"recipe": "dreamactor-m2", "driving": "pose"}
R2 = {"recipe": "scail-2", "driving": "rgb"}


def test_eval_defaults_to_the_embedded_model_and_its_pose_method(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--benchmark", "puppet-animate", "--cases", "1", "--steps", "1", "--out", str(out)]) == 0
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == "r1-pose" and run["options"]["model"] == "embedded"
    assert run["options"]["device"] == ("cuda" if torch.cuda.is_available() else "cpu")  # --device auto, resolved
    results = json.loads((out / "results.json").read_text())
    assert results["methods"][0] == "r1-pose" and "r1" not in results["methods"]
    assert "r1-pose" in capsys.readouterr().out


@pytest.mark.skipif(torch.cuda.is_available(), reason="this machine has a GPU")
def test_a_gpu_this_machine_lacks_is_named(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--benchmark", "puppet-animate", "--cases", "1", "--device", "cuda", "--out", str(out)]) == 2
    assert "--device 'cuda'" in capsys.readouterr().err and not out.exists()


def test_a_method_that_does_not_fit_the_model_is_refused(tmp_path, capsys):
    out = tmp_path / "run"
    assert main(["eval", "--benchmark", "puppet-animate", "--method", "r1", "--cases", "1", "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "--method 'r1'" in err and "--model 'embedded'" in err and "r1-pose" in err
    assert not out.exists()


def test_the_api_defaults_to_the_embedded_model_its_pose_method_and_guidance(tmp_path):
    out = tmp_path / "run"
    results = run_eval(EvalConfig("puppet-animate", cases=1, options=MethodOptions(steps=1)), out, progress=False)
    assert results["method"] == "r1-pose" and results["methods"][0] == "r1-pose" and "r1" not in results["methods"]
    run = json.loads((out / "run.json").read_text())
    assert run["method"] == "r1-pose" and run["options"]["model"] == "embedded"
    assert run["options"]["guidance"] == results["options"]["guidance"] == 1.0  # the embedded card's, not Wan's 5


def test_the_api_refuses_a_method_that_does_not_fit_the_model(tmp_path):
    out = tmp_path / "run"
    with pytest.raises(KinemaInputError, match="--method 'r1'.*does not fit --model 'embedded'.*r1-pose"):
        run_eval(EvalConfig("puppet-animate", "r1", 1, MethodOptions(steps=1)), out, progress=False)
    assert not out.exists()


def test_the_card_picks_the_method_and_presets_keep_r1():
    assert choose_method(None, "animate", POSE_R1, "m") == "r1-pose"
    assert choose_method(None, "animate", R2, "m") == "r2"
    assert choose_method(None, "replace", R2, "m") == "r2"
    assert choose_method(None, "animate", {}, "m") == "r1"  # presets: random weights, any recipe runs
    assert choose_method(None, "replace", {}, "m") == "r2"
    assert choose_method("paste", "replace", POSE_R1, "m") == "paste"  # baselines run beside any model


def test_a_model_with_no_method_for_the_benchmark_names_the_fix():
    with pytest.raises(KinemaInputError, match="has no method for replace benchmarks.*static-reference"):
        choose_method(None, "replace", POSE_R1, "--model 'embedded'")
    with pytest.raises(KinemaInputError, match="--method 'r2'.*does not fit.*r1-pose"):
        choose_method("r2", "animate", POSE_R1, "--model 'embedded'")
    with pytest.raises(KinemaInputError, match="--method 'r1-pose'.*does not fit.*r2"):
        choose_method("r1-pose", "animate", R2, "--model 'm'")
