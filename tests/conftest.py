"""Shared test settings: one CPU thread each for torch and OpenCV keeps tests fast and stable on 2 cores."""

import cv2
import torch

torch.set_num_threads(1)
cv2.setNumThreads(1)
