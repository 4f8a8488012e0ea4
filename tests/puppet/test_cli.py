import pytest

from kinema.cli.main import main


@pytest.mark.parametrize("args, needle", [
    (["--samples", "0"], "--samples"),
    (["--size", "8x8"], "size"),
    (["--size", "sixty"], "WIDTHxHEIGHT"),
    (["--families", "humanoid,dragon"], "dragon"),
    (["--characters-per-scene", "0-9"], "characters"),
    (["--modes", "morph"], "modes"),
])
def test_bad_input_exits_nonzero_and_writes_nothing(tmp_path, capsys, args, needle):
    out = tmp_path / "out"
    assert main(["synth", "--out", str(out), *args]) == 2
    assert needle in capsys.readouterr().err
    assert not out.exists()


def test_synth_writes_dataset_and_preview(tmp_path):
    out = tmp_path / "ds"
    rc = main(["synth", "--out", str(out), "--samples", "3", "--size", "32x32", "--frames", "5", "--seed", "2",
               "--families", "humanoid,quadruped,bird", "--characters-per-scene", "1-2", "--preview"])
    assert rc == 0
    assert (out / "manifest.json").is_file() and (out / "preview.png").is_file() and (out / "preview.gif").is_file()
    assert len(list((out / "samples").iterdir())) == 3
    assert main(["synth", "--out", str(out), "--samples", "1"]) == 2  # refuses to overwrite a dataset
