"""Shared test settings: one CPU thread keeps tiny forwards fast and stable on 2 cores."""

import torch

torch.set_num_threads(1)
