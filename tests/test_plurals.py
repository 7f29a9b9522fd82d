"""Plural-aware texts: every text that carries a number reads right at 0, 1 and 2 in Dutch and English, and the
content check refuses a plural text that lacks a form its language needs or whose placeholders differ."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from bot.catalog import check_content, load_content
from bot.catalog.plurals import BabelPlurals
from bot.domain.aggregation import MIN_DISTRIBUTION_ANSWERS, MIN_SCORE_ANSWERS
from bot.domain.content import LOCALES
from bot.domain.i18n import Translator, placeholders
from bot.settings import BUNDLED_CONTENT
from bot.web.console.pages_content import TITLE_MAX
from bot.web.console.report import MIN_SHOWN

# Placeholders that only ever receive a fixed number (floors no setting can lower, a field's limit): they are
# rendered with that number, and the test checks the number keeps the sentence plural.
FIXED = {
    "score_min": MIN_SCORE_ANSWERS,
    "distribution_min": MIN_DISTRIBUTION_ANSWERS,
    "n": MIN_SHOWN,
    "max": TITLE_MAX,
}

# Nouns that follow a number somewhere in the product, singular → plural, besides those read off the plural
# texts themselves (so a plain text like "{count} rondes" is caught even if nobody made it a plural text).
NOUNS = {
    "nl": {
        "kanaal": "kanalen",
        "ronde": "rondes",
        "groep": "groepen",
        "antwoord": "antwoorden",
        "persoon": "personen",
        "poging": "pogingen",
        "dag": "dagen",
        "minuut": "minuten",
        "teken": "tekens",
        "inschrijving": "inschrijvingen",
        "gesprek": "gesprekken",
        "termijn": "termijnen",
        "sessie": "sessies",
        "teamsessie": "teamsessies",
        "herinnering": "herinneringen",
        "bericht": "berichten",
        "vertrouwenspersoon": "vertrouwenspersonen",
        "check-in": "check-ins",
        "pagina": "pagina's",
    },
    "en": {
        "channel": "channels",
        "round": "rounds",
        "group": "groups",
        "answer": "answers",
        "person": "people",
        "attempt": "attempts",
        "day": "days",
        "minute": "minutes",
        "character": "characters",
        "sign-up": "sign-ups",
        "conversation": "conversations",
        "deadline": "deadlines",
        "session": "sessions",
        "reminder": "reminders",
        "message": "messages",
        "counsellor": "counsellors",
        "check-in": "check-ins",
        "page": "pages",
    },
}
NUMBER_THEN_WORDS = re.compile(r"(?<![\w.,])(\d+) ([^\s]+)(?: ([^\s]+))?")


@pytest.fixture(scope="module")
def translator() -> Translator:
    return load_content(BUNDLED_CONTENT).translator


def _words(text: str) -> list[str]:
    return [w.strip(".,;:!?()'\"“”").lower() for w in text.split()]


def _lexicon(translator: Translator, locale: str) -> tuple[set[str], set[str]]:
    """Singular and plural nouns: the list above, and the word after the number in each text's one and other
    forms where they differ."""
    singular, plural = set(NOUNS[locale]), set(NOUNS[locale].values())
    after = re.compile(r"\{count\} ([^\s{]+)")
    for forms in translator.plurals[locale].values():
        one, other = after.search(forms.get("one", "")), after.search(forms["other"])
        if one and other and one.group(1) != other.group(1):
            singular.update(_words(one.group(1)))
            plural.update(_words(other.group(1)))
    return singular - plural, plural - singular


def _rendered(translator: Translator, locale: str, count: int) -> dict[str, str]:
    """Every text of the locale with each placeholder given `count` (or its fixed number)."""
    out: dict[str, str] = {}
    for key, template in translator.tables[locale].items():
        out[key] = template.format_map({p: FIXED.get(p, count) for p in placeholders(template)})
    for key, forms in translator.plurals[locale].items():
        names = set().union(*(placeholders(f) for f in forms.values()))
        out[key] = translator.t(locale, key, **({p: FIXED.get(p, count) for p in names} | {"count": count}))
    return out


@pytest.mark.parametrize("locale", LOCALES)
def test_every_count_reads_right_at_zero_one_and_two(translator: Translator, locale: str) -> None:
    singular, plural = _lexicon(translator, locale)
    assert {"kanalen", "rondes", "groepen"} <= plural or locale == "en"
    wrong: list[str] = []
    for count in (0, 1, 2):
        for key, text in _rendered(translator, locale, count).items():
            for number, first, second in NUMBER_THEN_WORDS.findall(text):
                if first[:1].isupper():  # a text placeholder ("{description} Je antwoord…"), not a count
                    continue
                following = {w for w in _words(f"{first} {second}") if w}
                if number == "1" and following & plural:
                    wrong.append(f"{key} at {count}: {text}")
                if number != "1" and following & singular:
                    wrong.append(f"{key} at {count}: {text}")
    assert wrong == []


@pytest.mark.parametrize("locale", LOCALES)
def test_no_text_dodges_the_plural(translator: Translator, locale: str) -> None:
    texts = [*translator.tables[locale].values()]
    texts += [form for forms in translator.plurals[locale].values() for form in forms.values()]
    dodges = [t for t in texts if re.search(r"\w\((s|en|ken|n|es)\)", t)]
    assert dodges == []  # "gesprek(ken)", "deadline(s)"
    old_triples = [k for k in translator.tables[locale] if re.search(r"(_none|_one|_some)$", k)]
    assert old_triples == []
    # every count the code fills in as {count} picks its form: no plain text carries one
    assert (
        [k for k, t in translator.tables[locale].items() if "count" in placeholders(t)]
        == [
            "console.report.conversations_total"  # "Aantal gesprekken: 12" (or "minder dan 5"): a label and a value
        ]
    )


def test_plural_forms_follow_the_language(translator: Translator) -> None:
    assert translator.t("nl", "sessions.count", count=0) == "Nog niemand aangemeld"
    assert translator.t("nl", "sessions.count", count=1) == "1 persoon aangemeld"
    assert translator.t("nl", "sessions.count", count=2) == "2 mensen aangemeld"
    assert translator.t("en", "sessions.count", count=1) == "1 person signed up"
    assert translator.t("nl", "console.schedule.people", count=1) == "1 persoon"
    # numbers are written as the reader writes them
    assert translator.t("nl", "sessions.count", count=1234) == "1.234 mensen aangemeld"
    assert translator.t("en", "sessions.count", count=1234) == "1,234 people signed up"
    # a form the language does not have is never consulted: Polish would need 'few', Dutch has one and other
    assert BabelPlurals().categories("nl") == frozenset({"one", "other"})
    assert BabelPlurals().categories("pl") >= frozenset({"one", "few", "many", "other"})


def _library_with(tmp_path: Path, locale: str, old: str, new: str) -> Path:
    root = tmp_path / "content"
    shutil.copytree(BUNDLED_CONTENT, root)
    path = root / "locales" / f"{locale}.yaml"
    text = path.read_text(encoding="utf-8")
    assert text.count(old) == 1
    path.write_text(text.replace(old, new), encoding="utf-8")
    return root


def test_content_check_wants_every_form_and_the_same_placeholders(tmp_path: Path) -> None:
    missing = _library_with(tmp_path / "a", "nl", '    one: "{count} persoon aangemeld"\n', "")
    assert any("sessions.count: the 'one' form is missing" in p for p in check_content(missing))

    foreign = _library_with(
        tmp_path / "b",
        "nl",
        '    one: "{count} persoon aangemeld"\n',
        '    one: "{count} persoon aangemeld"\n    few: "{count} personen aangemeld"\n',
    )
    assert any("sessions.count: this language has no 'few' form" in p for p in check_content(foreign))

    extra = _library_with(
        tmp_path / "c",
        "en",
        '    one: "{count} person signed up"',
        '    one: "{count} person signed up for {title}"',
    )
    problems = check_content(extra)
    assert any("sessions.count: the 'one' form uses ['title']" in p for p in problems)
    assert any("sessions.count.one: placeholders" in p for p in problems)

    flat = _library_with(
        tmp_path / "d",
        "en",
        '  count:\n    zero: "No sign-ups yet"\n    one: "{count} person signed up"\n'
        '    other: "{count} people signed up"',
        '  count: "{count} people signed up"',
    )
    assert any("sessions.count: a plural text in one language" in p for p in check_content(flat))
