"""The plural rules and number notation of a language, from Babel's copy of the Unicode CLDR data."""

from __future__ import annotations

from functools import cache, lru_cache

from babel import Locale
from babel.numbers import format_decimal


@cache
def _locale(code: str) -> Locale:
    return Locale.parse(code)


# Babel evaluates a CLDR rule and formats a number in some 50 microseconds each, and a page asks for the same
# few counts over and over: both remembered (bounded) per language and count.
@lru_cache(maxsize=4096)
def _category(code: str, count: int) -> str:
    return str(_locale(code).plural_form(count))


@lru_cache(maxsize=4096)
def _number(code: str, count: int) -> str:
    return format_decimal(count, locale=_locale(code))


class BabelPlurals:
    """`bot.domain.i18n.PluralRules` backed by Babel."""

    def category(self, locale: str, count: int) -> str:
        return _category(locale, count)

    def categories(self, locale: str) -> frozenset[str]:
        return frozenset(_locale(locale).plural_form.tags) | {"other"}  # CLDR leaves "other" implicit

    def number(self, locale: str, count: int) -> str:
        return _number(locale, count)
