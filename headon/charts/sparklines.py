"""Sparklines: a tiny trend line for a table cell, at a fixed pixel size."""

from __future__ import annotations

from collections.abc import Sequence

from headon.charts.base import (
    PALETTE,
    ValueFormat,
    Wording,
    _canvas,
    _clean,
    _el,
    _path,
    _runs,
    default_format,
)


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
    w = wording
    desc = (
        f"{w.highest}{w.colon}{value_format(hi)}{w.stop}{w.between}"
        f"{w.latest}{w.colon}{value_format(latest)}{w.stop}"
    )
    return canvas.render(desc, body)
