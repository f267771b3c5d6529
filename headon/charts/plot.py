"""The plot area that bar and line charts share: a y scale with gridlines and
tick labels, category labels that fit a phone's width, and the legend.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from headon.charts.base import (
    FONT,
    LABELLED_CATEGORIES,
    LATIN_EM,
    MIN_PLOT,
    PAD,
    TITLE_FONT,
    Series,
    ValueFormat,
    _Canvas,
    _colour,
    _el,
    _esc,
    _num,
    _text,
    _tooltip,
    nice_ticks,
    text_width,
    truncate,
    wrap,
)


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
