"""Tests for the pure-Python schedule rules (no database)."""

import datetime as dt
import json
import random
from collections.abc import Sequence
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from headon.visits.schedule import (
    MAX_SLOTS,
    REFERENCE_TIME_ZONE,
    DatedRule,
    Exclusion,
    LunarDate,
    LunarRule,
    Rule,
    ScheduleError,
    SessionTime,
    Slot,
    WeeklyRule,
    exclusion_from_dict,
    exclusion_to_dict,
    generate,
    gregorian_to_lunar,
    lunar_month_length,
    lunar_to_gregorian,
    preview,
    reference_program_rules,
    rule_from_dict,
    rule_to_dict,
)

SHANGHAI = ZoneInfo("Asia/Shanghai")
BERLIN = ZoneInfo("Europe/Berlin")
MORNING = SessionTime(dt.time(9, 30), dt.time(11, 30))
AFTERNOON = SessionTime(dt.time(14, 0), dt.time(16, 0))


def weekly(**kwargs: Any) -> WeeklyRule:
    fields: dict[str, Any] = {
        "weekdays": (0,),
        "first": dt.date(2027, 3, 1),
        "last": dt.date(2027, 3, 31),
        "times": (MORNING,),
        "capacity": 60,
    }
    return WeeklyRule(**(fields | kwargs))


def starts(slots: Sequence[Slot]) -> list[str]:
    return [slot.starts_at.replace(tzinfo=None).isoformat(timespec="minutes") for slot in slots]


# --- The lunar calendar ---------------------------------------------------------


@pytest.mark.parametrize(
    ("lunar_year", "new_year"),
    [
        (2023, dt.date(2023, 1, 22)),
        (2024, dt.date(2024, 2, 10)),
        (2025, dt.date(2025, 1, 29)),
        (2026, dt.date(2026, 2, 17)),
        (2027, dt.date(2027, 2, 6)),
        (2028, dt.date(2028, 1, 26)),
        (2030, dt.date(2030, 2, 3)),
    ],
)
def test_lunar_new_year_falls_on_the_published_gregorian_date(lunar_year, new_year):
    assert lunar_to_gregorian(lunar_year, 1, 1) == new_year
    assert gregorian_to_lunar(new_year) == LunarDate(lunar_year, 1, 1, False)


def test_lunar_new_year_day_five_of_2027_is_the_tenth_of_february():
    assert lunar_to_gregorian(2027, 1, 5) == dt.date(2027, 2, 10)


@pytest.mark.parametrize(
    ("lunar", "gregorian"),
    [
        ((2024, 8, 15), dt.date(2024, 9, 17)),  # Mid-Autumn Festival
        ((2025, 8, 15), dt.date(2025, 10, 6)),
        ((2025, 5, 5), dt.date(2025, 5, 31)),  # Dragon Boat Festival
        ((2027, 1, 15), dt.date(2027, 2, 20)),  # Lantern Festival
        ((2026, 12, 29), dt.date(2027, 2, 5)),  # New Year's Eve of lunar 2026
    ],
)
def test_festival_dates_convert_both_ways(lunar, gregorian):
    assert lunar_to_gregorian(*lunar) == gregorian
    assert gregorian_to_lunar(gregorian) == (*lunar, False)


def test_the_twelfth_month_of_a_lunar_year_runs_into_the_next_gregorian_year():
    assert gregorian_to_lunar(dt.date(2024, 1, 20)) == LunarDate(2023, 12, 10, False)


@pytest.mark.parametrize(
    ("year", "month", "first_day"),
    [
        (2020, 4, dt.date(2020, 5, 23)),
        (2023, 2, dt.date(2023, 3, 22)),
        (2025, 6, dt.date(2025, 7, 25)),
        (2033, 11, dt.date(2033, 12, 22)),  # the "2033 problem" leap month
    ],
)
def test_a_leap_month_starts_on_its_published_date(year, month, first_day):
    assert lunar_to_gregorian(year, month, 1, leap=True) == first_day
    assert gregorian_to_lunar(first_day) == LunarDate(year, month, 1, True)


def test_a_leap_month_follows_the_regular_month_of_the_same_number():
    assert lunar_to_gregorian(2023, 2, 1) == dt.date(2023, 2, 20)
    assert gregorian_to_lunar(dt.date(2023, 2, 20)) == LunarDate(2023, 2, 1, False)
    assert lunar_to_gregorian(2023, 3, 1) > lunar_to_gregorian(2023, 2, 29, leap=True)


def test_every_day_of_three_years_converts_to_lunar_and_back():
    day = dt.date(2023, 1, 1)
    while day < dt.date(2026, 1, 1):
        assert lunar_to_gregorian(*gregorian_to_lunar(day)) == day
        day += dt.timedelta(days=1)


def test_day_thirty_of_a_twenty_nine_day_month_is_refused_with_the_month_length():
    assert lunar_month_length(2026, 12) == 29
    with pytest.raises(ScheduleError, match=r"12th lunar month of 2026 has 29 days.*no day 30"):
        lunar_to_gregorian(2026, 12, 30)


def test_a_leap_month_the_year_does_not_have_is_refused_and_names_the_real_one():
    with pytest.raises(ScheduleError, match=r"2023 has no leap 3rd .*leap month is the 2nd"):
        lunar_to_gregorian(2023, 3, 1, leap=True)
    with pytest.raises(ScheduleError, match=r"2027 has no leap 1st lunar month \(it has none\)"):
        lunar_to_gregorian(2027, 1, 1, leap=True)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ((2027, 0, 1), "between 1 and 12"),
        ((2027, 13, 1), "between 1 and 12"),
        ((2027, 1, 0), "no day 0"),
        ((1800, 1, 1), "between 1901 and 2099"),
        ((10**9, 1, 1), "between 1901 and 2099"),
    ],
)
def test_lunar_dates_out_of_range_are_refused(args, message):
    with pytest.raises(ScheduleError, match=message):
        lunar_to_gregorian(*args)


def test_gregorian_dates_outside_the_supported_years_are_refused():
    with pytest.raises(ScheduleError, match="between 1901 and 2099"):
        gregorian_to_lunar(dt.date(1, 1, 1))


# --- Rules and generation ------------------------------------------------------------


def test_the_reference_program_has_sixteen_sessions_and_960_seats():
    rules, exclusions = reference_program_rules()
    result = preview(rules, exclusions, REFERENCE_TIME_ZONE)
    assert len(result.slots) == 16
    assert result.total_capacity == 960
    assert {slot.capacity for slot in result.slots} == {60}
    by_label = [slot.label for slot in result.slots]
    assert by_label.count("Lunar New Year") == 5
    assert by_label.count("Monday morning") + by_label.count("Saturday morning") == 11
    assert starts(result.slots[:5]) == [
        "2027-02-10T09:30",
        "2027-02-10T14:00",
        "2027-02-11T09:30",
        "2027-02-11T14:00",
        "2027-02-12T09:30",
    ]
    assert [str(e.exclusion) for e in result.excluded] == ["2027-02-12 14:00 (Line maintenance)"]
    assert result.unused_exclusions == ()
    assert all(slot.starts_at.utcoffset() == dt.timedelta(hours=8) for slot in result.slots)


def test_the_reference_program_survives_a_json_round_trip():
    rules, exclusions = reference_program_rules()
    stored = json.loads(json.dumps([rule_to_dict(r) for r in rules]))
    stored_exclusions = json.loads(json.dumps([exclusion_to_dict(e) for e in exclusions]))
    restored = [rule_from_dict(d) for d in stored]
    restored_exclusions = [exclusion_from_dict(d) for d in stored_exclusions]
    assert restored == rules
    assert restored_exclusions == exclusions
    assert generate(restored, restored_exclusions, SHANGHAI) == generate(
        rules, exclusions, SHANGHAI
    )


def test_a_weekly_rule_fires_on_its_weekdays_between_first_and_last_inclusive():
    rule = weekly(weekdays=(5, 0), first=dt.date(2027, 3, 1), last=dt.date(2027, 3, 15))
    assert starts(generate([rule], [], SHANGHAI)) == [
        "2027-03-01T09:30",
        "2027-03-06T09:30",
        "2027-03-08T09:30",
        "2027-03-13T09:30",
        "2027-03-15T09:30",
    ]
    assert rule.weekdays == (0, 5)


def test_slots_are_aware_in_the_given_zone_with_end_and_capacity():
    slot = generate([weekly(capacity=45)], [], SHANGHAI)[0]
    assert slot.starts_at == dt.datetime(2027, 3, 1, 9, 30, tzinfo=SHANGHAI)
    assert slot.ends_at == dt.datetime(2027, 3, 1, 11, 30, tzinfo=SHANGHAI)
    assert slot.starts_at.astimezone(dt.UTC).hour == 1
    assert (slot.capacity, slot.rule_index) == (45, 0)


def test_weekly_sessions_keep_their_wall_clock_time_across_a_daylight_saving_change():
    # Europe/Berlin moves from +01:00 to +02:00 on Sunday 2027-03-28.
    rule = weekly(weekdays=(6,), first=dt.date(2027, 3, 21), last=dt.date(2027, 4, 4))
    slots = generate([rule], [], BERLIN)
    assert starts(slots) == ["2027-03-21T09:30", "2027-03-28T09:30", "2027-04-04T09:30"]
    offsets = [slot.starts_at.utcoffset() for slot in slots]
    assert offsets == [dt.timedelta(hours=1), dt.timedelta(hours=2), dt.timedelta(hours=2)]
    assert [s.starts_at.astimezone(dt.UTC).hour for s in slots] == [8, 7, 7]


def test_a_session_in_the_hour_skipped_by_daylight_saving_is_refused():
    rule = DatedRule(
        dates=(dt.date(2027, 3, 28),),
        times=(SessionTime(dt.time(2, 30), dt.time(3, 30)),),
        capacity=10,
    )
    with pytest.raises(ScheduleError, match="02:30 does not exist on 2027-03-28 in Europe/Berlin"):
        generate([rule], [], BERLIN)
    assert len(generate([rule], [], SHANGHAI)) == 1


def test_a_session_in_the_repeated_hour_takes_its_first_occurrence():
    rule = DatedRule(
        dates=(dt.date(2027, 10, 31),),
        times=(SessionTime(dt.time(2, 15), dt.time(2, 45)),),
        capacity=10,
    )
    (slot,) = generate([rule], [], BERLIN)
    assert slot.starts_at.utcoffset() == dt.timedelta(hours=2)
    assert slot.ends_at.astimezone(dt.UTC) - slot.starts_at.astimezone(dt.UTC) == dt.timedelta(
        minutes=30
    )


def test_a_dated_rule_fires_on_its_dates_in_order():
    rule = DatedRule(
        dates=(dt.date(2027, 5, 3), dt.date(2027, 5, 1)), times=(AFTERNOON, MORNING), capacity=5
    )
    assert starts(generate([rule], [], SHANGHAI)) == [
        "2027-05-01T09:30",
        "2027-05-01T14:00",
        "2027-05-03T09:30",
        "2027-05-03T14:00",
    ]


def test_a_lunar_rule_fires_in_the_regular_month_not_in_the_leap_month_of_that_number():
    regular = LunarRule(year=2023, month=2, days=(1,), times=(MORNING,), capacity=5)
    leap = LunarRule(year=2023, month=2, days=(1,), leap=True, times=(MORNING,), capacity=5)
    assert starts(generate([regular], [], SHANGHAI)) == ["2023-02-20T09:30"]
    assert starts(generate([leap], [], SHANGHAI)) == ["2023-03-22T09:30"]


def test_a_lunar_rule_for_a_day_that_does_not_exist_is_refused_when_built():
    with pytest.raises(ScheduleError, match="no day 30"):
        LunarRule(year=2027, month=3, days=(29, 30), times=(MORNING,), capacity=5)
    with pytest.raises(ScheduleError, match="no leap 6th lunar month"):
        LunarRule(year=2027, month=6, days=(1,), leap=True, times=(MORNING,), capacity=5)


def test_a_whole_day_exclusion_removes_every_slot_of_that_day_and_says_why():
    rule = DatedRule(
        dates=(dt.date(2027, 5, 1), dt.date(2027, 5, 2)), times=(MORNING, AFTERNOON), capacity=5
    )
    labour_day = Exclusion(dt.date(2027, 5, 1), reason="Labour Day")
    result = preview([rule], [labour_day], SHANGHAI)
    assert starts(result.slots) == ["2027-05-02T09:30", "2027-05-02T14:00"]
    assert [(e.slot.starts_at.hour, e.exclusion.reason) for e in result.excluded] == [
        (9, "Labour Day"),
        (14, "Labour Day"),
    ]


def test_an_exclusion_with_a_start_removes_only_the_slot_starting_then():
    rule = DatedRule(dates=(dt.date(2027, 5, 1),), times=(MORNING, AFTERNOON), capacity=5)
    result = preview([rule], [Exclusion(dt.date(2027, 5, 1), dt.time(14, 0))], SHANGHAI)
    assert starts(result.slots) == ["2027-05-01T09:30"]
    assert len(result.excluded) == 1


def test_an_exclusion_that_matches_nothing_is_reported_as_unused():
    typo = Exclusion(dt.date(2027, 5, 1), dt.time(10, 0), "Shutdown")
    result = preview([weekly()], [typo], SHANGHAI)
    assert len(result.slots) == 5
    assert result.unused_exclusions == (typo,)


def test_two_rules_with_the_same_start_make_one_slot_and_the_earlier_rule_wins():
    mondays = weekly(capacity=60, label="Mondays")
    special = DatedRule(
        dates=(dt.date(2027, 3, 8),),
        times=(SessionTime(dt.time(9, 30), dt.time(12, 0)),),
        capacity=99,
        label="Special",
    )
    result = preview([mondays, special], [], SHANGHAI)
    assert len(result.slots) == 5
    (march_8,) = [s for s in result.slots if s.starts_at.day == 8]
    assert (march_8.capacity, march_8.label, march_8.ends_at.hour) == (60, "Mondays", 11)
    assert [(d.rule_index, d.capacity) for d in result.duplicates] == [(1, 99)]
    reversed_order = preview([special, mondays], [], SHANGHAI)
    (march_8,) = [s for s in reversed_order.slots if s.starts_at.day == 8]
    assert (march_8.capacity, march_8.rule_index) == (99, 0)


def test_slots_from_several_rules_are_sorted_by_start():
    later = DatedRule(dates=(dt.date(2027, 3, 2),), times=(MORNING,), capacity=5)
    earlier = DatedRule(dates=(dt.date(2027, 3, 1),), times=(AFTERNOON,), capacity=5)
    assert starts(generate([later, earlier], [], SHANGHAI)) == [
        "2027-03-01T14:00",
        "2027-03-02T09:30",
    ]


def test_more_than_the_slot_limit_is_refused():
    every_day = weekly(
        weekdays=tuple(range(7)),
        first=dt.date(2027, 1, 1),
        last=dt.date(2027, 12, 31),
        times=tuple(SessionTime(dt.time(h), dt.time(h, 30)) for h in range(8, 12)),
    )
    with pytest.raises(ScheduleError, match=f"more than {MAX_SLOTS} sessions"):
        generate([every_day], [], SHANGHAI)


def test_too_many_rules_are_refused():
    with pytest.raises(ScheduleError, match="at most 100 rules"):
        generate([weekly()] * 101, [], SHANGHAI)


def test_generate_refuses_things_that_are_not_rules_or_exclusions_or_zones():
    with pytest.raises(ScheduleError, match="Rule 1 is not a schedule rule"):
        generate([{"kind": "weekly"}], [], SHANGHAI)  # type: ignore[list-item]
    with pytest.raises(ScheduleError, match="not an Exclusion"):
        generate([weekly()], [dt.date(2027, 3, 1)], SHANGHAI)  # type: ignore[list-item]
    with pytest.raises(ScheduleError, match="ZoneInfo"):
        generate([weekly()], [], dt.UTC)  # type: ignore[arg-type]


# --- Validation when rules are built ----------------------------------------------------


@pytest.mark.parametrize(
    ("build", "message"),
    [
        (lambda: SessionTime(dt.time(11, 30), dt.time(9, 30)), "must end after it starts"),
        (lambda: SessionTime(dt.time(9, 30), dt.time(9, 30)), "must end after it starts"),
        (lambda: SessionTime(dt.time(9, 30, 15), dt.time(10)), "whole minutes"),
        (lambda: SessionTime(dt.time(9, tzinfo=dt.UTC), dt.time(10)), "without a zone"),
        (lambda: weekly(capacity=0), "between 1 and 100,000 seats, not 0"),
        (lambda: weekly(capacity=True), "whole number"),
        (lambda: weekly(weekdays=()), "at least one weekday"),
        (lambda: weekly(weekdays=(7,)), "0 \\(Monday\\) to 6 \\(Sunday\\), not 7"),
        (lambda: weekly(weekdays=(-1,)), "not -1"),
        (lambda: weekly(weekdays=(1, 1)), "listed twice"),
        (lambda: weekly(last=dt.date(2027, 2, 1)), "last date \\(2027-02-01\\) is before"),
        (lambda: weekly(last=dt.date(2029, 6, 1)), "at most 731 days"),
        (
            lambda: weekly(first=dt.date(2027, 3, 2), last=dt.date(2027, 3, 3)),
            "No Monday falls between",
        ),
        (lambda: weekly(times=()), "at least one session time"),
        (lambda: weekly(times=(MORNING, MORNING)), "start at 09:30"),
        (lambda: weekly(times=(MORNING,) * 25), "at most 24 session times"),
        (lambda: weekly(label="x" * 121), "at most 120 characters"),
        (lambda: weekly(first=dt.date(1066, 1, 1)), "between 1901 and 2099"),
        (lambda: DatedRule(dates=(), times=(MORNING,), capacity=5), "at least one date"),
        (
            lambda: DatedRule(
                dates=(dt.date(2027, 1, 1), dt.date(2027, 1, 1)), times=(MORNING,), capacity=5
            ),
            "listed twice",
        ),
        (
            lambda: DatedRule(
                dates=(dt.date(2027, 1, 1), dt.date(2030, 1, 1)), times=(MORNING,), capacity=5
            ),
            "at most 731 days",
        ),
        (
            lambda: LunarRule(year=2027, month=1, days=(), times=(MORNING,), capacity=5),
            "at least one day",
        ),
        (
            lambda: LunarRule(year=2027, month=1, days=(31,), times=(MORNING,), capacity=5),
            "from 1 to 30",
        ),
        (
            lambda: LunarRule(year=2027, month=13, days=(1,), times=(MORNING,), capacity=5),
            "between 1 and 12",
        ),
        (lambda: Exclusion(dt.date(2027, 5, 1), dt.time(9, 30, 5)), "whole minute"),
    ],
)
def test_a_bad_rule_is_refused_when_built_with_a_clear_message(build, message):
    with pytest.raises(ScheduleError, match=message):
        build()


def test_schedule_errors_are_value_errors():
    assert issubclass(ScheduleError, ValueError)


# --- JSON -----------------------------------------------------------------------------


def test_each_kind_of_rule_survives_a_json_round_trip():
    rules: list[Rule] = [
        weekly(weekdays=(5, 0), label="Weekly"),
        DatedRule(dates=(dt.date(2027, 5, 2),), times=(MORNING, AFTERNOON), capacity=7),
        LunarRule(year=2025, month=6, days=(3, 1), leap=True, times=(MORNING,), capacity=9),
    ]
    for rule in rules:
        assert rule_from_dict(json.loads(json.dumps(rule_to_dict(rule)))) == rule


def test_a_whole_day_exclusion_survives_a_json_round_trip():
    exclusion = Exclusion(dt.date(2027, 10, 1), reason="National Day")
    assert exclusion_to_dict(exclusion) == {
        "date": "2027-10-01",
        "start": None,
        "reason": "National Day",
    }
    assert exclusion_from_dict(exclusion_to_dict(exclusion)) == exclusion


def test_a_stored_lunar_rule_reads_without_the_optional_fields():
    rule = rule_from_dict(
        {
            "kind": "lunar",
            "year": 2027,
            "month": 1,
            "days": [5],
            "times": [{"start": "09:30", "end": "11:30"}],
            "capacity": 60,
        }
    )
    assert rule == LunarRule(year=2027, month=1, days=(5,), times=(MORNING,), capacity=60)


GOOD_WEEKLY = {
    "kind": "weekly",
    "weekdays": [0],
    "first": "2027-03-01",
    "last": "2027-03-31",
    "times": [{"start": "09:30", "end": "11:30"}],
    "capacity": 60,
}


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"kind": "monthly"}, "Unknown rule kind 'monthly'"),
        ({"kind": None}, "Unknown rule kind None"),
        ({"colour": "red"}, "Unknown field in a weekly rule: colour"),
        ({"capacity": 0}, "between 1 and 100,000 seats, not 0"),
        ({"capacity": -5}, "not -5"),
        ({"capacity": 60.0}, "capacity must be a whole number"),
        ({"capacity": "60"}, "capacity must be a whole number"),
        ({"capacity": True}, "capacity must be a whole number"),
        ({"capacity": 10**100}, "between 1 and 100,000"),
        ({"capacity": 10**5000}, "not a value too large to show"),
        ({"weekdays": [10**5000]}, "not a value too large to show"),
        ({"first": "x" * 10**6}, "not 'xxxxxxxx"),
        ({"last": "2027-02-01"}, "is before the first"),
        ({"last": "2030-01-01"}, "at most 731 days"),
        ({"first": "2027-02-30"}, "2027-02-30 is not a real date"),
        ({"first": "20270301"}, "must be a date like 2027-02-10"),
        ({"first": 20270301}, "must be a date like 2027-02-10"),
        ({"weekdays": [9]}, "not 9"),
        ({"weekdays": ["Monday"]}, "weekday must be a whole number"),
        ({"weekdays": "0"}, "weekdays must be a list"),
        ({"weekdays": list(range(8))}, "Too many weekdays"),
        ({"times": [{"start": "11:30", "end": "09:30"}]}, "must end after it starts"),
        ({"times": [{"start": "25:00", "end": "26:00"}]}, "25:00 is not a real time"),
        ({"times": [{"start": "9:30", "end": "11:30"}]}, "time like 09:30"),
        ({"times": [{"start": "09:30"}]}, "session time must look like"),
        ({"times": ["09:30-11:30"]}, "session time must look like"),
        ({"times": []}, "at least one session time"),
        ({"times": None}, "session times must be a list"),
        ({"label": 5}, "label must be text"),
    ],
)
def test_bad_json_for_a_weekly_rule_is_refused_with_a_clear_message(changes, message):
    with pytest.raises(ScheduleError, match=message):
        rule_from_dict(GOOD_WEEKLY | changes)


@pytest.mark.parametrize("missing", ["weekdays", "first", "last", "times", "capacity"])
def test_a_weekly_rule_missing_a_field_names_it(missing):
    data = {k: v for k, v in GOOD_WEEKLY.items() if k != missing}
    with pytest.raises(ScheduleError, match=f"needs '{missing}'"):
        rule_from_dict(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "must be a JSON object"),
        ({"kind": ["weekly"]}, "Unknown rule kind \\['weekly'\\]"),
        ([], "must be a JSON object"),
        ("weekly", "must be a JSON object"),
        ({}, "Unknown rule kind"),
        (
            {"kind": "dated", "dates": ["2027-05-01"], "times": [], "capacity": 1},
            "at least one session time",
        ),
        (
            {
                "kind": "dated",
                "dates": ["2027-05-01", "2027-05-01"],
                "times": [{"start": "09:30", "end": "11:30"}],
                "capacity": 1,
            },
            "listed twice",
        ),
        (
            {
                "kind": "dated",
                "dates": ["2027-05-01"] * 1000,
                "times": [{"start": "09:30", "end": "11:30"}],
                "capacity": 1,
            },
            "Too many dates",
        ),
        (
            {
                "kind": "lunar",
                "year": 2027,
                "month": 1,
                "leap": "no",
                "days": [5],
                "times": [{"start": "09:30", "end": "11:30"}],
                "capacity": 60,
            },
            "'leap' must be true or false",
        ),
        (
            {
                "kind": "lunar",
                "year": 2027,
                "month": 3,
                "days": [30],
                "times": [{"start": "09:30", "end": "11:30"}],
                "capacity": 60,
            },
            "has 29 days, so it has no day 30",
        ),
        (
            {
                "kind": "lunar",
                "year": 99999,
                "month": 1,
                "days": [1],
                "times": [{"start": "09:30", "end": "11:30"}],
                "capacity": 60,
            },
            "between 1901 and 2099",
        ),
        (
            {
                "kind": "lunar",
                "year": "2027",
                "month": 1,
                "days": [1],
                "times": [{"start": "09:30", "end": "11:30"}],
                "capacity": 60,
            },
            "lunar year must be a whole number",
        ),
    ],
)
def test_bad_json_for_any_rule_is_refused_with_a_clear_message(data, message):
    with pytest.raises(ScheduleError, match=message):
        rule_from_dict(data)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (None, "must look like"),
        ({"start": "09:30"}, "must look like"),
        ({"date": "2027-05-01", "why": "x"}, "Unknown field in an exclusion: why"),
        ({"date": "2027-13-01"}, "not a real date"),
        ({"date": "2027-05-01", "start": 930}, "time like 09:30"),
        ({"date": "2027-05-01", "reason": ["x"]}, "reason must be text"),
        ({"date": "2027-05-01", "reason": "x" * 500}, "at most 120 characters"),
    ],
)
def test_bad_json_for_an_exclusion_is_refused_with_a_clear_message(data, message):
    with pytest.raises(ScheduleError, match=message):
        exclusion_from_dict(data)


JUNK: list[object] = [
    None,
    True,
    -1,
    0,
    7,
    10**30,
    1.5,
    float("nan"),
    "",
    "x",
    "2027-02-30",
    "09:30",
    [],
    {},
]


def _mutations(rng: random.Random, value: Any) -> Any:
    """Random hostile variants of a valid JSON rule."""
    if isinstance(value, dict):
        data = dict(value)
        key = rng.choice([*data, "extra"])
        if rng.random() < 0.2:
            data.pop(key, None)
        else:
            data[key] = _mutations(rng, data.get(key)) if rng.random() < 0.5 else rng.choice(JUNK)
        return data
    if isinstance(value, list):
        items = list(value)
        if items and rng.random() < 0.5:
            i = rng.randrange(len(items))
            items[i] = _mutations(rng, items[i])
        else:
            items.append(rng.choice(JUNK))
        return items
    return rng.choice(JUNK)


def test_randomly_mangled_json_only_ever_raises_schedule_error():
    rng = random.Random(20270210)
    rules, _ = reference_program_rules()
    originals = [rule_to_dict(rule) for rule in rules]
    refused = 0
    for _ in range(3000):
        data = _mutations(rng, rng.choice(originals))
        try:
            rule = rule_from_dict(data)
        except ScheduleError:
            refused += 1
        else:
            generate([rule], [], SHANGHAI)
    assert refused > 1000  # the mutations really do break things


def test_a_deeply_nested_value_is_refused_not_crashed():
    nested: list[object] = []
    for _ in range(100_000):
        nested = [nested]
    with pytest.raises(ScheduleError, match="weekday must be a whole number"):
        rule_from_dict(GOOD_WEEKLY | {"weekdays": [nested]})
