"""`vipbot insights ORG`: the same anonymous figures management receives, in the terminal.

They come out of the one anonymity path (`bot.domain.aggregation`) like every other output; there is no option
to lower a threshold, filter on anything, or list individual answers.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

from bot.cli.context import CliContext
from bot.errors import NotFoundError


def register(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = commands.add_parser(
        "insights",
        help="anonymous pulse results for management, as they would receive them",
        description=(
            "Show the anonymous results of an organisation's closed pulse rounds: per group, the trend, and what "
            "is hidden and why. The same numbers as the management summary."
        ),
    )
    parser.add_argument("org", help="organisation handle")
    parser.add_argument("--pulse", help="pulse set id (default: every pulse set the organisation has used)")
    parser.add_argument("--locale", choices=["nl", "en"], help="language (default: the organisation's)")
    parser.add_argument("--chart", type=Path, help="also write the chart as a PNG file (one pulse set only)")
    parser.add_argument(
        "--format",
        choices=["text", "json"],
        default="text",
        help="text (as management reads it) or json (every published number, hidden groups marked hidden)",
    )
    parser.set_defaults(handler=run)


async def run(args: argparse.Namespace, ctx: CliContext) -> int:
    # Imported when the command runs: `vipbot --help` and the other commands need none of it.
    from bot.domain.insights import export_rows, hidden_explanation, load_insights, summary_lines
    from bot.storage.db import session_factory
    from bot.storage.organisations import SqlOrganisationRepository
    from bot.storage.pulses import SqlPulseStore, master_key_from

    settings = ctx.settings_with_key()
    content = ctx.content()
    secret = settings.secret_key
    if secret is None:  # ensure_secret_key always sets one; this keeps the type checker honest
        raise NotFoundError("no secret key")
    async with ctx.database() as engine:
        org = await SqlOrganisationRepository(session_factory(engine)).get_organisation(args.org)
        store = SqlPulseStore(engine, master_key_from(secret.get_secret_value()))
        set_ids = [args.pulse] if args.pulse else await store.pulse_set_ids(org.id)
        locale = args.locale or org.locale
        t = content.translator
        if not set_ids:
            ctx.print(t.t(locale, "insights.no_rounds"))
            return 0
        if args.chart is not None and len(set_ids) != 1:
            raise NotFoundError("--chart needs one pulse set: add --pulse")
        for set_id in set_ids:
            pulse_set = content.catalog.pulse_set(set_id)
            if pulse_set is None:
                raise NotFoundError(f"no pulse set '{set_id}' in the content library")
            insights = await load_insights(store, pulse_set, org.id)
            if args.format == "json":
                ctx.print(
                    json.dumps({"pulse_set": set_id, "rows": export_rows(insights)}, ensure_ascii=False)
                )
                continue
            ctx.print(
                t.t(
                    locale,
                    "insights.summary_title",
                    pulse=pulse_set.name.in_locale(locale),
                    organisation=org.name,
                )
            )
            for line in summary_lines(insights, t, locale):
                ctx.print(line)
            if insights.latest is not None:
                ctx.print(hidden_explanation(insights, t, locale))
            ctx.print("")
            if args.chart is not None and insights.latest is not None:
                from bot.reporting.charts import render_chart

                args.chart.write_bytes(render_chart(insights, t, locale))
                ctx.print(f"Chart written to {args.chart}")
    return 0
