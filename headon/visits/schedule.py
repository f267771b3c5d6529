"""Schedule rules for visit programs: plain data in, plain data out.

A program's sessions are generated from rules, minus exclusions:

- `WeeklyRule`: "every Monday and Saturday, 09:30-11:30, from ... to ...".
- `DatedRule`: "on these Gregorian dates".
- `LunarRule`: "Lunar New Year days 5-7" (days of one month of the Chinese
  lunar calendar, through the `lunar_python` package).
- `Exclusion`: a whole day (a public holiday, a shutdown) or the one slot of
  that day that starts at a given time.

`preview()` turns rules and exclusions into `Slot`s and also reports what was
excluded and which slots were dropped as duplicates, so a staff page can show
"excluded: Labour Day" before publishing. `generate()` returns the slots only.

Rules are stored as JSON (`ScheduleRule.spec`) through `rule_to_dict()` and
`rule_from_dict()`. Every rule is validated when it is built, so a rule object
that exists is a valid one; bad input raises `ScheduleError` (a `ValueError`)
with an English message meant to be shown to staff as is.

Times are wall-clock times in the organiser's time zone: a 09:30 session stays
at 09:30 local time across a daylight-saving change. Sessions cannot cross
midnight.

This module must not import Django (see STYLE.md, "Shape" 2).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, ClassVar, NamedTuple
from zoneinfo import ZoneInfo

# lunar_python ships no type information; "unused-ignore" keeps mypy quiet if
# someone later adds an ignore_missing_imports override for it.
from lunar_python import Lunar, LunarYear, Solar  # type: ignore[import-untyped, unused-ignore]

__all__ = [
    "MAX_CAPACITY",
    "MAX_RULES",
    "MAX_SLOTS",
    "MAX_SPAN_DAYS",
    "MAX_TIMES_PER_RULE",
    "MAX_YEAR",
    "MIN_YEAR",
    "REFERENCE_TIME_ZONE",
    "DatedRule",
    "ExcludedSlot",
    "Exclusion",
    "LunarDate",
    "LunarRule",
    "Preview",
    "Rule",
    "ScheduleError",
    "SessionTime",
    "Slot",
    "WeeklyRule",
    "exclusion_from_dict",
    "exclusion_to_dict",
    "generate",
    "gregorian_to_lunar",
    "lunar_month_length",
    "lunar_to_gregorian",
    "preview",
    "reference_program_rules",
    "rule_from_dict",
    "rule_to_dict",
]

# Limits that keep hostile or mistaken input from producing huge schedules.
MIN_YEAR = 1901
MAX_YEAR = 2099
MAX_SPAN_DAYS = 731  # about two years: the longest window one rule may cover
MAX_TIMES_PER_RULE = 24
MAX_CAPACITY = 100_000
MAX_RULES = 100
MAX_SLOTS = 1000
MAX_LABEL_LENGTH = 120  # ScheduleExclusion.reason is a CharField(max_length=120)

WEEKDAY_NAMES = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")

_DATE_RE = re.compile(r"\d{4}-\d{2}-\d{2}")
_TIME_RE = re.compile(r"\d{2}:\d{2}")


class ScheduleError(ValueError):
    """Bad schedule input; the message is meant for staff, in English."""


def _show(value: object) -> str:
    """A short repr of a bad value for an error message. Never raises: the repr
    of a huge int (ValueError, Python's int-to-str digit limit) or of a deeply
    nested list (RecursionError) must not turn bad input into a crash."""
    try:
        text = repr(value)
    except (ValueError, RecursionError):
        return "a value too large to show"
    return text if len(text) <= 40 else text[:37] + "..."


# --- The lunar calendar ------------------------------------------------------


class LunarDate(NamedTuple):
    """A Chinese lunar date. `year` is the lunar year, numbered after the
    Gregorian year in which its New Year (month 1 day 1) falls."""

    year: int
    month: int
    day: int
    leap: bool


def _ordinal(n: int) -> str:
    if 10 <= n % 100 <= 20:
        return f"{n}th"
    return f"{n}{ {1: 'st', 2: 'nd', 3: 'rd'}.get(n % 10, 'th') }"


def _month_name(month: int, leap: bool) -> str:
    return f"{'leap ' if leap else ''}{_ordinal(month)} lunar month"


def _check_year(year: int, what: str = "year") -> None:
    if not MIN_YEAR <= year <= MAX_YEAR:
        raise ScheduleError(
            f"The {what} must be between {MIN_YEAR} and {MAX_YEAR}, not {_show(year)}."
        )


def lunar_month_length(lunar_year: int, month: int, leap: bool = False) -> int:
    """Number of days (29 or 30) of a lunar month; ScheduleError if the year
    has no such month (most years have no leap month at all)."""
    _check_year(lunar_year, "lunar year")
    if not 1 <= month <= 12:
        raise ScheduleError(f"A lunar month is between 1 and 12, not {_show(month)}.")
    year = LunarYear.fromYear(lunar_year)
    # lunar_python numbers a leap month with a negative number: leap 2nd = -2.
    found = year.getMonth(-month if leap else month)
    if found is None:
        leap_month = int(year.getLeapMonth())
        has = f"its leap month is the {_ordinal(leap_month)}" if leap_month else "it has none"
        raise ScheduleError(f"Lunar year {lunar_year} has no {_month_name(month, leap)} ({has}).")
    return int(found.getDayCount())


def lunar_to_gregorian(lunar_year: int, month: int, day: int, leap: bool = False) -> dt.date:
    """The Gregorian date of a lunar date. `leap=True` means the leap month
    that follows month `month`. ScheduleError if the date does not exist
    (day 30 of a 29-day month, a leap month the year does not have)."""
    length = lunar_month_length(lunar_year, month, leap)
    if not 1 <= day <= length:
        raise ScheduleError(
            f"The {_month_name(month, leap)} of {lunar_year} has {length} days, "
            f"so it has no day {_show(day)}."
        )
    solar = Lunar.fromYmd(lunar_year, -month if leap else month, day).getSolar()
    return dt.date(int(solar.getYear()), int(solar.getMonth()), int(solar.getDay()))


def gregorian_to_lunar(d: dt.date) -> LunarDate:
    """The lunar date of a Gregorian date, as (year, month, day, leap)."""
    _check_year(d.year)
    lunar = Solar.fromYmd(d.year, d.month, d.day).getLunar()
    month = int(lunar.getMonth())
    return LunarDate(int(lunar.getYear()), abs(month), int(lunar.getDay()), month < 0)


# --- Rules ---------------------------------------------------------------------


def _format_time(t: dt.time) -> str:
    return t.strftime("%H:%M")


@dataclass(frozen=True, order=True)
class SessionTime:
    """The start and end of a session on its day, in local wall-clock time,
    in whole minutes. The end is after the start (no session crosses midnight)."""

    start: dt.time
    end: dt.time

    def __post_init__(self) -> None:
        for t in (self.start, self.end):
            if not isinstance(t, dt.time) or t.tzinfo is not None:
                raise ScheduleError("Session times must be local times of day without a zone.")
            if t.second or t.microsecond:
                raise ScheduleError(f"Session times are whole minutes, not {t.isoformat()}.")
        if self.end <= self.start:
            raise ScheduleError(
                f"A session must end after it starts: {_format_time(self.start)} to "
                f"{_format_time(self.end)} does not."
            )

    def __str__(self) -> str:
        return f"{_format_time(self.start)}–{_format_time(self.end)}"


def _normalise_times(times: Sequence[SessionTime]) -> tuple[SessionTime, ...]:
    if not times:
        raise ScheduleError("A rule needs at least one session time.")
    if not all(isinstance(t, SessionTime) for t in times):
        raise ScheduleError("A rule's times must be SessionTime values.")
    if len(times) > MAX_TIMES_PER_RULE:
        raise ScheduleError(
            f"A rule can have at most {MAX_TIMES_PER_RULE} session times, not {len(times)}."
        )
    starts = [t.start for t in times]
    for start in starts:
        if starts.count(start) > 1:
            raise ScheduleError(f"Two session times of one rule start at {_format_time(start)}.")
    # Overlapping times (09:30-11:30 and 10:00-12:00) are allowed: two tours
    # can run side by side.
    return tuple(sorted(times))


def _check_capacity(capacity: int) -> None:
    if isinstance(capacity, bool) or not isinstance(capacity, int):
        raise ScheduleError("The capacity must be a whole number.")
    if not 1 <= capacity <= MAX_CAPACITY:
        raise ScheduleError(
            f"The capacity must be between 1 and {MAX_CAPACITY:,} seats, not {_show(capacity)}."
        )


def _check_label(label: str) -> None:
    if not isinstance(label, str) or len(label) > MAX_LABEL_LENGTH:
        raise ScheduleError(f"A label is text of at most {MAX_LABEL_LENGTH} characters.")


def _check_common(rule: WeeklyRule | DatedRule | LunarRule) -> None:
    object.__setattr__(rule, "times", _normalise_times(rule.times))
    _check_capacity(rule.capacity)
    _check_label(rule.label)


def _check_date(d: dt.date, what: str) -> None:
    if not isinstance(d, dt.date) or isinstance(d, dt.datetime):
        raise ScheduleError(f"The {what} must be a date.")
    _check_year(d.year, f"year of the {what}")


def _check_span(first: dt.date, last: dt.date) -> None:
    span = (last - first).days + 1
    if span > MAX_SPAN_DAYS:
        raise ScheduleError(
            f"A rule can cover at most {MAX_SPAN_DAYS} days (about two years); "
            f"{first.isoformat()} to {last.isoformat()} is {span} days."
        )


@dataclass(frozen=True, kw_only=True)
class WeeklyRule:
    """Sessions on some weekdays (0 = Monday ... 6 = Sunday) of every week
    from `first` to `last`, both included.

    The rule must produce at least one date: a window with none of its
    weekdays in it is almost certainly a typo, so it is an error."""

    weekdays: tuple[int, ...]
    first: dt.date
    last: dt.date
    times: tuple[SessionTime, ...]
    capacity: int
    label: str = ""

    kind: ClassVar[str] = "weekly"

    def __post_init__(self) -> None:
        if not self.weekdays:
            raise ScheduleError("A weekly rule needs at least one weekday.")
        for day in self.weekdays:
            if isinstance(day, bool) or not isinstance(day, int) or not 0 <= day <= 6:
                raise ScheduleError(
                    f"A weekday is a number from 0 (Monday) to 6 (Sunday), not {_show(day)}."
                )
        if len(set(self.weekdays)) != len(self.weekdays):
            raise ScheduleError("A weekday is listed twice in a weekly rule.")
        object.__setattr__(self, "weekdays", tuple(sorted(self.weekdays)))
        _check_date(self.first, "first date")
        _check_date(self.last, "last date")
        if self.last < self.first:
            raise ScheduleError(
                f"The last date ({self.last.isoformat()}) is before the first "
                f"({self.first.isoformat()})."
            )
        _check_span(self.first, self.last)
        _check_common(self)
        if not self.calendar_dates():
            names = " or ".join(WEEKDAY_NAMES[d] for d in self.weekdays)
            raise ScheduleError(
                f"No {names} falls between {self.first.isoformat()} and {self.last.isoformat()}."
            )

    def calendar_dates(self) -> tuple[dt.date, ...]:
        days = (self.last - self.first).days + 1
        every_day = (self.first + dt.timedelta(days=n) for n in range(days))
        return tuple(d for d in every_day if d.weekday() in self.weekdays)


@dataclass(frozen=True, kw_only=True)
class DatedRule:
    """Sessions on a list of Gregorian dates, no more than `MAX_SPAN_DAYS` apart."""

    dates: tuple[dt.date, ...]
    times: tuple[SessionTime, ...]
    capacity: int
    label: str = ""

    kind: ClassVar[str] = "dated"

    def __post_init__(self) -> None:
        if not self.dates:
            raise ScheduleError("A dated rule needs at least one date.")
        for d in self.dates:
            _check_date(d, "date")
        if len(set(self.dates)) != len(self.dates):
            raise ScheduleError("A date is listed twice in a dated rule.")
        object.__setattr__(self, "dates", tuple(sorted(self.dates)))
        _check_span(self.dates[0], self.dates[-1])
        _check_common(self)

    def calendar_dates(self) -> tuple[dt.date, ...]:
        return self.dates


@dataclass(frozen=True, kw_only=True)
class LunarRule:
    """Sessions on some days of one month of the Chinese lunar calendar.

    `year` is the lunar year, numbered after the Gregorian year in which its
    New Year falls: Lunar New Year day 5 of `year=2027` is 2027-02-10, while
    the 12th month of `year=2026` runs into January and February 2027.
    `leap=False` means the regular month `month`; `leap=True` means the leap
    month that follows it, so a rule never fires in a leap month unless asked.

    A day that does not exist (day 30 of a 29-day month, or a leap month the
    year does not have) is an error when the rule is built, not a silent skip:
    staff see the problem before any session is published."""

    year: int
    month: int
    days: tuple[int, ...]
    times: tuple[SessionTime, ...]
    capacity: int
    leap: bool = False
    label: str = ""

    kind: ClassVar[str] = "lunar"

    def __post_init__(self) -> None:
        if isinstance(self.year, bool) or not isinstance(self.year, int):
            raise ScheduleError("The lunar year must be a whole number.")
        if isinstance(self.month, bool) or not isinstance(self.month, int):
            raise ScheduleError("The lunar month must be a whole number.")
        if not isinstance(self.leap, bool):
            raise ScheduleError("'leap' must be true or false.")
        if not self.days:
            raise ScheduleError("A lunar rule needs at least one day.")
        for day in self.days:
            if isinstance(day, bool) or not isinstance(day, int) or not 1 <= day <= 30:
                raise ScheduleError(f"A lunar day is a number from 1 to 30, not {_show(day)}.")
        if len(set(self.days)) != len(self.days):
            raise ScheduleError("A day is listed twice in a lunar rule.")
        object.__setattr__(self, "days", tuple(sorted(self.days)))
        _check_common(self)
        self.calendar_dates()  # raises ScheduleError for a date that does not exist

    def calendar_dates(self) -> tuple[dt.date, ...]:
        return tuple(lunar_to_gregorian(self.year, self.month, d, self.leap) for d in self.days)


Rule = WeeklyRule | DatedRule | LunarRule


@dataclass(frozen=True)
class Exclusion:
    """No session on `date`, or only not the one whose start is `start`.
    `reason` ("Labour Day") is shown in the preview."""

    date: dt.date
    start: dt.time | None = None
    reason: str = ""

    def __post_init__(self) -> None:
        _check_date(self.date, "excluded date")
        if self.start is not None and (
            not isinstance(self.start, dt.time) or self.start.tzinfo is not None
        ):
            raise ScheduleError("An excluded start must be a local time of day.")
        if self.start is not None and (self.start.second or self.start.microsecond):
            raise ScheduleError("An excluded start is a whole minute, like 14:00.")
        _check_label(self.reason)

    def __str__(self) -> str:
        when = self.date.isoformat()
        if self.start is not None:
            when += f" {_format_time(self.start)}"
        return f"{when} ({self.reason})" if self.reason else when


# --- Generation ----------------------------------------------------------------


@dataclass(frozen=True)
class Slot:
    """One generated session: aware datetimes in the program's time zone,
    its capacity, and the position in the rule list of the rule that made it."""

    starts_at: dt.datetime
    ends_at: dt.datetime
    capacity: int
    rule_index: int
    label: str = ""


@dataclass(frozen=True)
class ExcludedSlot:
    slot: Slot
    exclusion: Exclusion


@dataclass(frozen=True)
class Preview:
    """What `preview()` found.

    - `slots`: the sessions to create, sorted by start.
    - `excluded`: slots removed, each with the exclusion that removed it.
    - `duplicates`: slots dropped because an earlier rule (lower index)
      already has a slot starting at the same time.
    - `unused_exclusions`: exclusions that matched no slot (probably a typo,
      or a repeat of an earlier exclusion, which gets the credit).
    """

    slots: tuple[Slot, ...]
    excluded: tuple[ExcludedSlot, ...]
    duplicates: tuple[Slot, ...]
    unused_exclusions: tuple[Exclusion, ...]

    @property
    def total_capacity(self) -> int:
        return sum(slot.capacity for slot in self.slots)


def _localise(day: dt.date, t: dt.time, tz: ZoneInfo) -> dt.datetime:
    """`day` at wall-clock time `t` in `tz`. An ambiguous time (the hour that
    repeats when clocks go back) is taken at its first occurrence (fold=0);
    a time that does not exist (clocks go forward) is an error."""
    local = dt.datetime.combine(day, t, tzinfo=tz)
    round_trip = local.astimezone(dt.UTC).astimezone(tz)
    if round_trip.replace(tzinfo=None) != local.replace(tzinfo=None):
        raise ScheduleError(
            f"{_format_time(t)} does not exist on {day.isoformat()} in {tz.key}: "
            "the clocks go forward then."
        )
    return local


def _rule_slots(index: int, rule: Rule, tz: ZoneInfo) -> list[Slot]:
    return [
        Slot(
            starts_at=_localise(day, t.start, tz),
            ends_at=_localise(day, t.end, tz),
            capacity=rule.capacity,
            rule_index=index,
            label=rule.label,
        )
        for day in rule.calendar_dates()
        for t in rule.times
    ]


def _slot_key(slot: Slot) -> tuple[dt.date, dt.time]:
    # Wall-clock date and time: a fold=0 and a fold=1 datetime compare equal
    # anyway, and this is what staff see.
    return slot.starts_at.date(), slot.starts_at.time()


def preview(rules: Sequence[Rule], exclusions: Sequence[Exclusion], tz: ZoneInfo) -> Preview:
    """Generate the slots of `rules` in `tz`, minus `exclusions`.

    Two rules that produce a slot at the same start make one slot: the earlier
    rule in `rules` wins (its end time, capacity and label), so the rule order
    (`ScheduleRule.position`) is the priority; the loser is listed in
    `Preview.duplicates`. Exclusions apply after that merge. A whole-day
    exclusion removes every slot starting that day; one with a `start` removes
    only the slot starting then. More than `MAX_SLOTS` slots before exclusions,
    or more than `MAX_RULES` rules, is a ScheduleError."""
    if not isinstance(tz, ZoneInfo):
        raise ScheduleError("The time zone must be a ZoneInfo.")
    if len(rules) > MAX_RULES:
        raise ScheduleError(f"A program can have at most {MAX_RULES} rules, not {len(rules)}.")
    kept: dict[tuple[dt.date, dt.time], Slot] = {}
    duplicates: list[Slot] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, WeeklyRule | DatedRule | LunarRule):
            raise ScheduleError(f"Rule {index + 1} is not a schedule rule.")
        for slot in _rule_slots(index, rule, tz):
            key = _slot_key(slot)
            if key in kept:
                duplicates.append(slot)
            else:
                kept[key] = slot
        # Checked rule by rule so a hostile rule list stops early.
        if len(kept) > MAX_SLOTS:
            raise ScheduleError(
                f"These rules make more than {MAX_SLOTS} sessions; split the program."
            )
    whole_days: dict[dt.date, Exclusion] = {}
    single: dict[tuple[dt.date, dt.time], Exclusion] = {}
    for exclusion in exclusions:
        if not isinstance(exclusion, Exclusion):
            raise ScheduleError("An exclusion is not an Exclusion.")
        if exclusion.start is None:
            whole_days.setdefault(exclusion.date, exclusion)
        else:
            single.setdefault((exclusion.date, exclusion.start), exclusion)
    slots: list[Slot] = []
    excluded: list[ExcludedSlot] = []
    used: set[int] = set()
    for key, slot in sorted(kept.items()):
        matched = whole_days.get(key[0]) or single.get(key)
        if matched is None:
            slots.append(slot)
        else:
            excluded.append(ExcludedSlot(slot, matched))
            used.add(id(matched))
    unused = tuple(e for e in exclusions if id(e) not in used)
    return Preview(tuple(slots), tuple(excluded), tuple(duplicates), unused)


def generate(rules: Sequence[Rule], exclusions: Sequence[Exclusion], tz: ZoneInfo) -> list[Slot]:
    """The slots of `preview()`, sorted by start; see it for the rules."""
    return list(preview(rules, exclusions, tz).slots)


# --- JSON ------------------------------------------------------------------------


def _times_to_list(times: tuple[SessionTime, ...]) -> list[dict[str, str]]:
    return [{"start": _format_time(t.start), "end": _format_time(t.end)} for t in times]


def rule_to_dict(rule: Rule) -> dict[str, Any]:
    """The JSON form of a rule; `rule_from_dict()` reads it back."""
    data: dict[str, Any] = {"kind": rule.kind}
    if isinstance(rule, WeeklyRule):
        data["weekdays"] = list(rule.weekdays)
        data["first"] = rule.first.isoformat()
        data["last"] = rule.last.isoformat()
    elif isinstance(rule, DatedRule):
        data["dates"] = [d.isoformat() for d in rule.dates]
    else:
        data.update(year=rule.year, month=rule.month, leap=rule.leap, days=list(rule.days))
    data["times"] = _times_to_list(rule.times)
    data["capacity"] = rule.capacity
    data["label"] = rule.label
    return data


_FIELDS = {
    "weekly": {"kind", "weekdays", "first", "last", "times", "capacity", "label"},
    "dated": {"kind", "dates", "times", "capacity", "label"},
    "lunar": {"kind", "year", "month", "leap", "days", "times", "capacity", "label"},
}


def _require(data: Mapping[str, object], name: str, kind: str) -> object:
    if name not in data:
        raise ScheduleError(f"A {kind} rule needs '{name}'.")
    return data[name]


def _parse_int(value: object, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ScheduleError(f"The {what} must be a whole number, not {_show(value)}.")
    return value


def _parse_list(value: object, what: str, limit: int) -> list[object]:
    if not isinstance(value, list | tuple):
        raise ScheduleError(f"The {what} must be a list.")
    if len(value) > limit:
        raise ScheduleError(f"Too many {what}: at most {limit}.")
    return list(value)


def _parse_date(value: object, what: str) -> dt.date:
    # fromisoformat alone would also take "20270206" and week dates.
    if not isinstance(value, str) or not _DATE_RE.fullmatch(value):
        raise ScheduleError(f"The {what} must be a date like 2027-02-10, not {_show(value)}.")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise ScheduleError(f"The {what} {value} is not a real date.") from None


def _parse_time(value: object, what: str) -> dt.time:
    if not isinstance(value, str) or not _TIME_RE.fullmatch(value):
        raise ScheduleError(f"The {what} must be a time like 09:30, not {_show(value)}.")
    try:
        return dt.time.fromisoformat(value)
    except ValueError:
        raise ScheduleError(f"The {what} {value} is not a real time.") from None


def _parse_times(value: object) -> tuple[SessionTime, ...]:
    times = []
    for item in _parse_list(value, "session times", MAX_TIMES_PER_RULE):
        if not isinstance(item, Mapping) or set(item) != {"start", "end"}:
            raise ScheduleError('A session time must look like {"start": "09:30", "end": "11:30"}.')
        start = _parse_time(item["start"], "start time")
        times.append(SessionTime(start, _parse_time(item["end"], "end time")))
    return tuple(times)


def _parse_label(data: Mapping[str, object]) -> str:
    label = data.get("label", "")
    if not isinstance(label, str):
        raise ScheduleError("The label must be text.")
    return label


def rule_from_dict(data: object) -> Rule:
    """Read a rule from its JSON form (as made by `rule_to_dict()`).

    Anything wrong — an unknown kind or field, a wrong type, a value out of
    range, a date that does not exist — raises ScheduleError with a message
    for staff; no other exception escapes for any JSON value."""
    if not isinstance(data, Mapping):
        raise ScheduleError("A rule must be a JSON object.")
    kind = data.get("kind")
    if not isinstance(kind, str) or kind not in _FIELDS:
        raise ScheduleError(
            f"Unknown rule kind {_show(kind)}; expected 'weekly', 'dated' or 'lunar'."
        )
    unknown = sorted(str(k) for k in data if k not in _FIELDS[kind])
    if unknown:
        raise ScheduleError(f"Unknown field in a {kind} rule: {', '.join(unknown)[:80]}.")
    times = _parse_times(_require(data, "times", kind))
    capacity = _parse_int(_require(data, "capacity", kind), "capacity")
    label = _parse_label(data)
    if kind == "weekly":
        weekdays = _parse_list(_require(data, "weekdays", kind), "weekdays", 7)
        return WeeklyRule(
            weekdays=tuple(_parse_int(d, "weekday") for d in weekdays),
            first=_parse_date(_require(data, "first", kind), "first date"),
            last=_parse_date(_require(data, "last", kind), "last date"),
            times=times,
            capacity=capacity,
            label=label,
        )
    if kind == "dated":
        dates = _parse_list(_require(data, "dates", kind), "dates", MAX_SPAN_DAYS)
        return DatedRule(
            dates=tuple(_parse_date(d, "date") for d in dates),
            times=times,
            capacity=capacity,
            label=label,
        )
    leap = data.get("leap", False)
    if not isinstance(leap, bool):
        raise ScheduleError("'leap' must be true or false.")
    days = _parse_list(_require(data, "days", kind), "days", 30)
    return LunarRule(
        year=_parse_int(_require(data, "year", kind), "lunar year"),
        month=_parse_int(_require(data, "month", kind), "lunar month"),
        leap=leap,
        days=tuple(_parse_int(d, "lunar day") for d in days),
        times=times,
        capacity=capacity,
        label=label,
    )


def exclusion_to_dict(exclusion: Exclusion) -> dict[str, Any]:
    start = None if exclusion.start is None else _format_time(exclusion.start)
    return {"date": exclusion.date.isoformat(), "start": start, "reason": exclusion.reason}


def exclusion_from_dict(data: object) -> Exclusion:
    """Read an exclusion from `exclusion_to_dict()`'s form; ScheduleError if bad."""
    if not isinstance(data, Mapping) or "date" not in data:
        raise ScheduleError('An exclusion must look like {"date": "2027-05-01"}.')
    unknown = sorted(str(k) for k in data if k not in {"date", "start", "reason"})
    if unknown:
        raise ScheduleError(f"Unknown field in an exclusion: {', '.join(unknown)[:80]}.")
    start = data.get("start")
    reason = data.get("reason", "")
    if not isinstance(reason, str):
        raise ScheduleError("The reason must be text.")
    return Exclusion(
        _parse_date(data["date"], "excluded date"),
        None if start is None else _parse_time(start, "excluded start"),
        reason,
    )


# --- The reference program -----------------------------------------------------

REFERENCE_TIME_ZONE = ZoneInfo("Asia/Shanghai")


def reference_program_rules() -> tuple[list[Rule], list[Exclusion]]:
    """Open Factory Days 2027: 16 sessions of 60 seats, 960 in all (tz
    `REFERENCE_TIME_ZONE`, Asia/Shanghai).

    - Lunar New Year days 5-7 (2027-02-10 to 02-12), 09:30 and 14:00: six
      slots, less the afternoon of day 7 (excluded) = 5.
    - Monday mornings 09:30, 2027-02-15 to 03-22: 6.
    - Saturday mornings 09:30 in the same weeks: 5.

    Labels are English; the demo may translate them."""
    morning = SessionTime(dt.time(9, 30), dt.time(11, 30))
    afternoon = SessionTime(dt.time(14, 0), dt.time(16, 0))
    first, last = dt.date(2027, 2, 15), dt.date(2027, 3, 22)
    rules: list[Rule] = [
        LunarRule(
            year=2027,
            month=1,
            days=(5, 6, 7),
            times=(morning, afternoon),
            capacity=60,
            label="Lunar New Year",
        ),
        WeeklyRule(
            weekdays=(0,),
            first=first,
            last=last,
            times=(morning,),
            capacity=60,
            label="Monday morning",
        ),
        WeeklyRule(
            weekdays=(5,),
            first=first,
            last=last,
            times=(morning,),
            capacity=60,
            label="Saturday morning",
        ),
    ]
    exclusions = [
        Exclusion(dt.date(2027, 2, 12), dt.time(14, 0), "Line maintenance"),
    ]
    return rules, exclusions
