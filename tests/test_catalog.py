from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from bot.__main__ import main
from bot.catalog import check_content, load_content
from bot.catalog.markdown import parse_markdown
from bot.domain.document import BulletList, Heading, Paragraph, Span
from bot.settings import BUNDLED_CONTENT


def test_bundled_library_is_sound_and_complete() -> None:
    assert check_content(BUNDLED_CONTENT) == []
    library = load_content(BUNDLED_CONTENT)
    catalog = library.catalog
    assert len(catalog.columns) >= 6
    assert len(catalog.reminders) >= 8
    assert len(catalog.pulse_sets) >= 2
    assert {c.theme for c in catalog.columns} >= {"boundaries", "micro-aggressions"}
    safety = catalog.pulse_set("psychologische-veiligheid")
    assert safety is not None
    assert sum(q.reverse for q in safety.questions) == 3
    assert len(safety.questions) == 7
    assert any(e.kind == "external" for e in catalog.social_map)
    assert {c.id for c in catalog.taxonomy.categories} >= {"bullying", "sexual-intimidation", "other"}
    for column in catalog.columns:
        assert column.title.nl != column.title.en


def test_no_text_calls_a_conversation_a_report() -> None:
    # The formal routes (whistleblowing, complaints committee) may be named in the taxonomy and sociale kaart;
    # what employees read about the counsellor never calls a conversation a report.
    readable = [
        *BUNDLED_CONTENT.glob("columns/*.nl.md"),
        *BUNDLED_CONTENT.glob("reminders/*.nl.md"),
        BUNDLED_CONTENT / "locales" / "nl.yaml",
    ]
    for path in readable:
        text = path.read_text(encoding="utf-8").lower()
        assert "melding" not in text, f"{path.name} calls a conversation a 'melding'"


@pytest.fixture
def library(tmp_path: Path) -> Path:
    root = tmp_path / "content"
    shutil.copytree(BUNDLED_CONTENT, root)
    return root


def _replace(path: Path, old: str, new: str) -> None:
    text = path.read_text(encoding="utf-8")
    assert old in text, f"{old!r} not in {path}"
    path.write_text(text.replace(old, new, 1), encoding="utf-8")


def _line_of(path: Path, needle: str) -> int:
    return next(
        i for i, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1) if needle in line
    )


def test_wrong_theme_is_reported_with_file_and_line(library: Path) -> None:
    column = sorted((library / "columns").glob("*.nl.md"))[0]
    line = _line_of(column, "theme:")
    text = column.read_text(encoding="utf-8").splitlines()
    text[line - 1] = "theme: gossip"
    column.write_text("\n".join(text) + "\n", encoding="utf-8")
    problems = check_content(library)
    assert any(p.startswith(f"content/columns/{column.name}:{line}: theme:") for p in problems), problems


def test_yaml_syntax_error_is_reported_at_its_line(library: Path) -> None:
    pulse = library / "pulses" / "wekelijkse-check-in.yaml"
    lines = pulse.read_text(encoding="utf-8").splitlines()
    lines.insert(3, "broken: [unclosed")
    pulse.write_text("\n".join(lines) + "\n", encoding="utf-8")
    problems = check_content(library)
    assert len(problems) == 1
    path, line, message = problems[0].split(":", 2)
    assert path == "content/pulses/wekelijkse-check-in.yaml"
    assert int(line) >= 4
    assert "YAML" in message


def test_a_missing_translation_is_reported(library: Path) -> None:
    reminder = sorted((library / "reminders").glob("*.en.md"))[0]
    reminder.unlink()
    problems = check_content(library)
    stem = reminder.name.removesuffix(".en.md")
    assert problems == [f"content/reminders/{stem}.nl.md:1: '{stem}' has no en version ({stem}.en.md)"]


def test_unsupported_markdown_is_reported_at_its_line(library: Path) -> None:
    column = sorted((library / "columns").glob("*.en.md"))[0]
    with column.open("a", encoding="utf-8") as handle:
        handle.write("\n\n| a | b |\n\n1. first\n\n![photo](https://example.org/x.png)\n")
    total = len(column.read_text(encoding="utf-8").splitlines())
    problems = [p for p in check_content(library) if column.name in p]
    assert any("numbered lists" in p and f":{total - 2}:" in p for p in problems), problems
    assert any("images" in p for p in problems), problems


def test_pulse_question_rules(library: Path) -> None:
    pulse = library / "pulses" / "psychologische-veiligheid.yaml"
    _replace(pulse, "kind: likert", "kind: choice")
    problems = check_content(library)
    assert any("psychologische-veiligheid.yaml" in p and "2 to 6 options" in p for p in problems), problems


def test_locales_must_stay_in_step(library: Path) -> None:
    nl = library / "locales" / "nl.yaml"
    _replace(nl, 'button: "Start een vertrouwelijk gesprek"', 'button: "Start een gesprek met {naam}"')
    en = library / "locales" / "en.yaml"
    _replace(en, "  link_label:", '  only_in_english: "Hi"\n  link_label:')
    problems = check_content(library)
    assert any("door.button: placeholders" in p for p in problems), problems
    assert any(p.startswith("content/locales/nl.yaml:1: door.only_in_english: missing") for p in problems), (
        problems
    )


def test_content_check_cli_reports_and_fails(library: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["content", "check", str(library)]) == 0
    assert "sound" in capsys.readouterr().out
    (library / "taxonomy.yaml").write_text("categories: []\n", encoding="utf-8")
    assert main(["content", "check", str(library)]) == 1
    out = capsys.readouterr().out
    assert "content/taxonomy.yaml:1: categories:" in out
    assert "contact_types: Field required" in out


def test_markdown_becomes_the_document_model() -> None:
    blocks = parse_markdown("## Kop\n\nEen **vet** en _schuin_ [link](https://x.nl).\n\n- een\n- twee\n")
    assert blocks == (
        Heading((Span("Kop"),)),
        Paragraph(
            (
                Span("Een "),
                Span("vet", bold=True),
                Span(" en "),
                Span("schuin", italic=True),
                Span(" "),
                Span("link", link="https://x.nl"),
                Span("."),
            )
        ),
        BulletList(((Span("een"),), (Span("twee"),))),
    )
