"""Why a delivery failed, in words a counsellor can act on.

The outbox stores a `FailureCode` (bot/domain/failures.py) with each failed delivery; here each code becomes a
locale key under `console.schedule.failure`. The technical reason stored beside it is never read here: what
the console shows names at most a short platform error code ("is_archived", "HTTP 400"), kept as the detail.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from bot.domain.failures import Failure, FailureCode

PREFIX = "console.schedule.failure."


@dataclass(frozen=True, slots=True)
class Explained:
    """A locale key under `console.schedule.failure` and the values for its placeholders."""

    key: str
    params: tuple[tuple[str, str], ...] = ()

    def text(self, t: Callable[..., str]) -> str:
        return t(PREFIX + self.key, **dict(self.params))


def explain_failure(failure: Failure) -> Explained:
    if failure.code is FailureCode.GAVE_UP and failure.detail:
        return Explained(failure.code.value, (("count", failure.detail),))
    if failure.code is FailureCode.OTHER_CODE and failure.detail:
        return Explained(failure.code.value, (("code", failure.detail),))
    if failure.code in {FailureCode.GAVE_UP, FailureCode.OTHER_CODE}:
        return Explained(FailureCode.OTHER.value)
    return Explained(failure.code.value)


def stored_failure(code: str | None, detail: str | None) -> Failure:
    """The failure of an outbox row, from its stored code (an unknown or missing code reads as OTHER)."""
    try:
        return Failure(FailureCode(code or FailureCode.OTHER.value), detail)
    except ValueError:
        return Failure(FailureCode.OTHER)


def explain_all(failures: Iterable[Failure], t: Callable[..., str]) -> tuple[str, ...]:
    """The sentences for several failures, each once and in the order first seen."""
    sentences: list[str] = []
    for failure in failures:
        sentence = explain_failure(failure).text(t)
        if sentence not in sentences:
            sentences.append(sentence)
    return tuple(sentences)
