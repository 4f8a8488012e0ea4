"""Outputs: the output-path check refuses, before any compute, a location that cannot be written and a path
that is one of the command's inputs; outputs get the permissions open() would give; SIGTERM leaves no debris."""

import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import time
from pathlib import Path

import pytest

from kinema.cli.main import main
from kinema.errors import KinemaInputError
from kinema.io import check_output, check_output_dir
from kinema.pipelines.inputs import check_video_out
from kinema.puppet import get_preset, make_triplet
from kinema.puppet.dataset import write_triplet

from tests.core.conftest import random_media

UNWRITABLE = Path("/proc/kinema-test")  # no file can be created under /proc, not even by root
SUBPROCESS_ENV = {**os.environ, "OMP_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def media(tmp_path_factory):
    root = random_media(tmp_path_factory.mktemp("media"), frames=17, side=64)
    (root / "keypoints.json").write_text('{"kind": "keypoints, as far as this test is concerned"}')
    return root


@pytest.fixture(scope="module")
def sample(tmp_path_factory):
    """A `kinema synth` sample directory: reference_0.png, driving.mp4 and labels.json among its files."""
    return write_triplet(tmp_path_factory.mktemp("ds") / "000000", make_triplet("animate", 3, get_preset("tiny", frames=5)))


def cli(capsys, *args) -> tuple[int, str]:
    rc = main([str(a) for a in args])
    return rc, capsys.readouterr().err


# Class 2: the location is checked by trying to create a file there.

def test_locations_where_no_file_can_be_created_are_refused(tmp_path):
    for path in (UNWRITABLE / "out.mp4", UNWRITABLE / "deeper" / "out.json", Path("/proc/out.json")):
        with pytest.raises(KinemaInputError, match="cannot be written"):
            check_output(path, "--out")
    with pytest.raises(KinemaInputError, match="cannot be written"):
        check_output_dir(UNWRITABLE, "--out")
    with pytest.raises(KinemaInputError, match="not a regular file"):
        check_output("/dev/null", "--out")  # replacing it by a rename would destroy the device
    check_output(tmp_path / "new" / "deeper" / "out.mp4", "--out")
    check_output_dir(tmp_path / "run", "--out")
    assert not list(tmp_path.iterdir()), "the check left a file or directory behind"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a chmod 0o555 directory; the /proc test covers root")
def test_read_only_directory_is_refused(tmp_path):
    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        for check in (lambda: check_output(locked / "out.mp4"), lambda: check_output(locked / "sub" / "out.mp4"),
                      lambda: check_output_dir(locked), lambda: check_output_dir(locked / "run")):
            with pytest.raises(KinemaInputError, match="cannot be written"):
                check()
    finally:
        locked.chmod(0o755)


@pytest.fixture
def immutable(tmp_path):
    """A directory in which no one, root included, can create a file (chattr +i), though os.access says yes to root."""
    folder = tmp_path / "immutable"
    folder.mkdir()
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", folder], capture_output=True).returncode:
        pytest.skip("chattr +i is refused here (it needs CAP_LINUX_IMMUTABLE and a filesystem with attributes)")
    yield folder
    subprocess.run(["chattr", "-i", folder], check=True)


def test_immutable_directory_is_refused(immutable):
    for check in (lambda: check_output(immutable / "out.mp4"), lambda: check_output(immutable / "sub" / "out.mp4"),
                  lambda: check_output_dir(immutable), lambda: check_output_dir(immutable / "run")):
        with pytest.raises(KinemaInputError, match="cannot be written"):
            check()


def writing_verbs(media: Path, sample: Path, out: Path) -> dict[str, list]:
    """Each verb that writes, with arguments that are valid except for ``out``."""
    ref, drv = media / "reference.png", media / "driving.mp4"
    return {
        "animate": ["animate", "--reference", ref, "--driving", drv, "--model", "tiny", "--steps", 1, "--out", out / "o.mp4"],
        "replace": ["replace", "--reference", ref, "--driving", drv, "--model", "tiny", "--steps", 1, "--out", out / "o.mp4"],
        "demo": ["demo", "--model", "tiny", "--steps", 1, "--out", out],
        "eval": ["eval", "--benchmark", "puppet-animate-xs", "--method", "static-reference", "--cases", 1, "--out", out],
        "synth": ["synth", "--samples", 1, "--size", "32x32", "--frames", 5, "--out", out],
        "train": ["train", "--preset", "tiny", "--no-progress", "--out", out],
        "pose extract": ["pose", "extract", drv, "--backend", "puppet", "--out", out / "kp.json"],
        "pose render": ["pose", "render", sample / "driving_kp0.npz", "--out", out / "skeleton.mp4"],
        "caption": ["caption", "--backend", "puppet", "--reference", sample / "reference_0.png",
                    "--driving", sample / "driving.mp4", "--out", out / "texts.json"],
    }


@pytest.mark.parametrize("verb", list(writing_verbs(Path(), Path(), Path())))
def test_every_writing_verb_refuses_an_unwritable_out_before_any_compute(media, sample, capsys, verb):
    rc, err = cli(capsys, *writing_verbs(media, sample, UNWRITABLE)[verb])
    assert rc == 2 and "cannot be written" in err, err
    assert "%|" not in err, "a progress bar started: the check came after compute"


# Class 3: no verb writes over one of its own inputs, nor beside the video over one (the .json settings).

def test_an_input_is_never_an_output(tmp_path, monkeypatch):
    video = tmp_path / "s.mp4"
    video.write_bytes(b"the user's video")
    (tmp_path / "link.mp4").symlink_to(video)
    os.link(video, tmp_path / "hard.mp4")
    monkeypatch.chdir(tmp_path)
    for out in (video, Path("s.mp4"), Path("./s.mp4"), tmp_path / "link.mp4", tmp_path / "hard.mp4"):
        with pytest.raises(KinemaInputError, match="is the input"):
            check_output(out, "--out", (None, video))
    check_output(tmp_path / "other.mp4", "--out", (None, video))
    with pytest.raises(KinemaInputError, match="settings file beside --out 'kp.mp4'.*is the input"):
        check_video_out("kp.mp4", (tmp_path / "kp.json",))


@pytest.mark.parametrize("case", ["driving as out", "driving pose as settings", "masks as out", "labels as settings",
                                  "caption over labels", "caption over labels (openai)", "pose extract over video"])
def test_verbs_refuse_to_write_over_their_inputs(media, sample, tmp_path, capsys, case):
    own = {name: tmp_path / name for name in ("d.mp4", "kp.json", "m.mp4")}
    for name, path in own.items():
        path.write_bytes((media / ("driving.mp4" if name.endswith(".mp4") else "keypoints.json")).read_bytes())
    ref, drv, labels = media / "reference.png", own["d.mp4"], sample / "labels.json"
    generate = ["--reference", ref, "--model", "tiny", "--steps", 1]
    args, kept = {
        "driving as out": (["animate", *generate, "--driving", drv, "--out", drv], drv),
        "driving pose as settings": (["animate", *generate, "--driving", media / "driving.mp4", "--driving-pose", own["kp.json"],
                                      "--out", tmp_path / "kp.mp4"], own["kp.json"]),
        "masks as out": (["replace", *generate, "--driving", media / "driving.mp4", "--masks", own["m.mp4"],
                          "--out", own["m.mp4"]], own["m.mp4"]),
        "labels as settings": (["animate", "--reference", sample / "reference_0.png", "--driving", sample / "driving.mp4",
                                "--caption", "puppet", "--model", "tiny", "--steps", 1, "--out", sample / "labels.mp4"], labels),
        "caption over labels": (["caption", "--backend", "puppet", "--reference", sample / "reference_0.png",
                                 "--driving", sample / "driving.mp4", "--out", labels], labels),
        "caption over labels (openai)": (["caption", "--reference", sample / "reference_0.png", "--driving",
                                          sample / "driving.mp4", "--base-url", "http://127.0.0.1:9/v1", "--out", labels], labels),
        "pose extract over video": (["pose", "extract", own["kp.json"], "--backend", "puppet", "--out", own["kp.json"]],
                                    own["kp.json"]),
    }[case]
    before = kept.read_bytes()
    rc, err = cli(capsys, *args)
    assert rc == 2 and "is the input" in err and "%|" not in err, err
    assert kept.read_bytes() == before
    assert not (sample / "labels.mp4").exists()


# Class 6: SIGTERM unwinds like Ctrl-C, so the writer's temporary file is removed.

def test_sigterm_while_animate_writes_its_output_leaves_nothing(media, tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    args = [sys.executable, "-m", "kinema.cli.main", "animate", "--reference", media / "reference.png", "--driving",
            media / "driving.mp4", "--out", results / "out.mp4", "--model", "tiny", "--steps", "1", "--frames", "17"]
    with open(tmp_path / "stderr.txt", "w") as log:
        proc = subprocess.Popen([str(a) for a in args], stderr=log, env=SUBPROCESS_ENV)
        while proc.poll() is None and not list(results.glob(".out.*.tmp.mp4")):
            time.sleep(0.001)
        proc.send_signal(signal.SIGSTOP)  # hold it mid-write while the test looks
        caught = list(results.glob(".out.*.tmp.mp4"))
        proc.send_signal(signal.SIGTERM)
        proc.send_signal(signal.SIGCONT)
        rc = proc.wait(timeout=120)
    assert caught, "the video was written before the test could interrupt it"
    assert rc == 128 + signal.SIGTERM, (tmp_path / "stderr.txt").read_text()
    assert not list(results.iterdir()), "a temporary file or partial output was left behind"
    assert "terminated (SIGTERM)" in (tmp_path / "stderr.txt").read_text()


# Class 7: permissions as open() and mkdir() give them: the umask applies, an overwritten file keeps its mode.

WRITER = """
import os, sys
from pathlib import Path
os.umask(int(sys.argv[1], 8))
from kinema.io import write_json_atomic
from kinema.io.atomic import atomic_dir
root = Path(sys.argv[2])
write_json_atomic(root / "new" / "deeper" / "a.json", {})
(root / "old.json").write_text("{}"); os.chmod(root / "old.json", 0o604)
write_json_atomic(root / "old.json", {"new": 1})
with atomic_dir(root / "model") as tmp:
    write_json_atomic(tmp / "card.json", {})
(root / "run").mkdir(); os.chmod(root / "run", 0o705)
with atomic_dir(root / "run") as tmp:
    pass
"""


def modes(root: Path) -> dict[str, int]:
    return {str(p.relative_to(root)): stat.S_IMODE(p.stat().st_mode) for p in root.rglob("*")}


@pytest.mark.parametrize("umask", [0o022, 0o077, 0o002])
def test_writers_respect_the_umask_and_keep_an_overwritten_mode(tmp_path, umask):
    subprocess.run([sys.executable, "-c", WRITER, oct(umask), tmp_path], check=True, env=SUBPROCESS_ENV)
    file, folder = 0o666 & ~umask, 0o777 & ~umask
    assert modes(tmp_path) == {"new": folder, "new/deeper": folder, "new/deeper/a.json": file, "old.json": 0o604,
                               "model": folder, "model/card.json": file, "run": 0o705}
    assert json.loads((tmp_path / "old.json").read_text()) == {"new": 1}


def test_a_verbs_outputs_follow_the_umask(tmp_path):
    script = "import os, sys; os.umask(0o027); from kinema.cli.main import main; sys.exit(main(sys.argv[1:]))"
    args = ["synth", "--samples", "1", "--size", "32x32", "--frames", "5", "--preview", "--out", tmp_path / "ds"]
    subprocess.run([sys.executable, "-c", script, *map(str, args)], check=True, env=SUBPROCESS_ENV, capture_output=True)
    found = modes(tmp_path)
    assert found and all(mode == (0o750 if (tmp_path / p).is_dir() else 0o640) for p, mode in found.items()), found


# Class 2, existing file: an output the final rename cannot replace is refused before any compute.

@pytest.fixture
def immutable_output(tmp_path):
    """An existing output file that no one, root included, can rename over (chattr +i)."""
    out = tmp_path / "o.mp4"
    out.write_bytes(b"the user's earlier result")
    if shutil.which("chattr") is None or subprocess.run(["chattr", "+i", out], capture_output=True).returncode:
        pytest.skip("chattr +i is refused here (it needs CAP_LINUX_IMMUTABLE and a filesystem with attributes)")
    try:
        yield out
    finally:
        subprocess.run(["chattr", "-i", out], check=True)


def test_an_immutable_existing_output_is_refused_before_any_compute(media, immutable_output, capsys):
    with pytest.raises(KinemaInputError, match="cannot be replaced"):
        check_output(immutable_output, "--out")
    rc, err = cli(capsys, "animate", "--reference", media / "reference.png", "--driving", media / "driving.mp4",
                  "--model", "tiny", "--steps", 1, "--out", immutable_output)
    assert rc == 2 and "cannot be replaced" in err and "%|" not in err, err
    assert immutable_output.read_bytes() == b"the user's earlier result"
    assert sorted(p.name for p in immutable_output.parent.iterdir()) == ["o.mp4"], "the check left a file behind"
