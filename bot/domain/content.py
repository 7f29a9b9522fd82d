"""Content values: columns, reminders, pulse sets, the sociale kaart and the conversation taxonomy.

They come from the content library (files) or the console; both become these frozen values.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

LOCALES = ("nl", "en")
DEFAULT_LOCALE = "nl"


def pick_locale(preferred: str | None) -> str:
    """Dutch unless the reader's platform says English (any English variant)."""
    if preferred and preferred.lower().startswith("en"):
        return "en"
    return DEFAULT_LOCALE


@dataclass(frozen=True, slots=True)
class Text:
    """One text in both languages. Dutch is always written; an empty English text is a translation not yet
    written, and English readers then get the Dutch (never a stored copy of it, which would go stale when the
    Dutch is edited)."""

    nl: str
    en: str

    def in_locale(self, locale: str) -> str:
        return (self.en or self.nl) if pick_locale(locale) == "en" else self.nl

    @property
    def english_missing(self) -> bool:
        """Dutch written, English not: shown as missing in the console, sent in Dutch."""
        return bool(self.nl) and not self.en


class QuestionKind(StrEnum):
    LIKERT = "likert"
    CHOICE = "choice"


@dataclass(frozen=True, slots=True)
class Column:
    id: str
    theme: str
    reading_minutes: int
    title: Text
    summary: Text
    body: Text


@dataclass(frozen=True, slots=True)
class Reminder:
    id: str
    topic: str
    title: Text
    body: Text


@dataclass(frozen=True, slots=True)
class Option:
    id: str
    label: Text
    favourable: bool


@dataclass(frozen=True, slots=True)
class Question:
    id: str
    kind: QuestionKind
    text: Text
    reverse: bool = False
    options: tuple[Option, ...] = ()

    def is_favourable(self, value: int | str) -> bool:
        """Whether an answer counts as favourable: 4–5 on the Likert scale (1–2 when reverse-scored)."""
        if self.kind is QuestionKind.CHOICE:
            return any(o.id == value and o.favourable for o in self.options)
        score = 6 - int(value) if self.reverse else int(value)
        return score >= 4


@dataclass(frozen=True, slots=True)
class PulseSet:
    id: str
    name: Text
    description: Text
    window_days: int
    scale: tuple[Text, ...]
    questions: tuple[Question, ...]
    source: str | None = None


@dataclass(frozen=True, slots=True)
class SocialMapEntry:
    id: str
    kind: str
    name: Text
    description: Text
    phone: str | None = None
    url: str | None = None
    hours: Text | None = None


@dataclass(frozen=True, slots=True)
class TaxonomyItem:
    id: str
    label: Text
    description: Text


@dataclass(frozen=True, slots=True)
class Taxonomy:
    categories: tuple[TaxonomyItem, ...]
    contact_types: tuple[TaxonomyItem, ...]
    follow_ups: tuple[TaxonomyItem, ...]


@dataclass(frozen=True, slots=True)
class Catalog:
    """The whole validated content library."""

    columns: tuple[Column, ...]
    reminders: tuple[Reminder, ...]
    pulse_sets: tuple[PulseSet, ...]
    social_map: tuple[SocialMapEntry, ...]
    taxonomy: Taxonomy

    def column(self, column_id: str) -> Column | None:
        return next((c for c in self.columns if c.id == column_id), None)

    def reminder(self, reminder_id: str) -> Reminder | None:
        return next((r for r in self.reminders if r.id == reminder_id), None)

    def pulse_set(self, set_id: str) -> PulseSet | None:
        return next((p for p in self.pulse_sets if p.id == set_id), None)
