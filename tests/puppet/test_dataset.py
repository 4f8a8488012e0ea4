import json

import numpy as np
import torch

from kinema.puppet import SynthConfig
from kinema.puppet.dataset import PuppetDataset, iter_triplets, read_triplet, write_dataset

CFG = SynthConfig(size=(32, 32), frames=5, families=("humanoid", "bird"), characters=(1, 2), camera_prob=0.5)


def test_write_then_load_round_trip(tmp_path):
    write_dataset(tmp_path / "a", CFG, 3, seed=9)
    ds = PuppetDataset(tmp_path / "a")
    assert len(ds) == 3 and [s["mode"] for s in ds.samples] == ["animate", "replace", "multi"]
    for i, original in enumerate(iter_triplets(CFG, 3, seed=9)):
        item = ds[i]
        assert item["driving"].shape == (3, 5, 32, 32) and item["reference"].shape[1:] == (3, 32, 32)
        assert torch.equal(item["target_masks"], torch.from_numpy(original.target.masks))
        assert torch.equal(item["binding"], torch.tensor(original.binding))
        for a, b in zip(item["driving_keypoints"], original.driving.keypoints):
            np.testing.assert_array_equal(a.xy, b.xy)
            np.testing.assert_array_equal(a.visibility, b.visibility)
        np.testing.assert_array_equal((item["reference"] * 255).round().byte().permute(0, 2, 3, 1).numpy(), original.reference_images)
        err = np.abs(item["target"].permute(1, 2, 3, 0).numpy() * 255 - original.target.frames).mean()
        assert err < 8  # H.264 is lossy, but close
        assert item["caption"] == original.target.labels["caption"]


def test_same_seed_same_dataset(tmp_path):
    write_dataset(tmp_path / "a", CFG, 2, seed=4)
    write_dataset(tmp_path / "b", CFG, 2, seed=4)
    ma, mb = (json.loads((tmp_path / d / "manifest.json").read_text()) for d in "ab")
    assert ma == mb and ma["version"].startswith("puppet-")
    ta, tb = (read_triplet(tmp_path / d / "samples/000001") for d in "ab")
    np.testing.assert_array_equal(ta.target.frames, tb.target.frames)
    assert (tmp_path / "a/samples/000001/target.mp4").read_bytes() == (tmp_path / "b/samples/000001/target.mp4").read_bytes()

