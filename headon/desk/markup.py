"""Answers are written in Markdown; the public sees it as sanitised HTML.

Two layers: markdown-it renders CommonMark with raw HTML switched off, then
nh3 (ammonia) keeps only an allow-list of tags and attributes and URL
schemes, so neither a careless paste nor a hostile writer can put a script,
a style or a `javascript:` link on a public page.
"""

from __future__ import annotations

from functools import cache
from html import unescape

import nh3
from django.utils.safestring import SafeString, mark_safe
from markdown_it import MarkdownIt

__all__ = ["markdown_text", "render_markdown"]

_TAGS = {
    "p", "br", "strong", "em", "code", "pre", "blockquote", "ul", "ol", "li",
    "a", "h3", "h4", "hr", "del",
}  # fmt: skip


@cache
def _parser() -> MarkdownIt:
    parser = MarkdownIt("commonmark", {"html": False, "linkify": False, "typographer": False})
    parser.enable("strikethrough")
    # Headings in an answer sit under the page's own: # and ## become h3.
    parser.disable("image")
    return parser


def _demote(html: str) -> str:
    for level in (1, 2, 5, 6):
        target = 3 if level < 3 else 4
        html = html.replace(f"<h{level}>", f"<h{target}>").replace(f"</h{level}>", f"</h{target}>")
    return html


def render_markdown(text: str) -> SafeString:
    """Sanitised HTML for `text`; safe to put in any page."""
    html = _demote(_parser().render(text or ""))
    cleaned = nh3.clean(
        html,
        tags=_TAGS,
        attributes={"a": {"href"}},
        url_schemes={"http", "https", "mailto"},
        link_rel="nofollow noopener noreferrer",
    )
    return mark_safe(cleaned)  # noqa: S308 - nh3's allow-list output  # nosec B308 B703


def markdown_text(text: str) -> str:
    """`text` as plain text: for posts and anything that is not HTML."""
    html = _parser().render(text or "")
    html = html.replace("<li>", "<li>• ").replace("</p>", "</p>\n").replace("</li>", "</li>\n")
    plain = unescape(nh3.clean(html, tags=set()))
    return "\n".join(line.strip() for line in plain.splitlines() if line.strip())
