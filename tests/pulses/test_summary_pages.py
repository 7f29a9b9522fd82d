"""How a management summary is laid out over pages when one message cannot hold it (`bot.domain.summary`): the
organisation and its departments first, then the other groups in the order of the tree under their parent's name,
what is hidden and why at the end; every group exactly once and whole where it fits at all; the same pages every
time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from bot.domain.summary import ParentLine, SummaryGroup, SummaryPage, paginate


def tree() -> list[SummaryGroup]:
    """An organisation, two departments with three teams each, in the order of the tree."""
    groups = [SummaryGroup(0, "Org: 70 %\n  tabel")]
    for department in ("A", "B"):
        groups.append(SummaryGroup(1, f"  Afdeling {department}: 71 %\n    tabel", "Org"))
        groups += [
            SummaryGroup(2, f"    Team {department}{n}: verborgen", f"Afdeling {department}")
            for n in (1, 2, 3)
        ]
    return groups


def size(page: SummaryPage) -> int:
    """A stand-in for a platform's measure: what the page shows, in characters."""
    fixed = 100 if page.first else 20  # the first page has the chart
    shown = sum(len(i.text) if isinstance(i, SummaryGroup) else len(i.name) for i in page.items())
    return fixed + shown + (50 if page.footer else 0)


def within(limit: int) -> Callable[[SummaryPage], bool]:
    return lambda page: size(page) <= limit


def texts(pages: tuple[SummaryPage, ...]) -> list[str]:
    return [g.text for p in pages for g in p.groups]


def test_one_page_when_everything_fits() -> None:
    (page,) = paginate(tree(), within(10_000))
    assert (page.number, page.total, page.footer) == (1, 1, True)
    assert [g.text for g in page.groups][:3] == [tree()[0].text, tree()[1].text, tree()[5].text]
    assert ParentLine not in {type(i) for i in page.items()}  # the tree reads from the top on the first page


def test_departments_first_then_teams_in_tree_order_each_exactly_once() -> None:
    groups = tree()
    pages = paginate(groups, within(170))
    assert len(pages) > 2
    assert [(p.number, p.total) for p in pages] == [(n, len(pages)) for n in range(1, len(pages) + 1)]
    assert texts(pages) == [g.text for g in groups if g.depth <= 1] + [g.text for g in groups if g.depth == 2]
    assert [p.footer for p in pages] == [False] * (len(pages) - 1) + [True]
    assert all(size(p) <= 170 for p in pages)
    # A later page heads each run of teams with its department's name.
    for page in pages[1:]:
        items = page.items()
        first_group = next(i for i in items if isinstance(i, SummaryGroup))
        if first_group.depth == 2:
            assert items[0] == ParentLine(1, first_group.parent or "")
    assert paginate(groups, within(170)) == pages  # the same pages every time


def test_a_group_too_large_for_any_page_continues_on_the_next_without_losing_a_line() -> None:
    table = "\n".join(f"    vraag {n} | 70 % | 3.8 | verdeling" for n in range(40))
    large = SummaryGroup(2, f"    Team Groot: 70 %\n{table}", "Afdeling A")
    pages = paginate([SummaryGroup(0, "Org"), large], within(400))
    assert "\n".join(g.text for p in pages for g in p.groups if g.parent) == large.text
    assert all(size(p) <= 400 for p in pages)


def test_the_footer_gets_a_page_of_its_own_when_the_last_one_is_full() -> None:
    groups = [SummaryGroup(0, "x" * 60), SummaryGroup(1, "y" * 150, "Org")]
    pages = paginate(groups, within(180))
    assert [(len(p.groups), p.footer) for p in pages] == [(1, False), (1, False), (0, True)]


def test_a_first_page_that_cannot_hold_its_fixed_parts_is_an_error() -> None:
    with pytest.raises(ValueError, match="first page"):
        paginate(tree(), within(50))
