"""Reading YAML and front-matter files while remembering where every value stood, for file:line reports."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

Location = tuple[str | int, ...]

# libyaml's parser, when PyYAML was built with it (the wheels are): the same documents and marks, ten times faster.
_LOADER: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SourceError(Exception):
    """A file could not be read or parsed; `line` is 1-based in the file."""

    def __init__(self, line: int, message: str) -> None:
        super().__init__(message)
        self.line = line
        self.message = message


@dataclass(frozen=True, slots=True)
class Parsed:
    """A parsed YAML document and the line of every value in it."""

    data: Any
    lines: dict[Location, int]

    def line_of(self, location: Location) -> int:
        """The line of the deepest known value on the path to `location`."""
        for end in range(len(location), -1, -1):
            line = self.lines.get(tuple(location[:end]))
            if line is not None:
                return line
        return 1


def parse_yaml(text: str, first_line: int = 1) -> Parsed:
    offset = first_line - 1
    try:
        node = yaml.compose(text, Loader=_LOADER)
        data = yaml.load(text, Loader=_LOADER)  # noqa: S506  (a safe loader)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = (mark.line + 1 if mark else 1) + offset
        raise SourceError(line, f"YAML: {exc.problem or exc.context}") from None
    except yaml.YAMLError as exc:
        raise SourceError(first_line, f"YAML: {exc}") from None
    lines: dict[Location, int] = {}
    if node is not None:
        _walk(node, (), lines, offset)
    return Parsed(data=data, lines=lines)


def _walk(node: yaml.Node, path: Location, lines: dict[Location, int], offset: int) -> None:
    lines[path] = node.start_mark.line + 1 + offset
    if isinstance(node, yaml.MappingNode):
        for key_node, value_node in node.value:
            key = key_node.value
            lines[(*path, key)] = key_node.start_mark.line + 1 + offset
            _walk(value_node, (*path, key), lines, offset)
            lines[(*path, key)] = key_node.start_mark.line + 1 + offset
    elif isinstance(node, yaml.SequenceNode):
        for index, item in enumerate(node.value):
            _walk(item, (*path, index), lines, offset)


@dataclass(frozen=True, slots=True)
class FrontMatterDocument:
    meta: Parsed
    body: str
    body_first_line: int


def parse_front_matter(text: str) -> FrontMatterDocument:
    lines = text.split("\n")
    if not lines or lines[0].strip() != "---":
        raise SourceError(1, "expected front matter: the file must start with a line '---'")
    try:
        end = next(i for i in range(1, len(lines)) if lines[i].strip() == "---")
    except StopIteration:
        raise SourceError(1, "the front matter is not closed by a second line '---'") from None
    meta = parse_yaml("\n".join(lines[1:end]), first_line=2)
    if not isinstance(meta.data, dict):
        raise SourceError(2, "the front matter must be a mapping of fields (key: value)")
    raw = "\n".join(lines[end + 1 :])
    leading_blank_lines = len(raw) - len(raw.lstrip("\n"))
    return FrontMatterDocument(meta=meta, body=raw.strip("\n"), body_first_line=end + 2 + leading_blank_lines)


def read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError:
        raise SourceError(1, "the file is not valid UTF-8") from None
