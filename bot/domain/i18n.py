"""Every user-visible word, addressed by key, Dutch first."""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass

from bot.domain.content import DEFAULT_LOCALE, pick_locale


class MissingTextError(KeyError):
    """A key the code asks for is not in the locale files (the content check catches this before start)."""


def placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


@dataclass(frozen=True, slots=True)
class Translator:
    """Looks up `dotted.keys` in flat per-locale tables and fills `{placeholders}`."""

    tables: Mapping[str, Mapping[str, str]]

    def t(self, locale: str | None, key: str, /, **params: object) -> str:
        table = self.tables.get(pick_locale(locale)) or self.tables[DEFAULT_LOCALE]
        template = table.get(key) or self.tables[DEFAULT_LOCALE].get(key)
        if template is None:
            raise MissingTextError(key)
        return template.format_map(params) if params else template

    def has(self, key: str) -> bool:
        return key in self.tables[DEFAULT_LOCALE]
