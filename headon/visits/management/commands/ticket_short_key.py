from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from headon.visits.services.tickets import short_key


class Command(BaseCommand):
    help = (
        "Write the key that checks short ticket codes (derived from the signing key) "
        "to a file only its owner can read, for verify_ticket.py --short-key on a gate laptop."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", help="the file to write (not overwritten)")

    def handle(self, *args: Any, path: str, **options: Any) -> None:
        # O_EXCL: never overwrite; 0600: a secret, like the signing key it comes from.
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as out:
            out.write(short_key().hex() + "\n")
        self.stdout.write(f"Wrote {Path(path).resolve()}: keep it as secret as the signing key.")
