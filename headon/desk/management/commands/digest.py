from __future__ import annotations

import datetime as dt
import time
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from headon.desk.digest import formats
from headon.desk.digest import services as digests
from headon.timezones import organiser_today


class Command(BaseCommand):
    help = "Publish the night's digest for a date (today by default), or the one that is due."

    def add_arguments(self, parser: CommandParser) -> None:
        sub = parser.add_subparsers(dest="action", required=True)
        publish = sub.add_parser("publish", help="publish the digest of a date")
        publish.add_argument("--date", help="YYYY-MM-DD, in the organiser's time zone")
        publish.add_argument(
            "--due", action="store_true", help="only the date whose cut-off has passed unpublished"
        )
        publish.add_argument(
            "--note", default="", help="what a new revision changes (required then)"
        )
        show = sub.add_parser("ledger", help="print the coverage ledger of a date")
        show.add_argument("--date", help="YYYY-MM-DD")

    def _date(self, value: str | None) -> dt.date:
        if not value:
            return organiser_today()
        try:
            return dt.date.fromisoformat(value)
        except ValueError:
            raise CommandError(f"--date {value!r} is not a date like 2026-11-24.") from None

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "ledger":
            day = self._date(options["date"])
            for name, value in digests.coverage(day).as_dict().items():
                self.stdout.write(f"{name:<20} {value}")
            return
        if options["due"]:
            due = digests.digest_due()
            if due is None:
                self.stdout.write("No digest is due.")
                return
            day = due
        else:
            day = self._date(options["date"])
        started = time.monotonic()
        try:
            revision, created = digests.digest_publish(
                day, note=options["note"], automatic=options["due"]
            )
        except digests.DigestError as exc:
            raise CommandError(str(exc)) from None
        if revision is None:
            raise CommandError("Nothing to publish.")
        for lang in formats.LANGUAGES:
            formats.digest_png(revision, lang)
        verb = "Published" if created else "Unchanged:"
        self.stdout.write(
            f"{verb} the digest of {day.isoformat()}, revision {revision.number}: "
            f"{len(revision.snapshot['answers'])} answers, "
            f"{revision.snapshot['open_count']} questions carried over, "
            f"coverage {revision.snapshot['coverage']['share']:.1%} "
            f"({time.monotonic() - started:.1f} s)"
        )
