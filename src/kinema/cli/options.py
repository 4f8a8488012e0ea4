"""Option parsers shared by the verbs."""

from __future__ import annotations

import click

from kinema.errors import KinemaInputError


def parse_size(text: str) -> tuple[int, int]:
    """'WIDTHxHEIGHT' -> (W, H), both positive; range checks belong to each consumer."""
    try:
        width, height = (int(v) for v in text.lower().split("x"))
    except ValueError:
        raise KinemaInputError(f"--size '{text}'", "is not WIDTHxHEIGHT", "Write it like 512x512.") from None
    if width <= 0 or height <= 0:
        raise KinemaInputError(f"--size '{text}'", "must be positive", "Write it like 512x512.")
    return width, height


def size_callback(ctx: click.Context, param: click.Parameter, value: str | None) -> tuple[int, int] | None:
    """click callback form of :func:`parse_size` for optional ``--size`` options."""
    return None if value is None else parse_size(value)
