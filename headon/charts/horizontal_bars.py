"""Horizontal bar charts for ranked rows, each label on its own line."""

from __future__ import annotations

from collections.abc import Sequence

from headon.charts.base import (
    FONT,
    LATIN_EM,
    PAD,
    PALETTE,
    TITLE_FONT,
    WIDTH,
    ValueFormat,
    Wording,
    _canvas,
    _describe,
    _el,
    _fit,
    _text,
    _tooltip,
    default_format,
    text_width,
    truncate,
)


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
                _tooltip(f"{label}{wording.colon}{note}"),
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
