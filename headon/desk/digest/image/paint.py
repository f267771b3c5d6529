"""Painting: the laid-out digest drawn strip by strip and handed to the encoder.

A digest of 300 answers is about 240,000 pixels tall, 780 MB as one RGB
image, so the picture is never whole: it is drawn in strips of 1,024 rows
that `png.encode_png` deflates while the next strip is drawn. Text is pasted
from masks drawn once per rendering (a glyph for CJK, a word for the rest).
`render_digest_png` is the entry point: lay out, then paint and encode.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
from PIL import Image, ImageDraw

from headon.desk.digest.image.fonts import PALT, load_font, piece_length, pieces
from headon.desk.digest.image.layout import ImageLabels, lay_out_digest
from headon.desk.digest.image.page import (
    MAX_WIDTH,
    MIN_WIDTH,
    PAGE_WIDTH,
    PAPER,
    BoxOp,
    Colour,
    Page,
    TextOp,
)
from headon.desk.digest.image.png import encode_png

_RENDERING = threading.Lock()

STRIP = 1024  # rows drawn and deflated at a time: 3 MB of RGB
Glyph = tuple[Image.Image, int, int] | None  # mask, offset from the pen on the baseline


def _strips(ops: list[TextOp | BoxOp], height: int) -> list[list[TextOp | BoxOp]]:
    """The operations that touch each strip, in drawing order."""
    strips: list[list[TextOp | BoxOp]] = [[] for _ in range(-(-height // STRIP))]
    for op in ops:
        first = max(op.top // STRIP, 0)
        last = min((op.bottom - 1) // STRIP, len(strips) - 1)
        for index in range(first, last + 1):
            strips[index].append(op)
    return strips


class _Painter:
    """Draws strips of the page from masks drawn once per rendering: a glyph
    for CJK (which needs no shaping), a word for other text (shaped by raqm,
    so kerning and marks are right). Pasting a cached mask is about ten
    times faster than a draw.text call, and a digest repeats its characters
    and words thousands of times."""

    def __init__(self, width: int) -> None:
        self.width = width
        self.masks: dict[tuple[str, int, str, int], Glyph] = {}

    def mask(self, name: str, size: int, text: str, mode: int) -> Glyph:
        key = (name, size, text, mode)
        if key in self.masks:
            return self.masks[key]
        font = load_font(name, size)
        options: dict[str, Any] = {"anchor": "ls", "features": ["palt"] if mode == PALT else None}
        x0, y0, x1, y1 = (math.floor(v) for v in font.getbbox(text, **options))
        glyph: Glyph = None
        if x1 > x0 and y1 > y0:
            mask = Image.new("L", (x1 - x0 + 1, y1 - y0 + 1), 0)
            ImageDraw.Draw(mask).text((-x0, -y0), text, font=font, fill=255, **options)
            glyph = (mask, x0, y0)
        self.masks[key] = glyph
        return glyph

    def strip(self, ops: list[TextOp | BoxOp], top: int, rows: int) -> Image.Image:
        """The `rows` rows of the page from `top` down, with `ops` drawn on them."""
        image = Image.new("RGB", (self.width, rows), PAPER)
        draw = ImageDraw.Draw(image)
        for op in ops:
            if isinstance(op, BoxOp):
                _box(draw, op, top)
            else:
                self.text(image, op, top)
        return image

    def text(self, image: Image.Image, op: TextOp, top: int) -> None:
        baseline = op.baseline - top
        for name, dx, text, mode in op.runs:
            x = op.x + dx
            for piece in pieces(text, mode):
                if piece != " ":
                    glyph = self.mask(name, op.size, piece, mode)
                    self.paste(image, glyph, x, baseline, op.colour)
                x += piece_length(name, op.size, piece, mode)

    @staticmethod
    def paste(image: Image.Image, glyph: Glyph, x: float, baseline: int, colour: Colour) -> None:
        if glyph is not None:
            mask, x0, y0 = glyph
            left, top = round(x) + x0, baseline + y0
            image.im.paste(colour, (left, top, left + mask.width, top + mask.height), mask.im)


def _box(draw: ImageDraw.ImageDraw, op: BoxOp, top: int) -> None:
    box = (op.x0, op.top - top, op.x1 - 1, op.bottom - top - 1)
    radius = min(op.radius, (op.bottom - op.top) // 2, (op.x1 - op.x0) // 2)
    if radius > 0:
        draw.rounded_rectangle(box, radius, fill=op.fill)
    elif op.bottom > op.top:
        draw.rectangle(box, fill=op.fill)


def _scanlines(
    page: Page, width: int, height: int
) -> Iterator[np.ndarray[Any, np.dtype[np.uint8]]]:
    painter = _Painter(width)
    for index, ops in enumerate(_strips(page.ops, height)):
        top = index * STRIP
        rows = min(STRIP, height - top)
        pixels = np.frombuffer(painter.strip(ops, top, rows).tobytes(), np.uint8)
        yield pixels.reshape(rows, width * 3)


def render_digest_png(
    snapshot: Mapping[str, Any],
    *,
    language: str,
    labels: ImageLabels | None = None,
    width: int = PAGE_WIDTH,
) -> bytes:
    """The digest `snapshot` as one long RGB PNG, `width` pixels wide (480 to 2160).

    Bilingual fields are read in `language` ("en" or "zh"), falling back to the
    other. Same snapshot and labels, same bytes.
    """
    if not MIN_WIDTH <= width <= MAX_WIDTH:
        raise ValueError(f"The digest image is {MIN_WIDTH} to {MAX_WIDTH} px wide, not {width}.")
    # FreeType faces are shared between renderings and are not thread-safe.
    with _RENDERING:
        page = lay_out_digest(
            snapshot, language=language, labels=labels or ImageLabels(), width=width
        )
        height = max(page.y, 1)
        return encode_png(width, height, _scanlines(page, width, height))
