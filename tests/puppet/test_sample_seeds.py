"""The per-sample seed is computed directly, and the training data it drives stays bit-identical."""

import hashlib

import numpy as np
import pytest

from kinema.puppet.dataset import sample_seed, sample_seeds
from kinema.training import data, scail2
from kinema.training.config import PRESETS, DataConfig


def _old_seed(seed: int, index: int) -> int:
    """The former call sites' expression, frozen verbatim: draw ``index + 1`` seeds and keep the last."""
    return [int(np.random.default_rng([seed, i]).integers(2**31)) for i in range(index + 1)][index]


def _digest(*parts: np.ndarray | str) -> str:
    h = hashlib.sha256()
    for p in parts:
        h.update(p.encode() if isinstance(p, str) else np.ascontiguousarray(p).tobytes())
    return h.hexdigest()[:16]


@pytest.mark.parametrize("seed", [0, 1, 12345])
def test_sample_seed_equals_the_old_expression(seed):
    for index in (0, 1, 7, 500, 1023):
        assert sample_seed(seed, index) == _old_seed(seed, index) == sample_seeds(seed, index + 1)[index]


def test_sample_seeds_is_a_prefix_of_itself():
    assert sample_seeds(3, 5) == sample_seeds(3, 9)[:5] == [sample_seed(3, i) for i in range(5)]


# Digests of make_sample(i) for i = 0, 1, 2 computed with the code before this change (HEAD, which drew
# sample_seeds(seed, index + 1)[index]); a mismatch means the training data of trained models changed.
@pytest.mark.parametrize(("config", "expected"), [
    (DataConfig(), ["63d63f6df46ba96c", "59df61f2f3801079", "58d8615c36c153c7"]),
    (DataConfig(recipe="oracle", seed=12345, copy_fraction=0.5), ["cc03a057c470adf2", "3ebd4657327ab71a", "cb18f95f8bf56c7a"]),
])
def test_r1_samples_are_unchanged(config, expected):
    samples = [data.make_sample(i, config) for i in range(3)]
    assert [_digest(s.reference, s.driving, s.target, s.text) for s in samples] == expected


def test_r2_samples_are_unchanged():
    samples = [scail2.make_sample(i, PRESETS["tiny-r2"]) for i in range(2)]
    assert [_digest(s.mode, s.references, s.driving, s.target, s.reference_masks, s.driving_masks, s.text)
            for s in samples] == ["c2e8edcc381907f7", "35fa27839285a675"]
