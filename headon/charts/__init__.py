"""Charts drawn on the server as inline SVG; the drawing lives in `base`."""

from headon.charts.base import (
    PALETTE,
    Series,
    Wording,
    bar_chart,
    default_format,
    horizontal_bar_chart,
    line_chart,
    nice_ticks,
    sparkline,
    text_width,
    truncate,
    wrap,
)

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
