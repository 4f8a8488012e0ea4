"""Conditioning recipes over the segment mechanism, one file per paper."""
