from __future__ import annotations

from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import connections

from headon.ops.backup import BackupError, backup_create


class Command(BaseCommand):
    help = (
        "Back up the database and the key files into one archive, "
        "headon-backup-<UTC time>.tar.gz; safe while the site is running."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--out",
            type=Path,
            default=Path(),
            help="folder for the archive (default: the current folder)",
        )

    def handle(self, *args: Any, out: Path, **options: Any) -> None:
        try:
            report = backup_create(
                out_dir=out,
                database=connections["default"].settings_dict,
                data_dir=settings.DATA_DIR,
            )
        except BackupError as exc:
            raise CommandError(str(exc)) from exc
        manifest = report.manifest
        size = report.path.stat().st_size
        self.stdout.write(self.style.SUCCESS(f"Backed up to {report.path}"))
        self.stdout.write(
            f"  {manifest['database']['vendor']} database, {size / 1e6:.1f} MB "
            f"compressed, in {report.seconds:.1f} s"
        )
        counts = manifest["row_counts"]
        biggest = sorted(counts.items(), key=lambda item: -item[1])[:6]
        self.stdout.write("  rows: " + ", ".join(f"{label} {n}" for label, n in biggest))
        for name, entry in manifest["keys"].items():
            where = {
                "file": "in the archive",
                "environment": f"from {entry.get('variable')}, not in the archive: keep it safe",
                "missing": "missing from the data directory",
            }[entry["source"]]
            self.stdout.write(f"  {name}: {where}")
        self.stdout.write(
            "  The archive holds the keys in clear: store it as carefully as the data directory."
        )
