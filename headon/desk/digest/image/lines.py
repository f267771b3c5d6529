"""Line breaking for mixed Chinese and Latin text: `wrap` and its rules.

Breaks fall between any two CJK characters and at spaces, never inside a
Latin word unless the word alone is too wide, and the basic kinsoku rules
hold (no line starts with a closing mark, none ends with an opening one).
Widths come from the caller's `measure`, so nothing here knows about fonts.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Callable

# Kinsoku: no line starts with CLOSING, none ends with OPENING.
CLOSING = frozenset("，。、；：！？）」』】》〉〕…—‥％・”’,.;:!?)]}%")
OPENING = frozenset("（「『【《〈〔“‘([{")
# Spaces a line may break at; no-break spaces are left out on purpose.
BREAK_SPACES = frozenset(" \t\u3000\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a")


def is_wide(char: str) -> bool:
    # East Asian Wide/Fullwidth covers ideographs, kana, hangul syllables and
    # fullwidth punctuation: every one of them is its own break unit.
    return unicodedata.east_asian_width(char) in "WF"


def _atoms(text: str) -> list[str]:
    """Cut a paragraph into units no break may fall inside: runs of spaces,
    single wide characters, and words (everything else between them)."""
    atoms: list[str] = []
    word: list[str] = []
    for char in text:
        if char in BREAK_SPACES:
            if word:
                atoms.append("".join(word))
                word = []
            if atoms and atoms[-1][-1] in BREAK_SPACES:
                atoms[-1] += char
            else:
                atoms.append(char)
        elif is_wide(char):
            if word:
                atoms.append("".join(word))
                word = []
            atoms.append(char)
        else:
            word.append(char)
    if word:
        atoms.append("".join(word))
    return atoms


def _groups(text: str) -> list[str]:
    """The atoms, glued where kinsoku forbids a break between them."""
    groups: list[str] = []
    for atom in _atoms(text):
        if not groups:
            groups.append(atom)
        elif atom[0] in CLOSING:
            if groups[-1].isspace() and len(groups) > 1:
                atom = groups.pop() + atom
            groups[-1] += atom
        elif groups[-1][-1] in OPENING:
            groups[-1] += atom
        else:
            groups.append(atom)
    return groups


def _wrap_paragraph(text: str, measure: Callable[[str], float], max_width: float) -> list[str]:
    lines: list[str] = []
    line = ""
    width = 0.0

    def flush() -> None:
        nonlocal line, width
        if line.strip():
            lines.append(line.rstrip())
        line, width = "", 0.0

    for group in _groups(text):
        if group.isspace():
            if line:  # spaces at a line's start are dropped, at its end stripped
                line += group
                width += measure(group)
            continue
        group_width = measure(group)
        if width + group_width <= max_width:
            line += group
            width += group_width
            continue
        flush()
        if group_width <= max_width:
            line, width = group.lstrip(), measure(group.lstrip())
            continue
        # Only a unit wider than the whole line is broken inside.
        for char in group:
            char_width = measure(char)
            if line and width + char_width > max_width:
                flush()
            if line or not char.isspace():
                line += char
                width += char_width
    flush()
    return lines


def wrap(text: str, measure: Callable[[str], float], max_width: float) -> list[str]:
    """Break `text` into lines no wider than `max_width` by `measure`.

    Breaks fall at spaces and between any two CJK characters; a Latin word is
    kept whole unless it alone is wider than a line. A closing mark (，。）」
    and , . ) % ...) never starts a line and an opening one (（「 and ( ...)
    never ends one. "\\n" forces a break; an empty paragraph gives an empty line.
    """
    if not text:
        return []
    lines: list[str] = []
    for paragraph in text.split("\n"):
        lines.extend(_wrap_paragraph(paragraph, measure, max_width) or [""])
    return lines
