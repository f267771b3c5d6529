"""Charts drawn on the server as inline SVG: bars, lines, ranked bars, sparklines.

No Django and no JavaScript here. The pages run under a Content-Security-Policy
without 'unsafe-inline' styles, so the SVG carries presentation attributes
(fill, stroke, font-size...) and class names only: never a `style` attribute,
a <style> element, a script or an event handler. Templates embed the returned
string as safe, so every piece of text passes through `_esc`; labels are often
question text typed by the public.

The drawing is laid out for a phone: a narrow viewBox (360 units) scaled to the
container's width, so 12-unit text stays about 11 px on a 340 px column. Text
width is estimated (a CJK character is 1 em, Latin about 0.55 em, figures and
capitals a little more) because the server has no font metrics. Text and axes
use `currentColor`, so the charts follow the page's colour scheme, dark mode
included.

User-facing words (the "no data" note and the screen-reader summary) come from
a `Wording`, which the Django layer fills with translated strings.
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

__all__ = [
    "PALETTE",
    "Series",
    "Wording",
    "bar_chart",
    "default_format",
    "horizontal_bar_chart",
    "line_chart",
    "nice_ticks",
    "sparkline",
    "text_width",
    "truncate",
    "wrap",
]

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
    sentences = []
    if totals is not None and (top := _highest(labels, totals)):
        sentences.append(f"{wording.highest} ({wording.total}): {top[0]}, {fmt(top[1])}.")
    for name, values in named:
        facts = []
        if top := _highest(labels, values):
            facts.append(f"{wording.highest}: {top[0]}, {fmt(top[1])}")
        if latest and (last := _latest(labels, values)):
            facts.append(f"{wording.latest}: {last[0]}, {fmt(last[1])}")
        if facts:
            lead = f"{name} — " if len(named) > 1 else ""
            sentences.append(lead + "; ".join(facts) + ".")
    return " ".join(sentences)


# -- the canvas and the plot area ---------------------------------------------


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


@dataclass(frozen=True)
class _Frame:
    """Where the plot area sits in the viewBox, and its y scale."""

    width: float
    left: float
    top: float
    right: float
    bottom: float
    ticks: list[float]
    count: int

    @property
    def band(self) -> float:
        return (self.right - self.left) / self.count

    @property
    def centres(self) -> list[float]:
        return [self.left + self.band * (i + 0.5) for i in range(self.count)]

    def y(self, value: float) -> float:
        lo, hi = self.ticks[0], self.ticks[-1]
        return round(self.bottom - (value - lo) / (hi - lo) * (self.bottom - self.top), 2)


@dataclass(frozen=True)
class _CategoryAxis:
    lines: list[list[str]]  # each label's lines, as drawn
    shown: list[bool]
    rotated: bool
    height: float


def _plan_categories(categories: Sequence[str], left: float, band: float) -> _CategoryAxis:
    """Category labels that fit: all on one line when they do; every n-th for
    long series (60 days); wrapped onto two lines for a few long names (one
    per session); rotated when even that is too narrow."""
    widest = max(text_width(label) for label in categories)
    count = len(categories)
    every = [True] * count
    if widest + 4 <= band:
        return _CategoryAxis([[label] for label in categories], every, False, FONT + PAD)
    if count > LABELLED_CATEGORIES:
        cap = band * count / 3
        step = math.ceil((min(widest, cap) + 10) / band)
        lines = [[truncate(label, cap)] for label in categories]
        return _CategoryAxis(lines, [i % step == 0 for i in range(count)], False, FONT + PAD)
    if band >= 7 * LATIN_EM * FONT:
        lines = [wrap(label, band - 4) for label in categories]
        rows = max(len(label_lines) for label_lines in lines)
        return _CategoryAxis(lines, every, False, rows * (FONT + 2) + PAD)
    cap, step = 96.0, math.ceil(FONT * 1.3 / band)
    # Rotated text runs down to the left: the first labels must stop at the edge.
    room = [(left + band * (i + 0.5)) / math.sqrt(0.5) for i in range(count)]
    lines = [
        [truncate(label, min(cap, space))] for label, space in zip(categories, room, strict=True)
    ]
    height = min(widest, cap) * math.sqrt(0.5) + FONT + PAD
    return _CategoryAxis(lines, [i % step == 0 for i in range(count)], True, height)


def _draw_categories(axis: _CategoryAxis, frame: _Frame, full: Sequence[str]) -> str:
    parts = []
    y = frame.bottom + FONT + 3
    for lines, original, centre, shown in zip(
        axis.lines, full, frame.centres, axis.shown, strict=True
    ):
        if not shown:
            continue
        cut = "".join("".join(lines).split()) != "".join(original.split())
        hover = _tooltip(original) if cut else ""
        if axis.rotated:
            x = centre + 3
            turn = f"rotate(-45 {_num(x)} {_num(y - 4)})"
            parts.append(
                _text(
                    x,
                    y - 4,
                    lines[0],
                    original,
                    text_anchor="end",
                    transform=turn,
                    class_="category",
                )
            )
            continue
        # Keep the first and last labels of a thinned axis inside the chart.
        half = max(text_width(line) for line in lines) / 2
        x = min(max(centre, half), frame.width - half)
        spans = _esc(lines[0]) + "".join(
            _el("tspan", _esc(line), x=x, dy=FONT + 2) for line in lines[1:]
        )
        attrs = {"x": x, "y": y, "fill": "currentColor", "font_size": FONT, "text_anchor": "middle"}
        parts.append(_el("text", spans + hover, **attrs, class_="category"))
    return "".join(parts)


def _legend(series: Sequence[Series], width: float, top: float) -> tuple[str, float]:
    """Swatches and names, wrapped into rows; returns the drawing and its height."""
    parts, x, y = [], 0.0, top
    for position, item in enumerate(series):
        shown = truncate(item.name, width / 2)
        entry = 14 + text_width(shown) + 12
        if x and x + entry > width:
            x, y = 0.0, y + FONT + PAD
        colour, index = _colour(item, position)
        parts.append(
            _el(
                "rect",
                x=x,
                y=y,
                width=10.0,
                height=10.0,
                fill=colour,
                class_=f"legend-key series-{index}",
            )
        )
        parts.append(_text(x + 14, y + 9.5, shown, item.name, class_="legend"))
        x += entry
    return f'<g class="legend">{"".join(parts)}</g>', y + FONT + PAD - top


@dataclass(frozen=True)
class _Axes:
    title: str
    show_title: bool
    y_label: str
    fmt: ValueFormat
    headroom: float = 0.0  # room above the top tick for printed values


def _frame(
    canvas: _Canvas,
    axes: _Axes,
    series: Sequence[Series],
    categories: Sequence[str],
    lo: float,
    hi: float,
) -> tuple[_Frame, list[str]]:
    """Lay out the plot area; draw the title, legend, y axis, gridlines and
    category labels."""
    ticks = nice_ticks(lo, hi, 5)
    tick_labels = [axes.fmt(tick) for tick in ticks]
    left = max(text_width(label) for label in tick_labels) + PAD
    right = canvas.width - 4
    axis = _plan_categories(categories, left, (right - left) / len(categories))
    parts, top = [], 0.0
    if axes.show_title:
        parts.append(canvas.title_text())
        top = TITLE_FONT + PAD
    if len(series) > 1:
        legend, legend_height = _legend(series, canvas.width, top)
        parts.append(legend)
        top += legend_height
    if axes.y_label:
        top += FONT
        parts.append(
            _text(0.0, top, truncate(axes.y_label, canvas.width), opacity=0.8, class_="y-label")
        )
    top += PAD + axes.headroom + FONT / 2
    # A short chart with a tall legend grows rather than drawing upside down.
    bottom = max(canvas.height - axis.height, top + MIN_PLOT)
    canvas.height = bottom + axis.height
    frame = _Frame(canvas.width, left, top, right, bottom, ticks, len(categories))
    grid = []
    for tick, label in zip(ticks, tick_labels, strict=True):
        y, opacity = frame.y(tick), 0.35 if tick == 0 else 0.12
        grid.append(
            _el(
                "line",
                x1=left,
                x2=right,
                y1=y,
                y2=y,
                stroke="currentColor",
                stroke_opacity=opacity,
                class_="grid",
            )
        )
        grid.append(
            _text(left - 4, y + FONT * 0.35, label, text_anchor="end", opacity=0.8, class_="tick")
        )
    parts.append(f'<g class="axis">{"".join(grid)}</g>')
    parts.append(_draw_categories(axis, frame, categories))
    return frame, parts


# -- the charts ---------------------------------------------------------------


def bar_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    stacked: bool = True,
    value_format: ValueFormat = default_format,
    y_label: str = "",
    height: int = 240,
    width: int = WIDTH,
    show_title: bool = True,
    id_prefix: str | None = None,
    wording: Wording = Wording(),
) -> str:
    """Vertical bars per category: stacked (asks per day by channel) or side by
    side with `stacked=False` (demand and capacity per session). In a stack,
    positive values grow up from zero and negative ones down. With up to 12
    categories each bar (or stack) has its value printed over it when it fits."""
    categories = [str(category) for category in categories]
    table = [_fit(item.values, len(categories)) for item in series]
    canvas = _canvas("bar", id_prefix, title, width, height, categories, table, stacked)
    present = [value for row in table for value in row if value is not None]
    if not present:
        return canvas.no_data(wording, show_title)
    columns = [list(column) for column in zip(*table, strict=True)]
    if stacked:
        lo = min(sum(v for v in column if v is not None and v < 0) for column in columns)
        hi = max(sum(v for v in column if v is not None and v > 0) for column in columns)
    else:
        lo, hi = min(present), max(present)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    labelled = len(categories) <= LABELLED_CATEGORIES
    axes = _Axes(title, show_title, y_label, value_format, FONT if labelled else 0.0)
    frame, parts = _frame(canvas, axes, series, categories, lo, hi if hi > lo else 1.0)
    draw = _stacked_bars if stacked else _grouped_bars
    bars, notes = draw(frame, categories, series, columns, value_format, labelled)
    parts += [f'<g class="bars">{"".join(bars)}</g>', f'<g class="values">{"".join(notes)}</g>']
    totals = [
        sum(v for v in column if v is not None) if any(v is not None for v in column) else None
        for column in columns
    ]
    named = [(item.name, row) for item, row in zip(series, table, strict=True)]
    stack_totals = totals if stacked and len(series) > 1 else None
    desc = _describe(categories, named, value_format, wording, totals=stack_totals)
    return canvas.render(desc, parts)


def _stacked_bars(
    frame: _Frame,
    categories: list[str],
    series: Sequence[Series],
    columns: list[Values],
    fmt: ValueFormat,
    labelled: bool,
) -> tuple[list[str], list[str]]:
    bars, notes = [], []
    bar_width = frame.band * 0.8 if frame.band >= 4 else frame.band
    for centre, category, column in zip(frame.centres, categories, columns, strict=True):
        # The top of the positive stack and the bottom of the negative one.
        ends = {True: 0.0, False: 0.0}
        for position, (item, value) in enumerate(zip(series, column, strict=True)):
            if not value:
                continue
            start = ends[value > 0]
            ends[value > 0] = start + value
            hover = f"{category} · {item.name}: {fmt(value)}"
            x = centre - bar_width / 2
            bars.append(_bar(frame, x, bar_width, start, start + value, item, position, hover))
        if labelled and any(value is not None for value in column):
            total = fmt(sum(value for value in column if value is not None))
            notes.append(_value_note(centre, frame.y(ends[True]), total, frame.band))
    return bars, notes


def _grouped_bars(
    frame: _Frame,
    categories: list[str],
    series: Sequence[Series],
    columns: list[Values],
    fmt: ValueFormat,
    labelled: bool,
) -> tuple[list[str], list[str]]:
    bars, notes = [], []
    slot = frame.band * 0.8 / len(series)
    bar_width = slot * 0.9 if slot >= 4 else slot
    for centre, category, column in zip(frame.centres, categories, columns, strict=True):
        for position, (item, value) in enumerate(zip(series, column, strict=True)):
            if value is None:
                continue
            x = centre - frame.band * 0.4 + slot * position
            hover = f"{category} · {item.name}: {fmt(value)}"
            bars.append(_bar(frame, x, bar_width, 0.0, value, item, position, hover))
            if labelled:
                notes.append(
                    _value_note(x + bar_width / 2, frame.y(max(value, 0.0)), fmt(value), slot + 2)
                )
    return bars, notes


def _bar(
    frame: _Frame,
    x: float,
    width: float,
    start: float,
    end: float,
    item: Series,
    position: int,
    hover: str,
) -> str:
    # Rounded edges, not rounded heights, so the segments of a stack add up.
    top, bottom = sorted((frame.y(start), frame.y(end)))
    colour, index = _colour(item, position)
    return _el(
        "rect",
        _tooltip(hover),
        x=x,
        y=top,
        width=width,
        height=bottom - top,
        fill=colour,
        class_=f"bar series-{index}",
    )


def _value_note(x: float, y: float, text: str, room: float) -> str:
    if text_width(text, FONT - 1) > room:
        return ""
    return _text(x, y - 3, text, text_anchor="middle", font_size=FONT - 1, class_="value")


def line_chart(
    categories: Sequence[str],
    series: Sequence[Series],
    *,
    title: str,
    y_min: float | None = None,
    y_max: float | None = None,
    value_format: ValueFormat = default_format,
    y_label: str = "",
    height: int = 240,
    width: int = WIDTH,
    show_title: bool = True,
    id_prefix: str | None = None,
    wording: Wording = Wording(),
) -> str:
    """Lines over categories (coverage % per day, median hours to answer). A
    missing value breaks the line. The y axis starts at zero unless `y_min`
    says otherwise, and reaches past `y_min`/`y_max` only if the data does.
    Points are marked when there are at most 31 of them."""
    categories = [str(category) for category in categories]
    table = [_fit(item.values, len(categories)) for item in series]
    canvas = _canvas("line", id_prefix, title, width, height, categories, table, y_min, y_max)
    present = [value for row in table for value in row if value is not None]
    if not present:
        return canvas.no_data(wording, show_title)
    floor, ceiling = _clean(y_min), _clean(y_max)
    lo = min([*present, 0.0 if floor is None else floor])
    hi = max([*present, 0.0 if ceiling is None else ceiling])
    axes = _Axes(title, show_title, y_label, value_format)
    frame, parts = _frame(canvas, axes, series, categories, lo, hi if hi > lo else lo + 1.0)
    marked = len(categories) <= 31
    for position, (item, row) in enumerate(zip(series, table, strict=True)):
        colour, index = _colour(item, position)
        points = [
            None if v is None else (x, frame.y(v)) for x, v in zip(frame.centres, row, strict=True)
        ]
        runs = _runs(points)
        drawn = [_path(run, colour, 2.0, f"line series-{index}") for run in runs if len(run) > 1]
        # A point between two gaps has no line to show it, so it gets a dot.
        lone = {run[0] for run in runs if len(run) == 1}
        for category, value, point in zip(categories, row, points, strict=True):
            if point is not None and value is not None and (marked or point in lone):
                hover = _tooltip(f"{category} · {item.name}: {value_format(value)}")
                drawn.append(
                    _el(
                        "circle",
                        hover,
                        cx=point[0],
                        cy=point[1],
                        r=2.5,
                        fill=colour,
                        class_=f"point series-{index}",
                    )
                )
        parts.append(f'<g class="series series-{index}">{"".join(drawn)}</g>')
    named = [(item.name, row) for item, row in zip(series, table, strict=True)]
    return canvas.render(_describe(categories, named, value_format, wording, latest=True), parts)


def horizontal_bar_chart(
    labels: Sequence[str],
    values: Sequence[float | None],
    *,
    title: str,
    value_format: ValueFormat = default_format,
    max_label_chars: int = 40,
    width: int = WIDTH,
    show_title: bool = True,
    colour_index: int = 0,
    id_prefix: str | None = None,
    wording: Wording = Wording(),
    scale_max: float | None = None,
) -> str:
    """One bar per label (rising questions, satisfaction per session), each
    label on its own line above its bar so long text gets the phone's whole
    width. `max_label_chars` counts Latin characters; a CJK character takes
    the room of about two. A cut label keeps its full text in a <title>.
    The height follows from the number of rows. The scale ends at the
    largest value, or at `scale_max` if that is larger (100 for a share in
    %, so a half-full session draws half a bar, not a full one)."""
    labels = [str(label) for label in labels]
    cleaned = _fit(values, len(labels))
    title_space = TITLE_FONT + PAD if show_title else 0.0
    row_height, bar_height = FONT + 4 + 14 + 8, 14.0
    present = [value for value in cleaned if value is not None]
    height = title_space + PAD + row_height * len(labels) if present else 120
    canvas = _canvas("hbar", id_prefix, title, width, height, labels, cleaned)
    if not present:
        return canvas.no_data(wording, show_title)
    lo, hi = min(0.0, *present), max(0.0, scale_max or 0.0, *present)
    notes = ["–" if value is None else value_format(value) for value in cleaned]
    # Values are printed past the end of each bar: keep room for the widest.
    room = max(text_width(note) for note in notes) + 4
    left, right = (room if lo < 0 else 0.0), width - (room if hi > 0 else 0.0)

    def x(value: float) -> float:
        return round(left + (value - lo) / ((hi - lo) or 1.0) * (right - left), 2)

    colour, css = PALETTE[colour_index % len(PALETTE)], f"bar series-{colour_index % len(PALETTE)}"
    label_width = min(max_label_chars * LATIN_EM * FONT, width)
    parts = [canvas.title_text()] if show_title else []
    for i, (label, value, note) in enumerate(zip(labels, cleaned, notes, strict=True)):
        top = title_space + PAD + i * row_height
        row = [_text(0.0, top + FONT, truncate(label, label_width), label, class_="label")]
        bar_top, at, anchor = top + FONT + 4, x(0.0) + 4, "start"
        if value is not None:
            start, end = sorted((x(0.0), x(value)))
            bar = _el(
                "rect",
                _tooltip(f"{label}: {note}"),
                x=start,
                y=bar_top,
                width=max(end - start, 1.0),
                height=bar_height,
                fill=colour,
                class_=css,
            )
            row.append(bar)
            at, anchor = (end + 4, "start") if value >= 0 else (start - 4, "end")
        row.append(_text(at, bar_top + bar_height - 3, note, text_anchor=anchor, class_="value"))
        parts.append(f'<g class="row">{"".join(row)}</g>')
    return canvas.render(_describe(labels, [(title, cleaned)], value_format, wording), parts)


def sparkline(
    values: Sequence[float | None],
    *,
    width: int = 120,
    height: int = 28,
    title: str,
    colour_index: int = 0,
    value_format: ValueFormat = default_format,
    id_prefix: str | None = None,
    wording: Wording = Wording(),
) -> str:
    """A tiny trend line for a table cell, drawn at a fixed pixel size (a cell
    has no width to share). The scale runs from the lowest value to the
    highest, so it shows the shape, not the size; the last point is marked."""
    cleaned = [_clean(value) for value in values]
    canvas = _canvas("spark", id_prefix, title, width, height, cleaned, size=(width, height))
    present = [value for value in cleaned if value is not None]
    if not present:
        line = _el(
            "line",
            x1=2.0,
            x2=width - 2.0,
            y1=height / 2,
            y2=height / 2,
            stroke="currentColor",
            stroke_opacity=0.3,
            stroke_dasharray="2 3",
            class_="no-data",
        )
        return canvas.render(wording.no_data, [line])
    lo, hi = min(present), max(present)
    step = (width - 6) / max(len(cleaned) - 1, 1)

    def y(value: float) -> float:
        return round(height / 2 if hi == lo else 3 + (hi - value) / (hi - lo) * (height - 6), 2)

    points = [None if v is None else (round(3 + i * step, 2), y(v)) for i, v in enumerate(cleaned)]
    colour = PALETTE[colour_index % len(PALETTE)]
    body = []
    for run in _runs(points):
        if len(run) > 1:
            body.append(_path(run, colour, 1.5, "line"))
        else:
            body.append(_el("circle", cx=run[0][0], cy=run[0][1], r=1.5, fill=colour))
    last = [point for point in points if point is not None][-1]
    body.append(_el("circle", cx=last[0], cy=last[1], r=2.0, fill=colour, class_="last"))
    latest = [value for value in cleaned if value is not None][-1]
    desc = f"{wording.highest}: {value_format(hi)}. {wording.latest}: {value_format(latest)}."
    return canvas.render(desc, body)
