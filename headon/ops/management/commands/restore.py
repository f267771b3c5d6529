from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from headon.ops.backup import BackupError, backup_restore


class Command(BaseCommand):
    help = (
        "Restore a backup archive (database and key files) after checking it; "
        "stop the server and the workers first."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("archive", type=Path, help="a headon-backup-*.tar.gz file")
        parser.add_argument(
            "--yes",
            action="store_true",
            help="replace a database that is not empty, and keys that differ",
        )

    def handle(self, *args: Any, archive: Path, yes: bool, **options: Any) -> None:
        database = connections["default"].settings_dict
        # The restore replaces the database under any connection still open.
        connections.close_all()
        try:
            report = backup_restore(
                archive=archive, database=database, data_dir=settings.DATA_DIR, overwrite=yes
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = report.manifest
        self.stdout.write(
            self.style.SUCCESS(f"Restored the backup of {manifest['created_at']} from {archive}")
        )
        if report.integrity is not None:
            self.stdout.write(f"  integrity check: {report.integrity}")
        expected = manifest["row_counts"]
        mismatched = 0
        self.stdout.write(f"  {'table':<28}{'archive':>10}{'restored':>10}")
        for label in sorted(set(expected) | set(report.counts)):
            want, got = expected.get(label), report.counts.get(label)
            mark = "" if want == got else "  MISMATCH"
            mismatched += want != got
            self.stdout.write(f"  {label:<28}{want!s:>10}{got!s:>10}{mark}")
        for note in report.notes:
            self.stdout.write(self.style.WARNING(f"  {note}"))
        if mismatched:
            raise CommandError(f"{mismatched} tables hold a different number of rows.")
