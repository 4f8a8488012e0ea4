"""docs/results/ (``python benchmarks/results_pages.py``): the shipped models' reports a visitor reads without
running anything are there, complete, and current with the puppet generator and the scoring."""

import re
from pathlib import Path

from kinema.eval.scoring import SCORING_VERSION
from kinema.io import read_video
from kinema.puppet import GENERATOR_VERSION

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs" / "results"


def test_the_index_is_current_and_links_every_report():
    index = (DOCS / "index.html").read_text()
    assert f"Puppet generator {GENERATOR_VERSION}, scoring version {SCORING_VERSION};" in index, \
        "stale: rerun python benchmarks/results_pages.py"
    links = re.findall(r"href='([^']+/report\.html)'", index)
    assert {"puppet-animate/report.html", "puppet-animate-quadruped/report.html",
            "puppet-animate-bird/report.html"} <= set(links)
    assert "docs/results/index.html" in (ROOT / "README.md").read_text()
    for link in links:
        report = (DOCS / link).read_text()
        assert "r1-pose on" in report and "static-reference" in report  # the embedded model against its baselines
        videos = re.findall(r'<video src="([^"]+)"', report)
        assert len(videos) == 2  # best and worst cases, side by side
        for video in videos:
            clip = read_video((DOCS / link).parent / video)
            assert clip.num_frames == 17 and clip.frames.shape[2] == 4 * clip.frames.shape[1]  # 4 panels of 64 px
