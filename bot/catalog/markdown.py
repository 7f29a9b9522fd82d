"""The Markdown subset of columns and reminders: parsed into the document model, with problems by line.

Allowed: paragraphs, level-2 headings, flat bullet lists, bold, italic, and https links. Everything else is
refused by the content check, because Slack Block Kit and Teams Adaptive Cards cannot show it alike.
"""

from __future__ import annotations

from enum import StrEnum
from typing import NamedTuple

from markdown_it import MarkdownIt
from markdown_it.token import Token

from bot.domain.document import Block, BulletList, Heading, Paragraph, Span

_PARSER = MarkdownIt("commonmark").disable(["image", "html_block", "html_inline"], ignoreInvalid=True)


class MarkdownCode(StrEnum):
    """What is outside the subset: the console shows `console.content.markdown.<code>` in the reader's language."""

    NUMBERED = "numbered"
    QUOTES = "quotes"
    CODE = "code"
    RULE = "rule"
    HTML = "html"
    TABLE = "table"
    HEADING = "heading"
    NESTED = "nested"
    IMAGE = "image"
    LINE_BREAK = "line_break"
    LINK = "link"


class MarkdownProblem(NamedTuple):
    """A construct outside the subset: its line in the file, its code, and the English for content reports."""

    line: int
    code: MarkdownCode
    message: str


_REFUSED_BLOCKS = {
    "ordered_list_open": (MarkdownCode.NUMBERED, "numbered lists are not supported; use '- ' bullets"),
    "blockquote_open": (MarkdownCode.QUOTES, "quotes ('>') are not supported"),
    "code_block": (MarkdownCode.CODE, "code blocks are not supported"),
    "fence": (MarkdownCode.CODE, "code blocks are not supported"),
    "hr": (MarkdownCode.RULE, "horizontal rules are not supported"),
    "html_block": (MarkdownCode.HTML, "HTML is not supported"),
    "table_open": (MarkdownCode.TABLE, "tables are not supported"),
}
_REFUSED_INLINE = {
    "code_inline": (MarkdownCode.CODE, "inline code is not supported"),
    "image": (MarkdownCode.IMAGE, "images are not supported"),
    "html_inline": (MarkdownCode.HTML, "HTML is not supported"),
    "hardbreak": (
        MarkdownCode.LINE_BREAK,
        "line breaks inside a paragraph are not supported; start a new paragraph",
    ),
}


def markdown_problems(source: str, first_line: int = 1) -> list[MarkdownProblem]:
    """Every construct outside the subset, with its line in the file."""
    problems: list[MarkdownProblem] = []
    # html tokens are disabled in the renderer; parse again with them on so they can be reported.
    tokens = MarkdownIt("commonmark").parse(source)
    depth = 0
    block_line = first_line
    for token in tokens:
        if token.map:
            block_line = first_line + token.map[0]
        if token.type in _REFUSED_BLOCKS:
            problems.append(MarkdownProblem(block_line, *_REFUSED_BLOCKS[token.type]))
        elif token.type == "heading_open" and token.tag != "h2":
            message = f"only level-2 headings ('## ') are supported, not {token.tag}"
            problems.append(MarkdownProblem(block_line, MarkdownCode.HEADING, message))
        elif token.type == "bullet_list_open":
            depth += 1
            if depth > 1:
                problems.append(
                    MarkdownProblem(block_line, MarkdownCode.NESTED, "nested lists are not supported")
                )
        elif token.type == "bullet_list_close":
            depth -= 1
        elif token.type == "inline":
            problems.extend(_inline_problems(token, block_line))
    return problems


def _inline_problems(token: Token, line: int) -> list[MarkdownProblem]:
    found: list[MarkdownProblem] = []
    for child in token.children or []:
        if child.type in _REFUSED_INLINE:
            found.append(MarkdownProblem(line, *_REFUSED_INLINE[child.type]))
        elif child.type == "link_open":
            href = str(child.attrs.get("href", ""))
            if not href.startswith(("https://", "mailto:")):
                message = f"links must be https:// (or mailto:), not '{href}'"
                found.append(MarkdownProblem(line, MarkdownCode.LINK, message))
    return found


def parse_markdown(source: str) -> tuple[Block, ...]:
    """The document model of a source that passed `markdown_problems`."""
    tokens = _PARSER.parse(source)
    blocks: list[Block] = []
    items: list[tuple[Span, ...]] | None = None
    in_heading = False
    for token in tokens:
        if token.type == "heading_open":
            in_heading = True
        elif token.type == "heading_close":
            in_heading = False
        elif token.type == "bullet_list_open":
            items = []
        elif token.type == "bullet_list_close" and items is not None:
            blocks.append(BulletList(tuple(items)))
            items = None
        elif token.type == "inline":
            spans = _spans(token)
            if in_heading:
                blocks.append(Heading(spans))
            elif items is not None:
                items.append(spans)
            else:
                blocks.append(Paragraph(spans))
    return tuple(blocks)


def _spans(token: Token) -> tuple[Span, ...]:
    spans: list[Span] = []
    bold = italic = False
    link: str | None = None
    for child in token.children or []:
        kind = child.type
        if kind == "strong_open":
            bold = True
        elif kind == "strong_close":
            bold = False
        elif kind == "em_open":
            italic = True
        elif kind == "em_close":
            italic = False
        elif kind == "link_open":
            link = str(child.attrs.get("href", ""))
        elif kind == "link_close":
            link = None
        elif kind in {"text", "code_inline"}:
            spans.append(Span(child.content, bold=bold, italic=italic, link=link))
        elif kind == "softbreak":
            spans.append(Span(" ", bold=bold, italic=italic, link=link))
    return tuple(_merge(spans))


def _merge(spans: list[Span]) -> list[Span]:
    """Join neighbouring spans of the same style, so renderers emit fewer markers."""
    merged: list[Span] = []
    for span in spans:
        last = merged[-1] if merged else None
        if last and (last.bold, last.italic, last.link) == (span.bold, span.italic, span.link):
            merged[-1] = Span(last.text + span.text, last.bold, last.italic, last.link)
        else:
            merged.append(span)
    return merged
