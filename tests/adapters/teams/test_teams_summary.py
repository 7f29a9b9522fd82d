"""The management summary card on Teams: the group tree keeps its indentation, the chart keeps its colours when it
is reduced to 16 colours to travel inside the card, its labels are legible at the card's width, a hidden group has
no bar, and the message has a summary and passes `adaptivecards`."""

from __future__ import annotations

import base64
import io
import uuid
from datetime import datetime, timedelta

from PIL import Image, ImageDraw

from bot.adapters.teams.gateway import encoded
from bot.adapters.teams.posts import teams_renderers
from bot.adapters.teams.pulses import ADDRESSING, MAX_INLINE_IMAGE, MESSAGE_LIMIT, small_png
from bot.catalog import ContentLibrary
from bot.domain.aggregation import Insights, Release, RoundInput, build_release, insights_from
from bot.domain.delivery import Attachment
from bot.domain.insights import hidden_explanation, summary_groups, summary_heading, trend_line
from bot.domain.privacy import EPSILON_PER_PERIOD
from bot.domain.pulses import ManagementSummaryPost
from bot.domain.summary import SummaryGroup
from bot.domain.tenancy import Group, GroupKind, GroupTree
from bot.reporting.charts import chart_attachment
from tests.adapters.teams.chart_measure import TEAMS_CARD_WIDTH, text_heights
from tests.doubles.card_check import card_problems, entries_of_activity
from tests.pulses.simulation import SeededLaplace

BLUE = (0x2F, 0x6F, 0x8F)
ORANGE = (0xD1, 0x77, 0x3B)


def chart_like_png() -> bytes:
    """Two thin coloured trend lines over a wide field of greys, as antialiased labels and grid lines leave."""
    image = Image.new("RGB", (1100, 500), "white")
    draw = ImageDraw.Draw(image)
    for x in range(1100):
        for y in range(0, 300, 3):
            grey = 120 + (x * 7 + y) % 130
            draw.point((x, y), fill=(grey, grey, min(255, grey + x % 5)))
    draw.line([(0, 400), (1100, 350)], fill=BLUE, width=2)
    draw.line([(0, 450), (1100, 380)], fill=ORANGE, width=2)
    out = io.BytesIO()
    image.save(out, format="PNG")
    return out.getvalue()


def pixels_near(png: bytes, colour: tuple[int, int, int], tolerance: int = 40) -> int:
    image = Image.open(io.BytesIO(png)).convert("RGB")
    counted = image.getcolors(maxcolors=image.width * image.height) or []
    return sum(n for n, c in counted if all(abs(a - b) <= tolerance for a, b in zip(c, colour, strict=True)))


def test_the_reduced_chart_keeps_blue_and_orange() -> None:
    reduced = small_png(chart_like_png())
    with Image.open(io.BytesIO(reduced)) as image:
        assert image.mode == "P"
        assert len(image.getcolors() or []) <= 16
    assert pixels_near(reduced, BLUE) > 500
    assert pixels_near(reduced, ORANGE) > 500


def test_the_summary_card_keeps_the_tree_and_passes_adaptivecards(content: ContentLibrary) -> None:
    post = ManagementSummaryPost(
        title="Wekelijkse check-in <week 10> & meer",
        heading="Wekelijkse check-in, 2026-03 (één ronde)",
        groups=(
            SummaryGroup(0, "Zorg & Welzijn  72 % ± 6"),
            SummaryGroup(1, "  Zorg Noord  70 % ± 9", "Zorg & Welzijn"),
            SummaryGroup(2, "    Team Noord  verborgen", "Zorg Noord"),
        ),
        trend=None,
        hidden_explanation="Groepen met minder dan 5 antwoorden worden niet getoond.",
        chart=Attachment("chart.png", "image/png", chart_like_png()),
    )
    renderer = teams_renderers(content.translator)
    (rendered,) = renderer.render_parts(post, "nl")  # a small organisation: one message
    (card,) = [a["content"] for a in rendered.payload["attachments"]]  # type: ignore[attr-defined]
    texts = [e.get("text", "") for e in card["body"] if e["type"] == "TextBlock"]
    assert "\u00a0\u00a0Zorg Noord  70 % ± 9" in texts
    assert "\u00a0\u00a0\u00a0\u00a0Team Noord  verborgen" in texts
    (image,) = [e for e in card["body"] if e["type"] == "Image"]
    png = base64.b64decode(image["url"].split(",", 1)[1])
    assert pixels_near(png, BLUE) > 0
    assert card_problems(entries_of_activity("summary", rendered.payload)) == []


def management_insights(content: ContentLibrary, more_teams: int = 0) -> Insights:
    """Three months of check-ins: the organisation and a department (two trend lines), a team with figures, one
    with only a band and one hidden (too few respondents); `more_teams` with figures besides."""
    checkin = content.catalog.pulse_set("wekelijkse-check-in")
    assert checkin is not None
    org = uuid.UUID(int=7)
    root = Group(uuid.uuid4(), org, None, GroupKind.ORGANISATION, "org", "Zorggroep De Linde")
    dept = Group(uuid.uuid4(), org, root.id, GroupKind.DEPARTMENT, "zorg", "Zorg & Welzijn")
    names = [("noord", "Team Noord"), ("zuid", "Team Zuid"), ("klein", "Team Klein")]
    names += [(f"team-{i}", f"Team nummer {i}") for i in range(more_teams)]
    teams = [Group(uuid.uuid4(), org, dept.id, GroupKind.TEAM, slug, name) for slug, name in names]
    tree = GroupTree((root, dept, *teams))
    people = {teams[0].id: 30, teams[1].id: 7, teams[2].id: 3} | {t.id: 25 for t in teams[3:]}

    def month(period: str, seed: int) -> Release:
        start = datetime.fromisoformat(f"{period}-05T09:00:00+00:00")
        counts = {
            group: {q.id: {"4" if q.kind.value == "likert" else "goed": n} for q in checkin.questions}
            for group, n in people.items()
        }
        rounds = [RoundInput(uuid.uuid4(), start, start, tree, counts)]
        return build_release(
            checkin, period, rounds, EPSILON_PER_PERIOD, SeededLaplace(seed), start + timedelta(days=30)
        )

    return insights_from(checkin, [month(p, i) for i, p in enumerate(("2026-01", "2026-02", "2026-03"))])


def summary_post(content: ContentLibrary, insights: Insights) -> ManagementSummaryPost:
    t = content.translator
    return ManagementSummaryPost(
        title="Check-in",
        heading=summary_heading(insights, t, "nl"),
        groups=tuple(summary_groups(insights, t, "nl")),
        trend=trend_line(insights, t, "nl"),
        hidden_explanation=hidden_explanation(insights, t, "nl"),
        chart=chart_attachment(insights, t, "nl"),
    )


def summary_png(content: ContentLibrary, insights: Insights) -> bytes:
    """The chart as the Teams card carries it (reduced to 16 colours to travel inside the card)."""
    messages = teams_renderers(content.translator).render_parts(summary_post(content, insights), "nl")
    cards = [a["content"] for m in messages for a in m.payload["attachments"]]  # type: ignore[attr-defined]
    (image,) = [e for c in cards for e in c["body"] if e["type"] == "Image"]  # the chart, once
    assert image["size"] == "Stretch"  # shown at the card's width, whatever its pixel width
    entries = [e for n, m in enumerate(messages) for e in entries_of_activity(f"summary {n}", m.payload)]
    assert card_problems(entries) == []
    for message in messages:  # Teams refuses larger bot messages
        assert len(encoded(message.payload)) + ADDRESSING <= MESSAGE_LIMIT
    return base64.b64decode(image["url"].split(",", 1)[1])


def test_the_chart_s_labels_are_legible_at_card_width(content: ContentLibrary) -> None:
    """Measured in the PNG the card carries, scaled to a Teams card's width: capitals and digits at least 8 px
    tall, lower-case letters at least 5 px (drawn 1,100 px wide with 7-point labels they were 4 px and 3 px)."""
    heights = text_heights(summary_png(content, management_insights(content)))
    assert heights.glyphs > 100
    assert heights.tall >= 8.0, heights
    assert heights.median >= 5.0, heights


def test_a_chart_of_many_groups_stays_card_wide(content: ContentLibrary) -> None:
    """24 groups: the chart shows the first 16 (the text lists them all), 8 colours rather than fewer pixels, so
    the image is not narrower than the card it is stretched to (drawn for 24 rows it came out 307 px wide, its
    lower-case letters 3 px tall at the card's width)."""
    insights = management_insights(content, more_teams=19)
    png = summary_png(content, insights)
    assert len(png) <= MAX_INLINE_IMAGE
    with Image.open(io.BytesIO(png)) as image:
        assert image.width >= TEAMS_CARD_WIDTH
    heights = text_heights(png)
    assert heights.median >= 4.5, heights
    texts, bars = groups_panel(insights, content)
    assert len(bars) + texts.count("(verborgen)") == 16


def test_hidden_groups_have_no_bar_and_both_trend_lines_keep_their_colour(content: ContentLibrary) -> None:
    insights = management_insights(content)
    latest = insights.latest
    assert latest is not None
    hidden = [c for c in latest.cells if c.index is None and c.band is None]
    assert [c.group.name for c in hidden] == ["Team Klein"]
    png = summary_png(content, insights)
    # Both trend lines keep their own colour after the reduction to 16 colours.
    assert pixels_near(png, ORANGE) > 100
    assert pixels_near(png, BLUE) > 100
    # The hidden team's row: its label and the word "verborgen", but not one pixel of a bar (bars are blue).
    with Image.open(io.BytesIO(png)) as opened:
        image = opened.convert("RGB")
    rows = bar_rows(image)
    assert len(rows) == 4  # organisation, department, Team Noord (figures), Team Zuid (band): not Team Klein
    texts, bars = groups_panel(insights, content)
    assert "(verborgen)" in texts
    assert len(bars) == 4  # nothing drawn for the hidden group: no bar, no hatching, no length


def bar_rows(image: Image.Image) -> list[tuple[int, int]]:
    """The bands of rows of the lower panel in which a bar is drawn: rows with a run of at least 20 blue pixels."""
    width, height = image.size
    pixels = image.load()
    assert pixels is not None
    start = height // 2  # the trend (with its blue line) is the upper panel
    with_bar = []
    for y in range(start, height):
        run = best = 0
        for x in range(width):
            colour = pixels[x, y]
            bluish = colour[2] - colour[0] >= 40  # type: ignore[index]  # the bars' blue, solid or pale (a band)
            run = run + 1 if bluish else 0
            best = max(best, run)
        with_bar.append(best >= 20)
    bands: list[tuple[int, int]] = []
    for offset, present in enumerate(with_bar):
        if present and (not bands or bands[-1][1] != start + offset - 1):
            bands.append((start + offset, start + offset))
        elif present:
            bands[-1] = (bands[-1][0], start + offset)
    return [b for b in bands if b[1] - b[0] >= 4]


def groups_panel(insights: Insights, content: ContentLibrary) -> tuple[list[str], list[object]]:
    """The texts and the bars (rectangles) of the chart's groups panel."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure
    from matplotlib.patches import Rectangle

    from bot.reporting.charts import _groups

    figure = Figure()
    FigureCanvasAgg(figure)
    ax = figure.subplots()
    _groups(ax, insights, content.translator, "nl")
    title = ax.get_title()
    return [text.get_text() for text in ax.texts] + [title], [
        p for p in ax.patches if isinstance(p, Rectangle)
    ]
