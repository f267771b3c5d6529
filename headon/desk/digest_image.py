"""The night's digest as one long PNG, for channels that only take pictures.

No Django here: `render_digest_png` takes a digest snapshot (the
"headon-digest/1" dict the desk freezes at publication) and the fixed UI
strings, and returns PNG bytes. The desk passes translated `ImageLabels`.

Chinese typesetting is the point of this module, so three things are done by
hand rather than left to Pillow:

- Fonts. The app vendors Noto Sans SC as the WOFF2 slices the browser uses;
  their CSS says which slice holds which code point. Each line is cut into
  runs by slice. A character no slice holds is dropped rather than drawn as
  a box. CJK runs are pasted glyph by glyph and other runs word by word from
  masks drawn once (words shaped by raqm when Pillow has it).
- Line breaking (`wrap`): between any two CJK characters, never inside a
  Latin word unless the word alone is too wide, and the basic kinsoku rules
  (no line starts with a closing mark, none ends with an opening one).
- The PNG itself. A digest of 300 answers is about 240,000 pixels tall,
  780 MB as one RGB image; the layout is computed first, then the picture is
  drawn in strips of 1,024 rows that are deflated as one stream by a second
  thread while the next strip is drawn, so only a few strips are ever held.
  Rows that repeat the row above are spliced in already deflated.
"""

from __future__ import annotations

import datetime as dt
import functools
import math
import re
import struct
import threading
import unicodedata
import zlib
from collections import deque
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from markdown_it import MarkdownIt
from PIL import Image, ImageDraw, ImageFont, features

STATIC = Path(__file__).resolve().parents[1] / "static" / "headon"
FONT_CSS = STATIC / "css" / "noto-sans-sc.css"
FONT_DIR = STATIC / "fonts" / "noto-sans-sc"

REGULAR, BOLD = 400, 700

# Kinsoku: no line starts with CLOSING, none ends with OPENING.
CLOSING = frozenset("，。、；：！？）」』】》〉〕…—‥％・”’,.;:!?)]}%")
OPENING = frozenset("（「『【《〈〔“‘([{")
# Spaces a line may break at; no-break spaces are left out on purpose.
BREAK_SPACES = frozenset(" \t\u3000\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2008\u2009\u200a")

# Hostile or runaway text is cut to these lengths (characters) so one field
# cannot make the image, or the time to draw it, unbounded.
MAX_BODY = 6000
MAX_LINE = 600


@dataclass(frozen=True)
class ImageLabels:
    """The fixed strings drawn on the image; English by default.

    Placeholders, filled with str.format (a template that does not format is
    drawn as it is):
    - title: {date}; revision: {n}; published: {time}
    - coverage_line: {asks}, {asks_covered}, {asks_late}, {asks_open},
      {questions}, {questions_covered}, {questions_late}, {questions_open}
    - asked_by, channels, open_heading, open_more: {n}
    - footer: {url}
    The *_one variants are used when {n} is 1 (English needs them, Chinese
    can repeat the general form).
    """

    title: str = "Answers for {date}"
    revision: str = "Revision {n}"
    published: str = "Published {time}"
    correction: str = "Correction"
    coverage: str = "Coverage"
    coverage_line: str = (
        "{asks_covered} of {asks} questions asked today are answered, "
        "covering {questions_covered} of {questions} topics."
    )
    answers_heading: str = "Today's answers"
    asked_by: str = "asked by {n} people"
    asked_by_one: str = "asked by 1 person"
    channels: str = "{n} channels"
    channels_one: str = "1 channel"
    rumours_heading: str = "Rumours cleared"
    verdict: str = "Verdict"
    verdict_false: str = "False"
    verdict_misleading: str = "Misleading"
    verdict_true: str = "True"
    verdict_unproven: str = "Unproven"
    evidence: str = "Evidence"
    open_heading: str = "Still being worked on ({n})"
    open_more: str = "and {n} more"
    footer: str = "Every answer in full: {url}"


# ---------------------------------------------------------------- line breaking


def _is_wide(char: str) -> bool:
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
        elif _is_wide(char):
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


# ------------------------------------------------------------------------ fonts


_RANGE = re.compile(r"U\+([0-9a-fA-F?]+)(?:-([0-9a-fA-F]+))?")
_FACE = re.compile(r"@font-face\s*\{(.*?)\}", re.DOTALL)


def parse_font_css(css: str) -> dict[int, dict[int, tuple[str, ...]]]:
    """weight -> code point -> font files holding it, best first.

    Faces whose ranges overlap are tried last-declared first, as a browser
    does (CSS Fonts 4, "unicode-range").
    """
    faces: list[tuple[int, str, str]] = []
    for block in _FACE.findall(css):
        weight_match = re.search(r"font-weight:\s*(\d+)", block)
        src_match = re.search(r"url\(\s*['\"]?([^'\")]+)", block)
        ranges_match = re.search(r"unicode-range:\s*([^;]+)", block)
        if weight_match and src_match and ranges_match:
            name = src_match.group(1).rsplit("/", 1)[-1]
            faces.append((int(weight_match.group(1)), name, ranges_match.group(1)))
    table: dict[int, dict[int, list[str]]] = {}
    for weight, name, ranges in reversed(faces):
        by_point = table.setdefault(weight, {})
        for start, end in _RANGE.findall(ranges):
            low = int(start.replace("?", "0"), 16)
            high = int(end, 16) if end else int(start.replace("?", "f"), 16)
            for point in range(low, high + 1):
                by_point.setdefault(point, []).append(name)
    return {w: {p: tuple(names) for p, names in d.items()} for w, d in table.items()}


@functools.cache
def font_table() -> dict[int, dict[int, tuple[str, ...]]]:
    """The vendored CSS, parsed once per process."""
    return parse_font_css(FONT_CSS.read_text(encoding="utf-8"))


def _layout_engine() -> ImageFont.Layout:
    return ImageFont.Layout.RAQM if features.check("raqm") else ImageFont.Layout.BASIC


@functools.cache
def load_font(name: str, size: int) -> ImageFont.FreeTypeFont:
    """One slice at one size, opened on first use (WOFF2 straight through FreeType)."""
    return ImageFont.truetype(str(FONT_DIR / name), size, layout_engine=_layout_engine())


_NOT_A_CHAR = "\U0010fffd"  # a private-use code point no slice holds: draws .notdef


@functools.cache
def _notdef(name: str) -> bytes:
    return bytes(load_font(name, 20).getmask(_NOT_A_CHAR))


@functools.cache
def has_glyph(name: str, char: str) -> bool:
    """Whether the slice really draws `char`: its CSS range could be wider than
    its glyphs, and a missing glyph would come out as a box."""
    try:
        return bytes(load_font(name, 20).getmask(char)) != _notdef(name)
    except (OSError, RuntimeError, ValueError):  # FreeType or raqm refused it
        return False


_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp"})


@functools.cache
def font_for(char: str, weight: int) -> str | None:
    """The slice that draws `char` in `weight`, or None if none does."""
    if unicodedata.category(char) in _DROPPED_CATEGORIES:
        return None
    for name in font_table().get(weight, {}).get(ord(char), ()):
        if has_glyph(name, char):
            return name
    return None


_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


@functools.cache
def _keep(char: str) -> bool:
    return (
        unicodedata.category(char) not in _DROPPED_CATEGORIES
        and font_for(char, REGULAR) is not None
    )


def clean(value: object, limit: int = MAX_LINE, *, lines: bool = False) -> str:
    """`value` as drawable text: control and format characters (bidi overrides,
    NUL, zero-width joiners) and characters no slice holds (most emoji) gone,
    runs of spaces collapsed, cut to `limit` characters. Line breaks are kept
    only with `lines`."""
    if not isinstance(value, str):
        value = "" if value is None else str(value)
    if len(value) > limit:
        value = value[: limit - 1] + "…"
    text = unicodedata.normalize("NFC", value.replace("\u2028", "\n").replace("\u2029", "\n"))
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    if not lines:
        text = text.replace("\n", " ")
    text = "".join(char for char in text if char == "\n" or _keep(char))
    return re.sub(r" {2,}", " ", text)


# --------------------------------------------------------------------- markdown


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
        joins_cjk = bool(text) and bool(following) and _is_wide(text[-1]) and _is_wide(following[0])
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


# ----------------------------------------------------------------------- layout

PAGE_WIDTH = 1080  # the default; type sizes stay put and lines get longer or shorter
MIN_WIDTH, MAX_WIDTH = 480, 2160
_RENDERING = threading.Lock()
MARGIN = 48
PAD = 40

PAGE = (244, 242, 237)
CARD = (255, 255, 255)
INK = (28, 32, 38)
MUTED = (96, 104, 116)
ACCENT = (23, 78, 140)
BAND = (22, 48, 77)
BAND_TEXT = (255, 255, 255)
BAND_MUTED = (170, 192, 217)
RULE = (226, 229, 234)
INSET = (242, 244, 247)
AMBER = (181, 71, 8)
VERDICT_COLOURS = {
    "false": (180, 35, 24),
    "misleading": (181, 71, 8),
    "true": (6, 118, 71),
    "unproven": (71, 84, 103),
}


@dataclass(frozen=True)
class Style:
    size: int
    weight: int = REGULAR
    colour: tuple[int, int, int] = INK
    leading: float = 1.6  # line height over font size


SITE = Style(28, BOLD, BAND_MUTED, 1.5)
TITLE = Style(52, BOLD, BAND_TEXT, 1.3)
BAND_META = Style(26, REGULAR, BAND_MUTED, 1.5)
SECTION = Style(38, BOLD, INK, 1.4)
LABEL = Style(24, BOLD, MUTED, 1.5)
BIG = Style(104, BOLD, ACCENT, 1.15)
RANK = Style(34, BOLD, ACCENT, 1.45)
QUESTION = Style(34, BOLD, INK, 1.45)
META = Style(24, REGULAR, MUTED, 1.5)
BODY = Style(30, REGULAR, INK, 1.7)
SMALL = Style(27, REGULAR, INK, 1.65)
FOOTER = Style(24, REGULAR, MUTED, 1.6)

Colour = tuple[int, int, int]


@dataclass(slots=True)
class TextOp:
    top: int
    bottom: int
    x: int
    baseline: int
    size: int
    colour: Colour
    runs: list[tuple[str, float, str, int]]  # (font file, x offset, text, SHAPE/PALT/GLYPHS)


@dataclass(slots=True)
class BoxOp:
    top: int
    bottom: int
    x0: int
    x1: int
    fill: Colour
    radius: int = 0


QUOTES = frozenset("‘’“”")
_RAQM = bool(features.check("raqm"))


def _proportional_quote(text: str, index: int) -> bool:
    """Whether the curly quote at `index` sits against Latin text. Noto Sans SC
    draws quotes full-width, right for Chinese and gappy in English; next to a
    Latin letter, digit or stop they are drawn with the font's proportional
    forms ("palt")."""
    neighbour = index + 1 if text[index] in "‘“" else index - 1
    if not 0 <= neighbour < len(text):
        return False
    char = text[neighbour]
    return not (char.isspace() or char in QUOTES or _is_wide(char))


@functools.cache
def advance(name: str, size: int, char: str) -> float:
    return load_font(name, size).getlength(char)


@functools.lru_cache(maxsize=1 << 16)
def _word_length(name: str, size: int, word: str) -> float:
    return load_font(name, size).getlength(word)  # shaped: kerning included


SHAPE, PALT, GLYPHS = 0, 1, 2  # how a run is drawn: shaped, shaped with "palt", glyph by glyph


def _pieces(text: str, mode: int) -> Sequence[str]:
    """What a run is drawn in: CJK glyph by glyph, other text word by word
    (each word shaped whole), proportional quotes all at once."""
    if mode == GLYPHS:
        return text
    if mode == PALT:
        return [text]
    return [piece for piece in re.split(r"( )", text) if piece]


def _piece_length(name: str, size: int, piece: str, mode: int) -> float:
    if mode == PALT:
        return load_font(name, size).getlength(piece, features=["palt"])
    return _word_length(name, size, piece) if len(piece) > 1 else advance(name, size, piece)


class _Metrics:
    """Advance widths per character for one size and weight, cached."""

    def __init__(self, size: int, weight: int) -> None:
        self.size, self.weight = size, weight
        self.advances: dict[str, float] = {}
        self.quotes: dict[str, float] = {}
        ascent, descent = load_font("noto-sans-sc-latin-400-normal.woff2", size).getmetrics()
        self.ascent, self.descent = ascent, descent

    def advance(self, char: str) -> float:
        width = self.advances.get(char)
        if width is None:
            name = font_for(char, self.weight)
            width = advance(name, self.size, char) if name else 0.0
            self.advances[char] = width
        return width

    def quote(self, char: str) -> float:
        if not _RAQM:
            return self.advance(char)
        width = self.quotes.get(char)
        if width is None:
            name = font_for(char, self.weight)
            font = load_font(name, self.size) if name else None
            width = font.getlength(char, features=["palt"]) if font else 0.0
            self.quotes[char] = width
        return width

    def measure(self, text: str) -> float:
        advances = self.advances
        total = 0.0
        for index, char in enumerate(text):
            if char in QUOTES and _proportional_quote(text, index):
                total += self.quote(char)
                continue
            width = advances.get(char)
            total += self.advance(char) if width is None else width
        return total

    def runs(self, line: str) -> list[tuple[str, float, str, int]]:
        """`line` cut where the font (or the quote form) changes:
        (font file, x offset, text, proportional quotes)."""
        runs: list[tuple[str, float, str, int]] = []
        x = 0.0
        start: int = 0
        current: tuple[str | None, bool] = (None, False)
        for index, char in enumerate([*line, ""]):
            proportional = _RAQM and char in QUOTES and _proportional_quote(line, index)
            key = (font_for(char, self.weight) if char else None, proportional)
            if key == current:
                continue
            if current[0] is not None and index > start:
                run = _run(current[0], x, line[start:index], current[1])
                # Positions follow the shaped widths the painter draws with.
                x += sum(
                    _piece_length(run[0], self.size, p, run[3]) for p in _pieces(run[2], run[3])
                )
                runs.append(run)
            start, current = index, key
        return [run for run in runs if not run[2].isspace()]


def _run(name: str, x: float, text: str, proportional: bool) -> tuple[str, float, str, int]:
    if proportional:
        return (name, x, text, PALT)
    return (name, x, text, GLYPHS if all(map(_is_wide, text)) else SHAPE)


@dataclass
class _Layout:
    """Draw operations at absolute positions, and the running height."""

    y: int = 0
    ops: list[TextOp | BoxOp] = field(default_factory=list)
    metrics: dict[tuple[int, int], _Metrics] = field(default_factory=dict)

    def m(self, style: Style) -> _Metrics:
        key = (style.size, style.weight)
        if key not in self.metrics:
            self.metrics[key] = _Metrics(style.size, style.weight)
        return self.metrics[key]

    def width(self, text: str, style: Style) -> float:
        return self.m(style).measure(text)

    def line(self, text: str, style: Style, x: float, top: int) -> int:
        """One line at `top`; returns its height."""
        metrics = self.m(style)
        height = round(style.size * style.leading)
        baseline = top + round((height - metrics.ascent - metrics.descent) / 2 + metrics.ascent)
        runs = metrics.runs(text)
        if runs:
            self.ops.append(
                TextOp(
                    baseline - metrics.ascent - 4,
                    baseline + metrics.descent + 4,
                    round(x),
                    baseline,
                    style.size,
                    style.colour,
                    runs,
                )
            )
        return height

    def text(self, text: str, style: Style, x: float, width: float) -> None:
        """Wrapped text from the cursor down."""
        for line in wrap(clean(text, MAX_BODY, lines=True), self.m(style).measure, width):
            self.y += self.line(line, style, x, self.y)

    def box(self, x0: int, x1: int, fill: Colour, radius: int = 0) -> BoxOp:
        """A box from the cursor; set its `bottom` when its content is laid out."""
        op = BoxOp(self.y, self.y, x0, x1, fill, radius)
        self.ops.append(op)
        return op


def _fmt(template: str, **values: object) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return template


def _int(value: object) -> int:
    """A count from the snapshot; anything that is not one counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0
    try:
        return max(0, int(value))
    except (ValueError, OverflowError):
        return 0


def _pick(value: object, language: str) -> str:
    """A bilingual field in `language`, else in the other language."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return ""
    order = [language, "zh" if language == "en" else "en", *value]
    for key in order:
        text = value.get(key)
        if isinstance(text, str) and text.strip():
            return text
    return ""


def _number(n: int) -> str:
    return f"{n:,}"


def _counted(n: int, many: str, one: str) -> str:
    return one if n == 1 else _fmt(many, n=_number(n))


def _when(value: object) -> str:
    if not isinstance(value, str):
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return clean(value, 40)
    zone = moment.strftime("%z")
    zone = f" {zone[:3]}:{zone[3:]}" if zone else ""
    return moment.strftime("%Y-%m-%d %H:%M") + zone


class _Digest:
    """Lays out one snapshot."""

    def __init__(
        self, snapshot: Mapping[str, Any], language: str, labels: ImageLabels, width: int
    ) -> None:
        self.s, self.language, self.labels = snapshot, language, labels
        self.width = width
        self.inner = width - 2 * MARGIN - 2 * PAD  # the text width inside a card
        site = snapshot.get("site")
        self.site: Mapping[str, Any] = site if isinstance(site, Mapping) else {}
        self.out = _Layout()

    def pick(self, value: object, limit: int = MAX_LINE) -> str:
        return clean(_pick(value, self.language), limit)

    def build(self) -> _Layout:
        self.header()
        self.correction()
        self.coverage()
        answers = [a for a in self._list("answers") if isinstance(a, Mapping)]
        plain = [a for a in answers if not isinstance(a.get("rumour"), Mapping)]
        rumours = [a for a in answers if isinstance(a.get("rumour"), Mapping)]
        if plain:
            self.heading(self.labels.answers_heading)
            for index, answer in enumerate(plain):
                self.answer(answer, index)
        if rumours:
            self.heading(self.labels.rumours_heading)
            for index, answer in enumerate(rumours):
                self.answer(answer, index, rumour=answer["rumour"])
        self.open_questions()
        self.footer()
        return self.out

    def _list(self, key: str) -> list[Any]:
        value = self.s.get(key)
        return list(value) if isinstance(value, list | tuple) else []

    def header(self) -> None:
        out = self.out
        band = out.box(0, self.width, BAND)
        out.y += 56
        x, width = MARGIN + 8, self.width - 2 * MARGIN - 16
        name = self.pick(self.site.get("name"))
        if name:
            out.text(name, SITE, x, width)
            out.y += 4
        date = clean(self.s.get("date"), 40)
        out.text(_fmt(self.labels.title, date=date), TITLE, x, width)
        meta = []
        published = _when(self.s.get("published_at"))
        if published:
            meta.append(_fmt(self.labels.published, time=published))
        revision = _int(self.s.get("revision"))
        if revision > 1:
            meta.append(_fmt(self.labels.revision, n=revision))
        if meta:
            out.y += 8
            out.text(clean(" · ".join(meta)), BAND_META, x, width)
        out.y += 48
        band.bottom = out.y
        out.y += MARGIN

    def card(self) -> BoxOp:
        box = self.out.box(MARGIN, self.width - MARGIN, CARD, 20)
        self.out.y += PAD - 6
        return box

    def end_card(self, box: BoxOp) -> None:
        self.out.y += PAD - 6
        box.bottom = self.out.y
        self.out.y += 28

    def correction(self) -> None:
        note = clean(self.s.get("note"), MAX_BODY, lines=True)
        if not note.strip():
            return
        out = self.out
        box = self.card()
        bar = out.box(MARGIN, MARGIN + 8, AMBER)
        out.text(
            self.labels.correction,
            Style(LABEL.size, BOLD, AMBER, LABEL.leading),
            MARGIN + PAD,
            self.inner,
        )
        out.y += 4
        out.text(note, SMALL, MARGIN + PAD, self.inner)
        self.end_card(box)
        bar.top, bar.bottom = box.top + 20, box.bottom - 20

    def coverage(self) -> None:
        figures = self.s.get("coverage")
        if not isinstance(figures, Mapping):
            return
        out = self.out
        x = MARGIN + PAD
        box = self.card()
        out.text(self.labels.coverage, LABEL, x, self.inner)
        share = figures.get("share")
        ratio = float(share) if isinstance(share, int | float) and math.isfinite(share) else 0.0
        ratio = min(max(ratio, 0.0), 1.0)
        # Floor, so a day with one unanswered question never shows 100%.
        out.text(f"{math.floor(ratio * 100 + 1e-9)}%", BIG, x - 4, self.inner)
        track = out.box(x, x + self.inner, RULE, 6)
        bar_end = x + max(12, round(self.inner * ratio))
        fill = out.box(x, bar_end, ACCENT, 6)
        out.y += 12
        track.bottom = fill.bottom = out.y
        out.y += 20
        names = (
            "asks",
            "asks_covered",
            "asks_late",
            "asks_open",
            "questions",
            "questions_covered",
            "questions_late",
            "questions_open",
        )
        values = {name: _number(_int(figures.get(name))) for name in names}
        out.text(clean(_fmt(self.labels.coverage_line, **values)), SMALL, x, self.inner)
        self.end_card(box)

    def heading(self, text: str) -> None:
        self.out.y += 20
        self.out.text(clean(text), SECTION, MARGIN + 4, self.width - 2 * MARGIN)
        self.out.y += 16

    def answer(self, answer: Mapping[str, Any], index: int, rumour: Any = None) -> None:
        out = self.out
        box = self.card()
        x = MARGIN + PAD
        column = 0  # the rank's column; rumours have no rank
        if rumour is not None:
            self.verdict(rumour, x)
            claim = self.pick(rumour.get("claim"))
            out.text(
                f"“{claim}”" if claim else self.pick(answer.get("question")),
                QUESTION,
                x,
                self.inner,
            )
        else:
            rank = _int(answer.get("rank")) or index + 1
            label = str(rank)
            column = max(round(out.width(label, RANK)) + 20, 56)
            out.line(label, RANK, x, out.y)
            out.text(self.pick(answer.get("question")), QUESTION, x + column, self.inner - column)
        out.y += 6
        meta = self.asked(answer)
        channels = _int(answer.get("channels"))
        if channels:
            meta.append(_counted(channels, self.labels.channels, self.labels.channels_one))
        tags = answer.get("tags")
        if isinstance(tags, list | tuple):
            meta.extend(tag for tag in (self.pick(tag, 40) for tag in tags[:6]) if tag.strip())
        if meta:
            out.text(" · ".join(meta), META, x + column, self.inner - column)
        out.y += 18
        rule = out.box(x, x + self.inner, RULE)
        out.y += 2
        rule.bottom = out.y
        out.y += 22
        self.body(_pick(answer.get("body"), self.language), x, self.inner)
        if rumour is not None:
            self.evidence(rumour, x)
        self.end_card(box)

    def asked(self, item: Mapping[str, Any]) -> list[str]:
        people = _int(item.get("asked_by"))
        if not people:
            return []
        return [_counted(people, self.labels.asked_by, self.labels.asked_by_one)]

    def verdict(self, rumour: Mapping[str, Any], x: int) -> None:
        out = self.out
        verdict = str(rumour.get("verdict") or "unproven")
        name = (
            getattr(self.labels, f"verdict_{verdict}", None) if verdict in VERDICT_COLOURS else None
        )
        text = clean(f"{self.labels.verdict} · {name or verdict}", 80)
        colour = VERDICT_COLOURS.get(verdict, VERDICT_COLOURS["unproven"])
        style = Style(24, BOLD, (255, 255, 255), 1.5)
        pill = out.box(x, x + min(round(out.width(text, style)) + 36, self.inner), colour, 22)
        out.y += 4
        out.line(text, style, x + 18, out.y - 2)
        out.y += 36
        pill.bottom = out.y
        out.y += 18

    def evidence(self, rumour: Mapping[str, Any], x: int) -> None:
        text = _pick(rumour.get("evidence"), self.language)
        if not clean(text).strip():
            return
        out = self.out
        out.y += 10
        inset = out.box(x, x + self.inner, INSET, 12)
        out.y += 20
        out.text(self.labels.evidence, LABEL, x + 24, self.inner - 48)
        self.body(text, x + 24, self.inner - 48, SMALL)
        out.y += 12
        inset.bottom = out.y

    def body(self, markdown: str, x: int, width: int, style: Style = BODY) -> None:
        out = self.out
        first = True
        for block in markdown_blocks(markdown[:MAX_BODY]):
            text = clean(block.text, MAX_BODY, lines=True)
            if not text.strip():
                continue
            if not first:
                out.y += 10
            first = False
            face = Style(style.size, BOLD, style.colour, style.leading) if block.bold else style
            indent = min(block.depth, 4) * 36
            if block.marker:
                out.line(
                    clean(block.marker, 8),
                    face,
                    x + indent - 30 + (0 if block.marker in "•◦" else -6),
                    out.y,
                )
            out.text(text, face, x + indent, width - indent)

    def open_questions(self) -> None:
        items = [item for item in self._list("open") if isinstance(item, Mapping)]
        count = _int(self.s.get("open_count")) or len(items)
        if not count:
            return
        out = self.out
        self.heading(_fmt(self.labels.open_heading, n=_number(count)))
        box = self.card()
        x = MARGIN + PAD
        shown = 0
        for item in items:
            question = clean(item.get("question"))
            if not question.strip():
                continue
            if shown:
                out.y += 14
            shown += 1
            out.line("•", SMALL, x, out.y)
            out.text(question, SMALL, x + 30, self.inner - 30)
            for asked in self.asked(item):
                out.text(asked, META, x + 30, self.inner - 30)
        if count > shown:
            if shown:
                out.y += 14
            out.text(
                clean(_fmt(self.labels.open_more, n=_number(count - shown))), META, x, self.inner
            )
        self.end_card(box)

    def footer(self) -> None:
        out = self.out
        url = clean(self.site.get("url"), 200)
        out.y += 8
        rule = out.box(MARGIN, self.width - MARGIN, RULE)
        out.y += 2
        rule.bottom = out.y
        out.y += 24
        if url:
            out.text(
                clean(_fmt(self.labels.footer, url=url)),
                FOOTER,
                MARGIN + 4,
                self.width - 2 * MARGIN,
            )
        out.y += MARGIN


# ---------------------------------------------------------------------- drawing

STRIP = 1024  # rows drawn and deflated at a time: 3 MB of RGB
Glyph = tuple[Image.Image, int, int] | None  # mask, offset from the pen on the baseline


def _strips(ops: list[TextOp | BoxOp], height: int) -> list[list[TextOp | BoxOp]]:
    """The operations that touch each strip, in drawing order."""
    strips: list[list[TextOp | BoxOp]] = [[] for _ in range(-(-height // STRIP))]
    for op in ops:
        first = max(op.top // STRIP, 0)
        last = min((op.bottom - 1) // STRIP, len(strips) - 1)
        for index in range(first, last + 1):
            strips[index].append(op)
    return strips


class _Painter:
    """Draws strips of the page from masks drawn once per rendering: a glyph
    for CJK (which needs no shaping), a word for other text (shaped by raqm,
    so kerning and marks are right). Pasting a cached mask is about ten
    times faster than a draw.text call, and a digest repeats its characters
    and words thousands of times."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.masks: dict[tuple[str, int, str, int], Glyph] = {}

    def mask(self, name: str, size: int, text: str, mode: int) -> Glyph:
        key = (name, size, text, mode)
        if key in self.masks:
            return self.masks[key]
        font = load_font(name, size)
        options: dict[str, Any] = {"anchor": "ls", "features": ["palt"] if mode == PALT else None}
        x0, y0, x1, y1 = (math.floor(v) for v in font.getbbox(text, **options))
        glyph: Glyph = None
        if x1 > x0 and y1 > y0:
            mask = Image.new("L", (x1 - x0 + 1, y1 - y0 + 1), 0)
            ImageDraw.Draw(mask).text((-x0, -y0), text, font=font, fill=255, **options)
            glyph = (mask, x0, y0)
        self.masks[key] = glyph
        return glyph

    def strip(self, ops: list[TextOp | BoxOp], top: int, rows: int) -> Image.Image:
        image = Image.new("RGB", (self.width, rows), PAGE)
        draw = ImageDraw.Draw(image)
        for op in ops:
            if isinstance(op, BoxOp):
                box = (op.x0, op.top - top, op.x1 - 1, op.bottom - top - 1)
                radius = min(op.radius, (op.bottom - op.top) // 2, (op.x1 - op.x0) // 2)
                if radius > 0:
                    draw.rounded_rectangle(box, radius, fill=op.fill)
                elif op.bottom > op.top:
                    draw.rectangle(box, fill=op.fill)
                continue
            baseline = op.baseline - top
            for name, dx, text, mode in op.runs:
                x = op.x + dx
                for piece in _pieces(text, mode):
                    if piece != " ":
                        glyph = self.mask(name, op.size, piece, mode)
                        self.paste(image, glyph, x, baseline, op.colour)
                    x += _piece_length(name, op.size, piece, mode)
        return image

    @staticmethod
    def paste(image: Image.Image, glyph: Glyph, x: float, baseline: int, colour: Colour) -> None:
        if glyph is not None:
            mask, x0, y0 = glyph
            left, top = round(x) + x0, baseline + y0
            image.im.paste(colour, (left, top, left + mask.width, top + mask.height), mask.im)


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


# zlib deflates these rows at ~60 MB/s at level 6 and ~4 times faster at
# level 1, for 10 % more bytes. A usual digest (a few dozen answers, under
# 40,000 rows, 130 MB raw) gets level 6; a huge one (300 answers is 240,000
# rows, 780 MB) gets level 1 so that it still takes seconds, not ten.
LEVEL, FAST_LEVEL, FAST_ROWS = 6, 1, 40_000
# About 40 % of the rows repeat the row above (the space around and between
# lines). A run this long or longer skips the deflater: it is written as
# PNG "Up" rows, all zeros, deflated once per process and spliced in.
BLANK_RUN = 8
_ADLER = 65521


def _adler32_combine(first: int, second: int, length: int) -> int:
    """The Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine)."""
    rem = length % _ADLER
    sum1 = first & 0xFFFF
    sum2 = (rem * sum1) % _ADLER
    sum1 = (sum1 + (second & 0xFFFF) + _ADLER - 1) % _ADLER
    sum2 = (sum2 + (first >> 16) + (second >> 16) + _ADLER - rem) % _ADLER
    return sum1 | (sum2 << 16)


@functools.cache
def _blank_rows(width: int, rows: int) -> tuple[bytes, int, int]:
    """`rows` all-zero "Up" scanlines as a self-contained, byte-aligned run of
    raw deflate blocks, with their Adler-32 and length."""
    raw = (b"\x02" + bytes(3 * width)) * rows
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH), zlib.adler32(raw), len(raw)


Segment = np.ndarray[Any, np.dtype[np.uint8]] | int  # filtered scanlines, or a count of repeats


def _segments(
    pixels: np.ndarray[Any, np.dtype[np.uint8]], above: np.ndarray[Any, Any] | None
) -> list[Segment]:
    """A strip's rows (rows x width*3 bytes) as PNG scanlines: runs of rows that
    repeat the row above become a count, the others rows with filter 0 (none),
    which on flat colour and crisp text deflates smaller than Up or Sub."""
    rows = len(pixels)
    flags = np.zeros(rows + 2, np.int8)  # 1 where a row repeats the one above, 0-padded
    flags[1] = above is not None and bool(np.array_equal(pixels[0], above))
    flags[2:-1] = (pixels[1:] == pixels[:-1]).all(axis=1)
    bounds = np.flatnonzero(np.diff(flags))  # starts and ends of the runs of 1s, paired
    segments: list[Segment] = []
    cursor = 0
    for start, end in zip(bounds[::2].tolist(), bounds[1::2].tolist(), strict=True):
        if end - start < BLANK_RUN:
            continue
        if start > cursor:
            segments.append(_filter_none(pixels[cursor:start]))
        segments.append(end - start)
        cursor = end
    if cursor < rows:
        segments.append(_filter_none(pixels[cursor:]))
    return segments


def _filter_none(
    pixels: np.ndarray[Any, np.dtype[np.uint8]],
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    scanlines = np.empty((len(pixels), pixels.shape[1] + 1), np.uint8)
    scanlines[:, 0] = 0
    scanlines[:, 1:] = pixels
    return scanlines


class _Deflater:
    """One zlib stream of scanlines, fed strip by strip in order."""

    def __init__(self, width: int, level: int) -> None:
        self.width = width
        self.raw = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.checksum = zlib.adler32(b"")
        self.out: list[bytes] = [b"\x78\x01"]  # the zlib header: deflate, 32 KB window

    def feed(self, segments: list[Segment]) -> None:
        for segment in segments:
            if isinstance(segment, int):
                # A full flush ends on a byte boundary and makes the deflater
                # forget what came before, so the blank rows can go in between.
                self.out.append(self.raw.flush(zlib.Z_FULL_FLUSH))
                for size in (1 << bit for bit in range(segment.bit_length()) if segment >> bit & 1):
                    blob, checksum, length = _blank_rows(self.width, size)
                    self.out.append(blob)
                    self.checksum = _adler32_combine(self.checksum, checksum, length)
            else:
                self.out.append(self.raw.compress(segment.data))
                self.checksum = zlib.adler32(segment.data, self.checksum)

    def finish(self) -> list[bytes]:
        self.out.append(self.raw.flush())
        self.out.append(struct.pack(">I", self.checksum))
        return self.out


def _png(width: int, height: int, strips: Iterator[np.ndarray[Any, np.dtype[np.uint8]]]) -> bytes:
    """A PNG of `strips` (arrays of rows x width*3 RGB bytes), deflated in a
    second thread (zlib lets go of the GIL) while the next strips are drawn."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    deflater = _Deflater(width, LEVEL if height <= FAST_ROWS else FAST_LEVEL)
    pending: deque[Future[None]] = deque()
    above = None
    with ThreadPoolExecutor(max_workers=1) as pool:  # one stream, deflated in order
        for pixels in strips:
            pending.append(pool.submit(deflater.feed, _segments(pixels, above)))
            above = pixels[-1]
            while len(pending) > 2:  # two strips in flight at most: memory stays flat
                pending.popleft().result()
        for future in pending:
            future.result()
    data = deflater.finish()
    # One IDAT chunk, its CRC run over the pieces, so the (tens of MB of)
    # compressed data is copied once, by the final join.
    crc = zlib.crc32(b"IDAT")
    for piece in data:
        crc = zlib.crc32(piece, crc)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            struct.pack(">I", sum(map(len, data))),
            b"IDAT",
            *data,
            struct.pack(">I", crc),
            _chunk(b"IEND", b""),
        ]
    )


def _scanlines(
    layout: _Layout, width: int, height: int
) -> Iterator[np.ndarray[Any, np.dtype[np.uint8]]]:
    painter = _Painter(width)
    for index, ops in enumerate(_strips(layout.ops, height)):
        top = index * STRIP
        rows = min(STRIP, height - top)
        pixels = np.frombuffer(painter.strip(ops, top, rows).tobytes(), np.uint8)
        yield pixels.reshape(rows, width * 3)


def render_digest_png(
    snapshot: Mapping[str, Any],
    *,
    language: str,
    labels: ImageLabels | None = None,
    width: int = PAGE_WIDTH,
) -> bytes:
    """The digest `snapshot` as one long RGB PNG, `width` pixels wide (480 to 2160).

    Bilingual fields are read in `language` ("en" or "zh"), falling back to the
    other. Same snapshot and labels, same bytes.
    """
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"The digest image is {MIN_WIDTH} to {MAX_WIDTH} px wide, not {width}.")
    # FreeType faces are shared between renderings and are not thread-safe.
    with _RENDERING:
        layout = _Digest(snapshot, language, labels or ImageLabels(), width).build()
        height = max(layout.y, 1)
        return _png(width, height, _scanlines(layout, width, height))


if __name__ == "__main__":  # python -m headon.desk.digest_image: time a huge digest
    import resource
    import statistics
    import time

    sentence = (
        "电池在冬天的续航会下降多少？我们实测了三种车型，结果如下。Range drops 20% at -10°C. "
    )
    answers = [
        {
            "rank": n + 1,
            "question": {
                "zh": f"第{n + 1}个问题：冬天续航会下降多少？",
                "en": f"Question {n + 1}?",
            },
            "body": {
                "zh": (sentence * 8)[:400],
                "en": ("Winter range drops by a fifth. " * 14)[:400],
            },
            "asked_by": 1000 - n,
            "channels": 3,
        }
        for n in range(300)
    ]
    site = {"name": {"en": "Acme Motors", "zh": "阿克米汽车"}, "url": "https://example.org"}
    big = {"date": "2026-11-23", "site": site, "answers": answers}
    render_digest_png(big | {"answers": answers[:3]}, language="zh")  # fonts and caches warm
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print("language  wall s (median of 3)  cpu s  height px  PNG MB  peak RSS MB")  # noqa: T201
    for language in ("zh", "en"):
        walls, cpus = [], []
        for _ in range(3):
            wall, cpu = time.perf_counter(), time.process_time()
            png = render_digest_png(big, language=language)
            walls.append(time.perf_counter() - wall)
            cpus.append(time.process_time() - cpu)
        height = struct.unpack(">I", png[20:24])[0]
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(  # noqa: T201
            f"{language:8}  {statistics.median(walls):20.2f}  {statistics.median(cpus):5.2f}"
            f"  {height:9,}  {len(png) / 1e6:6.1f}  {peak:.0f} (before: {before / 1024:.0f})"
        )
