"""A 3-case, 32x32, 9-frame animate benchmark and one evaluated run of it shared by the eval tests."""

import pytest

from kinema.eval import Benchmark, EvalConfig, MethodOptions, register_benchmark, run_eval
from kinema.puppet import SynthConfig

SMALL = register_benchmark(Benchmark(
    "puppet-animate-test", "animate",
    SynthConfig(size=(32, 32), frames=9, families=("humanoid",), characters=(1, 1), camera_prob=0.3, modes=("animate",)),
    3, description="test-sized humanoid animate"))
CONFIG = EvalConfig(SMALL.name, "r1", None, MethodOptions(model="tiny", steps=2))


@pytest.fixture(scope="session")
def evaluated(tmp_path_factory):
    """(out directory, results) of r1 with the tiny preset, 2 steps, on the test benchmark."""
    out = tmp_path_factory.mktemp("eval") / "run"
    return out, run_eval(CONFIG, out, progress=False)
