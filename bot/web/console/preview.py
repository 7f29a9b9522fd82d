"""Previews: a Post rendered by the real Slack and Teams renderers, shown as an approximation in HTML.

The payloads come from the adapters' own `Renderer`s (Block Kit, Adaptive Card), so what the counsellor sees is
built from exactly what would be sent; only the drawing of it is approximate. Everything is escaped here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import TYPE_CHECKING, Any

from markupsafe import Markup, escape

from bot.domain.delivery import Post
from bot.domain.tenancy import Platform

if TYPE_CHECKING:
    from bot.wiring import PlatformRegistry

_SLACK_LINK = re.compile(r"<([^<>|]+)\|([^<>]+)>|<([^<>|]+)>")
_SLACK_BOLD = re.compile(r"(?<![\w*])\*([^*\n]+)\*(?![\w*])")
_SLACK_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")
_MD_LINK = re.compile(r"\[([^\]]+)\]\(([^)\s]+)\)")
_MD_BOLD = re.compile(r"\*\*([^*\n]+)\*\*")
_MD_ITALIC = re.compile(r"(?<![\w_])_([^_\n]+)_(?![\w_])")


def _safe_href(url: str) -> str | None:
    return url if url.startswith(("https://", "http://", "mailto:")) else None


def _anchor(url: str, label: Markup | str) -> str:
    href = _safe_href(url)
    if href is None:
        return str(escape(label))
    return f'<a href="{escape(href)}" rel="noopener noreferrer" target="_blank">{escape(label)}</a>'


def slack_mrkdwn(text: str) -> Markup:
    """Slack mrkdwn (with its &lt; &gt; &amp; escapes) as HTML."""
    out: list[str] = []
    position = 0
    for match in _SLACK_LINK.finditer(text):
        out.append(_slack_inline(text[position : match.start()]))
        url = match.group(1) or match.group(3)
        label = _unescape_slack(match.group(2) or url)
        out.append(_anchor(_unescape_slack(url), label))
        position = match.end()
    out.append(_slack_inline(text[position:]))
    return Markup("".join(out).replace("\n", "<br>"))  # noqa: S704 - every part escaped above


def _unescape_slack(text: str) -> str:
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def _slack_inline(text: str) -> str:
    html = str(escape(_unescape_slack(text)))
    html = _SLACK_BOLD.sub(r"<strong>\1</strong>", html)
    return _SLACK_ITALIC.sub(r"<em>\1</em>", html)


def _text_of(obj: Any) -> Markup:
    if not isinstance(obj, Mapping):
        return Markup("")
    text = str(obj.get("text", ""))
    if obj.get("type") == "mrkdwn":
        return slack_mrkdwn(text)
    return escape(text)


def slack_html(payload: Mapping[str, Any]) -> Markup:
    """Block Kit blocks as HTML (header, section, context, divider, actions, image)."""
    parts: list[str] = []
    for block in payload.get("blocks", []) or []:
        kind = block.get("type")
        if kind == "header":
            parts.append(f'<div class="header">{_text_of(block.get("text"))}</div>')
        elif kind == "section":
            parts.append(f"<p>{_text_of(block.get('text'))}</p>")
            for item in block.get("fields", []) or []:
                parts.append(f"<p>{_text_of(item)}</p>")
            accessory = block.get("accessory")
            if isinstance(accessory, Mapping) and accessory.get("type") == "button":
                parts.append(_slack_button(accessory))
        elif kind == "context":
            texts = " ".join(str(_text_of(e)) for e in block.get("elements", []) or [])
            parts.append(f'<div class="context">{texts}</div>')
        elif kind == "divider":
            parts.append('<div class="divider" role="separator"></div>')
        elif kind == "actions":
            buttons = "".join(
                _slack_button(e) for e in block.get("elements", []) or [] if isinstance(e, Mapping)
            )
            parts.append(f"<div>{buttons}</div>")
        elif kind == "image":
            parts.append(f'<div class="context">[{escape(block.get("alt_text", ""))}]</div>')
        elif kind == "rich_text":
            parts.append(f"<p>{escape(_flatten_rich_text(block))}</p>")
    return Markup("".join(parts))  # noqa: S704 - every part escaped above


def _flatten_rich_text(node: Any) -> str:
    if isinstance(node, Mapping):
        if "text" in node and isinstance(node["text"], str):
            return node["text"]
        return "".join(_flatten_rich_text(e) for e in node.get("elements", []) or [])
    return ""


def _slack_button(element: Mapping[str, Any]) -> str:
    label = _text_of(element.get("text"))
    style = " primary" if element.get("style") == "primary" else ""
    url = element.get("url")
    if isinstance(url, str) and _safe_href(url):
        return f'<a class="btn{style}" href="{escape(url)}" rel="noopener noreferrer" target="_blank">{label}</a>'
    return f'<span class="btn{style}">{label}</span>'


def teams_markdown(text: str) -> Markup:
    """The Markdown subset of Adaptive Card TextBlocks as HTML."""
    lines = []
    for line in text.split("\n"):
        html = str(escape(line))
        html = _MD_LINK.sub(
            lambda m: _anchor(_unescape_html(m.group(2)), Markup(m.group(1))),  # noqa: S704 - escaped above
            html,
        )
        html = _MD_BOLD.sub(r"<strong>\1</strong>", html)
        html = _MD_ITALIC.sub(r"<em>\1</em>", html)
        if html.startswith(("- ", "* ")):
            html = "• " + html[2:]
        lines.append(html)
    return Markup("<br>".join(lines))  # noqa: S704 - escaped above


def _unescape_html(text: str) -> str:
    return text.replace("&amp;", "&").replace("&#34;", '"').replace("&#39;", "'")


def _card_of(payload: Mapping[str, Any]) -> Mapping[str, Any]:
    for attachment in payload.get("attachments", []) or []:
        content = attachment.get("content") if isinstance(attachment, Mapping) else None
        if isinstance(content, Mapping):
            return content
    return payload


def teams_html(payload: Mapping[str, Any]) -> Markup:
    """An Adaptive Card (inside a Bot Framework message) as HTML."""
    card = _card_of(payload)
    parts = [_elements(card.get("body", []) or [])]
    actions = card.get("actions", []) or []
    if actions:
        parts.append(f"<div>{_actions(actions)}</div>")
    return Markup("".join(parts))  # noqa: S704 - escaped in the helpers


def _elements(elements: Iterable[Any]) -> str:
    out: list[str] = []
    for element in elements:
        if not isinstance(element, Mapping):
            continue
        kind = element.get("type")
        if kind == "TextBlock":
            classes = []
            if element.get("size") in {"Large", "ExtraLarge"} or element.get("weight") == "Bolder":
                classes.append("header")
            if element.get("isSubtle"):
                classes.append("context")
            out.append(
                f'<div class="{" ".join(classes)}">{teams_markdown(str(element.get("text", "")))}</div>'
            )
        elif kind == "RichTextBlock":
            out.append(
                f"<p>{escape(''.join(str(i.get('text', '')) for i in element.get('inlines', []) or []))}</p>"
            )
        elif kind == "Container":
            out.append(f"<div>{_elements(element.get('items', []) or [])}</div>")
        elif kind == "ColumnSet":
            for column in element.get("columns", []) or []:
                out.append(f"<div>{_elements(column.get('items', []) or [])}</div>")
        elif kind == "FactSet":
            facts = "".join(
                f"<dt>{escape(f.get('title', ''))}</dt><dd>{teams_markdown(str(f.get('value', '')))}</dd>"
                for f in element.get("facts", []) or []
            )
            out.append(f"<dl>{facts}</dl>")
        elif kind == "ActionSet":
            out.append(f"<div>{_actions(element.get('actions', []) or [])}</div>")
        elif kind == "Image":
            out.append(f'<div class="context">[{escape(element.get("altText", ""))}]</div>')
    return "".join(out)


def _actions(actions: Iterable[Any]) -> str:
    out = []
    for action in actions:
        if not isinstance(action, Mapping):
            continue
        title = escape(action.get("title", ""))
        url = action.get("url")
        if action.get("type") == "Action.OpenUrl" and isinstance(url, str) and _safe_href(url):
            out.append(
                f'<a class="btn primary" href="{escape(url)}" rel="noopener noreferrer" target="_blank">{title}</a>'
            )
        else:
            out.append(f'<span class="btn">{title}</span>')
    return "".join(out)


def preview(
    post: Post, locale: str, platforms: Mapping[Platform, PlatformRegistry]
) -> dict[str, Markup | None]:
    """HTML of `post` as Slack and as Teams would show it, rendered by the registries delivery uses."""
    slack, teams = platforms.get(Platform.SLACK), platforms.get(Platform.TEAMS)
    return {
        "slack": None if slack is None else slack_html(slack.renderers.render(post, locale).payload),
        "teams": None if teams is None else teams_html(teams.renderers.render(post, locale).payload),
    }
