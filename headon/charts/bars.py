"""Vertical bar charts, stacked or side by side, over categories."""

from __future__ import annotations

from collections.abc import Sequence

from headon.charts.base import (
    FONT,
    LABELLED_CATEGORIES,
    WIDTH,
    Series,
    ValueFormat,
    Values,
    Wording,
    _canvas,
    _colour,
    _describe,
    _el,
    _fit,
    _text,
    _tooltip,
    default_format,
    text_width,
)
from headon.charts.plot import _Axes, _Frame, _frame


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
    bars, notes = draw(frame, categories, series, columns, value_format, labelled, wording.colon)
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
    colon: str,
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
            hover = f"{category} · {item.name}{colon}{fmt(value)}"
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
    colon: str,
) -> tuple[list[str], list[str]]:
    bars, notes = [], []
    slot = frame.band * 0.8 / len(series)
    bar_width = slot * 0.9 if slot >= 4 else slot
    for centre, category, column in zip(frame.centres, categories, columns, strict=True):
        for position, (item, value) in enumerate(zip(series, column, strict=True)):
            if value is None:
                continue
            x = centre - frame.band * 0.4 + slot * position
            hover = f"{category} · {item.name}{colon}{fmt(value)}"
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
