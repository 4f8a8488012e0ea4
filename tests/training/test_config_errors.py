"""Training settings that cannot work are named, key and all, before the run directory exists: conflicting
``--set`` overrides, unknown keys at any depth, and values far outside what a run can survive."""

import pytest

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.training.config import PRESETS, config_from_dict, get_config


def train(tmp_path, *overrides: str, preset: str = "tiny") -> int:
    args = ["train", "--preset", preset, "--out", str(tmp_path / "run"), "--no-progress"]
    for override in overrides:
        args += ["--set", override]
    return main(args)


@pytest.mark.parametrize("overrides", [("data=1", "data.samples=4"), ("data.samples=4", "data=1")])
def test_a_group_set_whole_and_by_field_names_the_group(tmp_path, capsys, overrides):
    assert train(tmp_path, *overrides) == 2
    err = capsys.readouterr().err
    assert "'data' is given whole and by field" in err and "Traceback" not in err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override,named", [
    ("nope=1", "nope: is not a field of TrainConfig"),
    ("data.nope=1", "data.nope: is not a field of DataConfig"),
    ("data.augment.nope=1", "data.augment.nope: is not a field of PoseAugmentConfig"),
    ("data.augment.bone_scale_prob=5", "data.augment: bone_scale_prob must be in [0, 1]"),  # the nested config's own check
    ("data.augment.bone_scale_range=[1]", "data.augment: not enough values"),
])
def test_unknown_and_refused_nested_keys_are_named_with_their_path(tmp_path, capsys, override, named):
    assert train(tmp_path, override) == 2
    assert named in capsys.readouterr().err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("overrides,named", [
    ({"optim": {"weight_decay": 1e9}}, "optim.weight_decay 1000000000.0: must be 0 or more and below 1 / optim.lr"),
    ({"optim": {"warmup_steps": 10**12}}, "optim.warmup_steps 1000000000000: must be in [0, 99999999]"),
    ({"steps": 10**8}, "steps 100000000: must be at most 99999999"),
    ({"seed": 10**20}, "seed 100000000000000000000: must be at most 4294967295"),
    ({"batch_size": 10**6}, "batch_size 1000000: must be at most 4096"),
    ({"lora_rank": 10**6}, "lora_rank 1000000: must be at most 5120"),
    ({"data": {"samples": 10**7}}, "data.samples 10000000: must be at most 100000"),
    ({"data": {"size": (4096, 4096)}}, "data.size (4096, 4096): must be [width, height] in [16, 2048]"),
    ({"data": {"frames": 4097}}, "data.frames 4097: must be at most 1021"),
    ({"data": {"fps": 90000}}, "data.fps 90000: must be in [0.1, 1000]"),
    ({"data": {"lead_in_seconds": 100}}, "data.lead_in_seconds 100: must be 0 or more and shorter than the clip"),
    ({"data": {"skeleton_width": 1e9}}, "data.skeleton_width 1000000000.0: must be positive and at most the clip's side"),
    ({"flow": {"shift": 1e30}}, "flow.shift 1e+30: must be in [0.01, 100]"),
    ({"flow": {"logit_mean": 1e30}}, "flow.logit_mean 1e+30: must be in [-10, 10]"),
    ({"flow": {"logit_std": 1e30}}, "flow.logit_std 1e+30: must be at most 10"),
    ({"flow": {"motion_weight": 1e30}}, "flow.motion_weight 1e+30: must be in [0, 100]"),
])
def test_absurd_values_are_named(overrides, named):
    """Through the API (on the CLI each would start a run that cannot end if the check were lost)."""
    with pytest.raises(KinemaInputError) as raised:
        get_config("tiny", **overrides)
    assert named in str(raised.value)


def test_an_absurd_learning_rate_is_refused_before_anything_is_written(tmp_path, capsys):
    assert train(tmp_path, "optim.lr=1e30") == 2
    err = capsys.readouterr().err
    assert "optim.lr 1e+30: must be at most 1" in err and "Traceback" not in err, err
    assert not (tmp_path / "run").exists()


@pytest.mark.parametrize("override,named", [("r2.bystanders=10", "r2.bystanders 10: must be in [0, 3]"),
                                            ("r2.characters=5", "r2.characters 5: must be in [1, r2.slots")])
def test_more_puppet_actors_than_a_scene_holds_are_refused(tmp_path, capsys, override, named):
    assert train(tmp_path, "r2.slots=6", override, preset="tiny-r2") == 2
    assert named in capsys.readouterr().err and not (tmp_path / "run").exists()


def test_every_preset_is_within_the_bounds_and_round_trips():
    for name, preset in PRESETS.items():
        assert config_from_dict(preset.to_dict()) == preset == get_config(name), name


@pytest.mark.parametrize("key,value,named", [("data", 1, "data 1: is not DataConfig"),
                                             ("optim", {"betas": 5}, "optim.betas 5: is not a list"),
                                             ("steps", [1], "steps [1]: is not int")])
def test_a_damaged_config_json_names_the_key(key, value, named):
    values = PRESETS["tiny"].to_dict()
    values[key] = {**values[key], **value} if isinstance(value, dict) else value
    with pytest.raises(KinemaInputError, match=named.replace("[", r"\[")):
        config_from_dict(values)
