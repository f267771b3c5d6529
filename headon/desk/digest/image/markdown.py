"""An answer's Markdown as plain blocks: paragraphs, list items and headings.

The image draws text, never markup: emphasis and link markup go and their
words stay, images and raw HTML are left out, and a soft line break between
two CJK characters joins them without the space it would put between Latin
words. A source the parser refuses is drawn as its paragraphs.
"""

from __future__ import annotations

import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from markdown_it import MarkdownIt

from headon.desk.digest.image.lines import is_wide


@dataclass(frozen=True)
class Block:
    """A paragraph of an answer as plain text: `marker` is its list bullet or
    number, `depth` its list nesting, `bold` true for headings."""

    text: str
    bold: bool = False
    marker: str = ""
    depth: int = 0


@functools.cache
def _markdown() -> MarkdownIt:
    return MarkdownIt("commonmark")


def _inline_text(children: Sequence[Any]) -> str:
    parts: list[str | None] = []
    for token in children:
        if token.type in ("text", "text_special", "code_inline"):
            parts.append(token.content)
        elif token.type == "softbreak":
            parts.append(None)
        elif token.type == "hardbreak":
            parts.append("\n")
        # images, raw HTML and link/emphasis markup are left out
    text = ""
    for index, part in enumerate(parts):
        if part is not None:
            text += part
            continue
        following = next((p for p in parts[index + 1 :] if p), "")
        # A soft line break is a space, except between two CJK characters.
        joins_cjk = bool(text) and bool(following) and is_wide(text[-1]) and is_wide(following[0])
        text += "" if joins_cjk else " "
    return text


def markdown_blocks(source: str) -> list[Block]:
    """An answer's Markdown as plain paragraphs, list items and headings."""
    try:
        tokens = _markdown().parse(source)
    except Exception:  # any parser failure: draw the source as it is
        return [Block(line) for line in source.split("\n\n") if line.strip()]
    blocks: list[Block] = []
    lists: list[list[int]] = []  # per open list: [ordered?, next number]
    marker = ""
    heading = False
    for token in tokens:
        kind = token.type
        if kind == "bullet_list_open":
            lists.append([0, 0])
        elif kind == "ordered_list_open":
            start = token.attrGet("start")
            lists.append(
                [1, int(start) if isinstance(start, int | str) and str(start).isdigit() else 1]
            )
        elif kind in ("bullet_list_close", "ordered_list_close") and lists:
            lists.pop()
        elif kind == "list_item_open" and lists:
            ordered, number = lists[-1]
            marker = f"{number}." if ordered else ("•" if len(lists) % 2 else "◦")
            lists[-1][1] += 1
        elif kind == "list_item_close":
            marker = ""
        elif kind in ("heading_open", "heading_close"):
            heading = kind == "heading_open"
        elif kind == "inline":
            blocks.append(Block(_inline_text(token.children or []), heading, marker, len(lists)))
            marker = ""
        elif kind in ("fence", "code_block"):
            blocks.append(Block(token.content.rstrip("\n"), False, marker, len(lists)))
            marker = ""
    return blocks
