"""The calendars as a calendar app reads them: a real iCalendar parser
(icalendar, RFC 5545) over the program's session feed and a party's
ticket calendar, in both languages. Every component carries what the RFC
requires, times are absolute, Chinese text survives, lines are folded."""

from __future__ import annotations

import datetime as dt
from typing import Any

import icalendar
from django.test import TestCase
from django.urls import reverse

from headon.visits import demo as visits_demo
from headon.visits.models import Application
from headon.visits.services.applications import access_token
from headon.visits.tests.factories import make_program


def parsed(test: TestCase, body: bytes) -> Any:
    lines = body.split(b"\r\n")
    test.assertEqual(lines[-1], b"", "ends with CRLF")
    for line in lines:
        test.assertLessEqual(len(line), 75, line)  # octets, folded (RFC 5545 3.1)
    calendar = icalendar.Calendar.from_ical(body)
    test.assertEqual(str(calendar["VERSION"]), "2.0")
    test.assertTrue(str(calendar["PRODID"]))
    return calendar


def events(test: TestCase, calendar: Any) -> list[Any]:
    found = list(calendar.walk("VEVENT"))
    for event in found:
        for required in ("UID", "DTSTAMP", "DTSTART", "DTEND", "SUMMARY"):
            test.assertIn(required, event, required)
        start, end = event.decoded("DTSTART"), event.decoded("DTEND")
        test.assertIsNotNone(start.tzinfo, "an absolute time, not a floating one")
        test.assertLess(start, end)
    test.assertEqual(len({str(e["UID"]) for e in found}), len(found), "UIDs are unique")
    return found


class CalendarClientTests(TestCase):
    def test_the_session_feed_parses_in_both_languages(self) -> None:
        program = make_program(sessions=3)
        url = reverse("visits:calendar", args=[program.slug])
        for language in ("en", "zh-hans"):
            with self.subTest(language=language):
                response = self.client.get(url, headers={"accept-language": language})
                found = events(self, parsed(self, response.content))
                self.assertEqual(len(found), 3)
                starts = sorted(e.decoded("DTSTART") for e in found)
                self.assertEqual(starts[0], dt.datetime(2027, 2, 15, 1, 30, tzinfo=dt.UTC))

    def test_a_partys_ticket_calendar_parses_and_keeps_its_chinese(self) -> None:
        program = visits_demo.load_today()
        application = Application.objects.filter(program=program).first()
        assert application is not None
        url = reverse(
            "visits:tickets_ics",
            args=[program.slug, application.reference, access_token(application)],
        )
        response = self.client.get(url, headers={"accept-language": "zh-hans"})
        self.assertEqual(response.status_code, 200)
        found = events(self, parsed(self, response.content))
        self.assertEqual(len(found), 1)
        text = " ".join(str(found[0].get(name, "")) for name in ("SUMMARY", "LOCATION"))
        self.assertIn("今日开放日", text + str(found[0].get("DESCRIPTION", "")))
