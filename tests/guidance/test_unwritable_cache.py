"""An answer cache that cannot be written costs only the reuse of answers: a warning, once, never a failure."""

import os

import pytest

from kinema.cli.main import main
from kinema.guidance.cache import AnswerCache
from kinema.puppet import get_preset, make_triplet
from kinema.puppet.dataset import write_triplet

from .test_openai_backend import FUSED, MOTION, by_prompt

UNWRITABLE = "/proc/kinema-cache"  # no file can be created under /proc, not even by root


def test_unwritable_cache_warns_once_and_misses(capsys):
    cache = AnswerCache(UNWRITABLE)
    cache.put("ab" * 32, "an answer", {"model": "vlm", "kind": "motion"})
    cache.put("cd" * 32, "another", {"model": "vlm", "kind": "motion"})
    assert capsys.readouterr().err.count(f"answer cache '{UNWRITABLE}': cannot be written") == 1
    assert cache.get("ab" * 32) is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into a chmod 0o555 directory; the /proc test covers root")
def test_read_only_cache_directory_warns(tmp_path, capsys):
    tmp_path.chmod(0o555)
    try:
        AnswerCache(tmp_path).put("ab" * 32, "an answer", {})
    finally:
        tmp_path.chmod(0o755)
    assert "cannot be written" in capsys.readouterr().err and not list(tmp_path.iterdir())


def test_caption_with_an_unwritable_cache_still_prints_the_answers(server, tmp_path, capsys):
    sample = write_triplet(tmp_path / "000000", make_triplet("animate", 3, get_preset("tiny", frames=5)))
    server.answer = by_prompt
    rc = main(["caption", "--reference", str(sample / "reference_0.png"), "--driving", str(sample / "driving.mp4"),
               "--base-url", server.url, "--model", "vlm", "--cache", UNWRITABLE])
    out = capsys.readouterr()
    assert rc == 0 and f"motion: {MOTION}" in out.out and f"fused: {FUSED}" in out.out
    assert out.err.count("cannot be written") == 1 and server.count == 3
