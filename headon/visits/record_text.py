"""Pieces of a draw record written as JSON text without building it: what
makes `DrawResult.write_record` take about a second for a million parties.

Plain data in, plain data out; no Django import. Each function returns the
same text `json.dumps` would for its part, given names that need no escaping
(`draw.run_draw` checks that before it keeps the fast path)."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from typing import TextIO

PIECE = 25_000  # refs or parties written at a time by write_record


def pieces(items: list[str]) -> Iterator[list[str]]:
    return (items[k : k + PIECE] for k in range(0, len(items), PIECE))


def lines(text: str) -> Iterator[str]:
    """``text`` in pieces of about `PIECE` whole lines."""
    start = 0
    while start < len(text):
        end = text.find("\n", start + PIECE * 40) + 1 or len(text)
        yield text[start:end]
        start = end


def write_joined(fh: TextIO, texts: Iterable[str]) -> None:
    """Write ``", ".join(texts)``, one text at a time."""
    separator = ""
    for text in texts:
        fh.write(separator + text)
        separator = ", "


def canonical_as_json(text: str) -> str:
    """Canonical lines as the record's party objects: ``a|1|s1,s2|0\\n`` becomes
    ``{"ref": "a", "size": 1, "choices": ["s1", "s2"], "tier": 0}``, and lines
    are joined by ``", "``. Commas only separate choices and newlines only
    parties, so a replace each fixes those; a line's three bars each become
    different text, so the pieces between bars are interleaved with the three
    fillers by slice assignment. All at C speed, none of it per party."""
    pieces = text[:-1].replace(",", '", "').replace("\n", '}, {"ref": "').split("|")
    n = len(pieces) // 3
    parts = [""] * (2 * len(pieces) - 1)
    parts[0::2] = pieces
    parts[1::6] = ['", "size": '] * n
    parts[3::6] = [', "choices": ["'] * n
    parts[5::6] = ['"], "tier": '] * n
    return '{"ref": "' + "".join(parts) + "}"


def quoted(names: list[str]) -> str:
    """``"a", "b"``: names as JSON strings, comma-separated."""
    return '"' + '", "'.join(names) + '"' if names else ""


def pairs(keys: list[str], values: list[str]) -> str:
    """``"a": 1, "b": null``: the members of a JSON object whose values are
    already JSON, interleaved by slice assignment rather than formatted one by one."""
    if not keys:
        return ""
    parts = [""] * (4 * len(keys))
    parts[0::4] = keys
    parts[1::4] = ['": '] * len(keys)
    parts[2::4] = values
    parts[3::4] = [', "'] * len(keys)
    return '"' + "".join(parts[:-1])
