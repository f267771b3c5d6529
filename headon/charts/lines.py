"""Line charts over categories, broken where a value is missing."""

from __future__ import annotations

from collections.abc import Sequence

from headon.charts.base import (
    WIDTH,
    Series,
    ValueFormat,
    Wording,
    _canvas,
    _clean,
    _colour,
    _describe,
    _el,
    _fit,
    _path,
    _runs,
    _tooltip,
    default_format,
)
from headon.charts.plot import _Axes, _frame


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
                hover = _tooltip(f"{category} · {item.name}{wording.colon}{value_format(value)}")
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
