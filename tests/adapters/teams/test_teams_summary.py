"""The management summary card on Teams: the group tree keeps its indentation, the chart keeps its colours when it
is reduced to 16 colours to travel inside the card, and the message has a summary and passes `adaptivecards`."""

from __future__ import annotations

import base64
import io

from PIL import Image, ImageDraw

from bot.adapters.teams.posts import teams_renderers
from bot.adapters.teams.pulses import small_png
from bot.catalog import ContentLibrary
from bot.domain.delivery import Attachment
from bot.domain.pulses import ManagementSummaryPost
from tests.doubles.card_check import card_problems, entries_of_activity

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
        lines=("Zorg & Welzijn  72 % ± 6", "  Zorg Noord  70 % ± 9", "    Team Noord  verborgen"),
        hidden_explanation="Groepen met minder dan 5 antwoorden worden niet getoond.",
        chart=Attachment("chart.png", "image/png", chart_like_png()),
    )
    renderer = teams_renderers(content.translator)
    rendered = renderer.render(post, "nl")
    (card,) = [a["content"] for a in rendered.payload["attachments"]]  # type: ignore[attr-defined]
    texts = [e.get("text", "") for e in card["body"] if e["type"] == "TextBlock"]
    assert "\u00a0\u00a0Zorg Noord  70 % ± 9" in texts
    assert "\u00a0\u00a0\u00a0\u00a0Team Noord  verborgen" in texts
    (image,) = [e for e in card["body"] if e["type"] == "Image"]
    png = base64.b64decode(image["url"].split(",", 1)[1])
    assert pixels_near(png, BLUE) > 0
    assert card_problems(entries_of_activity("summary", rendered.payload)) == []
