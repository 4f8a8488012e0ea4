"""2D pose: keypoint layouts and container, skeleton rendering, augmentation, estimators."""

from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import LAYOUTS, Layout, get_layout, register_layout

__all__ = ["LAYOUTS", "Keypoints", "Layout", "get_layout", "register_layout"]
