"""Tests of the pose package: keypoints, rendering, augmentation, estimators and the pose CLI."""
