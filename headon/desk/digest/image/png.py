"""A streaming PNG encoder for long RGB images, fed a strip of rows at a time.

No Pillow here: the rows arrive as numpy arrays and leave as one PNG with a
single IDAT chunk. The strips are deflated as one zlib stream by a second
thread while the caller draws the next, so only a few strips are ever held,
and runs of rows that repeat the row above are spliced in already deflated.
"""

from __future__ import annotations

import functools
import struct
import zlib
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any

import numpy as np


def _chunk(kind: bytes, data: bytes) -> bytes:
    crc = zlib.crc32(data, zlib.crc32(kind))
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", crc)


# zlib deflates these rows at ~60 MB/s at level 6 and ~4 times faster at
# level 1, for 10 % more bytes. A usual digest (a few dozen answers, under
# 40,000 rows, 130 MB raw) gets level 6; a huge one (300 answers is 240,000
# rows, 780 MB) gets level 1 so that it still takes seconds, not ten.
LEVEL, FAST_LEVEL, FAST_ROWS = 6, 1, 40_000
# About 40 % of the rows repeat the row above (the space around and between
# lines). A run this long or longer skips the deflater: it is written as
# PNG "Up" rows, all zeros, deflated once per process and spliced in.
BLANK_RUN = 8
_ADLER = 65521


def _adler32_combine(first: int, second: int, length: int) -> int:
    """The Adler-32 of two byte strings joined, from theirs (zlib's adler32_combine)."""
    rem = length % _ADLER
    sum1 = first & 0xFFFF
    sum2 = (rem * sum1) % _ADLER
    sum1 = (sum1 + (second & 0xFFFF) + _ADLER - 1) % _ADLER
    sum2 = (sum2 + (first >> 16) + (second >> 16) + _ADLER - rem) % _ADLER
    return sum1 | (sum2 << 16)


@functools.cache
def _blank_rows(width: int, rows: int) -> tuple[bytes, int, int]:
    """`rows` all-zero "Up" scanlines as a self-contained, byte-aligned run of
    raw deflate blocks, with their Adler-32 and length."""
    raw = (b"\x02" + bytes(3 * width)) * rows
    deflate = zlib.compressobj(9, zlib.DEFLATED, -15)
    return deflate.compress(raw) + deflate.flush(zlib.Z_SYNC_FLUSH), zlib.adler32(raw), len(raw)


Segment = np.ndarray[Any, np.dtype[np.uint8]] | int  # filtered scanlines, or a count of repeats


def _segments(
    pixels: np.ndarray[Any, np.dtype[np.uint8]], above: np.ndarray[Any, Any] | None
) -> list[Segment]:
    """A strip's rows (rows x width*3 bytes) as PNG scanlines: runs of rows that
    repeat the row above become a count, the others rows with filter 0 (none),
    which on flat colour and crisp text deflates smaller than Up or Sub."""
    rows = len(pixels)
    flags = np.zeros(rows + 2, np.int8)  # 1 where a row repeats the one above, 0-padded
    flags[1] = above is not None and bool(np.array_equal(pixels[0], above))
    flags[2:-1] = (pixels[1:] == pixels[:-1]).all(axis=1)
    bounds = np.flatnonzero(np.diff(flags))  # starts and ends of the runs of 1s, paired
    segments: list[Segment] = []
    cursor = 0
    for start, end in zip(bounds[::2].tolist(), bounds[1::2].tolist(), strict=True):
        if end - start < BLANK_RUN:
            continue
        if start > cursor:
            segments.append(_filter_none(pixels[cursor:start]))
        segments.append(end - start)
        cursor = end
    if cursor < rows:
        segments.append(_filter_none(pixels[cursor:]))
    return segments


def _filter_none(
    pixels: np.ndarray[Any, np.dtype[np.uint8]],
) -> np.ndarray[Any, np.dtype[np.uint8]]:
    scanlines = np.empty((len(pixels), pixels.shape[1] + 1), np.uint8)
    scanlines[:, 0] = 0
    scanlines[:, 1:] = pixels
    return scanlines


class _Deflater:
    """One zlib stream of scanlines, fed strip by strip in order."""

    def __init__(self, width: int, level: int) -> None:
        self.width = width
        self.raw = zlib.compressobj(level, zlib.DEFLATED, -15)
        self.checksum = zlib.adler32(b"")
        self.out: list[bytes] = [b"\x78\x01"]  # the zlib header: deflate, 32 KB window

    def feed(self, segments: list[Segment]) -> None:
        for segment in segments:
            if isinstance(segment, int):
                # A full flush ends on a byte boundary and makes the deflater
                # forget what came before, so the blank rows can go in between.
                self.out.append(self.raw.flush(zlib.Z_FULL_FLUSH))
                for size in (1 << bit for bit in range(segment.bit_length()) if segment >> bit & 1):
                    blob, checksum, length = _blank_rows(self.width, size)
                    self.out.append(blob)
                    self.checksum = _adler32_combine(self.checksum, checksum, length)
            else:
                self.out.append(self.raw.compress(segment.data))
                self.checksum = zlib.adler32(segment.data, self.checksum)

    def finish(self) -> list[bytes]:
        self.out.append(self.raw.flush())
        self.out.append(struct.pack(">I", self.checksum))
        return self.out


def encode_png(
    width: int, height: int, strips: Iterator[np.ndarray[Any, np.dtype[np.uint8]]]
) -> bytes:
    """A PNG of `strips` (arrays of rows x width*3 RGB bytes), deflated in a
    second thread (zlib lets go of the GIL) while the next strips are drawn."""
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)  # 8-bit RGB
    deflater = _Deflater(width, LEVEL if height <= FAST_ROWS else FAST_LEVEL)
    pending: deque[Future[None]] = deque()
    above = None
    with ThreadPoolExecutor(max_workers=1) as pool:  # one stream, deflated in order
        for pixels in strips:
            pending.append(pool.submit(deflater.feed, _segments(pixels, above)))
            above = pixels[-1]
            while len(pending) > 2:  # two strips in flight at most: memory stays flat
                pending.popleft().result()
        for future in pending:
            future.result()
    data = deflater.finish()
    # One IDAT chunk, its CRC run over the pieces, so the (tens of MB of)
    # compressed data is copied once, by the final join.
    crc = zlib.crc32(b"IDAT")
    for piece in data:
        crc = zlib.crc32(piece, crc)
    return b"".join(
        [
            b"\x89PNG\r\n\x1a\n",
            _chunk(b"IHDR", header),
            struct.pack(">I", sum(map(len, data))),
            b"IDAT",
            *data,
            struct.pack(">I", crc),
            _chunk(b"IEND", b""),
        ]
    )
