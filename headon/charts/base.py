"""What every chart shares: sizes and the palette, the series and wording a
caller passes in, round ticks and number formats, estimated text widths, SVG
elements with their escaping, the screen-reader summary and the canvas.

Text reaches the markup only through `_esc`, here with the element helpers
built on it; the chart modules join elements, never raw text.
"""

from __future__ import annotations

import hashlib
import html
import itertools
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass

# Okabe & Ito's colour-blind-safe palette without its black, which would vanish
# in dark mode; the yellow comes last because it is faint on white.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#CC79A7", "#56B4E9", "#F0E442")

WIDTH = 360
FONT = 12.0
TITLE_FONT = 14.0
LATIN_EM = 0.55
PAD = 6.0
MIN_PLOT = 60.0
# Values beyond this are clamped so that sums and ranges stay finite floats.
LIMIT = 1e300
# Printing each bar's value is worth its clutter only for a few categories.
LABELLED_CATEGORIES = 12

# XML 1.0 forbids most control characters and lone surrogates; a label holding
# one would make the page unparseable as XHTML and the chart unreadable.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NARROW = frozenset(" .,:;'!|()[]ijlIft-")
_ID_UNSAFE = re.compile(r"[^A-Za-z0-9_-]")
_counter = itertools.count(1)

ValueFormat = Callable[[float], str]
Values = list[float | None]


@dataclass(frozen=True)
class Series:
    """One named series. `values` line up with the chart's categories; None,
    NaN and infinities are missing values. `colour_index` picks a palette
    colour, so a channel keeps its colour across charts."""

    name: str
    values: Sequence[float | None]
    colour_index: int | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "values", tuple(self.values))


@dataclass(frozen=True)
class Wording:
    """The words a chart shows or reads out, in the reader's language."""

    no_data: str = "No data"
    highest: str = "Highest"
    latest: str = "Latest"
    total: str = "Total"
    # Punctuation, full-width in Chinese: "最高：12-02，12。"
    colon: str = ": "
    comma: str = ", "
    semicolon: str = "; "
    stop: str = "."
    between: str = " "  # between two sentences
    parens: tuple[str, str] = (" (", ")")


def default_format(value: float) -> str:
    """1,204 for whole numbers, 3.5 or 0.25 for fractions, 1.2e+20 past a billion."""
    if not math.isfinite(value):
        return ""
    if abs(value) >= 1e9:
        return f"{value:.3g}"
    if value == int(value):
        return f"{int(value):,}"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.1f}".rstrip("0").rstrip(".")
    return f"{value:.2g}"


def nice_ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    """About `n` round tick values (steps of 1, 2 or 5 times a power of ten)
    from at or below `lo` to at or above `hi`, so the axis covers the data."""
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("nice_ticks needs finite bounds")
    lo, hi = min(lo, hi), max(lo, hi)
    if lo == hi:
        spread = abs(lo) * 0.1 or 1.0
        lo, hi = lo - spread, hi + spread
    raw = (hi - lo) / max(n - 1, 1)
    power = 10.0 ** math.floor(math.log10(raw))
    error = raw / power
    # The thresholds are the geometric means between 1, 2, 5 and 10, as in d3.
    factor = next(f for f, above in ((10, 50), (5, 10), (2, 2), (1, 0)) if error**2 >= above)
    step = factor * power
    # Rounding to the step's precision turns 0.30000000000000004 into 0.3.
    digits = max(0, -math.floor(math.log10(step)) + 1)
    first, last = math.floor(lo / step), math.ceil(hi / step)
    return [round(i * step, digits) + 0.0 for i in range(first, last + 1)]


def _char_em(char: str) -> float:
    if unicodedata.east_asian_width(char) in ("W", "F"):
        return 1.0
    # 0.55 em is right for lower-case text in phone fonts (Roboto, SF), but
    # figures and capitals run wider, and wider still in DejaVu Sans (Linux's
    # system-ui): underestimating them lets tick labels fall off the edge.
    if char in _NARROW:
        return 0.3
    if char.isdigit() or char.isupper() or char in "%mwMW":
        return 0.66
    return LATIN_EM


def text_width(text: str, font_size: float = FONT) -> float:
    """An estimate of the rendered width: CJK characters 1 em, others about 0.55 em."""
    return sum(_char_em(char) for char in text) * font_size


def truncate(text: str, max_width: float, font_size: float = FONT) -> str:
    """`text` cut to fit `max_width` with an ellipsis, or whole if it fits."""
    if text_width(text, font_size) <= max_width:
        return text
    budget, used = max_width / font_size - 1.0, 0.0  # the ellipsis takes 1 em
    for position, char in enumerate(text):
        used += _char_em(char)
        if used > budget:
            return text[:position].rstrip() + "…"
    return text


def wrap(text: str, max_width: float, max_lines: int = 2, font_size: float = FONT) -> list[str]:
    """`text` in at most `max_lines` lines of `max_width`, broken at a space
    where there is one (Chinese breaks anywhere), the last line cut if need be."""
    lines: list[str] = []
    rest = text.strip()
    while len(lines) < max_lines - 1 and text_width(rest, font_size) > max_width:
        used, cut = 0.0, 0
        while cut < len(rest) and used + _char_em(rest[cut]) * font_size <= max_width:
            used += _char_em(rest[cut]) * font_size
            cut += 1
        space = rest.rfind(" ", 0, cut + 1)
        cut = space if space > 0 else max(cut, 1)
        lines.append(rest[:cut].rstrip())
        rest = rest[cut:].lstrip()
    return [*lines, truncate(rest, max_width, font_size)] if rest else lines


# -- SVG text -----------------------------------------------------------------


def _esc(text: object) -> str:
    """Text safe both between tags and inside a double-quoted attribute."""
    return html.escape(_NOT_XML.sub("", str(text)), quote=True)


def _num(value: float) -> str:
    text = f"{value:.2f}".rstrip("0").rstrip(".")
    return "0" if text in ("-0", "") else text


def _el(tag: str, content: str = "", **attrs: object) -> str:
    """An element; `class_` stands for `class`, other underscores for hyphens.
    `content` must already be escaped."""
    parts = [tag]
    for name, value in attrs.items():
        if value is not None:
            shown = _num(value) if isinstance(value, float) else _esc(value)
            parts.append(f'{name.rstrip("_").replace("_", "-")}="{shown}"')
    opening = " ".join(parts)
    return f"<{opening}>{content}</{tag}>" if content else f"<{opening}/>"


def _text(x: float, y: float, text: str, hover: str = "", **attrs: object) -> str:
    """Text in the page's colour; `hover` adds a tooltip (a cut label's full text)."""
    tooltip = _tooltip(hover) if hover and hover != text else ""
    return _el(
        "text",
        _esc(text) + tooltip,
        **{"x": x, "y": y, "fill": "currentColor", "font_size": FONT, **attrs},
    )


def _tooltip(text: str) -> str:
    return f"<title>{_esc(text)}</title>"


def _path(run: Sequence[tuple[float, float]], colour: str, width: float, css: str) -> str:
    d = "M" + " L".join(f"{_num(x)} {_num(y)}" for x, y in run)
    return _el(
        "path",
        d=d,
        fill="none",
        stroke=colour,
        stroke_width=width,
        stroke_linejoin="round",
        class_=css,
    )


def _runs(points: Sequence[tuple[float, float] | None]) -> list[list[tuple[float, float]]]:
    """Consecutive present points, split wherever a value is missing."""
    groups = itertools.groupby(points, key=lambda point: point is not None)
    return [[point for point in group if point is not None] for present, group in groups if present]


# -- data ---------------------------------------------------------------------


def _clean(value: float | None) -> float | None:
    if value is None or not math.isfinite(number := float(value)):
        return None
    return max(-LIMIT, min(LIMIT, number))


def _fit(values: Sequence[float | None], length: int) -> Values:
    """Values cleaned and fitted to the categories: cut or padded with gaps."""
    cleaned = [_clean(value) for value in values[:length]]
    return cleaned + [None] * (length - len(cleaned))


def _colour(series: Series, position: int) -> tuple[str, int]:
    index = (position if series.colour_index is None else series.colour_index) % len(PALETTE)
    return PALETTE[index], index


def _highest(labels: Sequence[str], values: Sequence[float | None]) -> tuple[str, float] | None:
    present = [(value, -i) for i, value in enumerate(values) if value is not None]
    if not present:
        return None
    value, negative_index = max(present)  # the earliest of equal highs
    return labels[-negative_index], value


def _latest(labels: Sequence[str], values: Sequence[float | None]) -> tuple[str, float] | None:
    present = [
        (label, value) for label, value in zip(labels, values, strict=True) if value is not None
    ]
    return present[-1] if present else None


def _describe(
    labels: Sequence[str],
    named: Sequence[tuple[str, Sequence[float | None]]],
    fmt: ValueFormat,
    wording: Wording,
    *,
    totals: Sequence[float | None] | None = None,
    latest: bool = False,
) -> str:
    """The screen-reader summary: "Highest: 2026-11-23, 1,204." per series."""
    w = wording
    sentences = []
    if totals is not None and (top := _highest(labels, totals)):
        total = f"{w.parens[0]}{w.total}{w.parens[1]}"
        sentences.append(f"{w.highest}{total}{w.colon}{top[0]}{w.comma}{fmt(top[1])}{w.stop}")
    for name, values in named:
        facts = []
        if top := _highest(labels, values):
            facts.append(f"{w.highest}{w.colon}{top[0]}{w.comma}{fmt(top[1])}")
        if latest and (last := _latest(labels, values)):
            facts.append(f"{w.latest}{w.colon}{last[0]}{w.comma}{fmt(last[1])}")
        if facts:
            lead = f"{name} — " if len(named) > 1 else ""
            sentences.append(lead + w.semicolon.join(facts) + w.stop)
    return w.between.join(sentences)


# -- the canvas ---------------------------------------------------------------


@dataclass
class _Canvas:
    kind: str
    prefix: str
    title: str
    width: float
    height: float
    size: tuple[int, int] | None = None  # fixed pixels, else 100% of the container

    def render(self, desc: str, body: Iterable[str]) -> str:
        head = f'<title id="{self.prefix}-title">{_esc(self.title)}</title>'
        head += f'<desc id="{self.prefix}-desc">{_esc(desc)}</desc>'
        return _el(
            "svg",
            head + "".join(body),
            xmlns="http://www.w3.org/2000/svg",
            viewBox=f"0 0 {_num(self.width)} {_num(self.height)}",
            width="100%" if self.size is None else self.size[0],
            height=None if self.size is None else self.size[1],
            preserveAspectRatio="xMidYMid meet",
            role="img",
            aria_labelledby=f"{self.prefix}-title {self.prefix}-desc",
            class_=f"svg-chart svg-chart-{self.kind}",
        )

    def title_text(self) -> str:
        return _text(
            0.0, TITLE_FONT, self.title, font_size=TITLE_FONT, font_weight="bold", class_="title"
        )

    def no_data(self, wording: Wording, show_title: bool) -> str:
        top = TITLE_FONT + PAD if show_title else 0.0
        box = _el(
            "rect",
            x=0.5,
            y=top + 0.5,
            width=self.width - 1,
            height=self.height - top - 1,
            fill="none",
            stroke="currentColor",
            stroke_opacity=0.25,
            stroke_dasharray="4 4",
            class_="no-data",
        )
        note = _text(
            self.width / 2,
            (top + self.height) / 2,
            wording.no_data,
            text_anchor="middle",
            opacity=0.7,
        )
        return self.render(wording.no_data, [self.title_text() if show_title else "", box, note])


def _canvas(
    kind: str,
    id_prefix: str | None,
    title: str,
    width: float,
    height: float,
    *data: object,
    size: tuple[int, int] | None = None,
) -> _Canvas:
    """A canvas with ids unique on the page. Without an `id_prefix`, a hash of
    the content keeps charts rendered by different processes apart, and a
    counter keeps identical charts on one page apart."""
    if id_prefix:
        prefix = "c-" + _ID_UNSAFE.sub("-", id_prefix)
    else:
        digest = hashlib.sha256(
            repr((kind, title, data)).encode("utf-8", "surrogatepass")
        ).hexdigest()
        prefix = f"c{digest[:10]}-{next(_counter)}"
    return _Canvas(kind, prefix, title, width, height, size)
