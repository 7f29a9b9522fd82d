"""The management summary over several chat messages, when one message cannot hold it.

Teams refuses a bot message over about 28 KB, and Slack a message whose blocks carry more than about 12,000
characters; the summary of an organisation with a few dozen groups (per group a table per question) is larger.
The platform adapter then sends it as pages, each within its own limit: the adapter says what fits by rendering a
page and measuring it, this module decides what goes on which page.

The order is fixed: the first page carries the title, the chart, the round heading and the trend, then the
organisation and the groups directly under it (its departments), as many as fit beside the chart; the pages after
it hold the rest of them and then the other groups in the order of the tree, each run headed by the name of the
group it belongs to; what is hidden and why closes the last page. Every group is on exactly one page (a group too
large for any page, which no bundled pulse set comes near, continues on the next), with the very text it has
everywhere else: what the anonymity rules hide stays hidden, since a page only ever shows the text `cell_line`
gave. Pages say "2/3".
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from bot.domain.i18n import Translator

#: The page total assumed while measuring: a page's "n/total" is never wider once the real total is known.
SIZING_TOTAL = 999_999


@dataclass(frozen=True, slots=True)
class SummaryGroup:
    """One group of the summary: its depth in the tree, its text (name and figure, then a table per question when
    it has one — several lines), and the name of the group it belongs to (None for the organisation)."""

    depth: int
    text: str
    parent: str | None = None


@dataclass(frozen=True, slots=True)
class ParentLine:
    """The name of the group the next groups belong to, above them on a later page: the tree's context."""

    depth: int
    name: str


@dataclass(frozen=True, slots=True)
class SummaryPage:
    """One message of the summary: its number, how many there are, the groups on it in order, and whether it
    ends with what is hidden and why (the last page does)."""

    number: int
    total: int
    groups: tuple[SummaryGroup, ...]
    footer: bool = False

    @property
    def first(self) -> bool:
        """The first page carries the chart, the round heading and the trend."""
        return self.number == 1

    def items(self) -> tuple[SummaryGroup | ParentLine, ...]:
        """The groups, each run of groups of one parent on a later page headed by that parent's name (on the first
        page the tree reads from the top, so the parent is right there)."""
        shown: list[SummaryGroup | ParentLine] = []
        previous: SummaryGroup | None = None
        for group in self.groups:
            continues = previous is not None and previous.parent == group.parent
            if not self.first and group.parent is not None and not continues:
                shown.append(ParentLine(max(0, group.depth - 1), group.parent))
            shown.append(group)
            previous = group
        return tuple(shown)


def page_title(t: Translator, locale: str, title: str, page: SummaryPage) -> str:
    """The summary's title, with "part 2/3" when it takes several messages."""
    if page.total == 1:
        return title
    return t.t(locale, "insights.part", title=title, number=page.number, total=page.total)


def parent_line(t: Translator, locale: str, line: ParentLine) -> str:
    """The name above a run of groups on a later page, indented as in the tree: "Zorg (vervolg)"."""
    return t.t(locale, "insights.part_context", indent="  " * line.depth, group=line.name)


def continued(t: Translator, locale: str, page: SummaryPage) -> str:
    """On the first of several pages: how many messages follow."""
    return t.t(locale, "insights.continued", count=page.total - page.number)


def page_order(groups: Sequence[SummaryGroup]) -> list[SummaryGroup]:
    """The organisation and the groups directly under it first (what management reads first), then the rest in
    the order of the tree."""
    return [g for g in groups if g.depth <= 1] + [g for g in groups if g.depth > 1]


def _pieces(group: SummaryGroup, fits: Callable[[SummaryPage], bool]) -> list[SummaryGroup]:
    """The group as it fits on pages: whole, or (too large for any page) cut between its lines, and a line too long
    for a page cut in two — so that nothing is ever left out."""
    if fits(SummaryPage(SIZING_TOTAL, SIZING_TOTAL, (group,))):
        return [group]
    lines = group.text.split("\n")
    if len(lines) > 1:
        middle = len(lines) // 2
        halves = ["\n".join(lines[:middle]), "\n".join(lines[middle:])]
    elif len(group.text) > 1:
        middle = len(group.text) // 2
        halves = [group.text[:middle], group.text[middle:]]
    else:
        raise ValueError("a summary page cannot hold a single character")
    return [piece for half in halves for piece in _pieces(replace(group, text=half), fits)]


def paginate(groups: Sequence[SummaryGroup], fits: Callable[[SummaryPage], bool]) -> tuple[SummaryPage, ...]:
    """The pages of the summary, each one that `fits`: groups in `page_order`, as many on a page as fit, then the
    footer (what is hidden and why) on the last page, or on a page of its own when that one is full.

    `fits` is asked with the page total set to `SIZING_TOTAL`; the first page must fit with neither groups nor
    footer (the adapter makes its chart small enough for that), and a later one with the footer alone."""
    if not fits(SummaryPage(1, SIZING_TOTAL, ())):
        raise ValueError("the first page of the summary does not fit even without its groups")
    pages: list[list[SummaryGroup]] = [[]]
    for group in page_order(groups):
        for piece in _pieces(group, fits):
            if fits(SummaryPage(len(pages), SIZING_TOTAL, (*pages[-1], piece))):
                pages[-1].append(piece)
            else:
                pages.append([piece])
    if not fits(SummaryPage(len(pages), SIZING_TOTAL, tuple(pages[-1]), footer=True)):
        pages.append([])
        if not fits(SummaryPage(len(pages), SIZING_TOTAL, (), footer=True)):
            raise ValueError("what is hidden and why does not fit on a page of its own")
    total = len(pages)
    return tuple(
        SummaryPage(number, total, tuple(on), footer=number == total)
        for number, on in enumerate(pages, start=1)
    )
