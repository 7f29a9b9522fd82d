"""The plural rules and number notation of a language, from Babel's copy of the Unicode CLDR data."""

from __future__ import annotations

from functools import cache

from babel import Locale
from babel.numbers import format_decimal


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


class BabelPlurals:
    """`bot.domain.i18n.PluralRules` backed by Babel."""

    def category(self, locale: str, count: int) -> str:
        return str(_locale(locale).plural_form(count))

    def categories(self, locale: str) -> frozenset[str]:
        return frozenset(_locale(locale).plural_form.tags) | {"other"}  # CLDR leaves "other" implicit

    def number(self, locale: str, count: int) -> str:
        return format_decimal(count, locale=_locale(locale))
