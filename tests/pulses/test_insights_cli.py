"""`vipbot insights ORG` prints what management gets, through the same anonymity path; `vipbot pulse` opens,
lists and closes rounds."""

from __future__ import annotations

import io
import json
import re
from datetime import timedelta
from pathlib import Path

from bot.__main__ import build_parser
from bot.cli.context import CliContext
from bot.domain.clock import FixedClock
from bot.domain.pulses import AnswerAction, AnswerOutcome, ClickOrigin, Participant
from bot.domain.tenancy import Platform
from bot.settings import Settings
from tests.conftest import TEST_SECRET_KEY
from tests.pulses.conftest import PulseWorld

AUDIENCE = ("--to", "group:team-noord", "--to", "group:team-zuid")


async def cli(settings: Settings, *argv: str) -> str:
    out = io.StringIO()
    ctx = CliContext(
        environ={
            "VIPBOT_DATABASE_URL": str(settings.database_url),
            "VIPBOT_SECRET_KEY": TEST_SECRET_KEY,
            "VIPBOT_DATA_DIR": str(settings.data_dir),
        },
        out=out,
        dotenv=None,
    )
    args = build_parser().parse_args(list(argv))
    assert await args.handler(args, ctx) == 0
    return out.getvalue()


async def fill_round(world: PulseWorld, clock: FixedClock, sizes: dict[str, int], value: str) -> None:
    pulse = await world.service.open_round(world.org.id, world.pulse_set.id, world.tree)
    for slug, size in sizes.items():
        for i in range(size):
            who = Participant(Platform.SLACK, "T0WORKSPACE", f"{slug}-{i}")
            where = ClickOrigin(Platform.SLACK, "T0WORKSPACE", f"C-{slug}")
            for question in world.pulse_set.questions:
                answer = value if question.kind.value == "likert" else "goed"
                action = AnswerAction(pulse.id, question.id, answer)
                assert await world.service.answer(world.org.id, action, who, where) is AnswerOutcome.RECORDED
    clock.advance(timedelta(days=7))
    assert len(await world.service.close_due()) == 1


async def test_insights_prints_shown_banded_and_hidden_groups_with_margins(
    world: PulseWorld, settings: Settings, clock: FixedClock, tmp_path: Path
) -> None:
    await fill_round(world, clock, {"team-noord": 3, "team-zuid": 9}, "4")
    await fill_round(world, clock, {"team-noord": 3, "team-zuid": 9}, "2")
    # Nothing is published before the month has ended and been released.
    assert "Er is nog geen afgeronde ronde" in await cli(settings, "insights", "linde")
    released = await cli(
        settings, "pulse", "release-due"
    )  # the command's clock is the real one: March is over
    assert released.strip() == "Released 1 period."
    assert (await cli(settings, "pulse", "release-due")).strip() == "Released 0 periods."  # once

    output = await cli(settings, "insights", "linde", "--chart", str(tmp_path / "chart.png"))
    lines = [line.strip() for line in output.splitlines()]
    assert lines[0].startswith("Check-in Wekelijkse check-in: uitkomsten voor Organisatie linde")
    assert "Wekelijkse check-in, 2026-03 (2 rondes samengenomen)" in lines
    assert "Team Noord: verborgen" in lines  # 3 respondents
    zuid = next(line for line in lines if line.startswith("Team Zuid: "))  # 9 respondents: a band, no figures
    assert re.fullmatch(r"Team Zuid: tussen \d+ en \d+ % gunstig", zuid), zuid
    department = next(line for line in lines if line.startswith("Zorg linde: "))  # 12: figures with a margin
    assert re.fullmatch(r"Zorg linde: \d+ % gunstig, ± \d+", department), department
    assert any(line.startswith("vraag | gunstig | gemiddeld (van 5) | verdeling") for line in lines)
    assert "Verloop Organisatie linde: 2026-03: " in output
    assert "In deze periode is 1 groep verborgen." in output  # plural rules
    assert (tmp_path / "chart.png").read_bytes().startswith(b"\x89PNG")

    exported = json.loads(await cli(settings, "insights", "linde", "--format", "json"))
    assert json.loads(await cli(settings, "insights", "linde", "--format", "json")) == exported  # stored
    rows = exported["rows"]
    hidden = [r for r in rows if r["shown"] == "hidden"]
    assert [r["group"] for r in hidden] == ["team-noord"]
    assert all(set(r) == {"period", "group", "kind", "shown"} for r in hidden)  # nothing else about them
    banded = [r for r in rows if r["shown"] == "banded"]
    assert [set(r) for r in banded] == [{"period", "group", "kind", "shown", "favourable_band"}]
    full = [r for r in rows if r["group"] == "zorg-linde"]
    assert {r["question"] for r in full} == {q.id for q in world.pulse_set.questions}
    for row in full:
        assert row["period"] == "2026-03"
        assert row["favourable_margin"] > 0
        assert row["index_margin"] > 0
        assert set(row["distribution"]) <= {"1", "2", "3", "4", "5", "goed", "wisselend", "gespannen"}


async def test_pulse_commands_open_list_and_close(world: PulseWorld, settings: Settings) -> None:
    opened = await cli(settings, "pulse", "open", "linde", "wekelijkse-check-in", "--group", "zorg-linde")
    assert opened.startswith("Opened round ")
    sent = await cli(settings, "pulse", "send", "linde", "wekelijkse-check-in", *AUDIENCE)
    assert sent.startswith("Queued a round of 'wekelijkse-check-in' for 2 targets in linde.")
    reminded = await cli(settings, "pulse", "remind", "linde", "wekelijkse-check-in", *AUDIENCE)
    assert reminded.startswith("Queued a reminder for 'wekelijkse-check-in' for 2 targets in linde.")
    listed = await cli(settings, "pulse", "list", "linde")
    assert "wekelijkse-check-in" in listed
    assert "open" in listed
    closed = await cli(settings, "pulse", "close-due")
    assert closed.strip() == "Closed 0 rounds."
    channel = await cli(
        settings,
        "pulse",
        "management-channel",
        "linde",
        "--platform",
        "slack",
        "--workspace",
        "T1",
        "--channel",
        "C9",
    )
    assert channel.strip() == "Management summaries for 'linde' on slack go to C9."
    targets = await world.store.management_targets(world.org.id)
    assert [(t.platform.value, t.workspace_id, t.kind.value, t.address) for t in targets] == [
        ("slack", "T1", "channel", "C9")
    ]
    nothing = await cli(settings, "insights", "linde")
    assert "Er is nog geen afgeronde ronde" in nothing


async def test_org_group_restructuring_commands_keep_identity(world: PulseWorld, settings: Settings) -> None:
    noord = world.tree.by_slug("team-noord")
    assert noord is not None
    assert "Renamed 'team-noord' to 'Team Noordoost'" in await cli(
        settings, "org", "group", "rename", "linde", "team-noord", "Team Noordoost"
    )
    await cli(settings, "org", "group", "add", "linde", "Zorg twee", "--kind", "department")
    await cli(settings, "org", "group", "move", "linde", "team-noordoost", "--parent", "zorg-twee")
    split = await cli(
        settings, "org", "group", "split", "linde", "team-zuid", "Team West", "--channel", "C-team-zuid"
    )
    assert split.startswith("Split 'Team West' (team-west) off 'team-zuid'")
    await cli(settings, "org", "group", "merge", "linde", "team-west", "--into", "team-zuid")
    tree = await world.repo.group_tree(world.org.id)
    moved = tree.by_slug("team-noordoost")
    assert moved is not None
    assert moved.id == noord.id
    assert moved.parent_id == tree.by_slug("zorg-twee").id  # type: ignore[union-attr]
    assert tree.by_slug("team-west") is None
    zuid = tree.by_slug("team-zuid")
    assert zuid is not None
    assert {b.channel_id: b.group_id for b in await world.repo.bindings(world.org.id)}[
        "C-team-zuid"
    ] == zuid.id
    assert list((await world.store.successors(world.org.id)).values()) == [zuid.id]
