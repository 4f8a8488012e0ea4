"""2D pose: keypoint layouts and container, skeleton rendering, augmentation, estimators."""

from kinema.pose.convert import CONVERSIONS, convert  # also registers the estimators' layouts
from kinema.pose.keypoints import Keypoints
from kinema.pose.layouts import LAYOUTS, Layout, get_layout, register_layout

__all__ = ["CONVERSIONS", "LAYOUTS", "Keypoints", "Layout", "convert", "get_layout", "register_layout"]
