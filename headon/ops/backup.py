"""Backups: one archive with the database, the key files and a manifest.

`backup_create` copies the database while the site keeps writing: on SQLite
with the online backup API from a connection of its own, on PostgreSQL with
`pg_dump` inside an exported snapshot. The manifest's row counts and
migrations are read from that same snapshot, so they describe exactly what
the archive holds. `backup_restore` checks every file against the manifest
before it touches anything, then puts the database and the keys back.

The archive, `headon-backup-<UTC time>.tar.gz`, holds one folder of the
same name with `manifest.json` (first), the database (`headon.sqlite3` or
`headon.pgdump`) and `keys/<name>` for each key kept in the data directory.
It holds the keys in clear, so it is written readable by its owner only.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import os
import shutil
import sqlite3
import stat
import subprocess  # pg_dump and pg_restore, argv lists only  # nosec B404
import tarfile
import tempfile
import time
import zlib
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path, PurePosixPath
from typing import Any

from django.apps import apps
from django.utils import timezone

FORMAT = 1
# gzip's fastest level rather than tarfile's 9: on a 285 MB database with a
# million asks, level 9 took 19 s (48.6 MB), level 1 took 5.6 s (49.5 MB).
COMPRESSLEVEL = 1
SQLITE_FILE = "headon.sqlite3"
PG_FILE = "headon.pgdump"
# The key files settings.py generates into the data directory, and the
# environment variable that replaces each (README.md, "Configuration").
KEYS = {
    "secret_key": "HEADON_SECRET_KEY",  # the variable's name, not a key  # nosec B105
    "identity_key": "HEADON_IDENTITY_KEY",
    "ticket_key": "HEADON_TICKET_KEY",
}
# The apps whose tables the manifest counts: headon's own data.
COUNTED_APPS = ("accounts", "desk", "visits")
# Keys of a database's OPTIONS that are Django's, not libpq connection parameters.
_DJANGO_PG_OPTIONS = {"isolation_level", "server_side_binding", "pool", "assume_role"}


class BackupError(Exception):
    """A backup or restore refused or failed; the message says why."""


@dataclass(frozen=True)
class BackupReport:
    path: Path
    manifest: dict[str, Any]
    seconds: float


@dataclass
class RestoreReport:
    manifest: dict[str, Any]
    integrity: str | None
    counts: dict[str, int]
    notes: list[str] = field(default_factory=list)


def vendor_of(database: Mapping[str, Any]) -> str:
    engine = str(database["ENGINE"])
    if engine.endswith("sqlite3"):
        return "sqlite"
    if engine.endswith("postgresql"):
        return "postgresql"
    raise BackupError(f"Backups support SQLite and PostgreSQL, not {engine}.")


def counted_tables() -> dict[str, str]:
    """Model label -> table, for the tables the manifest counts."""
    return {
        model._meta.label: model._meta.db_table
        for label in COUNTED_APPS
        for model in apps.get_app_config(label).get_models()
    }


def _quote(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


_TABLES = {
    "sqlite": "SELECT name FROM sqlite_master WHERE type = 'table'",
    "postgresql": "SELECT tablename FROM pg_catalog.pg_tables WHERE schemaname = current_schema()",
}


def _read_state(cursor: Any, vendor: str) -> tuple[dict[str, str], dict[str, int]]:
    """The last applied migration per app and the row counts, read through a
    DB-API cursor of either vendor (table names come from the models). A
    table that an older schema lacks is left out, not an error."""
    cursor.execute(_TABLES[vendor])
    present = {name for (name,) in cursor.fetchall()}
    migrations = {}
    if "django_migrations" in present:
        cursor.execute("SELECT app, name FROM django_migrations ORDER BY id")
        # Ordered by id, so each app ends on its last applied migration.
        migrations = dict(cursor.fetchall())
    counts = {}
    for label, table in counted_tables().items():
        if table not in present:
            continue
        cursor.execute(f"SELECT COUNT(*) FROM {_quote(table)}")  # noqa: S608  # nosec B608
        counts[label] = int(cursor.fetchone()[0])
    return migrations, counts


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


# SQLite ----------------------------------------------------------------------


def _sqlite_connect(path: Path) -> sqlite3.Connection:
    conn = sqlite3.connect(path, timeout=20)
    conn.execute("PRAGMA busy_timeout=20000")
    return conn


def _integrity(path: Path) -> str:
    conn = sqlite3.connect(path)
    try:
        rows = conn.execute("PRAGMA integrity_check").fetchall()
    finally:
        conn.close()
    return "\n".join(str(row[0]) for row in rows)


def _sqlite_dump(source: Path, target: Path) -> tuple[dict[str, str], dict[str, int]]:
    if not source.is_file():
        raise BackupError(f"No SQLite database at {source}.")
    src = _sqlite_connect(source)
    dst = sqlite3.connect(target)
    try:
        # One step (pages=-1) copies every page inside one read transaction:
        # a consistent snapshot, while WAL lets the writers carry on.
        src.backup(dst, pages=-1)
        # A single self-contained file, with no -wal beside it.
        dst.execute("PRAGMA journal_mode=DELETE")
        state = _read_state(dst.cursor(), "sqlite")
    finally:
        dst.close()
        src.close()
    check = _integrity(target)
    if check != "ok":
        raise BackupError(f"The copy of the database failed its integrity check: {check}")
    return state


def _sqlite_is_empty(path: Path) -> bool:
    if not path.exists() or path.stat().st_size == 0:
        return True
    conn = sqlite3.connect(path)
    try:
        (tables,) = conn.execute("SELECT COUNT(*) FROM sqlite_master WHERE type='table'").fetchone()
    finally:
        conn.close()
    return int(tables) == 0


def _sqlite_restore(temp: Path, target: Path) -> tuple[str, dict[str, int]]:
    """Put `temp`, a copy on the same file system as `target`, in its place."""
    if target.exists():
        os.chmod(temp, stat.S_IMODE(target.stat().st_mode))
    check = _integrity(temp)
    if check != "ok":
        raise BackupError(f"The database in the archive failed its integrity check: {check}")
    conn = sqlite3.connect(temp)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.close()
    # A -wal left by the old database would be replayed into the new one:
    # remove it (and its index) before the new file takes the name.
    for suffix in ("-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    os.replace(temp, target)
    conn = sqlite3.connect(target)
    try:
        _, counts = _read_state(conn.cursor(), "sqlite")
    finally:
        conn.close()
    return _integrity(target), counts


# PostgreSQL --------------------------------------------------------------------


def pg_tool(name: str) -> str | None:
    """`pg_dump` or `pg_restore` from PATH, else from the newest
    /usr/lib/postgresql/<version>/bin (Debian keeps them there)."""
    if found := shutil.which(name):
        return found
    candidates = sorted(
        Path("/usr/lib/postgresql").glob(f"*/bin/{name}"),
        key=lambda p: int(p.parts[-3]) if p.parts[-3].isdigit() else 0,
    )
    return str(candidates[-1]) if candidates else None


def _pg_params(database: Mapping[str, Any]) -> dict[str, str]:
    params = {
        "dbname": database.get("NAME"),
        "user": database.get("USER"),
        "password": database.get("PASSWORD"),
        "host": database.get("HOST"),
        "port": database.get("PORT"),
    }
    for key, value in (database.get("OPTIONS") or {}).items():
        if key not in _DJANGO_PG_OPTIONS and isinstance(value, str | int):
            params[key] = value
    return {key: str(value) for key, value in params.items() if value not in (None, "")}


def _pg_connect(database: Mapping[str, Any]) -> Any:
    import psycopg
    from psycopg.conninfo import make_conninfo

    # Autocommit: psycopg would otherwise open a transaction of its own
    # before our BEGIN, which could then no longer set the isolation level.
    return psycopg.connect(make_conninfo(**_pg_params(database)), autocommit=True)


def _pg_run(tool: str, args: list[str], database: Mapping[str, Any]) -> None:
    from psycopg.conninfo import make_conninfo

    binary = pg_tool(tool)
    if binary is None:
        raise BackupError(f"{tool} is not installed (apt-get install postgresql-client).")
    params = _pg_params(database)
    env = dict(os.environ)
    # The password goes through the environment, never the command line.
    if password := params.pop("password", None):
        env["PGPASSWORD"] = password
    command = [binary, *args, "--dbname", make_conninfo(**params)]
    # A fixed binary and argument list, no shell.
    result = subprocess.run(  # noqa: S603 (an argv list, no shell)  # nosec B603
        command, env=env, capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise BackupError(f"{tool} failed: {result.stderr.strip()}")


def _pg_dump(database: Mapping[str, Any], target: Path) -> tuple[dict[str, str], dict[str, int]]:
    conn = _pg_connect(database)
    try:
        # pg_dump reads the snapshot this transaction exports, so the counts
        # below describe exactly the rows in the dump.
        conn.execute("BEGIN ISOLATION LEVEL REPEATABLE READ READ ONLY")
        (snapshot,) = conn.execute("SELECT pg_export_snapshot()").fetchone()
        state = _read_state(conn.cursor(), "postgresql")
        _pg_run(
            "pg_dump",
            ["--format=custom", f"--snapshot={snapshot}", f"--file={target}"],
            database,
        )
        conn.execute("ROLLBACK")
    finally:
        conn.close()
    return state


def _pg_is_empty(database: Mapping[str, Any]) -> bool:
    conn = _pg_connect(database)
    try:
        (tables,) = conn.execute(
            "SELECT COUNT(*) FROM pg_catalog.pg_tables"
            " WHERE schemaname NOT IN ('pg_catalog', 'information_schema')"
        ).fetchone()
    finally:
        conn.close()
    return int(tables) == 0


def _pg_restore(dump: Path, database: Mapping[str, Any]) -> dict[str, int]:
    # One transaction: a restore that fails leaves the database as it was.
    _pg_run(
        "pg_restore",
        ["--clean", "--if-exists", "--no-owner", "--single-transaction", str(dump)],
        database,
    )
    conn = _pg_connect(database)
    try:
        _, counts = _read_state(conn.cursor(), "postgresql")
    finally:
        conn.close()
    return counts


# Backup ------------------------------------------------------------------------


def _writable_dir(out_dir: Path) -> None:
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=out_dir):
            pass
    except OSError as exc:
        raise BackupError(f"Cannot write a backup to {out_dir}: {exc.strerror or exc}.") from exc


def _copy_keys(data_dir: Path, folder: Path) -> dict[str, dict[str, str]]:
    keys: dict[str, dict[str, str]] = {}
    for name, variable in KEYS.items():
        if os.environ.get(variable):
            # The value in use is the variable's; it stays out of the archive.
            keys[name] = {"source": "environment", "variable": variable}
        elif (data_dir / name).is_file():
            (folder / "keys").mkdir(exist_ok=True)
            shutil.copyfile(data_dir / name, folder / "keys" / name)
            keys[name] = {"source": "file", "file": f"keys/{name}"}
        else:
            keys[name] = {"source": "missing"}
    return keys


def _headon_version() -> str:
    try:
        return metadata.version("headon")
    except metadata.PackageNotFoundError:
        return "unknown"


def backup_create(*, out_dir: Path, database: Mapping[str, Any], data_dir: Path) -> BackupReport:
    """Write `headon-backup-<UTC time>.tar.gz` into `out_dir`: a consistent
    copy of `database`, the key files from `data_dir`, and a manifest."""
    started = time.monotonic()
    vendor = vendor_of(database)
    out_dir = out_dir.resolve()
    _writable_dir(out_dir)
    now = timezone.now()
    stem = f"headon-backup-{now:%Y%m%dT%H%M%S}Z"
    with tempfile.TemporaryDirectory(prefix=".headon-backup-", dir=out_dir) as staging:
        folder = Path(staging) / stem
        folder.mkdir()
        if vendor == "sqlite":
            db_file = SQLITE_FILE
            migrations, counts = _sqlite_dump(Path(database["NAME"]), folder / db_file)
        else:
            db_file = PG_FILE
            migrations, counts = _pg_dump(database, folder / db_file)
        keys = _copy_keys(data_dir, folder)
        files = [db_file] + [k["file"] for k in keys.values() if "file" in k]
        manifest = {
            "format": FORMAT,
            "headon_version": _headon_version(),
            "created_at": now.isoformat(),
            "database": {"vendor": vendor, "file": db_file},
            "migrations": migrations,
            "row_counts": counts,
            "keys": keys,
            "files": {name: _sha256(folder / name) for name in files},
        }
        (folder / "manifest.json").write_text(json.dumps(manifest, indent=2, sort_keys=True))
        path = out_dir / f"{stem}.tar.gz"
        if path.exists():
            raise BackupError(f"{path} exists already.")
        partial = Path(staging) / f"{stem}.tar.gz"
        # The archive holds the keys: readable by its owner only.
        fd = os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with (
            os.fdopen(fd, "wb") as fh,
            tarfile.open(fileobj=fh, mode="w:gz", compresslevel=COMPRESSLEVEL) as tar,
        ):
            # The manifest first, so a reader meets it before the files.
            for name in ["manifest.json", *files]:
                tar.add(folder / name, arcname=f"{stem}/{name}")
        os.replace(partial, path)
    return BackupReport(path=path, manifest=manifest, seconds=time.monotonic() - started)


# Restore -----------------------------------------------------------------------


def _safe_name(name: str) -> PurePosixPath:
    path = PurePosixPath(name)
    if path.is_absolute() or ".." in path.parts or not path.parts:
        raise BackupError(f"The manifest names an unsafe path: {name!r}.")
    return path


@contextlib.contextmanager
def archive_open(archive: Path, *, work_dir: Path) -> Iterator[tuple[dict[str, Any], Path]]:
    """Unpack the files the manifest lists into a temporary folder in
    `work_dir`, checking each one's SHA-256; yield the manifest and the folder."""
    if not archive.is_file():
        raise BackupError(f"No archive at {archive}.")
    work_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix=".headon-restore-", dir=work_dir) as temp:
        folder = Path(temp)
        try:
            with tarfile.open(archive, "r:gz") as tar:
                members = {m.name: m for m in tar.getmembers() if m.isfile()}
                manifest_name = next((n for n in members if n.endswith("/manifest.json")), None)
                if manifest_name is None:
                    raise BackupError(f"{archive} holds no manifest.json: not a headon backup.")
                prefix = manifest_name.removesuffix("manifest.json")
                manifest = json.load(io.BytesIO(_member_bytes(tar, members[manifest_name])))
                if manifest.get("format") != FORMAT:
                    raise BackupError(f"Unknown backup format {manifest.get('format')!r}.")
                for name, expected in manifest["files"].items():
                    _extract_checked(tar, members.get(prefix + name), name, expected, folder)
        except (tarfile.TarError, zlib.error, OSError, EOFError, ValueError, KeyError) as exc:
            raise BackupError(f"{archive} cannot be read: {exc}") from exc
        yield manifest, folder


def _member_bytes(tar: tarfile.TarFile, member: tarfile.TarInfo) -> bytes:
    fh = tar.extractfile(member)
    if fh is None:
        raise BackupError(f"Cannot read {member.name} from the archive.")
    return fh.read()


def _extract_checked(
    tar: tarfile.TarFile, member: tarfile.TarInfo | None, name: str, expected: str, folder: Path
) -> None:
    if member is None:
        raise BackupError(f"The archive is missing {name}, which its manifest lists.")
    target = folder / _safe_name(name)
    target.parent.mkdir(parents=True, exist_ok=True)
    source = tar.extractfile(member)
    if source is None:
        raise BackupError(f"Cannot read {name} from the archive.")
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    if digest.hexdigest() != expected:
        raise BackupError(
            f"{name} does not match its checksum in the manifest: the archive is damaged."
        )


def _key_plan(
    manifest: dict[str, Any], folder: Path, data_dir: Path
) -> tuple[list[str], list[str]]:
    """Which keys would replace a different key already in `data_dir`, and
    notes for keys that came from the environment."""
    differing, notes = [], []
    for name, entry in manifest["keys"].items():
        if name not in KEYS or entry.get("file", "-") not in {*manifest["files"], "-"}:
            raise BackupError(f"The manifest lists an unknown key or file: {name!r}.")
        variable = KEYS[name]
        if entry["source"] == "environment":
            notes.append(
                f"{name} came from {entry['variable']} when the backup was made and is not in "
                f"the archive: set {entry['variable']} to the same value."
            )
            continue
        if entry["source"] != "file":
            continue
        value = (folder / entry["file"]).read_text().strip()
        current = data_dir / name
        if current.is_file() and current.read_text().strip() != value:
            differing.append(name)
        if (env_value := os.environ.get(variable)) and env_value != value:
            notes.append(f"{variable} is set and differs from the restored {name}; it wins.")
    return differing, notes


def _write_key(source: Path, target: Path) -> None:
    fd, name = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    with os.fdopen(fd, "wb") as out:
        out.write(source.read_bytes())
    os.chmod(name, 0o600)
    os.replace(name, target)


def backup_restore(
    *, archive: Path, database: Mapping[str, Any], data_dir: Path, overwrite: bool
) -> RestoreReport:
    """Restore `archive` into `database` and `data_dir`. Without `overwrite`
    it refuses a database that has tables, and refuses to replace a key that
    differs from the archive's unless the database is empty (a fresh install
    whose keys were generated at start-up and have sealed nothing yet)."""
    vendor = vendor_of(database)
    # SQLite: unpacked beside the database, so the final rename is atomic.
    if vendor == "sqlite":
        work_dir = Path(database["NAME"]).parent
    else:
        work_dir = data_dir if data_dir.is_dir() else Path(tempfile.gettempdir())
    with archive_open(archive, work_dir=work_dir) as (manifest, folder):
        if manifest["database"]["vendor"] != vendor:
            raise BackupError(
                f"The archive holds a {manifest['database']['vendor']} database; "
                f"this site runs on {vendor}."
            )
        empty = (
            _sqlite_is_empty(Path(database["NAME"]))
            if vendor == "sqlite"
            else _pg_is_empty(database)
        )
        differing, notes = _key_plan(manifest, folder, data_dir)
        if not overwrite and not empty:
            problem = "The database is not empty"
            if differing:
                problem += f" and these keys differ from the archive's: {', '.join(differing)}"
            raise BackupError(f"{problem}. Run again with --yes to replace what is there.")
        db_copy = folder / manifest["database"]["file"]
        integrity: str | None = None
        if vendor == "sqlite":
            integrity, counts = _sqlite_restore(db_copy, Path(database["NAME"]))
        else:
            counts = _pg_restore(db_copy, database)
        data_dir.mkdir(parents=True, exist_ok=True)
        for name, entry in manifest["keys"].items():
            if entry["source"] == "file":
                _write_key(folder / entry["file"], data_dir / name)
        if manifest["headon_version"] != _headon_version():
            notes.append(
                f"The backup was made by headon {manifest['headon_version']}, this is "
                f"{_headon_version()}: run `headon migrate`."
            )
        why = " (the database was empty: a new install's key)" if empty else ""
        notes += [f"Replaced the existing {name}{why}." for name in differing]
    return RestoreReport(manifest=manifest, integrity=integrity, counts=counts, notes=notes)
