"""The organiser's time zone, at the edges: the database stores UTC."""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from django.conf import settings
from django.utils import timezone


def organiser_tz() -> ZoneInfo:
    return ZoneInfo(settings.HEADON_TIME_ZONE)


def organiser_now() -> dt.datetime:
    return timezone.now().astimezone(organiser_tz())


def organiser_today() -> dt.date:
    """The organiser's calendar date now: the day the desk is answering."""
    return organiser_now().date()


def day_bounds(day: dt.date) -> tuple[dt.datetime, dt.datetime]:
    """The UTC instants where the organiser's `day` starts and ends."""
    tz = organiser_tz()
    start = dt.datetime.combine(day, dt.time.min, tzinfo=tz)
    end = dt.datetime.combine(day + dt.timedelta(days=1), dt.time.min, tzinfo=tz)
    return start.astimezone(dt.UTC), end.astimezone(dt.UTC)
