"""Every template in the portal's folder is on a page the phone tests check (no horizontal scroll, touch targets,
axe-core): a new page cannot skip them. The phone tests assert that they rendered and checked the pages listed in
`JOURNEY_PAGES` and `ERROR_PAGES`; here, those pages and the parts and bases they include must be the whole folder.
"""

from __future__ import annotations

from pathlib import Path

import jinja2
from jinja2 import meta

from bot.web.portal.routes import TEMPLATE_DIR
from tests.portal.test_browser_phone import ERROR_PAGES, JOURNEY_PAGES


def included(env: jinja2.Environment, pages: frozenset[str]) -> set[str]:
    """The pages and every template they extend or include, transitively."""
    found: set[str] = set()
    todo = list(pages)
    while todo:
        name = todo.pop()
        if name in found:
            continue
        found.add(name)
        source = env.loader.get_source(env, name)[0] if env.loader else ""
        for referenced in meta.find_referenced_templates(env.parse(source)):
            assert referenced is not None, f"{name} includes a template by a computed name: list it here"
            todo.append(referenced)
    return found


def test_every_portal_template_is_on_a_page_the_phone_tests_check() -> None:
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(TEMPLATE_DIR), autoescape=True)
    in_folder = {path.name for path in Path(TEMPLATE_DIR).glob("*.html")}
    checked = included(env, JOURNEY_PAGES | ERROR_PAGES)
    assert in_folder - checked == set(), "portal templates no phone test shows (add them to a phone test)"
    assert checked - in_folder == set()


def test_a_page_nobody_visits_is_noticed(tmp_path: Path) -> None:
    """The check above can fail: a folder with one page more than the tests visit."""
    for path in Path(TEMPLATE_DIR).glob("*.html"):
        (tmp_path / path.name).write_text(path.read_text(encoding="utf-8"), encoding="utf-8")
    (tmp_path / "portal_new.html").write_text('{% extends "portal_base.html" %}', encoding="utf-8")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(tmp_path), autoescape=True)
    unvisited = {path.name for path in tmp_path.glob("*.html")} - included(env, JOURNEY_PAGES | ERROR_PAGES)
    assert unvisited == {"portal_new.html"}
