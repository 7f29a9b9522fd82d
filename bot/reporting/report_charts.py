"""The charts of the periodic report, drawn from figures that may already be published (nothing else reaches here).

Counts get whole-number axes that start at 0 and never collapse to −0.04…0.04; a count that is not published is
drawn as a hatched bar up to the floor, labelled as on the web page ("minder dan 5"), never left out. matplotlib is
imported lazily, with the Agg backend, and no global pyplot state is used.
"""

from __future__ import annotations

import io
import math
import textwrap
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

SHOWN = "#2f5d62"
HIDDEN = "#d9d9d9"
LINE_COLOURS = ("#2f5d62", "#d1773b", "#5b9a5b", "#8a5fa8", "#b8475d", "#6b6b6b")
WIDTH_INCHES = 6.7  # the text width of an A4 page with 20 mm margins
DPI = 200
LABEL_WIDTH = 34  # characters of a bar's label per line


@dataclass(frozen=True, slots=True)
class Bar:
    label: str
    value: int | None  # None: not published
    text: str  # the value as the report writes it ("12", "minder dan 5")


@dataclass(frozen=True, slots=True)
class Line:
    label: str
    points: tuple[tuple[date, float | None], ...]  # share 0..1, None where hidden


def count_bars(bars: Sequence[Bar], axis_label: str, floor: int, write: Callable[[int], str]) -> bytes:
    """Horizontal bars of counts; an unpublished one is a hatched bar up to `floor` with its text. `write`
    writes a whole number as the report's language does (the axis says 1.200 where the table says 1.234)."""
    return _png(count_figure(bars, axis_label, floor, write))


def count_figure(bars: Sequence[Bar], axis_label: str, floor: int, write: Callable[[int], str]) -> Figure:
    from matplotlib.figure import Figure
    from matplotlib.ticker import FuncFormatter, MaxNLocator

    labels = [
        textwrap.fill(b.label, LABEL_WIDTH) for b in bars
    ]  # a long subject takes two lines, not half the page
    rows = sum(max(1, label.count("\n") + 0.6) for label in labels)
    figure = Figure(figsize=(WIDTH_INCHES, 0.9 + 0.38 * rows), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    ys = list(range(len(bars)))[::-1]
    top = max(
        [b.value for b in bars if b.value is not None] + [floor if any(b.value is None for b in bars) else 1]
    )
    for y, bar in zip(ys, bars, strict=True):
        if bar.value is None:
            ax.barh(y, floor, color=HIDDEN, hatch="///", edgecolor="#9a9a9a", linewidth=0)
            ax.text(floor + top * 0.02, y, bar.text, va="center", fontsize=8, color="#444444")
        else:
            ax.barh(y, bar.value, color=SHOWN)
            ax.text(bar.value + top * 0.02, y, bar.text, va="center", fontsize=8)
    ax.set_yticks(ys, labels, fontsize=8)
    ax.set_xlim(0, max(1, math.ceil(top * 1.3)))
    ax.xaxis.set_major_locator(MaxNLocator(integer=True, min_n_ticks=1))
    ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _position: write(round(value))))
    ax.set_xlabel(axis_label, fontsize=8)
    ax.tick_params(axis="x", labelsize=8)
    _tidy(ax)
    return figure


def trend_lines(lines: Sequence[Line], axis_label: str, date_label: Callable[[date], str]) -> bytes:
    """The organisation's favourable share per round, one line per check-in; `date_label(d)` writes a date."""
    from matplotlib.figure import Figure

    figure = Figure(figsize=(WIDTH_INCHES, 2.4), dpi=DPI, layout="constrained")
    ax = figure.subplots()
    days = sorted({d for line in lines for d, _ in line.points})
    position = {d: i for i, d in enumerate(days)}
    for colour, line in zip(LINE_COLOURS, lines, strict=False):
        xs = [position[d] for d, _ in line.points]
        ys = [v * 100 if v is not None else float("nan") for _, v in line.points]
        ax.plot(xs, ys, marker="o", color=colour, label=line.label)
    ax.set_xticks(range(len(days)), [date_label(d) for d in days], fontsize=8)
    ax.set_xlim(-0.5, max(0.5, len(days) - 0.5))
    ax.set_ylim(0, 100)
    ax.set_ylabel(axis_label, fontsize=8)
    ax.tick_params(axis="y", labelsize=8)
    ax.grid(axis="y", alpha=0.3)
    ax.legend(fontsize=8, loc="lower left")
    _tidy(ax)
    return _png(figure)


def _tidy(ax: Axes) -> None:
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _png(figure: Figure) -> bytes:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    FigureCanvasAgg(figure)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()
