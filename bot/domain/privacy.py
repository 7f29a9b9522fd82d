"""Differential privacy for pulse figures (DESIGN §5.4): the period, the budget, the accountant, the noise port
and what a margin is.

**Unit of privacy**: one person in one organisation over one *period* (a calendar month, UTC). Everything that
person answered in the month (every round, every question, every pulse set) is what a release must hide.

**Mechanism**: every published number is derived from integer counts with discrete Laplace noise added once, when
the period's cells are released (the `NoiseSource` port; the service uses OpenDP's floating-point-safe
`make_laplace` on integer vectors). A person answers each question at most once per round, in one group, so at one
level of the tree (organisation, departments, teams) all of that person's answers in a period change the level's
count vector by at most `rounds × questions` in L1: one release per level costs that level's ε for *everybody*,
whichever group (or groups, after a move) they were in — parallel composition across the disjoint groups of a
level. Levels add up (sequential composition): a person is in the organisation, a department and a team.

**Budget**: `EPSILON_PER_PERIOD` per person per organisation per month, δ = 0 (pure ε-DP). A pulse set's release
shares out what is left of the month's budget among the pulse sets not yet released for that month; within a
release the levels get fixed fractions (`LEVEL_SHARE`), and at each level the share of the favourable index and of
the per-question table is fixed (`INDEX_SHARE`). The accountant refuses any release that would take a person past
the budget; the refused period is stored as published-with-nothing, so outputs show a gap.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Protocol

from bot.domain.tenancy import GroupKind
from bot.errors import ConflictError

EPSILON_PER_PERIOD: Final = 4.0
DELTA: Final = 0.0
PERIOD: Final = "month"
# How a release's ε is divided over the levels of the tree (they add up: a person is in all three).
LEVEL_SHARE: Final = {GroupKind.ORGANISATION: 0.5, GroupKind.DEPARTMENT: 0.25, GroupKind.TEAM: 0.25}
# Within a level: the favourable index (two pooled counts, the number management reads first) and the per-question
# table (every value's count per question, from which share, mean and distribution follow).
INDEX_SHARE: Final = 0.75
MARGIN_Z: Final = 1.645  # a margin covers the noise 9 times out of 10
_EPS_TOLERANCE: Final = 1e-9


def period_of(moment: datetime) -> str:
    """The period a round belongs to: the calendar month (UTC) it opened in, as "YYYY-MM"."""
    return f"{moment.astimezone(UTC):%Y-%m}"


def period_start(period: str) -> datetime:
    year, month = (int(p) for p in period.split("-"))
    return datetime(year, month, 1, tzinfo=UTC)


def period_end(period: str) -> datetime:
    year, month = (int(p) for p in period.split("-"))
    return datetime(year + (month == 12), month % 12 + 1, 1, tzinfo=UTC)


class NoiseSource(Protocol):
    """Adds noise to integer counts so that a change of `sensitivity` (L1) in them costs at most `epsilon`."""

    def noisy_counts(self, counts: Sequence[int], sensitivity: int, epsilon: float) -> tuple[int, ...]: ...


class BudgetExceededError(ConflictError):
    """A release would take the people of an organisation past the period's privacy budget."""

    def __init__(self, period: str, spent: float, asked: float) -> None:
        super().__init__(f"the privacy budget of {period} is spent ({spent:g} of {EPSILON_PER_PERIOD:g})")
        self.period = period
        self.spent = spent
        self.asked = asked


@dataclass(frozen=True, slots=True)
class Spend:
    """What one release cost every person of the organisation in a period."""

    period: str
    pulse_set_id: str
    epsilon: float


def spent_in(ledger: Sequence[Spend], period: str) -> float:
    """What a person has spent in the period: every release of the period covers everybody, so it is the sum."""
    return sum(s.epsilon for s in ledger if s.period == period)


def release_epsilon(ledger: Sequence[Spend], period: str, pulse_sets_left: int) -> float:
    """The ε a release gets: what is left of the period's budget, shared among the pulse sets not yet released."""
    left = EPSILON_PER_PERIOD - spent_in(ledger, period)
    return max(0.0, left) / max(1, pulse_sets_left)


def charge(ledger: Sequence[Spend], spend: Spend) -> None:
    """Refuse a release that would take anyone past the period's budget (sequential composition)."""
    spent = spent_in(ledger, spend.period)
    if spend.epsilon <= 0 or spent + spend.epsilon > EPSILON_PER_PERIOD + _EPS_TOLERANCE:
        raise BudgetExceededError(spend.period, spent, spend.epsilon)


def index_margin(favourable: int, other: int, scale: float) -> float | None:
    """The 90 % margin, in points, of a favourable share computed as f / (f + u) from two counts that each carry
    discrete Laplace noise of `scale` (variance 2·scale²). When the noise took every count to zero or below, nothing
    is known of the share: the margin is the whole scale (100 points)."""
    n = favourable + other
    if n <= 0:
        return 100.0
    s = favourable / n
    variance = 2 * scale * scale * ((1 - s) ** 2 + s * s)
    return min(100.0, 100 * MARGIN_Z * math.sqrt(variance) / n)


def share_margin(favourable: Sequence[int], other: Sequence[int], scale: float) -> float | None:
    """The 90 % margin in points of Σfavourable / Σall when every count carries noise of `scale` (100 points when
    the noise left nothing to divide by, as in `index_margin`)."""
    n = sum(favourable) + sum(other)
    if n <= 0:
        return 100.0
    s = sum(favourable) / n
    variance = 2 * scale * scale * (len(favourable) * (1 - s) ** 2 + len(other) * s * s)
    return min(100.0, 100 * MARGIN_Z * math.sqrt(variance) / n)


def mean_margin(scores: Sequence[int], counts: Sequence[int], scale: float) -> float | None:
    """The 90 % margin of a mean Σ score·count / Σ count when every count carries noise of `scale`."""
    n = sum(counts)
    if n <= 0:
        return None
    mean = sum(v * c for v, c in zip(scores, counts, strict=True)) / n
    variance = 2 * scale * scale * sum((v - mean) ** 2 for v in scores)
    return MARGIN_Z * math.sqrt(variance) / n


def band(share: float, width: int = 20) -> tuple[int, int]:
    """The band (in points) a share falls in: what a group of 5–9 respondents shows instead of its figures."""
    points = min(99.999, max(0.0, share * 100))
    low = int(points // width) * width
    return low, low + width
