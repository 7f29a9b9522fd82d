"""A small document model for columns and reminders, so each platform renders the same structure its own way."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Span:
    text: str
    bold: bool = False
    italic: bool = False
    link: str | None = None


@dataclass(frozen=True, slots=True)
class Heading:
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class Paragraph:
    spans: tuple[Span, ...]


@dataclass(frozen=True, slots=True)
class BulletList:
    items: tuple[tuple[Span, ...], ...]


Block = Heading | Paragraph | BulletList


def plain_text(spans: tuple[Span, ...]) -> str:
    return "".join(s.text for s in spans)
