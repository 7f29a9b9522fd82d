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
HIDDEN = "#c9c9c9"
LINE_COLOURS = ("#2f6f8f", "#d1773b", "#5b9a5b", "#8a5fa8", "#b8475d", "#6b6b6b")
MAX_TREND_LINES = 6


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
        ax.plot(xs, ys, marker="o", color=colour, label=group.name)
    ax.set_xticks(xs, months, rotation=45, fontsize=7)
    ax.set_ylim(0, 100)
    ax.set_ylabel(t.t(locale, "insights.chart_axis"))
    ax.set_title(t.t(locale, "insights.chart_trend"), fontsize=10)
    ax.legend(fontsize=7, loc="lower left")
    ax.grid(axis="y", alpha=0.3)


def _groups(ax: Axes, insights: Insights, t: Translator, locale: str) -> None:
    cells = chart_groups(insights)
    names = [("  " * c.depth) + c.group.name for c in cells]
    ys = list(range(len(cells)))[::-1]
    hidden_label = t.t(locale, "insights.chart_hidden")
    for y, cell in zip(ys, cells, strict=True):
        if cell.index is not None:
            margin = cell.margin or 0.0
            ax.barh(y, cell.index * 100, color=SHOWN, xerr=margin, ecolor="#444444", capsize=2)
            label = f"{round(cell.index * 100)}% ± {max(1, round(margin))}"
            ax.text(min(100.0, cell.index * 100 + margin) + 1, y, label, va="center", fontsize=7)
        elif cell.band is not None:
            low, high = cell.band
            ax.barh(y, high - low, left=low, color=SHOWN, alpha=0.45)
            ax.text(high + 1, y, f"{low}–{high}%", va="center", fontsize=7)
        else:
            ax.barh(y, 100, color=HIDDEN, hatch="//", edgecolor="white")
            ax.text(2, y, hidden_label, va="center", fontsize=7, color="#444444")
    ax.set_yticks(ys, names, fontsize=7)
    ax.set_xlim(0, 125)
    ax.set_xlabel(t.t(locale, "insights.chart_axis"))
    ax.set_title(t.t(locale, "insights.chart_groups"), fontsize=10)


def render_chart(insights: Insights, t: Translator, locale: str) -> bytes:
    """A PNG of the trend and the latest round per group."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    rows = max(4, len(chart_groups(insights)))
    figure = Figure(figsize=(11, 2 + rows * 0.28), dpi=100, layout="constrained")
    FigureCanvasAgg(figure)
    left, right = figure.subplots(1, 2, gridspec_kw={"width_ratios": [1, 1]})
    figure.suptitle(t.t(locale, "insights.chart_title", pulse=insights.pulse_set.name.in_locale(locale)))
    _trend(left, insights, t, locale)
    _groups(right, insights, t, locale)
    out = io.BytesIO()
    figure.savefig(out, format="png", metadata={"Software": None})
    return out.getvalue()


def chart_attachment(insights: Insights, t: Translator, locale: str) -> Attachment:
    latest = insights.latest
    stamp = f"-{latest.period}" if latest else ""
    return Attachment(
        f"check-in-{insights.pulse_set.id}{stamp}.png", "image/png", render_chart(insights, t, locale)
    )
