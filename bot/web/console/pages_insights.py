"""Insights (the management summary's numbers, through the one anonymity path, with charts) and the periodic
report (page and PDF). Management viewers reach these pages for their own organisation and nothing else."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass

from aiohttp import web
from markupsafe import Markup, escape

from bot.domain.accounts import Account, Role
from bot.domain.aggregation import Cell, Insights, insights_from
from bot.domain.i18n import Translator
from bot.domain.insights import chart_groups, hidden_explanation, monthly_trend, summary_lines
from bot.domain.tenancy import Organisation
from bot.storage.console_content import ReportNote, SqlConsoleContent
from bot.storage.pulses import SqlPulseStore, master_key_from
from bot.usecases.audit import AuditAction
from bot.web.console.auth import console_of, organisation_for
from bot.web.console.cache import Expiring, Lru
from bot.web.console.pages_auth import see_other
from bot.web.console.report import (
    MIN_SHOWN,
    Period,
    ReportData,
    T,
    build_report,
    number,
    period_label,
    sessions_sentence,
    short_date,
    shown_text,
    total_text,
)
from bot.web.shared.templates import TEMPLATES, Fragment, render, request_locale, translate

NOTE_MAX = 8000


@dataclass(frozen=True, slots=True)
class PulseView:
    title: str
    lines: tuple[str, ...]
    hidden: str
    groups_chart: Markup
    trend_chart: Markup
    table: tuple[tuple[str, int, str, str], ...]  # group, depth, index (± margin, or band), answers
    questions: tuple[QuestionTable, ...] = ()


@dataclass(frozen=True, slots=True)
class QuestionTable:
    """Per question, for one group shown in full: favourable share ± margin, mean ± margin, distribution."""

    group: str
    rows: tuple[tuple[str, str, str, str], ...]


def _bar_chart(insights: Insights, hidden_label: str, title: str) -> Markup:
    cells = chart_groups(insights)
    row, width, label_w = 22, 560, 220
    height = row * len(cells) + 10
    parts = [
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, cell in enumerate(cells):
        y = i * row + 4
        name = escape(("\u2003" * cell.depth) + cell.group.name)
        parts.append(f'<text x="0" y="{y + 14}">{name}</text>')
        span = width - label_w - 40
        if cell.index is not None:
            w = round(span * cell.index)
            m = round(span * (cell.margin or 0) / 100)
            parts.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="16"/>')
            parts.append(
                f'<line class="axis" x1="{label_w + max(0, w - m)}" y1="{y + 8}" x2="{label_w + min(span, w + m)}" '
                f'y2="{y + 8}"/>'
            )
            parts.append(
                f'<text x="{label_w + min(span, w + m) + 4}" y="{y + 12}">{_index_text(cell)}</text>'
            )
        elif cell.band is not None:
            low, high = (round(span * b / 100) for b in cell.band)
            parts.append(
                f'<rect class="bar muted" x="{label_w + low}" y="{y}" width="{high - low}" height="16"/>'
            )
            parts.append(f'<text x="{label_w + high + 4}" y="{y + 12}">{_index_text(cell)}</text>')
        else:
            parts.append(f'<rect class="bar muted" x="{label_w}" y="{y}" width="{span}" height="16"/>')
            parts.append(f'<text x="{label_w + 4}" y="{y + 12}">{escape(hidden_label)}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text escaped above


def bars(
    items: list[tuple[str, int | None]], title: str, hidden_label: str, write: Callable[[int], str] = str
) -> Markup:
    """A horizontal bar chart of counts; None is drawn as in the PDF: a muted bar up to the floor (5) with
    "minder dan 5" beside it, its count not published."""
    if not items:
        return Markup("")
    # room for the longest label at the chart's 11px (about 6.5 units a character), so no label runs into its bar
    label_w = max(240, round(max(len(label) for label, _ in items) * 6.5) + 12)
    row, width = 22, label_w + 330
    floors = [MIN_SHOWN] if any(v is None for _, v in items) else []
    top = max([v for _, v in items if v is not None] + floors or [1]) or 1
    parts = [
        f'<svg viewBox="0 0 {width} {row * len(items) + 10}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg">'
    ]
    for i, (label, value) in enumerate(items):
        y = i * row + 4
        parts.append(f'<text x="0" y="{y + 14}">{escape(label)}</text>')
        if value is None:
            w = round((width - label_w - 110) * MIN_SHOWN / top)
            parts.append(f'<rect class="bar muted" x="{label_w}" y="{y}" width="{w}" height="16"/>')
            parts.append(f'<text x="{label_w + w + 4}" y="{y + 12}">{escape(hidden_label)}</text>')
        else:
            w = round((width - label_w - 110) * value / top)
            parts.append(f'<rect class="bar" x="{label_w}" y="{y}" width="{w}" height="16"/>')
            parts.append(f'<text x="{label_w + w + 4}" y="{y + 12}">{escape(write(value))}</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 - every text escaped above


def _trend_chart(insights: Insights, title: str) -> Markup:
    latest = insights.latest
    if latest is None or len(insights.rounds) < 2:
        return Markup("")
    months = monthly_trend(insights, latest.cells[0].group.id)
    width, height, pad = 560, 160, 30
    step = (width - 2 * pad) / max(1, len(months) - 1)
    labels = []
    runs: list[list[tuple[float, float, float]]] = [[]]  # a new line after every unpublished month: gaps
    for i, (period, value) in enumerate(months):
        x = pad + i * step
        labels.append(f'<text x="{x:.0f}" y="{height - 4}" text-anchor="middle">{escape(period)}</text>')
        if value is None:
            runs.append([])
            continue
        runs[-1].append((x, height - pad - (height - 2 * pad) * value, value))
    points = [p for run in runs for p in run]
    dots = "".join(
        f'<circle class="bar" cx="{x:.0f}" cy="{y:.0f}" r="4"/><text x="{x:.0f}" y="{y - 8:.0f}" '
        f'text-anchor="middle">{round(v * 100)}%</text>'
        for x, y, v in points
    )
    lines = "".join(
        '<polyline points="{}" fill="none" stroke="currentColor"/>'.format(
            " ".join(f"{x:.0f},{y:.0f}" for x, y, _ in run)
        )
        for run in runs
        if len(run) > 1
    )
    return Markup(  # noqa: S704 - numbers and escaped text only
        f'<svg viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}" '
        f'xmlns="http://www.w3.org/2000/svg"><line class="axis" x1="{pad}" y1="{height - pad}" x2="{width - pad}" '
        f'y2="{height - pad}"/>{lines}'
        f"{dots}{''.join(labels)}</svg>"
    )


def _index_text(cell: Cell) -> str:
    if cell.index is not None:
        return f"{round(cell.index * 100)} % ± {max(1, round(cell.margin or 0))}"
    if cell.band is not None:
        return f"{cell.band[0]}–{cell.band[1]} %"
    return ""


def _heading_and_trend(lines: list[str]) -> tuple[str, ...]:
    """Of the summary's lines the heading and the trend: the figures themselves are in the page's tables."""
    return (lines[0], lines[-1]) if len(lines) > 2 else tuple(lines[:1])


def _question_tables(insights: Insights, locale: str) -> tuple[QuestionTable, ...]:
    latest = insights.latest
    if latest is None:
        return ()
    by_id = {q.id: q for q in insights.pulse_set.questions}
    tables: list[QuestionTable] = []
    for cell in latest.cells:
        if not cell.distribution_shown:
            continue
        rows = []
        for f in cell.figures:
            question = by_id[f.question_id]
            total = sum(n for _, n in f.distribution) or 1
            rows.append(
                (
                    question.text.in_locale(locale),
                    f"{round(f.favourable_share * 100)} % ± {max(1, round(f.margin or 0))}",
                    "–" if f.mean is None else f"{f.mean:.1f} ± {f.mean_margin or 0:.1f}",
                    " · ".join(f"{v}: {round(100 * n / total)} %" for v, n in f.distribution),
                )
            )
        tables.append(QuestionTable(cell.group.name, tuple(rows)))
    return tuple(tables)


def _view(
    insights: Insights, organisation: Organisation, translator: Translator, t: T, locale: str
) -> PulseView:
    pulse_set = insights.pulse_set
    title = translator.t(
        locale,
        "insights.summary_title",
        pulse=pulse_set.name.in_locale(locale),
        organisation=organisation.name,
    )
    latest = insights.latest
    table = tuple(
        (
            c.group.name,
            c.depth,
            _index_text(c) if c.shown else t("console.insights.hidden"),
            str(c.respondents) if c.respondents is not None else "–",
        )
        for c in (latest.cells if latest else ())
    )
    return PulseView(
        title=title,
        # the heading and the trend in words; the figures are in the tables below
        lines=_heading_and_trend(summary_lines(insights, translator, locale)),
        hidden=hidden_explanation(insights, translator, locale) if latest else "",
        groups_chart=_bar_chart(insights, t("console.insights.hidden"), t("console.insights.chart_groups"))
        if latest
        else Markup(""),
        trend_chart=_trend_chart(insights, t("console.insights.chart_trend")),
        table=table,
        questions=_question_tables(insights, locale),
    )


INSIGHTS_TTL = 15.0


async def _views(request: web.Request, organisation: Organisation, locale: str) -> list[PulseView]:
    services = console_of(request).services
    translator = services.content.translator
    t = translate(request)
    views: list[PulseView] = []
    secret = services.settings.secret_key
    if secret is None:
        return views
    store = SqlPulseStore(services.engine, master_key_from(secret.get_secret_value()))
    # Aggregated views, keyed by the closed rounds they were computed from (see cache.py).
    cache: Lru[PulseView] = console_of(request).cache("insights")
    for set_id in await store.pulse_set_ids(organisation.id):
        pulse_set = services.content.catalog.pulse_set(set_id)
        if pulse_set is None:
            continue
        releases = await store.releases(organisation.id, set_id)
        released = tuple((r.period, r.released_at) for r in releases)
        key = (organisation.id, organisation.name, set_id, released, locale)
        view = cache.get(key)
        if view is None:
            insights = insights_from(pulse_set, releases)
            view = cache.put(key, _view(insights, organisation, translator, t, locale))
        views.append(view)
    return views


async def insights_page(request: web.Request) -> web.StreamResponse:
    account, organisation = await organisation_for(request, Role.VIEWER, Role.COUNSELLOR)
    locale = request_locale(request)
    console = console_of(request)
    # Insights change when a round closes (another process): computed views live 15 s, keyed by the closed rounds.
    recent: Expiring[Fragment] = console.expiring("insights_pages", INSIGHTS_TTL)
    page_key = (organisation.id, organisation.name, locale, console.version(organisation.id))

    async def compute() -> Fragment:
        views = await _views(request, organisation, locale)
        return request.config_dict[TEMPLATES].fragment(request, "insights_main.html", views=views)

    body = await recent.get_or_compute(page_key, compute)
    return render(
        request,
        "insights.html",
        account=account,
        organisation=organisation,
        page="insights",
        body=body.fill(request),
    )


async def _report(request: web.Request) -> tuple[Account, Organisation, ReportData]:
    account, organisation = await organisation_for(request, Role.VIEWER, Role.COUNSELLOR)
    console = console_of(request)
    period = Period.parse(request.query.get("period"), console.now().date())
    data = await build_report(
        console.services, organisation, period, translate(request), request_locale(request)
    )
    return account, organisation, data


async def report_page(request: web.Request) -> web.StreamResponse:
    account, organisation, data = await _report(request)
    t = translate(request)
    locale = request_locale(request)
    fewer = t("console.report.fewer_than", n=MIN_SHOWN)
    return render(
        request,
        "report.html",
        account=account,
        organisation=organisation,
        page="report",
        data=data,
        label=period_label(data.period, t),
        period_name=lambda key: period_label(Period.parse(key, data.period.start), t),
        shown=lambda value: shown_text(value, t, locale),
        number=lambda value: number(value, locale),
        short_date=lambda day: short_date(day, locale),
        total=total_text(data, t, locale),
        sessions_line=sessions_sentence(data, t),
        activity_chart=bars(
            [(a.label, a.count) for a in data.activity]
            + [(t("console.report.activity.signups"), data.signups)],
            t("console.report.prevention"),
            fewer,
            lambda value: number(value, locale),
        )
        if any(a.count for a in data.activity) or data.signups or data.sessions_held
        else Markup(""),
        category_chart=bars(
            [(c.label, c.count) for c in data.categories],
            t("console.report.by_category"),
            fewer,
            lambda value: number(value, locale),
        ),
        min_shown=MIN_SHOWN,
        saved="saved" in request.query,
    )


async def report_pdf_download(request: web.Request) -> web.StreamResponse:
    account, organisation, data = await _report(request)
    t = translate(request)
    now = console_of(request).now()
    # fpdf is loaded at the first PDF, not at every start of the service (a third of a second of CPU).
    from bot.web.console.report_pdf import report_pdf

    pdf = await asyncio.to_thread(report_pdf, data, t, request_locale(request), now)
    await console_of(request).services.audit.record(
        account.id, AuditAction.EXPORTED, organisation.id, f"report:{data.period.key.lower()}"
    )
    name = f"vipbot-{organisation.slug}-{data.period.key}.pdf"
    return web.Response(
        body=pdf,
        content_type="application/pdf",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


async def report_note_save(request: web.Request) -> web.StreamResponse:
    _account, organisation = await organisation_for(request, Role.COUNSELLOR)
    console = console_of(request)
    form = await request.post()
    period = Period.parse(str(form.get("period", "")), console.now().date())
    signals = str(form.get("signals", "")).replace("\r\n", "\n").strip()[:NOTE_MAX]
    advice = str(form.get("advice", "")).replace("\r\n", "\n").strip()[:NOTE_MAX]
    await SqlConsoleContent(console.services.sessions).save_report_note(
        ReportNote(organisation.id, period.start, period.end, signals, advice), console.now()
    )
    url = request.app.router["report"].url_for(org=organisation.slug).with_query(period=period.key, saved="1")
    return see_other(str(url))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/o/{org}/insights", insights_page, name="insights")
    app.router.add_get("/o/{org}/report", report_page, name="report")
    app.router.add_get("/o/{org}/report.pdf", report_pdf_download, name="report_pdf")
    app.router.add_post("/o/{org}/report/notes", report_note_save, name="report_notes")
