"""Regression figures of the embedded puppet model: ``kinema demo --steps 10`` scores of case 0.

    python benchmarks/embedded_model.py      # writes src/kinema/assets/puppet/model/regression.json

``tests/training/test_embedded.py`` checks them. The model's evidence on many held-out cases, with
CIs and baselines, comes from ``kinema eval --benchmark puppet-animate --method r1-pose --model embedded``.
"""

from __future__ import annotations

import tempfile

import torch

from kinema.io import write_json_atomic
from kinema.pipelines.animate import EMBEDDED_DIR
from kinema.pipelines.demo import run_demo

STEPS = 10
TOLERANCE = {"psnr": 0.3, "psnr_char": 0.5, "ssim": 0.01, "ssim_char": 0.02, "kp_pck_body": 0.05,
             "kp_pck_hands": 0.08, "kp_err_body": 0.6}


def main() -> None:
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        metrics = run_demo(tmp, steps=STEPS, progress=False)
    scores = metrics["scores"]["output"]
    write_json_atomic(EMBEDDED_DIR / "regression.json", {"case": metrics["case"], "steps": STEPS, "scores": scores,
                                                         "tolerance": {k: TOLERANCE[k] for k in scores}})
    for method, values in metrics["scores"].items():
        print(f"{method:17s}" + "  ".join(f"{k} {v:.3f}" for k, v in values.items()))


if __name__ == "__main__":
    main()
