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

One module per chart kind (`bars`, `lines`, `horizontal_bars`, `sparklines`);
`plot` lays out the axes that bars and lines share, and `base` holds what all
of them share. Callers import from here, not from the modules.
"""

from headon.charts.bars import bar_chart
from headon.charts.base import (
    PALETTE,
    Series,
    Wording,
    default_format,
    nice_ticks,
    text_width,
    truncate,
    wrap,
)
from headon.charts.horizontal_bars import horizontal_bar_chart
from headon.charts.lines import line_chart
from headon.charts.sparklines import sparkline

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
