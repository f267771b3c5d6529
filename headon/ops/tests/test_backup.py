"""`headon backup` and `headon restore` on the database the suite runs on
(SQLite, or PostgreSQL with DATABASE_URL). Restores go into a scratch target
(a new SQLite file, or a new PostgreSQL database) and a scratch data
directory, never into the test database."""

from __future__ import annotations

import datetime as dt
import io
import os
import shutil
import sqlite3
import tarfile
import tempfile
import threading
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any
from unittest import mock

from django.conf import settings
from django.core.management import CommandError, call_command
from django.db import connection, connections
from django.test import TransactionTestCase

from headon.desk.models import Ask, Channel
from headon.ops import backup
from headon.ops.backup import BackupError, backup_create, backup_restore

DAY = dt.date(2026, 11, 24)
POSTED = dt.datetime(2026, 11, 24, 9, 0, tzinfo=dt.UTC)


def add_asks(channel: Channel, start: int, count: int) -> None:
    Ask.objects.bulk_create(
        Ask(
            channel=channel,
            external_id=str(n),
            text=f"ask {n}: when does the factory open?",
            posted_at=POSTED,
            day=DAY,
            match_key=f"k{n}",
        )
        for n in range(start, start + count)
    )


class Writer(threading.Thread):
    """Inserts asks one by one, each committed, until stopped."""

    def __init__(self, channel: Channel) -> None:
        super().__init__(name="ask-writer")
        self.channel = channel
        self.written = 0
        self.stop = threading.Event()
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            while not self.stop.is_set():
                add_asks(self.channel, 1_000_000 + self.written, 1)
                self.written += 1
        except BaseException as exc:  # reported by the test
            self.error = exc
        finally:
            connections.close_all()

    def wait_for(self, rows: int) -> None:
        while self.written < rows and self.error is None and self.is_alive():
            threading.Event().wait(0.01)


def ask_texts(database: dict[str, Any]) -> set[str]:
    if connection.vendor == "sqlite":
        conn: Any = sqlite3.connect(database["NAME"])
    else:
        conn = backup._pg_connect(database)
    try:
        rows = conn.execute(f"SELECT text FROM {Ask._meta.db_table}").fetchall()  # noqa: S608
    finally:
        conn.close()
    return {text for (text,) in rows}


def is_empty(database: dict[str, Any]) -> bool:
    if connection.vendor == "sqlite":
        return backup._sqlite_is_empty(Path(database["NAME"]))
    return backup._pg_is_empty(database)


class BackupTests(TransactionTestCase):
    def setUp(self) -> None:
        if connection.vendor == "postgresql" and backup.pg_tool("pg_dump") is None:
            self.skipTest(
                "NO pg_dump: PostgreSQL backups untested (apt-get install postgresql-client)"
            )
        self.tmp = Path(tempfile.mkdtemp(prefix="headon-backup-test-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)
        self.channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        add_asks(self.channel, 0, 3000)

    def take_backup(self) -> backup.BackupReport:
        return backup_create(
            out_dir=self.tmp / "out",
            database=connection.settings_dict,
            data_dir=settings.DATA_DIR,
        )

    @contextmanager
    def scratch(self) -> Iterator[dict[str, Any]]:
        """A new, empty database of the suite's vendor, dropped afterwards."""
        database = dict(connection.settings_dict)
        if connection.vendor == "sqlite":
            database["NAME"] = str(self.tmp / f"{uuid.uuid4().hex}.sqlite3")
            yield database
            return
        database["NAME"] = f"headon_restore_{uuid.uuid4().hex[:12]}"
        server = backup._pg_connect({**database, "NAME": "postgres"})
        server.execute(f'CREATE DATABASE "{database["NAME"]}"')
        try:
            yield database
        finally:
            server.execute(f'DROP DATABASE IF EXISTS "{database["NAME"]}" WITH (FORCE)')
            server.close()

    def restore(self, archive: Path, database: dict[str, Any], **kwargs: Any) -> Any:
        return backup_restore(
            archive=archive, database=database, data_dir=self.tmp / "data", **kwargs
        )

    def test_a_backup_under_write_load_holds_every_row_committed_before_it(self) -> None:
        writer = Writer(self.channel)
        writer.start()
        try:
            writer.wait_for(20)
            before = set(Ask.objects.values_list("text", flat=True))
            written_at_start = writer.written
            report = self.take_backup()
            writer.wait_for(writer.written + 20)
        finally:
            writer.stop.set()
            writer.join(timeout=30)
        self.assertIsNone(writer.error)
        # The writer kept committing before and after the copy was taken.
        self.assertGreaterEqual(written_at_start, 20)
        self.assertGreater(writer.written, written_at_start)
        archived = report.manifest["row_counts"]["desk.Ask"]
        self.assertGreaterEqual(archived, len(before))
        self.assertLess(archived, Ask.objects.count())

        with self.scratch() as database:
            result = self.restore(report.path, database, overwrite=False)
            restored = ask_texts(database)
        self.assertTrue(before <= restored, "rows committed before the backup are missing")
        self.assertTrue(restored <= set(Ask.objects.values_list("text", flat=True)))
        self.assertEqual(result.counts, report.manifest["row_counts"])
        self.assertEqual(len(restored), archived)
        if connection.vendor == "sqlite":
            self.assertEqual(result.integrity, "ok")
        for name in ("secret_key", "identity_key", "ticket_key"):
            self.assertEqual(
                (self.tmp / "data" / name).read_text(), (settings.DATA_DIR / name).read_text()
            )

    def test_control_a_plain_copy_of_the_file_misses_committed_rows(self) -> None:
        # Why the backup API: in WAL mode the newest commits live in the -wal
        # file, and the checks above catch a copy that leaves them out.
        if connection.vendor != "sqlite":
            self.skipTest("the WAL control is SQLite's")
        with connection.cursor() as cursor:
            cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        add_asks(self.channel, 5000, 1)
        copy = {"NAME": str(self.tmp / "copy.sqlite3")}
        shutil.copyfile(connection.settings_dict["NAME"], copy["NAME"])
        missing = set(Ask.objects.values_list("text", flat=True)) - ask_texts(copy)
        self.assertEqual(len(missing), 1)

    def test_the_manifest_describes_the_archive(self) -> None:
        report = self.take_backup()
        manifest = report.manifest
        self.assertRegex(report.path.name, r"^headon-backup-\d{8}T\d{6}Z\.tar\.gz$")
        self.assertEqual(manifest["database"]["vendor"], connection.vendor)
        self.assertEqual(manifest["row_counts"]["desk.Ask"], 3000)
        self.assertEqual(manifest["row_counts"]["desk.Channel"], 1)
        self.assertIn("desk", manifest["migrations"])
        self.assertEqual(report.path.stat().st_mode & 0o077, 0)  # it holds the keys
        with tarfile.open(report.path) as tar:
            names = [Path(name).name for name in tar.getnames()]
        self.assertEqual(names[0], "manifest.json")

    def test_a_key_from_the_environment_stays_out_of_the_archive(self) -> None:
        secret = "from-the-environment-" + uuid.uuid4().hex
        with mock.patch.dict(os.environ, {"HEADON_IDENTITY_KEY": secret}):
            report = self.take_backup()
        self.assertEqual(
            report.manifest["keys"]["identity_key"],
            {"source": "environment", "variable": "HEADON_IDENTITY_KEY"},
        )
        with tarfile.open(report.path) as tar:
            self.assertNotIn("identity_key", [Path(n).name for n in tar.getnames()])
            for member in tar.getmembers():
                if fh := tar.extractfile(member):
                    self.assertNotIn(secret.encode(), fh.read())

    def test_restore_refuses_an_archive_with_a_flipped_byte(self) -> None:
        report = self.take_backup()
        tampered = self.tmp / "tampered.tar.gz"
        with tarfile.open(report.path) as source, tarfile.open(tampered, "w:gz") as target:
            for member in source.getmembers():
                data = bytearray(source.extractfile(member).read())  # type: ignore[union-attr]
                if member.name.endswith(report.manifest["database"]["file"]):
                    data[len(data) // 2] ^= 0x01
                target.addfile(member, io.BytesIO(bytes(data)))
        with self.scratch() as database:
            with self.assertRaisesRegex(BackupError, "does not match its checksum"):
                self.restore(tampered, database, overwrite=True)
            self.assertTrue(is_empty(database))
        self.assertFalse((self.tmp / "data").exists())

    def test_restore_refuses_a_database_that_is_not_empty_without_yes(self) -> None:
        report = self.take_backup()
        with self.scratch() as database:
            self.restore(report.path, database, overwrite=False)
            with self.assertRaisesRegex(BackupError, "not empty"):
                self.restore(report.path, database, overwrite=False)
            result = self.restore(report.path, database, overwrite=True)
        self.assertEqual(result.counts["desk.Ask"], 3000)

    def test_the_restore_command_refuses_the_running_database_without_yes(self) -> None:
        report = self.take_backup()
        with self.assertRaisesRegex(CommandError, "not empty"):
            call_command("restore", str(report.path), stdout=io.StringIO())
        self.assertEqual(Ask.objects.count(), 3000)

    def test_the_backup_command_prints_the_path_and_never_a_key(self) -> None:
        out = io.StringIO()
        call_command("backup", out=self.tmp / "cmd", stdout=out)
        printed = out.getvalue()
        self.assertIn(str(self.tmp / "cmd" / "headon-backup-"), printed)
        self.assertIn("desk.Ask 3000", printed)
        for name in ("secret_key", "identity_key", "ticket_key"):
            self.assertNotIn((settings.DATA_DIR / name).read_text().strip(), printed)

    def test_the_backup_refuses_a_folder_it_cannot_write(self) -> None:
        blocker = self.tmp / "a-file"
        blocker.write_text("")
        with self.assertRaisesRegex(CommandError, "Cannot write a backup to"):
            call_command("backup", out=blocker / "backups", stdout=io.StringIO())
