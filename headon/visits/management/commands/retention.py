from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser

from headon.visits.services.retention import erase_program, programs_due


class Command(BaseCommand):
    help = (
        "Erase applicants' names, phone numbers, e-mail addresses and ID numbers "
        "HEADON_RETENTION_DAYS after a program's last session (the worker does it daily)."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--dry-run", action="store_true", help="only list what is due")

    def handle(self, *args: Any, dry_run: bool, **options: Any) -> None:
        due = programs_due()
        if not due:
            self.stdout.write(
                f"Nothing is due (retention: {settings.HEADON_RETENTION_DAYS} days after the last session)."
            )
            return
        for program in due:
            if dry_run:
                self.stdout.write(f"Due: {program.slug}")
                continue
            erased = erase_program(program)
            self.stdout.write(
                f"Erased {erased.program}: {erased.applications} applications, {erased.people} people."
            )
