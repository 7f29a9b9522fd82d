"""Loading the content library from a folder, collecting every problem with its file and line."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from bot.catalog import schemas
from bot.catalog.markdown import markdown_problems
from bot.catalog.plurals import BabelPlurals
from bot.catalog.sources import Parsed, SourceError, parse_front_matter, parse_yaml, read_text
from bot.domain.content import (
    LOCALES,
    Catalog,
    Column,
    Option,
    PulseSet,
    Question,
    QuestionKind,
    Reminder,
    SocialMapEntry,
    Taxonomy,
    TaxonomyItem,
    Text,
)
from bot.domain.i18n import ZERO, Translator, placeholders
from bot.errors import ContentError

Model = TypeVar("Model", bound=BaseModel)


@dataclass(frozen=True, slots=True)
class ContentLibrary:
    catalog: Catalog
    translator: Translator


class _Report:
    """Collects problems as 'path:line: message', paths relative to the content folder."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.problems: list[str] = []

    def add(self, path: Path, line: int, message: str) -> None:
        try:
            shown = path.relative_to(self.root.parent)
        except ValueError:
            shown = path
        self.problems.append(f"{shown}:{line}: {message}")


def load_content(root: Path) -> ContentLibrary:
    """The validated library, or ContentError listing every problem."""
    report = _Report(root)
    if not root.is_dir():
        report.add(root, 1, "the content folder does not exist")
        raise ContentError(report.problems)
    columns = _load_articles(root / "columns", report, schemas.ColumnMeta, schemas.COLUMN_BODY_MAX, _column)
    reminders = _load_articles(
        root / "reminders", report, schemas.ReminderMeta, schemas.REMINDER_BODY_MAX, _reminder
    )
    pulse_sets = [
        built
        for path in sorted((root / "pulses").glob("*.yaml"))
        if (built := _load_yaml(path, report, schemas.PulseSetSpec, _pulse_set)) is not None
    ]
    _unique_ids(pulse_sets, root / "pulses", report, "pulse set")
    social = _load_yaml(root / "social-map" / "template.yaml", report, schemas.SocialMapSpec, _social_map)
    taxonomy = _load_yaml(root / "taxonomy.yaml", report, schemas.TaxonomySpec, _taxonomy)
    translator = _load_locales(root / "locales", report)
    if report.problems or social is None or taxonomy is None or translator is None:
        raise ContentError(report.problems or ["the content library is incomplete"])
    catalog = Catalog(
        columns=tuple(columns),
        reminders=tuple(reminders),
        pulse_sets=tuple(pulse_sets),
        social_map=social,
        taxonomy=taxonomy,
    )
    return ContentLibrary(catalog=catalog, translator=translator)


def check_content(root: Path) -> list[str]:
    """Every problem in the library at `root`; empty when it is sound."""
    try:
        load_content(root)
    except ContentError as exc:
        return exc.problems
    return []


def _validate(model: type[Model], parsed: Parsed, path: Path, report: _Report) -> Model | None:
    try:
        return model.model_validate(parsed.data)
    except ValidationError as exc:
        for error in exc.errors():
            location = tuple(error["loc"])
            field = ".".join(str(part) for part in location) or "file"
            message = str(error["msg"]).removeprefix("Value error, ")
            report.add(path, parsed.line_of(location), f"{field}: {message}")
        return None


def _load_yaml(path: Path, report: _Report, model: type[Model], build: Callable[[Model], Any]) -> Any:
    if not path.is_file():
        report.add(path, 1, "the file is missing")
        return None
    try:
        parsed = parse_yaml(read_text(path))
    except SourceError as exc:
        report.add(path, exc.line, exc.message)
        return None
    spec = _validate(model, parsed, path, report)
    if spec is not None and model is schemas.PulseSetSpec and spec.id != path.stem:  # type: ignore[attr-defined]
        report.add(path, parsed.line_of(("id",)), f"id: must match the file name '{path.stem}'")
    return None if spec is None else build(spec)


@dataclass(frozen=True, slots=True)
class _Article:
    meta: Any
    body: str
    path: Path


def _load_articles(
    folder: Path,
    report: _Report,
    model: type[Model],
    body_max: int,
    build: Callable[[_Article, _Article], Any],
) -> list[Any]:
    by_id: dict[str, dict[str, _Article]] = defaultdict(dict)
    for path in sorted(folder.glob("*.md")):
        article = _read_article(path, report, model, body_max)
        if article is not None:
            by_id[article.meta.id][article.meta.lang] = article
    built = []
    for item_id, languages in sorted(by_id.items()):
        missing = [lang for lang in LOCALES if lang not in languages]
        if missing:
            present = next(iter(languages.values()))
            report.add(
                present.path, 1, f"'{item_id}' has no {'/'.join(missing)} version ({item_id}.{missing[0]}.md)"
            )
            continue
        built.append(build(languages["nl"], languages["en"]))
    return built


def _read_article(path: Path, report: _Report, model: type[Model], body_max: int) -> _Article | None:
    stem, _, lang = path.name.removesuffix(".md").rpartition(".")
    if not stem or lang not in LOCALES:
        report.add(path, 1, "file name must be <id>.nl.md or <id>.en.md")
        return None
    try:
        document = parse_front_matter(read_text(path))
    except SourceError as exc:
        report.add(path, exc.line, exc.message)
        return None
    meta: Any = _validate(model, document.meta, path, report)
    if meta is None:
        return None
    ok = True
    if meta.id != stem:
        report.add(path, document.meta.line_of(("id",)), f"id: must match the file name '{stem}'")
        ok = False
    if meta.lang != lang:
        report.add(path, document.meta.line_of(("lang",)), f"lang: the file name says '{lang}'")
        ok = False
    if not document.body.strip():
        report.add(path, document.body_first_line, "the body is empty")
        ok = False
    elif len(document.body) > body_max:
        report.add(
            path,
            document.body_first_line,
            f"the body has {len(document.body)} characters; at most {body_max}",
        )
        ok = False
    for line, _code, message in markdown_problems(document.body, document.body_first_line):
        report.add(path, line, message)
        ok = False
    return _Article(meta=meta, body=document.body, path=path) if ok else None


def _column(nl: _Article, en: _Article) -> Column:
    return Column(
        id=nl.meta.id,
        theme=nl.meta.theme,
        reading_minutes=nl.meta.reading_minutes,
        title=Text(nl.meta.title, en.meta.title),
        summary=Text(nl.meta.summary, en.meta.summary),
        body=Text(nl.body, en.body),
    )


def _reminder(nl: _Article, en: _Article) -> Reminder:
    return Reminder(
        id=nl.meta.id,
        topic=nl.meta.topic,
        title=Text(nl.meta.title, en.meta.title),
        body=Text(nl.body, en.body),
    )


def _text(value: schemas.Bilingual | schemas.LongBilingual) -> Text:
    return Text(value.nl, value.en)


def _pulse_set(spec: schemas.PulseSetSpec) -> PulseSet:
    return PulseSet(
        id=spec.id,
        name=_text(spec.name),
        description=_text(spec.description),
        window_days=spec.window_days,
        scale=tuple(Text(nl, en) for nl, en in zip(spec.scale.nl, spec.scale.en, strict=True)),
        questions=tuple(
            Question(
                id=q.id,
                kind=QuestionKind(q.kind),
                text=_text(q.text),
                reverse=q.reverse,
                options=tuple(Option(o.id, _text(o.label), o.favourable) for o in q.options),
            )
            for q in spec.questions
        ),
        source=spec.source,
    )


def _social_map(spec: schemas.SocialMapSpec) -> tuple[SocialMapEntry, ...]:
    return tuple(
        SocialMapEntry(
            id=e.id,
            kind=e.kind,
            name=_text(e.name),
            description=_text(e.description),
            phone=e.phone,
            url=e.url,
            hours=_text(e.hours) if e.hours else None,
        )
        for e in spec.entries
    )


def _taxonomy(spec: schemas.TaxonomySpec) -> Taxonomy:
    def items(values: list[schemas.TaxonomyItemSpec]) -> tuple[TaxonomyItem, ...]:
        return tuple(
            TaxonomyItem(v.id, _text(v.label), _text(v.description) if v.description else Text("", ""))
            for v in values
        )

    return Taxonomy(items(spec.categories), items(spec.contact_types), items(spec.follow_ups))


def _unique_ids(items: list[Any], folder: Path, report: _Report, what: str) -> None:
    seen: set[str] = set()
    for item in items:
        if item.id in seen:
            report.add(folder, 1, f"two {what}s share the id '{item.id}'")
        seen.add(item.id)


#: Every form name a plural text may use: CLDR's categories, and `zero` for exactly 0.
PLURAL_FORMS = frozenset({ZERO, "one", "two", "few", "many", "other"})


@dataclass
class _LocaleTable:
    texts: dict[str, str]
    plurals: dict[str, dict[str, str]]
    lines: dict[str, int]


def _load_locales(folder: Path, report: _Report) -> Translator | None:
    rules = BabelPlurals()
    tables: dict[str, _LocaleTable] = {}
    for lang in LOCALES:
        path = folder / f"{lang}.yaml"
        if not path.is_file():
            report.add(path, 1, "the locale file is missing")
            continue
        try:
            parsed = parse_yaml(read_text(path))
        except SourceError as exc:
            report.add(path, exc.line, exc.message)
            continue
        if not isinstance(parsed.data, dict):
            report.add(path, 1, "a locale file is a mapping of keys to texts")
            continue
        table = _LocaleTable({}, {}, {})
        _flatten(parsed, parsed.data, (), table, path, report)
        _check_plurals(table, rules.categories(lang), path, report)
        tables[lang] = table
    if len(tables) != len(LOCALES):
        return None
    _compare_locales(tables, folder, report)
    return Translator(
        {lang: table.texts for lang, table in tables.items()},
        {lang: table.plurals for lang, table in tables.items()},
        rules,
    )


def _is_plural(node: dict[Any, Any]) -> bool:
    """A mapping whose keys are all plural form names is one text in several forms, not a section."""
    return bool(node) and all(str(key) in PLURAL_FORMS for key in node)


def _flatten(
    parsed: Parsed,
    node: Any,
    path: tuple[str, ...],
    table: _LocaleTable,
    file: Path,
    report: _Report,
) -> None:
    for key, value in node.items():
        location = (*path, str(key))
        dotted = ".".join(location)
        if isinstance(value, dict) and _is_plural(value):
            table.lines[dotted] = parsed.line_of(location)
            forms: dict[str, str] = {}
            for form, text in value.items():
                if _text_ok(parsed, (*location, str(form)), text, file, report):
                    forms[str(form)] = text
            table.plurals[dotted] = forms
        elif isinstance(value, dict):
            _flatten(parsed, value, location, table, file, report)
        elif _text_ok(parsed, location, value, file, report):
            table.texts[dotted], table.lines[dotted] = value, parsed.line_of(location)


def _text_ok(parsed: Parsed, location: tuple[str, ...], value: Any, file: Path, report: _Report) -> bool:
    dotted = ".".join(location)
    if not isinstance(value, str) or not value.strip():
        report.add(file, parsed.line_of(location), f"{dotted}: must be a non-empty text")
        return False
    try:
        placeholders(value)
    except ValueError:
        report.add(
            file,
            parsed.line_of(location),
            f"{dotted}: unbalanced braces; write {{{{ and }}}} for literal ones",
        )
        return False
    return True


def _check_plurals(table: _LocaleTable, needed: frozenset[str], file: Path, report: _Report) -> None:
    """Every plural text has each form its language needs, no form it cannot use, and no placeholder in another
    form that the general form lacks. (`{count}` may be left out: a label can agree with a number it does not
    show, and "Nog niemand aangemeld" needs no 0.)"""
    for key, forms in table.plurals.items():
        line = table.lines[key]
        for form in sorted(needed - forms.keys()):
            report.add(
                file, line, f"{key}: the '{form}' form is missing (this language needs {sorted(needed)})"
            )
        for form in sorted(forms.keys() - needed - {ZERO}):
            report.add(file, line, f"{key}: this language has no '{form}' form (it uses {sorted(needed)})")
        general = forms.get("other")
        if general is None:
            continue
        for form, text in sorted(forms.items()):
            extra = sorted(placeholders(text) - placeholders(general))
            if extra:
                report.add(file, line, f"{key}: the '{form}' form uses {extra}, which the 'other' form lacks")


def _compare_locales(tables: dict[str, _LocaleTable], folder: Path, report: _Report) -> None:
    nl, en = tables["nl"], tables["en"]
    for mine, theirs, name, other_name in ((nl, en, "en.yaml", "nl.yaml"), (en, nl, "nl.yaml", "en.yaml")):
        for key in sorted(mine.lines.keys() - theirs.lines.keys()):
            report.add(folder / name, 1, f"{key}: missing ({other_name} line {mine.lines[key]} has it)")
    for key in sorted(nl.lines.keys() & en.lines.keys()):
        if (key in nl.plurals) != (key in en.plurals):
            report.add(
                folder / "en.yaml", en.lines[key], f"{key}: a plural text in one language, not in the other"
            )
            continue
        if key in nl.plurals:
            _compare_forms(key, nl.plurals[key], en.plurals[key], folder, en.lines[key], report)
            continue
        ours, theirs_ = sorted(placeholders(en.texts[key])), sorted(placeholders(nl.texts[key]))
        if ours != theirs_:
            report.add(
                folder / "en.yaml", en.lines[key], f"{key}: placeholders {ours} differ from nl.yaml {theirs_}"
            )


def _compare_forms(
    key: str, nl: dict[str, str], en: dict[str, str], folder: Path, line: int, report: _Report
) -> None:
    for form in sorted(nl.keys() & en.keys()):
        ours, theirs = sorted(placeholders(en[form])), sorted(placeholders(nl[form]))
        if ours != theirs:
            report.add(
                folder / "en.yaml", line, f"{key}.{form}: placeholders {ours} differ from nl.yaml {theirs}"
            )
