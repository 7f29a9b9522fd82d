"""Dutch and English side by side: an English translation left empty stays empty, is shown as missing and falls
back to the Dutch when sent — so editing the Dutch reaches English readers too. Stored copies of the Dutch made
by the old editor are emptied by library_0001."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime

import sqlalchemy as sa
from aiohttp.test_utils import TestClient

from bot.app import Services
from bot.domain.accounts import Role
from bot.domain.clock import FixedClock
from bot.domain.content import Text
from bot.domain.delivery import ColumnPost
from bot.domain.outreach import Occurrence, What
from bot.domain.tenancy import Organisation
from bot.storage.console_content import SqlConsoleContent
from bot.storage.db import create_engine
from bot.storage.migrate import upgrade
from bot.web.console.outreach_bridge import outreach_of
from tests.console.helpers import form_token, make_person, sign_in


def test_an_empty_english_text_falls_back_to_the_dutch() -> None:
    assert Text("Hallo", "").in_locale("en-GB") == "Hallo"
    assert Text("Hallo", "").english_missing
    assert Text("Hallo", "Hello").in_locale("en") == "Hello"
    assert Text("Hallo", "Hello").in_locale("nl") == "Hallo"
    assert not Text("", "").english_missing


def _missing_shown(page: str) -> list[str]:
    """The English fields whose "Engels ontbreekt" note is shown (not hidden)."""
    return re.findall(r'data-missing-for="(\w+)">', page)


async def _save(client: TestClient, path: str, **fields: str) -> str:
    token = await form_token(client, path)
    answer = await client.post(path, data={"csrf_token": token, **fields}, allow_redirects=False)
    assert answer.status == 303, await answer.text()
    return answer.headers["Location"].split("?")[0]


async def test_english_left_empty_is_never_a_copy_and_follows_the_dutch(
    client: TestClient, console_services: Services, clock: FixedClock, org_a: Organisation
) -> None:
    counsellor = await make_person(console_services, Role.COUNSELLOR, "vp@praktijk.test", org_a.id)
    await sign_in(client, counsellor, clock)
    item_path = await _save(
        client,
        "/console/o/de-linde/content/new?kind=column",
        title_nl="Grenzen aangeven",
        summary_nl="Hoe zeg je nee?",
        body_nl="Eerste versie.",
        reading_minutes="2",
    )
    item_uuid = uuid.UUID(item_path.rsplit("/", 1)[1])
    store = SqlConsoleContent(console_services.sessions)
    saved = await store.get(org_a.id, item_uuid)
    assert saved is not None
    assert (saved.title.en, saved.summary.en, saved.body.en) == ("", "", "")

    page = await (await client.get(item_path)).text()
    assert _missing_shown(page) == ["title_en", "summary_en", "body_en"]  # each beside its Dutch
    assert "Engels ontbreekt" in page
    listing = await (await client.get("/console/o/de-linde/content")).text()
    assert "Engels ontbreekt" in listing

    # the Dutch is edited: an English reader gets the new Dutch, not a stale copy
    await _save(client, item_path, title_nl="Grenzen aangeven", body_nl="Tweede versie.", reading_minutes="2")
    occurrence = Occurrence(
        id=uuid.uuid4(),
        organisation_id=org_a.id,
        schedule_id=None,
        occurs_at=clock.now(),
        send_at=clock.now(),
        what=What.COLUMN,
        item_id=f"own:{item_uuid}",
        locale="en",
    )
    post = await outreach_of(console_services).posts.build(occurrence)
    assert isinstance(post, ColumnPost)
    assert post.column.body.in_locale("en") == "Tweede versie."

    # once English is written, the note goes and English readers read English
    await _save(
        client,
        item_path,
        title_nl="Grenzen aangeven",
        title_en="Setting boundaries",
        summary_nl="Hoe zeg je nee?",
        body_nl="Tweede versie.",
        body_en="Second version.",
        reading_minutes="2",
    )
    page = await (await client.get(item_path)).text()
    assert _missing_shown(page) == ["summary_en"]
    post = await outreach_of(console_services).posts.build(occurrence)
    assert isinstance(post, ColumnPost)
    assert post.column.body.in_locale("en") == "Second version."


def _table(name: str, /, **columns: sa.types.TypeEngine[object]) -> sa.TableClause:
    return sa.table(name, *(sa.column(c, kind) for c, kind in columns.items()))


async def test_library_0001_empties_english_fields_that_copy_their_dutch(database_url: str) -> None:
    engine = create_engine(database_url)
    uid, moment, s = sa.Uuid(), sa.DateTime(timezone=True), sa.String()
    try:
        await upgrade(engine, "console_0001")
        practice, org = uuid.uuid4(), uuid.uuid4()
        now = datetime(2026, 3, 2, 8, 0, tzinfo=UTC)
        item = _table(
            "console_item", id=uid, organisation_id=uid, kind=s, slug=s, theme=s, reading_minutes=sa.Integer(),
            title_nl=s, title_en=s, summary_nl=s, summary_en=s, body_nl=s, body_en=s, created_at=moment,
            updated_at=moment,
        )  # fmt: skip
        rows = {
            "copied": ("Titel", "Titel", "Samenvatting", "Samenvatting", "Tekst", "Tekst"),
            "partly": ("Titel", "Title", "", "", "Tekst", "Tekst"),
            "english": ("Titel", "Title", "Samenvatting", "Summary", "Tekst", "Text"),
        }
        async with engine.begin() as conn:
            await conn.execute(sa.insert(_table("practice", id=uid, name=s)).values(id=practice, name="P"))
            organisation = _table(
                "organisation", id=uid, practice_id=uid, slug=s, name=s, timezone=s, locale=s,
                retention_days=sa.Integer(), created_at=moment,
            )  # fmt: skip
            await conn.execute(
                sa.insert(organisation).values(
                    id=org, practice_id=practice, slug="oud", name="Oud", timezone="Europe/Amsterdam",
                    locale="nl", retention_days=90, created_at=now,
                )
            )  # fmt: skip
            for slug, (tn, te, sn, se, bn, be) in rows.items():
                await conn.execute(
                    sa.insert(item).values(
                        id=uuid.uuid4(), organisation_id=org, kind="column", slug=slug, theme="",
                        reading_minutes=2, title_nl=tn, title_en=te, summary_nl=sn, summary_en=se, body_nl=bn,
                        body_en=be, created_at=now, updated_at=now,
                    )
                )  # fmt: skip
        await upgrade(engine, "library_0001")
        async with engine.connect() as conn:
            found = {
                r.slug: (r.title_en, r.summary_en, r.body_en)
                for r in await conn.execute(
                    sa.text("SELECT slug, title_en, summary_en, body_en FROM console_item")
                )
            }
        assert found == {
            "copied": ("", "", ""),
            "partly": ("Title", "", ""),
            "english": ("Title", "Summary", "Text"),
        }
    finally:
        await engine.dispose()
