"""Measuring a chart as a reader sees it: the PNG scaled to the width it is shown at, its text found by colour.

The chart draws its text in pure black and nothing else in black (bot/reporting/charts.py: TEXT), so the dark
neutral pixels of the PNG are text. Each connected run of them is a glyph (or a few glyphs run together); the
heights of those, at the display width, are the heights a reader's eye gets.
"""

from __future__ import annotations

import io
import statistics
from dataclasses import dataclass

from PIL import Image

TEAMS_CARD_WIDTH = 450  # px: an Adaptive Card in a Teams chat on a laptop screen


@dataclass(frozen=True)
class TextHeights:
    glyphs: int
    median: float  # px at the display width: about the x-height
    tall: float  # 90th percentile: capitals, digits and ascenders


def text_heights(png: bytes, display_width: int = TEAMS_CARD_WIDTH) -> TextHeights:
    with Image.open(io.BytesIO(png)) as opened:
        image = opened.convert("RGB")
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    dark = {
        (x, y)
        for y in range(height)
        for x in range(width)
        if max(pixels[x, y]) <= 80 and max(pixels[x, y]) - min(pixels[x, y]) <= 16  # type: ignore[arg-type]
    }
    heights: list[int] = []
    while dark:
        stack = [dark.pop()]
        top = bottom = stack[0][1]
        while stack:
            x, y = stack.pop()
            top, bottom = min(top, y), max(bottom, y)
            for dx in (-1, 0, 1):
                for dy in (-1, 0, 1):
                    if (x + dx, y + dy) in dark:
                        dark.remove((x + dx, y + dy))
                        stack.append((x + dx, y + dy))
        if bottom - top + 1 >= 2:  # a dot or a speck of antialiasing is no glyph
            heights.append(bottom - top + 1)
    scale = display_width / width
    tall = statistics.quantiles(heights, n=10)[-1]
    return TextHeights(len(heights), statistics.median(heights) * scale, tall * scale)
