"""An iCalendar (RFC 5545) feed of a program's sessions.

Written by hand: the format needs escaping, CRLF line ends and lines folded
at 75 octets, nothing a dependency would add.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Iterable

from headon.visits.models import Offer, Program, Session

# Control characters other than tab are not allowed in a TEXT value (RFC
# 5545, 3.3.11); a lone CR would end the line for many readers and let a
# label add properties of its own (found by tests/test_xss.py).
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")


def _escape(text: str) -> str:
    text = text.replace("\\", "\\\\").replace(";", "\\;").replace(",", "\\,")
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\n", "\\n")
    return _CONTROL.sub("", text)


def _fold(line: str) -> str:
    """Split a content line into 75-octet pieces, never inside a character."""
    encoded = line.encode()
    if len(encoded) <= 75:
        return line
    pieces, current, size, limit = [], "", 0, 75
    for char in line:
        width = len(char.encode())
        if size + width > limit:
            pieces.append(current)
            current, size, limit = "", 0, 74  # continuation lines start with a space
        current += char
        size += width
    pieces.append(current)
    return "\r\n ".join(pieces)


CALENDAR_HEAD = (
    "BEGIN:VCALENDAR",
    "VERSION:2.0",
    "PRODID:-//headon//visits//EN",
    "CALSCALE:GREGORIAN",
    "METHOD:PUBLISH",
)


def _utc(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).strftime("%Y%m%dT%H%M%SZ")


def program_calendar(
    program: Program, sessions: Iterable[Session], *, host: str, now: dt.datetime
) -> str:
    lines = [
        *CALENDAR_HEAD,
        f"X-WR-CALNAME:{_escape(program.title_en)} · {_escape(program.title_zh)}",
    ]
    for session in sessions:
        summary = f"{program.title_en} · {program.title_zh}"
        if session.label_en or session.label_zh:
            summary += f" ({session.label_en or session.label_zh})"
        lines += [
            "BEGIN:VEVENT",
            f"UID:session-{session.pk}@{host}",
            f"DTSTAMP:{_utc(now)}",
            f"DTSTART:{_utc(session.starts_at)}",
            f"DTEND:{_utc(session.ends_at)}",
            f"SUMMARY:{_escape(summary)}",
            f"LOCATION:{_escape(program.venue)}",
            "STATUS:CANCELLED"
            if session.status == Session.Status.CANCELLED
            else "STATUS:CONFIRMED",
            "END:VEVENT",
        ]
    lines.append("END:VCALENDAR")
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"


def ticket_calendar(program: Program, offer: Offer, *, host: str, now: dt.datetime) -> str:
    """One event: the party's confirmed visit, for their own calendar."""
    session = offer.session
    summary = f"{program.title_en} · {program.title_zh}"
    lines = [
        *CALENDAR_HEAD,
        "BEGIN:VEVENT",
        f"UID:offer-{offer.pk}@{host}",
        f"DTSTAMP:{_utc(now)}",
        f"DTSTART:{_utc(session.starts_at)}",
        f"DTEND:{_utc(session.ends_at)}",
        f"SUMMARY:{_escape(summary)}",
        f"LOCATION:{_escape(program.venue)}",
        f"DESCRIPTION:{_escape(f'{offer.seats} visitors · {offer.seats} 位访客')}",
        "STATUS:CONFIRMED",
        "END:VEVENT",
        "END:VCALENDAR",
    ]
    return "\r\n".join(_fold(line) for line in lines) + "\r\n"
