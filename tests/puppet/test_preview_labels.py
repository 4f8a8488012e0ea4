"""The synth preview names what a reader looks at: the mode and the reference, driving and target sections."""

import numpy as np
from PIL import Image

from kinema.puppet import SynthConfig
from kinema.puppet.dataset import iter_triplets
from kinema.puppet.preview import BAND, write_preview


def test_each_row_of_the_preview_sits_under_a_label_band_naming_its_mode(tmp_path):
    config = SynthConfig(size=(32, 32), frames=5, modes=("animate", "replace", "multi"))
    triplets = list(iter_triplets(config, 3, seed=4))
    write_preview(tmp_path, triplets, upscale=2)
    sheet = np.asarray(Image.open(tmp_path / "preview.png").convert("RGB"))
    h, gap = 32 * 2, 2
    assert sheet.shape[0] == len(triplets) * (BAND + gap + h + gap)  # taller than the unlabelled grid by one band a row
    step = BAND + gap + h + gap
    bands = [sheet[k * step:k * step + BAND] for k in range(len(triplets))]
    assert all((band < 128).any() and (band == 255).any() for band in bands)  # text on white, not a blank strip
    assert not np.array_equal(bands[0], bands[1])  # the mode differs, and so does its label
    for k, t in enumerate(triplets):  # the label band covers no frame: the first reference is intact below it
        top = k * step + BAND + gap
        reference = t.reference_images[0].repeat(2, axis=0).repeat(2, axis=1)
        assert np.array_equal(sheet[top:top + h, :reference.shape[1]], reference)
