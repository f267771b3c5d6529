"""Bring a file of asks in: stream it, keep the good rows, report the bad.

Rows go in batches of INSERT ... ON CONFLICT DO NOTHING: the unique
(channel, external id) constraint decides, so a re-import or a concurrent
import of the same file adds nothing twice, and the statement's row count
says how many asks were new.
"""

from __future__ import annotations

import hashlib
import hmac
import logging
import uuid
from collections.abc import Callable, Iterable
from functools import lru_cache
from pathlib import Path
from typing import IO, Any

from django.conf import settings
from django.db import connection, transaction
from django.utils import timezone

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.desk.intake.exports import ExportError, ParsedRow, RowError, gettext_noop, read_export
from headon.desk.merging.normalise import exact_key
from headon.desk.models import Ask, Channel, ImportRun
from headon.timezones import organiser_tz

# 2,000 rows keep one INSERT under SQLite's variable limit (32,766 since
# 3.32) at 14 columns, and a batch's memory small.
BATCH = 2000
MAX_REPORTED_ERRORS = 1000

Progress = Callable[[ImportRun], None]

logger = logging.getLogger(__name__)


@lru_cache(maxsize=65_536)
def _exact_key(text: str) -> str:
    # Exports repeat the same comment many times; normalising (traditional
    # to simplified above all) is the costliest step per row.
    return exact_key(text)


def author_key(channel: Channel, author: str) -> str:
    """A keyed hash of channel and author: counts distinct people without
    keeping handles comparable in clear. The same value as Django's
    salted_hmac("headon.desk.author", ...), with the key derived once."""
    if not author:
        return ""
    return _author_key(channel.pk, author.casefold(), settings.SECRET_KEY)


@lru_cache(maxsize=8)
def _author_hmac_key(secret: str) -> bytes:
    return hashlib.sha256(b"headon.desk.author" + secret.encode()).digest()


@lru_cache(maxsize=65_536)
def _author_key(channel_id: int, author: str, secret: str) -> str:
    message = f"{channel_id}:{author}".encode()
    return hmac.new(_author_hmac_key(secret), message, hashlib.sha256).hexdigest()


def file_sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


COLUMNS = (
    "channel_id", "external_id", "text", "author", "author_key", "posted_at", "day",
    "likes", "replies", "shares", "url", "match_key", "question_id", "assigned_by",
    "import_run_id", "received_at", "set_aside",
)  # fmt: skip


def _values(channel: Channel, run: ImportRun, rows: list[ParsedRow]) -> list[tuple[Any, ...]]:
    tz = organiser_tz()
    ops = connection.ops
    received = ops.adapt_datetimefield_value(timezone.now())
    return [
        (
            channel.pk,
            row.external_id,
            row.text,
            row.author,
            author_key(channel, row.author),
            ops.adapt_datetimefield_value(row.posted_at),
            ops.adapt_datefield_value(row.posted_at.astimezone(tz).date()),
            row.likes,
            row.replies,
            row.shares,
            row.url,
            _exact_key(row.text),
            None,
            Ask.Assignment.AUTO.value,
            run.pk,
            received,
            "",  # not set aside: the model's default, which a raw INSERT must say
        )
        for row in rows
    ]


def _insert(channel: Channel, run: ImportRun, rows: list[ParsedRow]) -> tuple[int, int]:
    """(added, duplicates) for one batch.

    Plain INSERT ... ON CONFLICT DO NOTHING (the same on SQLite and
    PostgreSQL): the ORM's bulk_create spent two thirds of an import's time
    preparing values one field at a time (measured with cProfile, 20,000 rows).
    """
    fresh = list({row.external_id: row for row in rows}.values())  # a post twice in one file
    if not fresh:
        return 0, len(rows)
    table = connection.ops.quote_name(Ask._meta.db_table)
    columns = ", ".join(connection.ops.quote_name(c) for c in COLUMNS)
    marks = ", ".join(["%s"] * len(COLUMNS))
    sql = (
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "  # noqa: S608  (names from the model, values bound)  # nosec B608
        'ON CONFLICT ("channel_id", "external_id") DO NOTHING'
    )
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.executemany(sql, _values(channel, run, fresh))
        # The rows this statement inserted; a conflict (already there, or
        # taken first by a concurrent import of the same file) inserts none.
        added = max(cursor.rowcount, 0)
    return added, len(rows) - added


def import_rows(
    *,
    channel: Channel,
    run: ImportRun,
    rows: Iterable[ParsedRow | RowError],
    progress: Progress | None = None,
) -> ImportRun:
    batch: list[ParsedRow] = []

    def flush() -> None:
        added, duplicates = _insert(channel, run, batch)
        run.added += added
        run.duplicates += duplicates
        batch.clear()
        run.save(update_fields=["rows", "added", "duplicates", "rejected", "errors"])
        if progress:
            progress(run)

    for item in rows:
        run.rows += 1
        if isinstance(item, RowError):
            run.rejected += 1
            if len(run.errors) < MAX_REPORTED_ERRORS:
                run.errors.append({"line": item.line, "error": item.error, "params": item.params})
            continue
        batch.append(item)
        if len(batch) >= BATCH:
            flush()
    flush()
    return run


def import_file(
    *,
    channel: Channel,
    path: Path,
    name: str | None = None,
    mapping: dict[str, str] | None = None,
    encoding: str | None = None,
    actor: User | None = None,
    progress: Progress | None = None,
    run: ImportRun | None = None,
) -> ImportRun:
    """Import an export file into `channel`. Safe to run again on the same
    file: nothing is added twice."""
    name = name or path.name
    if run is None:
        run = ImportRun.objects.create(
            channel=channel,
            file_name=name[:255],
            file_sha256=file_sha256(path),
            started_by=actor,
            mapping=mapping or {},
        )
    try:
        with path.open("rb") as fh:
            used_encoding, used_mapping, rows = read_export(
                fh, name=name, tz=organiser_tz(), mapping=mapping, encoding=encoding
            )
            run.encoding, run.mapping = used_encoding, used_mapping
            run.save(update_fields=["encoding", "mapping"])
            import_rows(channel=channel, run=run, rows=rows, progress=progress)
    except ExportError as exc:
        run.status, run.message, run.message_params = (
            ImportRun.Status.FAILED,
            exc.template,
            exc.params,
        )
    except (LookupError, UnicodeError) as exc:
        # UnicodeError: a codec that gives up on the file, not a byte (UTF-16
        # without its BOM); rows read before it stay, and the run says so.
        run.status, run.message, run.message_params = (
            ImportRun.Status.FAILED,
            gettext_noop("The file cannot be decoded: %(detail)s"),
            {"detail": str(exc)[:300]},
        )
    except Exception as exc:
        # Whatever else stops a file ends its run as failed, with the rows
        # before it kept and said so, never "running" for ever.
        logger.exception("import run %s failed", run.pk)
        run.status, run.message, run.message_params = (
            ImportRun.Status.FAILED,
            gettext_noop(
                "The import stopped at an error (%(detail)s); the asks added before it are kept."
            ),
            {"detail": type(exc).__name__},
        )
    else:
        run.status = ImportRun.Status.DONE
    run.finished_at = timezone.now()
    run.save(update_fields=["status", "message", "message_params", "finished_at"])
    audit_record(
        action="asks_import",
        actor=actor,
        target=run,
        data={
            "added": run.added,
            "duplicates": run.duplicates,
            "rejected": run.rejected,
            "status": run.status,
        },
    )
    return run


def stream_to_disk(upload: IO[bytes], directory: Path) -> Path:
    """Keep an uploaded file where a job can read it."""
    directory.mkdir(parents=True, exist_ok=True)
    target = directory / f"{uuid.uuid4().hex}.upload"
    with target.open("wb") as out:
        for block in iter(lambda: upload.read(1 << 20), b""):
            out.write(block)
    return target
