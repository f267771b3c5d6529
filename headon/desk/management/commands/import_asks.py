from __future__ import annotations

import sys
import time
from pathlib import Path
from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from headon.desk import later
from headon.desk.intake.exports import FIELDS
from headon.desk.models import Channel, ImportRun
from headon.desk.services.imports import import_file


class Command(BaseCommand):
    help = "Import asks from a CSV or JSON Lines export into a channel (safe to rerun)."

    def create_parser(self, prog_name: str, subcommand: str, **kwargs: Any) -> CommandParser:
        # The operator's spelling (headon.cli.ALIASES), not the module's.
        return super().create_parser(prog_name, "import-asks", **kwargs)

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("path", type=Path, help="the export file (.csv, .jsonl)")
        parser.add_argument("--channel", required=True, help="channel slug, e.g. weibo")
        parser.add_argument(
            "--map",
            action="append",
            default=[],
            metavar="FIELD=COLUMN",
            help=f"which column holds a field ({', '.join(FIELDS)}); guessed from the header if not given",
        )
        parser.add_argument("--encoding", help="utf-8, utf-8-sig or gb18030 (default: detected)")
        parser.add_argument("--no-progress", action="store_true", help="print no progress bar")

    def handle(
        self,
        *args: Any,
        path: Path,
        channel: str,
        map: list[str],
        encoding: str | None,
        no_progress: bool,
        **options: Any,
    ) -> None:
        target = Channel.objects.filter(slug=channel).first()
        if target is None:
            raise CommandError(
                f"No channel {channel!r}. Channels: {', '.join(Channel.objects.values_list('slug', flat=True))}"
            )
        if not path.is_file():
            raise CommandError(f"No file at {path}.")
        mapping = {}
        for item in map:
            field, sep, column = item.partition("=")
            if not sep or field not in FIELDS:
                raise CommandError(
                    f"--map takes FIELD=COLUMN with FIELD one of {', '.join(FIELDS)}: {item!r}"
                )
            mapping[field] = column
        total = path.stat().st_size
        started = time.monotonic()

        def progress(run: ImportRun) -> None:
            if no_progress:
                return
            # Rows, not bytes, are what a batch knows; bytes read estimate the share.
            rate = run.rows / max(time.monotonic() - started, 1e-6)
            sys.stderr.write(
                f"\r{run.rows:>10,} rows  {run.added:>10,} added  {run.duplicates:>8,} already there  {run.rejected:>6,} rejected  {rate:>8,.0f} rows/s"
            )
            sys.stderr.flush()

        run = import_file(
            channel=target, path=path, mapping=mapping or None, encoding=encoding, progress=progress
        )
        if not no_progress:
            sys.stderr.write("\n")
        if run.status == ImportRun.Status.FAILED:
            raise CommandError(run.message_text())
        self.stdout.write(
            f"{path.name}: {run.rows} rows read in {time.monotonic() - started:.1f} s ({total:,} bytes, {run.encoding}); "
            f"{run.added} asks added, {run.duplicates} already there, {run.rejected} rejected."
        )
        # Placed by the worker, as after an import from the staff page.
        days = sorted(set(target.asks.filter(import_run=run).values_list("day", flat=True)))
        for day in days:
            later.assign_day(day.isoformat())
        if days:
            queued = f"{len(days)} day" if len(days) == 1 else f"{len(days)} days"
            self.stdout.write(f"Merging queued for {queued}; `headon worker` places the new asks.")
        for line, problem in run.error_rows()[:20]:
            self.stdout.write(f"  line {line}: {problem}")
        if run.rejected > 20:
            self.stdout.write(f"  ... and {run.rejected - 20} more rejected rows")
