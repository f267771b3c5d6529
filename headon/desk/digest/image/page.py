"""The page: its size, palette and type styles, and the vocabulary of a layout.

A `Page` is a cursor running down the image and the draw operations placed
so far (`TextOp` lines cut into font runs, `BoxOp` boxes), each at an
absolute position, so the painter can find what touches each strip without
knowing what a digest is.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from headon.desk.digest.image.fonts import BOLD, MAX_BODY, REGULAR, Metrics, clean
from headon.desk.digest.image.lines import wrap

PAGE_WIDTH = 1080  # the default; type sizes stay put and lines get longer or shorter
MIN_WIDTH, MAX_WIDTH = 480, 2160
MARGIN = 48
PAD = 40

Colour = tuple[int, int, int]
PAPER = (244, 242, 237)  # the page's background
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
    colour: Colour = INK
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


@dataclass(slots=True)
class TextOp:
    """One line of text: its runs drawn from `x` on `baseline`; `top` and
    `bottom` bound its ink, to find the strips it touches."""

    top: int
    bottom: int
    x: int
    baseline: int
    size: int
    colour: Colour
    runs: list[tuple[str, float, str, int]]  # (font file, x offset, text, SHAPE/PALT/GLYPHS)


@dataclass(slots=True)
class BoxOp:
    """A filled box, its corners rounded by `radius`; `bottom` is exclusive."""

    top: int
    bottom: int
    x0: int
    x1: int
    fill: Colour
    radius: int = 0


@dataclass
class Page:
    """Draw operations at absolute positions, and the running height."""

    y: int = 0
    ops: list[TextOp | BoxOp] = field(default_factory=list)
    metrics: dict[tuple[int, int], Metrics] = field(default_factory=dict)

    def m(self, style: Style) -> Metrics:
        key = (style.size, style.weight)
        if key not in self.metrics:
            self.metrics[key] = Metrics(style.size, style.weight)
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

    def rule(self, x0: int, x1: int) -> None:
        """A hairline from the cursor, two pixels high."""
        rule = self.box(x0, x1, RULE)
        self.y += 2
        rule.bottom = self.y
