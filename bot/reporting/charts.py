"""The chart that goes with a management summary: the trend per period and the latest period per group.

Drawn from an `Insights` value only (the output of the one anonymity path), so a hidden group can only ever be
drawn as hidden. matplotlib is imported lazily, with the Agg backend, and no global pyplot state is used.
"""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

from bot.domain.aggregation import Insights
from bot.domain.delivery import Attachment
from bot.domain.i18n import Translator
from bot.domain.insights import chart_groups, monthly_trend
from bot.domain.tenancy import GroupKind

if TYPE_CHECKING:
    from matplotlib.axes import Axes

SHOWN = "#2f6f8f"
# Text only: lines, spines and error bars are lighter, so the text can be told apart in the PNG.
TEXT = "#000000"
FRAME = "#8a8a8a"
LINE_COLOURS = ("#2f6f8f", "#d1773b", "#5b9a5b", "#8a5fa8", "#b8475d", "#6b6b6b")
MAX_TREND_LINES = 6

# The chart is shown at the width of a chat message: a Teams card (about 450 px on a laptop) or a Slack preview.
# It is drawn for that width — one panel above the other, 600 px wide, labels at 12 pt (16 px, so about 12 px
# at 450 px) — rather than drawn wide and shrunk until its labels are a few pixels tall.
WIDTH_INCHES = 6.0
DPI = 100
LABEL_SIZE = 12
TITLE_SIZE = 13
ROW_INCHES = 0.42
DENSE_ROW_INCHES = 0.32  # beyond DENSE_FROM groups: the labels stay the same size, the rows closer together
DENSE_FROM = 12
# Groups drawn at most: more would not fit in a chat message at a legible size. The organisation and departments
# come first; the summary's text beside the chart lists every group.
MAX_GROUPS = 16


def _trend(ax: Axes, insights: Insights, t: Translator, locale: str) -> None:
    latest = insights.latest
    if latest is None:
        return
    groups = [c.group for c in latest.cells if c.group.kind in {GroupKind.ORGANISATION, GroupKind.DEPARTMENT}]
    months = [period for period, _ in monthly_trend(insights, latest.cells[0].group.id)]
    xs = list(range(len(months)))
    for colour, group in zip(LINE_COLOURS, groups[:MAX_TREND_LINES], strict=False):
        values = [v for _, v in monthly_trend(insights, group.id)]
        # NaN where a month was not published: matplotlib leaves a gap there instead of drawing across it
        ys = [v * 100 if v is not None else float("nan") for v in values]
        # Lines thick enough to keep their colour when the chart is reduced to a few colours for a card.
        ax.plot(xs, ys, marker="o", color=colour, linewidth=2.5, markersize=6, label=group.name)
    ax.set_xticks(xs, months, rotation=45, ha="right")
    ax.set_ylim(0, 100)
    ax.set_ylabel(t.t(locale, "insights.chart_axis"))
    ax.set_title(t.t(locale, "insights.chart_trend"), fontsize=TITLE_SIZE, color=TEXT)
    ax.legend(loc="lower left", labelcolor=TEXT, framealpha=0.8, fontsize=LABEL_SIZE)
    ax.grid(axis="y", alpha=0.3)


def _groups(ax: Axes, insights: Insights, t: Translator, locale: str) -> None:
    cells = chart_groups(insights, MAX_GROUPS)
    # no-break spaces: matplotlib keeps them, so the group tree keeps its indentation
    names = [("\u00a0\u00a0\u00a0" * c.depth) + c.group.name for c in cells]
    ys = list(range(len(cells)))[::-1]
    hidden_label = t.t(locale, "insights.chart_hidden")
    for y, cell in zip(ys, cells, strict=True):
        if cell.index is not None:
            margin = cell.margin or 0.0
            ax.barh(y, cell.index * 100, color=SHOWN, xerr=margin, ecolor=FRAME, capsize=3, height=0.6)
            label = f"{round(cell.index * 100)}% ± {max(1, round(margin))}"
            ax.text(
                min(100.0, cell.index * 100 + margin) + 1.5,
                y,
                label,
                va="center",
                color=TEXT,
                fontsize=LABEL_SIZE,
            )
        elif cell.band is not None:
            low, high = cell.band
            ax.barh(y, high - low, left=low, color=SHOWN, alpha=0.45, height=0.6)
            ax.text(high + 1.5, y, f"{low}–{high}%", va="center", color=TEXT, fontsize=LABEL_SIZE)
        else:
            # No bar at all: a bar of any length (a full grey one read as 100 %) would say something about the
            # group. Only the word, in the place where a value would start.
            ax.text(1.5, y, f"({hidden_label})", va="center", style="italic", color=TEXT, fontsize=LABEL_SIZE)
    ax.set_yticks(ys, names)
    ax.set_ylim(-0.7, len(cells) - 0.3)
    ax.set_xlim(0, 130)
    ax.set_xticks([0, 25, 50, 75, 100])
    ax.set_xlabel(t.t(locale, "insights.chart_axis"))
    cut = len(chart_groups(insights, MAX_GROUPS + 1)) > MAX_GROUPS
    title = (
        t.t(locale, "insights.chart_groups_first", count=len(cells))
        if cut
        else t.t(locale, "insights.chart_groups")
    )
    ax.set_title(title, fontsize=TITLE_SIZE, color=TEXT)


def render_chart(insights: Insights, t: Translator, locale: str) -> bytes:
    """A PNG of the trend (above) and the latest round per group (below), drawn for the width of a chat message."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = max(3, len(chart_groups(insights, MAX_GROUPS)))
    row = ROW_INCHES if rows <= DENSE_FROM else DENSE_ROW_INCHES
    figure = Figure(figsize=(WIDTH_INCHES, 5.2 + rows * row), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    top, bottom = figure.subplots(2, 1, gridspec_kw={"height_ratios": [3.2, 1.2 + rows * row]})
    figure.suptitle(
        t.t(locale, "insights.chart_title", pulse=insights.pulse_set.name.in_locale(locale)),
        fontsize=TITLE_SIZE,
        fontweight="bold",
        color=TEXT,
    )
    _trend(top, insights, t, locale)
    _groups(bottom, insights, t, locale)
    for ax in (top, bottom):  # set on each element: rcParams are global, and charts are drawn in threads
        ax.tick_params(labelsize=LABEL_SIZE, labelcolor=TEXT, color=FRAME)
        ax.xaxis.label.set(fontsize=LABEL_SIZE, color=TEXT)
        ax.yaxis.label.set(fontsize=LABEL_SIZE, color=TEXT)
        for spine in ax.spines.values():
            spine.set_edgecolor(FRAME)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def chart_attachment(insights: Insights, t: Translator, locale: str) -> Attachment:
    latest = insights.latest
    stamp = f"-{latest.period}" if latest else ""
    return Attachment(
        f"check-in-{insights.pulse_set.id}{stamp}.png", "image/png", render_chart(insights, t, locale)
    )
