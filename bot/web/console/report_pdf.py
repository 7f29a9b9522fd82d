"""The periodic report as a PDF a works council can be handed: a cover page, A4 with margins, text that wraps and
flows over pages (fpdf2), dates and numbers as the report's language writes them (Babel), and the charts.

Every figure comes from `ReportData` as `build_report` made it, written with the same words as the web page
(`shown_text`): a count that may not be published is "minder dan 5" in the tables and in the charts alike.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path

from babel.dates import format_date
from fpdf import FPDF
from fpdf.enums import XPos, YPos

from bot.reporting.report_charts import Bar, Line, count_bars, trend_lines
from bot.web.console.report import (
    MIN_SHOWN,
    ReportData,
    Shown,
    T,
    number,
    period_label,
    sessions_sentence,
    short_date,
    shown_text,
    total_text,
)

MARGIN = 20  # mm, all round
INK = (34, 34, 34)
MUTED = (90, 90, 90)
ACCENT = (47, 93, 98)


def _fonts() -> Path:
    import matplotlib as mpl

    return (
        Path(mpl.get_data_path()) / "fonts" / "ttf"
    )  # DejaVu Sans ships with matplotlib: no font to install


@dataclass(frozen=True, slots=True)
class _Words:
    t: T
    locale: str

    def long_date(self, day: date) -> str:
        return format_date(day, format="long", locale=self.locale)

    def short_date(self, day: date) -> str:
        return short_date(day, self.locale)


class _Document(FPDF):
    def __init__(self, running_title: str, words: _Words) -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        self.running_title = running_title
        self.words = words
        folder = _fonts()
        self.add_font("DejaVu", "", str(folder / "DejaVuSans.ttf"))
        self.add_font("DejaVu", "B", str(folder / "DejaVuSans-Bold.ttf"))
        self.add_font("DejaVu", "I", str(folder / "DejaVuSans-Oblique.ttf"))
        self.set_margins(MARGIN, MARGIN, MARGIN)
        self.set_auto_page_break(auto=True, margin=MARGIN + 5)
        self.set_text_color(*INK)

    def footer(self) -> None:
        if self.page_no() == 1:  # the cover carries no running footer
            return
        self.set_y(-MARGIN + 2)
        self.set_font("DejaVu", "", 8)
        self.set_text_color(*MUTED)
        page = self.words.t("console.report.page", page=self.page_no(), pages="{nb}")
        room = self.epw - self.get_string_width(page.replace("{nb}", "999")) - 6
        self.cell(room, 5, _fit(self, self.running_title, room), align="L")
        self.cell(0, 5, page, align="R")
        self.set_text_color(*INK)

    # --- building blocks -----------------------------------------------------------------------------------

    def heading(self, text: str, size: float = 15) -> None:
        if self.get_y() > self.h - MARGIN - 60:  # never a heading alone at the foot of a page
            self.add_page()
        self.ln(4)
        self.set_font("DejaVu", "B", size)
        self.set_text_color(*ACCENT)
        self.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.ln(2)

    def paragraph(
        self, text: str, size: float = 10.5, style: str = "", colour: tuple[int, int, int] = INK
    ) -> None:
        self.set_font("DejaVu", style, size)
        self.set_text_color(*colour)
        self.multi_cell(0, size * 0.5, text, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        self.set_text_color(*INK)
        self.ln(1.5)

    def figures(self, rows: list[tuple[str, str]], head: tuple[str, str]) -> None:
        self.set_font("DejaVu", "", 10)
        with self.table(
            col_widths=(3, 1),
            text_align=("LEFT", "RIGHT"),
            line_height=6,
            borders_layout="HORIZONTAL_LINES",
            headings_style=_headings_style(),
            cell_fill_color=(242, 245, 245),
            cell_fill_mode="ROWS",
        ) as table:
            table.row(list(head))
            for label, value in rows:
                table.row([label, value])
        self.ln(3)

    def chart(self, png: bytes) -> None:
        from io import BytesIO

        from PIL import Image

        with Image.open(BytesIO(png)) as image:
            height = self.epw * image.height / image.width
        if self.get_y() + height > self.h - MARGIN - 5:
            self.add_page()
        self.image(BytesIO(png), x=self.l_margin, w=self.epw)
        self.ln(3)


def _fit(pdf: FPDF, text: str, width: float) -> str:
    """`text`, shortened with an ellipsis where it would not fit in `width` (a long organisation name)."""
    if pdf.get_string_width(text) <= width:
        return text
    while text and pdf.get_string_width(text + "…") > width:
        text = text[:-1]
    return text.rstrip() + "…"


def _headings_style() -> object:
    from fpdf.fonts import FontFace

    return FontFace(family="DejaVu", emphasis="BOLD", color=ACCENT, fill_color=(255, 255, 255))


def report_pdf(data: ReportData, t: T, locale: str, generated: datetime) -> bytes:
    """The report as a PDF; text stays text, so it can be searched, copied and read aloud."""
    words = _Words(t, locale)
    period = period_label(data.period, t)
    title = t("console.report.pdf_title", organisation=data.organisation.name, period=period)
    pdf = _Document(title, words)
    pdf.set_title(title)
    pdf.set_creator("vipbot")
    pdf.set_producer("vipbot")
    pdf.set_lang(locale)
    pdf.set_creation_date(generated)
    _cover(pdf, data, words, generated)
    pdf.add_page()
    _prevention(pdf, data, words)
    _check_ins(pdf, data, words)
    _conversations(pdf, data, words)
    _notes(pdf, data, words)
    return bytes(pdf.output())


def _cover(pdf: _Document, data: ReportData, words: _Words, generated: datetime) -> None:
    t = words.t
    pdf.add_page()
    pdf.set_fill_color(*ACCENT)
    pdf.rect(0, 0, pdf.w, 12, style="F")
    pdf.set_fill_color(255, 255, 255)
    pdf.set_y(70)
    pdf.set_font("DejaVu", "B", 26)
    pdf.set_text_color(*ACCENT)
    pdf.multi_cell(0, 12, t("console.report.cover_title"), align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(4)
    pdf.set_font("DejaVu", "", 18)
    pdf.set_text_color(*INK)
    pdf.multi_cell(0, 9, data.organisation.name, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
    pdf.ln(14)
    last_day = data.period.end - timedelta(days=1)
    counsellors = ", ".join(data.counsellors) or t("console.report.no_counsellor")
    rows = (
        (t("console.report.cover_organisation"), data.organisation.name),
        (
            t("console.report.cover_period"),
            f"{period_label(data.period, t)}\n"
            + t(
                "console.report.period_range",
                start=words.long_date(data.period.start),
                end=words.long_date(last_day),
            ),
        ),
        (t("console.report.cover_counsellor", count=max(1, len(data.counsellors))), counsellors),
    )
    pdf.set_font("DejaVu", "B", 11)
    label_width = max(pdf.get_string_width(label) for label, _ in rows) + 6
    for label, value in rows:
        pdf.set_font("DejaVu", "B", 11)
        pdf.cell(label_width, 7, label)
        pdf.set_font("DejaVu", "", 11)
        pdf.multi_cell(0, 7, value, align="L", new_x=XPos.LMARGIN, new_y=YPos.NEXT)
        pdf.ln(2)
    pdf.set_y(pdf.h - MARGIN - 55)
    pdf.set_draw_color(*ACCENT)
    pdf.line(pdf.l_margin, pdf.get_y(), pdf.w - pdf.r_margin, pdf.get_y())
    pdf.ln(4)
    pdf.paragraph(t("console.report.about_title"), size=10, style="B")
    pdf.paragraph(t("console.report.about", n=MIN_SHOWN), size=9.5)
    pdf.paragraph(
        t("console.report.generated", date=words.long_date(generated.date())), size=8.5, colour=MUTED
    )


def _prevention(pdf: _Document, data: ReportData, words: _Words) -> None:
    t, locale = words.t, words.locale
    pdf.heading(t("console.report.prevention"))
    rows = [(a.label, number(a.count or 0, locale)) for a in data.activity]
    rows.append((t("console.report.activity.signups"), number(data.signups, locale)))
    pdf.figures(rows, (t("console.report.what"), t("console.report.how_many")))
    pdf.paragraph(sessions_sentence(data, t))
    values = [a.count or 0 for a in data.activity] + [data.signups]
    if not any(values) and not data.sessions_held:
        pdf.paragraph(t("console.report.nothing_sent"), style="I", colour=MUTED)
        return
    labels = [a.label for a in data.activity] + [t("console.report.activity.signups")]
    bars = [Bar(label, value, number(value, locale)) for label, value in zip(labels, values, strict=True)]
    pdf.chart(count_bars(bars, t("console.report.axis_count"), MIN_SHOWN, lambda n: number(n, locale)))


def _check_ins(pdf: _Document, data: ReportData, words: _Words) -> None:
    t, locale = words.t, words.locale
    pdf.heading(t("console.report.pulse_trends"))
    if not data.trends:
        pdf.paragraph(t("console.report.no_trends"), style="I", colour=MUTED)
        return
    for trend in data.trends:
        points = " · ".join(
            f"{words.short_date(d)}: "
            + (f"{number(round(v * 100), locale)}%" if v is not None else t("console.insights.hidden"))
            for d, v in trend.points
        )
        pdf.paragraph(f"{trend.pulse}: {points}")
    lines = [Line(trend.pulse, trend.points) for trend in data.trends]
    if max(sum(v is not None for _, v in trend.points) for trend in data.trends) < 2:
        return  # one point is no trend: the line above says it all
    pdf.chart(trend_lines(lines, t("console.report.axis_favourable"), words.short_date))


def _conversations(pdf: _Document, data: ReportData, words: _Words) -> None:
    t, locale = words.t, words.locale
    pdf.heading(t("console.report.conversations"))
    pdf.paragraph(t("console.report.conversations_total", count=total_text(data, t, locale)), style="B")
    pdf.paragraph(t("console.report.small_counts", n=MIN_SHOWN), size=9, colour=MUTED)
    if not data.categories:
        pdf.paragraph(t("console.report.too_few_conversations"), style="I", colour=MUTED)
        return
    for heading, values in (
        ("console.report.by_category", data.categories),
        ("console.report.by_contact_type", data.contact_types),
        ("console.report.by_follow_up", data.follow_ups),
    ):
        if values:
            pdf.heading(t(heading), size=12)
            if values is data.categories:  # every subject drawn, the unpublished ones as "minder dan 5"
                chart = count_bars(
                    _bars(values, t, locale),
                    t("console.report.axis_count"),
                    MIN_SHOWN,
                    lambda n: number(n, locale),
                )
                pdf.chart(chart)
            pdf.figures(
                [(v.label, shown_text(v, t, locale)) for v in values],
                (t("console.report.what"), t("console.report.how_many")),
            )


def _bars(values: tuple[Shown, ...], t: T, locale: str) -> list[Bar]:
    return [Bar(v.label, v.count, shown_text(v, t, locale)) for v in values]


def _notes(pdf: _Document, data: ReportData, words: _Words) -> None:
    t = words.t
    pdf.add_page()
    pdf.heading(t("console.report.notes_title"))
    for heading, text in (
        ("console.report.signals", data.note.signals),
        ("console.report.advice", data.note.advice),
    ):
        pdf.heading(t(heading), size=12)
        if not text:
            pdf.paragraph(t("console.report.nothing_written"), style="I", colour=MUTED)
            continue
        for para in text.split("\n"):
            if para.strip():
                pdf.paragraph(para.strip())
            else:
                pdf.ln(2)
