"""Every user-visible word, addressed by key, Dutch first.

A text that carries a count is a *plural text*: one template per plural form of its language (CLDR's categories,
for Dutch and English `one` and `other`), plus an optional `zero` used for exactly 0 where the sentence should
say something else ("Nog niemand aangemeld"). Which form a number takes is a language rule, not ours: it comes
through the `PluralRules` port (Babel's CLDR data, see `bot.catalog.plurals`). The number itself is always the
`count` parameter, written in the reader's notation.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from bot.domain.content import DEFAULT_LOCALE, pick_locale

#: The parameter that picks the form of a plural text (and is filled in as a number).
COUNT = "count"
#: The optional form for exactly zero, beside the language's own plural categories.
ZERO = "zero"


class MissingTextError(KeyError):
    """A key the code asks for is not in the locale files (the content check catches this before start)."""


class PluralRules(Protocol):
    """A language's plural rule and number notation."""

    def category(self, locale: str, count: int) -> str:
        """The CLDR plural category ("one", "other", …) of `count` in `locale`."""
        ...

    def categories(self, locale: str) -> frozenset[str]:
        """Every category the language distinguishes (each plural text needs a form for each)."""
        ...

    def number(self, locale: str, count: int) -> str:
        """`count` as the language writes it (1.234 in Dutch, 1,234 in English)."""
        ...


class EnglishLikePlurals:
    """One and other, digits as Python writes them: the fake for tests that build tables by hand."""

    def category(self, locale: str, count: int) -> str:
        return "one" if count == 1 else "other"

    def categories(self, locale: str) -> frozenset[str]:
        return frozenset({"one", "other"})

    def number(self, locale: str, count: int) -> str:
        return str(count)


def placeholders(template: str) -> frozenset[str]:
    return frozenset(name for _, name, _, _ in string.Formatter().parse(template) if name)


Forms = Mapping[str, str]


@dataclass(frozen=True, slots=True)
class Translator:
    """Looks up `dotted.keys` in flat per-locale tables and fills `{placeholders}`.

    `plurals` holds the plural texts per locale: key → form → template. A plural key is asked for like any other,
    with `count=` among the parameters; the form is chosen by `rules`.
    """

    tables: Mapping[str, Mapping[str, str]]
    plurals: Mapping[str, Mapping[str, Forms]] = field(default_factory=dict)
    rules: PluralRules = field(default_factory=EnglishLikePlurals)

    def t(self, locale: str | None, key: str, /, **params: object) -> str:
        chosen = pick_locale(locale)
        forms = self._forms(chosen, key)
        if forms is not None:
            return self._plural(chosen, key, forms, params)
        table = self.tables.get(chosen) or self.tables[DEFAULT_LOCALE]
        template = table.get(key) or self.tables[DEFAULT_LOCALE].get(key)
        if template is None:
            raise MissingTextError(key)
        return template.format_map(params) if params else template

    def has(self, key: str) -> bool:
        return key in self.tables[DEFAULT_LOCALE] or key in self.plurals.get(DEFAULT_LOCALE, {})

    def keys(self, locale: str) -> frozenset[str]:
        """Every key of a locale, plain and plural texts alike."""
        return frozenset(self.tables.get(locale, {})) | frozenset(self.plurals.get(locale, {}))

    def is_plural(self, key: str) -> bool:
        return key in self.plurals.get(DEFAULT_LOCALE, {})

    def _forms(self, locale: str, key: str) -> Forms | None:
        own = self.plurals.get(locale, {}).get(key)
        if own is not None or key in self.tables.get(locale, {}):
            return own
        return self.plurals.get(DEFAULT_LOCALE, {}).get(key)

    def _plural(self, locale: str, key: str, forms: Forms, params: Mapping[str, object]) -> str:
        raw = params.get(COUNT)
        if raw is None:
            raise MissingTextError(f"{key} (a plural text needs count=)")
        count = int(str(raw))
        if count == 0 and ZERO in forms:
            template = forms[ZERO]
        else:
            template = forms.get(self.rules.category(locale, count)) or forms["other"]
        filled = {**params, COUNT: self.rules.number(locale, count)}
        return template.format_map(filled)
