"""The figures an answer states, and where two answers disagree on them.

Plain Python, no Django. A draft that says "3 years or 60,000 km" beside a
published answer that says "5 年或 15 万公里" contradicts it twice: both
state a duration and a distance, and the values differ. To see that, every
figure is read with its unit into one family and one base unit (durations
in days, distances in km, amounts in yuan, dates as ISO text), and
Chinese multipliers (万, 亿) and numerals (三年, 两周) are read too.

A family compares only with itself, and only when both answers state it:
a draft that adds a figure the published answer does not mention adds
information, it does not contradict. Figures within 2% are the same
("3 years" and "36 months").
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_CN_DIGITS = {"零": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7}
_CN_DIGITS |= {"八": 8, "九": 9}
_CN_UNITS = {"十": 10, "百": 100, "千": 1000}
_MULTIPLIERS = {"万": 10_000, "亿": 100_000_000, "千": 1000, "k": 1000, "thousand": 1000}
_MULTIPLIERS |= {"million": 1_000_000, "m": 1_000_000}

# (pattern, family, factor to the family's base unit). Longer spellings first,
# so "km/h" is a speed before "km" is a distance and "分钟" is not "分".
_UNITS: list[tuple[str, str, float]] = [
    (r"km/h|kph|公里/小时|公里每小时", "speed", 1),
    (r"mph", "speed", 1.609),
    (r"kwh|千瓦时|度电", "energy", 1),
    (r"kw|千瓦", "power", 1),
    (r"kilomet(?:er|re)s?|km|公里|千米", "distance", 1),
    (r"miles?|英里", "distance", 1.609),
    (r"met(?:er|re)s?|米", "distance", 0.001),
    (r"years?|yrs?|年", "duration", 365),
    (r"months?|个月", "duration", 30),
    (r"weeks?|个?星期|周", "duration", 7),
    (r"days?|天", "duration", 1),
    (r"hours?|hrs?|个?小时", "duration", 1 / 24),
    (r"minutes?|mins?|分钟", "duration", 1 / 1440),
    (r"yuan|rmb|cny|元|块", "amount", 1),
    (r"%|％|percent|per cent", "percent", 1),
    (r"seats?|座位?", "seats", 1),
]
_UNIT_RE = "|".join(f"(?P<u{i}>{pattern})" for i, (pattern, _f, _x) in enumerate(_UNITS))

_NUMBER = re.compile(
    r"(?P<currency>[¥￥]|RMB\s?|CNY\s?)?"
    r"(?<![A-Za-z0-9_.,，])(?P<num>\d{1,3}(?:[,，]\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?|[零一二两三四五六七八九十百千]+)"
    r"\s*(?P<mult>万|亿|千|k(?![a-z])|thousand|million|m(?=\s*(?:yuan|rmb|元)))?"
    rf"\s*(?:(?P<unit>{_UNIT_RE})(?![a-z]))?",
    re.IGNORECASE,
)
_MONTHS = "january february march april may june july august september october november december"
_MONTH_NUMBER = {name[:3]: n for n, name in enumerate(_MONTHS.split(), start=1)}
_MONTH_RE = r"(?P<month>jan|feb|mar|apr|may|jun|jul|aug|sep|sept|oct|nov|dec)[a-z]*\.?"
_DATES = [
    re.compile(r"(?P<y>(?:19|20)\d\d)-(?P<m>\d\d?)(?:-(?P<d>\d\d?))?(?!\d)"),
    re.compile(r"(?P<y>(?:19|20)\d\d)\s*年\s*(?:(?P<m>\d\d?)\s*月(?:\s*(?P<d>\d\d?)\s*[日号])?)?"),
    re.compile(r"(?<!\d)(?P<m>\d\d?)\s*月\s*(?P<d>\d\d?)\s*[日号]"),
    re.compile(
        rf"(?:(?P<d>\d\d?)\s+)?{_MONTH_RE}\s+(?:(?P<d2>\d\d?),?\s+)?(?P<y>(?:19|20)\d\d)", re.I
    ),
]
SAME = 0.02  # relative difference under which two figures are one
# An answer states a few dozen figures; past this many the rest are not read,
# which keeps the overlap checks (quadratic in the figures) cheap.
MAX_FIGURES = 200


@dataclass(frozen=True)
class Figure:
    """One figure as written (`text`, at `start`:`end`) and as read."""

    family: str
    value: float | str
    start: int
    end: int
    text: str

    def same_as(self, other: Figure) -> bool:
        if isinstance(self.value, str) or isinstance(other.value, str):
            return self.value == other.value
        top = max(abs(self.value), abs(other.value))
        return top == 0 or abs(self.value - other.value) <= SAME * top


@dataclass(frozen=True)
class Difference:
    """A family both texts state, with the figures each has and the other lacks."""

    family: str
    mine: tuple[Figure, ...]
    theirs: tuple[Figure, ...]


def chinese_number(text: str) -> float | None:
    """三 → 3, 十五 → 15, 两百 → 200, 一千二百 → 1200; None if not a numeral."""
    total, digit = 0, None
    for ch in text:
        if ch in _CN_DIGITS:
            digit = _CN_DIGITS[ch]
        elif ch in _CN_UNITS:
            total += (1 if digit is None else digit) * _CN_UNITS[ch]
            digit = None
        else:
            return None
    return float(total + (digit or 0))


def _number(raw: str) -> float | None:
    if raw[0] in _CN_DIGITS or raw[0] in _CN_UNITS:
        return chinese_number(raw)
    return float(raw.replace(",", "").replace("，", ""))


def _dates(text: str) -> tuple[list[Figure], list[tuple[int, int]]]:
    found: list[Figure] = []
    taken: list[tuple[int, int]] = []
    for pattern in _DATES:
        for match in pattern.finditer(text):
            if any(s < match.end() and match.start() < e for s, e in taken):
                continue
            parts = match.groupdict()
            month = parts.get("m") or _MONTH_NUMBER.get((parts.get("month") or "")[:3].lower())
            day = parts.get("d") or parts.get("d2")
            year = parts.get("y")
            value = "-".join(
                f"{int(v):02d}" if i else str(v)
                for i, v in enumerate((year or "", month, day))
                if v not in (None, "")
            )
            if not year:
                value = "--" + value
            family = "date:" + "".join(k for k, v in (("y", year), ("m", month), ("d", day)) if v)
            found.append(Figure(family, value, match.start(), match.end(), match.group().strip()))
            taken.append((match.start(), match.end()))
            if len(found) >= MAX_FIGURES:
                return found, taken
    return found, taken


def extract(text: str) -> list[Figure]:
    """Every figure `text` states, in order. A number with no unit counts
    only from 100 on (an amount, a price): a list's "1." or "2 people" is
    not worth a warning."""
    text = text or ""
    found, taken = _dates(text)
    for match in _NUMBER.finditer(text):
        if len(found) >= MAX_FIGURES:
            break
        if any(s < match.end() and match.start() < e for s, e in taken):
            continue
        raw, unit = match.group("num"), match.group("unit")
        chinese = raw[0] not in "0123456789"
        if chinese and not (unit or match.group("mult")):
            continue  # 一下, 十分: words, not figures
        number = _number(raw)
        if number is None:
            continue
        mult = (match.group("mult") or "").lower()
        number *= _MULTIPLIERS.get(mult, 1)
        if unit:
            index = next(i for i in range(len(_UNITS)) if match.group(f"u{i}"))
            _pattern, family, factor = _UNITS[index]
            number *= factor
        elif not match.group("currency") and not mult and raw.isdigit() and 1900 <= number <= 2100:
            family, number = "date:y", float(number)  # "2026款", "in 2026"
        elif match.group("currency") or number >= 100:
            family = "amount"
        else:
            continue
        end = match.end() if (unit or mult) else match.end("num")
        found.append(Figure(family, number, match.start(), end, text[match.start() : end].strip()))
    return sorted(found, key=lambda f: f.start)


def _missing(figures: Iterable[Figure], others: list[Figure]) -> tuple[Figure, ...]:
    return tuple(f for f in figures if not any(f.same_as(o) for o in others))


def compare(mine: str, theirs: str) -> list[Difference]:
    """Where `mine` and `theirs` state figures of one family that differ."""
    a, b = extract(mine), extract(theirs)
    differences = []
    for family in sorted({f.family for f in a} & {f.family for f in b}):
        ours = [f for f in a if f.family == family]
        other = [f for f in b if f.family == family]
        only_ours, only_theirs = _missing(ours, other), _missing(other, ours)
        if only_ours or only_theirs:
            differences.append(Difference(family, only_ours, only_theirs))
    return differences


def marked(text: str, figures: Iterable[Figure]) -> list[tuple[str, bool]]:
    """`text` cut into (piece, is a marked figure) pieces, for a template
    to escape and wrap the marked ones."""
    pieces: list[tuple[str, bool]] = []
    at = 0
    for figure in sorted(figures, key=lambda f: f.start):
        if figure.start < at:
            continue
        if figure.start > at:
            pieces.append((text[at : figure.start], False))
        pieces.append((text[figure.start : figure.end], True))
        at = figure.end
    if at < len(text):
        pieces.append((text[at:], False))
    return pieces
