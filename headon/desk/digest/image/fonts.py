"""The fonts: which vendored slice draws a character, and how wide text is.

The app vendors Noto Sans SC as the WOFF2 slices the browser uses; their CSS
says which slice holds which code point. A character no slice holds is
dropped (`clean`) rather than drawn as a box. `Metrics` measures text and
cuts a line into runs by slice, each run marked with how the painter draws
it: CJK glyph by glyph, other text word by word (shaped by raqm when Pillow
has it), curly quotes against Latin text in their proportional forms.
"""

from __future__ import annotations

import functools
import re
import unicodedata
from collections.abc import Sequence
from pathlib import Path

from PIL import ImageFont, features

from headon.desk.digest.image.lines import is_wide

# headon/static/headon, four levels up from headon/desk/digest/image/.
STATIC = Path(__file__).resolve().parents[3] / "static" / "headon"
FONT_CSS = STATIC / "css" / "noto-sans-sc.css"
FONT_DIR = STATIC / "fonts" / "noto-sans-sc"

REGULAR, BOLD = 400, 700

# Hostile or runaway text is cut to these lengths (characters) so one field
# cannot make the image, or the time to draw it, unbounded.
MAX_BODY = 6000
MAX_LINE = 600


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


# Control, format, surrogate, private-use and unassigned code points are never
# drawn. Line and paragraph separators need no entry: `clean` turns them into
# line breaks, and only cleaned text (or a fixed digit or bullet) is measured.
_DROPPED_CATEGORIES = frozenset({"Cc", "Cf", "Cs", "Co", "Cn"})


@functools.cache
def font_for(char: str, weight: int) -> str | None:
    """The slice that draws `char` in `weight`, or None if none does."""
    if unicodedata.category(char) in _DROPPED_CATEGORIES:
        return None
    for name in font_table().get(weight, {}).get(ord(char), ()):
        if has_glyph(name, char):
            return name
    return None


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
    return not (char.isspace() or char in QUOTES or is_wide(char))


@functools.cache
def advance(name: str, size: int, char: str) -> float:
    return load_font(name, size).getlength(char)


@functools.lru_cache(maxsize=1 << 16)
def _word_length(name: str, size: int, word: str) -> float:
    return load_font(name, size).getlength(word)  # shaped: kerning included


SHAPE, PALT, GLYPHS = 0, 1, 2  # how a run is drawn: shaped, shaped with "palt", glyph by glyph


def pieces(text: str, mode: int) -> Sequence[str]:
    """What a run is drawn in: CJK glyph by glyph, other text word by word
    (each word shaped whole), proportional quotes all at once."""
    if mode == GLYPHS:
        return text
    if mode == PALT:
        return [text]
    return [piece for piece in re.split(r"( )", text) if piece]


def piece_length(name: str, size: int, piece: str, mode: int) -> float:
    if mode == PALT:
        return load_font(name, size).getlength(piece, features=["palt"])
    return _word_length(name, size, piece) if len(piece) > 1 else advance(name, size, piece)


class Metrics:
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
        (font file, x offset, text, SHAPE/PALT/GLYPHS)."""
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
                x += sum(piece_length(run[0], self.size, p, run[3]) for p in pieces(run[2], run[3]))
                runs.append(run)
            start, current = index, key
        return [run for run in runs if not run[2].isspace()]


def _run(name: str, x: float, text: str, proportional: bool) -> tuple[str, float, str, int]:
    if proportional:
        return (name, x, text, PALT)
    return (name, x, text, GLYPHS if all(map(is_wide, text)) else SHAPE)
