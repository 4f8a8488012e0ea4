"""Contact sheets and GIFs of triplets, so a person can look at the puppet world."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from kinema.io import atomic_path
from kinema.puppet.pairs import Triplet


BAND = 16  # height in pixels of the label band above each row of the contact sheet


def _pad(row: np.ndarray, width: int) -> np.ndarray:
    return np.pad(row, ((0, 0), (0, width - row.shape[1]), (0, 0)), constant_values=255)


def _row(t: Triplet, columns: int, gap: int) -> tuple[np.ndarray, list[tuple[int, str]]]:
    """One triplet as references | driving frames | target frames, and where each section starts (x, name)."""
    h, w = t.driving.frames.shape[1:3]
    picks = np.linspace(0, t.driving.frames.shape[0] - 1, columns).round().astype(int)
    sep = np.full((h, gap * 3, 3), 255, np.uint8)
    tiles = [*t.reference_images, sep, *t.driving.frames[picks], sep, *t.target.frames[picks]]
    row = np.concatenate([np.pad(x, ((0, 0), (0, gap), (0, 0)), constant_values=255) for x in tiles], axis=1)
    driving_x = len(t.reference_images) * (w + gap) + 4 * gap
    names = "references" if len(t.reference_images) > 1 else "reference"
    return row, [(0, names), (driving_x, "driving"), (driving_x + columns * (w + gap) + 4 * gap, "target")]


def _label_band(width: int, sections: list[tuple[int, str]]) -> np.ndarray:
    """A white band of height :data:`BAND` with each name written from its x; a name never overlaps the one before."""
    band = Image.new("RGB", (width, BAND), "white")
    draw, font, end = ImageDraw.Draw(band), ImageFont.load_default(), 0
    for x, name in sections:
        x = max(x, end + 12)
        draw.text((x, 2), name, fill="black", font=font)
        end = int(draw.textbbox((x, 2), name, font=font)[2])
    return np.asarray(band)


def contact_sheet(triplets: Sequence[Triplet], columns: int = 4, gap: int = 2, upscale: int = 2) -> np.ndarray:
    """One row per triplet (references | driving frames | target frames), each under a band naming the mode and
    the sections, so a reader knows which column is which; frames upscaled ``upscale`` times. (H, W, 3)."""
    rows = []
    for t in triplets:
        row, sections = _row(t, columns, gap)
        row = row.repeat(upscale, axis=0).repeat(upscale, axis=1)
        mode = [(0, f"mode: {t.mode}")]
        rows += [_label_band(row.shape[1], mode + [(x * upscale, name) for x, name in sections]), row]
    width = max(r.shape[1] for r in rows)
    return np.concatenate([np.pad(_pad(r, width), ((0, gap), (0, 0), (0, 0)), constant_values=255) for r in rows])


def write_preview(directory: str | os.PathLike, triplets: Sequence[Triplet], upscale: int = 2) -> list[Path]:
    """Write ``preview.png`` (contact sheet) and ``preview.gif`` (driving | target) into ``directory``."""
    directory = Path(directory)
    sheet = Image.fromarray(contact_sheet(triplets, upscale=upscale))
    with atomic_path(directory / "preview.png") as tmp:
        sheet.save(tmp, format="PNG")
    frames = []
    for i in range(min(t.driving.frames.shape[0] for t in triplets)):
        grid = np.concatenate([np.concatenate([t.driving.frames[i], t.target.frames[i]], axis=1) for t in triplets], axis=0)
        frames.append(Image.fromarray(grid).resize((grid.shape[1] * upscale, grid.shape[0] * upscale), Image.NEAREST))
    with atomic_path(directory / "preview.gif") as tmp:
        frames[0].save(tmp, format="GIF", save_all=True, append_images=frames[1:], duration=int(1000 / triplets[0].driving.fps), loop=0)
    return [directory / "preview.png", directory / "preview.gif"]
