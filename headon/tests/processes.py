"""Real headon processes for the crash tests (test_kill.py): a gunicorn
server, job workers and one-off commands, run as `python -m headon ...` on
the suite's test database, and an HTTP applicant that goes through the
whole public flow (proof of work, one-time code, application) with nothing
but the standard library.

The processes get the test run's keys through the environment, so tokens
and sealed identities mean the same in them and in the test; and each its
own data directory (SMS file, pause markers, logs). SQLite finds the test
database through a symbolic link named as the data directory's default
database: SQLite resolves the link, so the WAL and lock files are the test
database's own, and the processes run with headon's real SQLite settings.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from django.conf import settings
from django.db import connection

from headon.antibot.pow import encode_payload

START_SECONDS = 60.0
CODE_RE = re.compile(r"\b(\d{6})\b")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def headon_env(data_dir: Path, **extra: str) -> dict[str, str]:
    """The environment of a headon process on the test database."""
    data_dir.mkdir(parents=True, exist_ok=True)
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADON_", "DATABASE_URL"))}
    database = connection.settings_dict
    if connection.vendor == "sqlite":
        link = data_dir / "headon.sqlite3"
        if not link.exists():
            link.symlink_to(Path(database["NAME"]).resolve())
    else:
        user = database["USER"] or "postgres"
        password = f":{database['PASSWORD']}" if database.get("PASSWORD") else ""
        host = f"{database['HOST'] or '127.0.0.1'}:{database['PORT'] or 5432}"
        env["DATABASE_URL"] = f"postgres://{user}{password}@{host}/{database['NAME']}"
    env.update(
        HEADON_DATA_DIR=str(data_dir),
        HEADON_SECRET_KEY=settings.SECRET_KEY,
        HEADON_IDENTITY_KEY=settings.IDENTITY_KEY,
        HEADON_TICKET_KEY=settings.TICKET_KEY,
        HEADON_EMBEDDER="none",
        HEADON_SMS_BACKEND="headon.sms.FileBackend",
        HEADON_SMS_FILE=str(data_dir / "sms.jsonl"),
        HEADON_FAULT_DIR=str(data_dir),
        # Cheap proof of work; each applicant comes from its own address
        # behind one trusted proxy, so per-address limits never bite.
        HEADON_POW_MAX_NUMBER="50",
        HEADON_PROXY_COUNT="1",
        PYTHONPATH=str(settings.PROJECT_DIR),
        PYTHONUNBUFFERED="1",
    )
    env.update(extra)
    return env


@dataclass
class Process:
    """A headon process in its own process group, logging to a file."""

    popen: subprocess.Popen[bytes]
    log_path: Path
    port: int = 0

    @property
    def pid(self) -> int:
        return self.popen.pid

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def kill(self) -> None:
        """SIGKILL the whole group (a server's master, its workers and a
        worker started beside it): nothing runs a cleanup."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)
        self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.popen.pid, signal.SIGTERM)
            try:
                self.popen.wait(timeout=15)
            except subprocess.TimeoutExpired:
                self.kill()
        # Children left behind by a killed master (none expected) go too.
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.popen.pid, signal.SIGKILL)


def start(env: dict[str, str], *args: str, name: str) -> Process:
    log_path = Path(env["HEADON_DATA_DIR"]) / f"{name}.log"
    with log_path.open("ab") as log:
        popen = subprocess.Popen(
            [sys.executable, "-m", "headon", *args],
            cwd=settings.PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, killed as one
        )
    return Process(popen, log_path)


def start_server(env: dict[str, str], *, workers: int = 2, with_worker: bool = False) -> Process:
    port = free_port()
    args = ["serve", "--bind", f"127.0.0.1:{port}", "--workers", str(workers), "--threads", "4"]
    process = start(env, *args, *(["--with-worker"] if with_worker else []), name="server")
    process.port = port
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.popen.poll() is not None:
            raise RuntimeError(f"the server exited:\n{process.log()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return process
        time.sleep(0.1)
    process.kill()
    raise RuntimeError(f"the server did not start in {START_SECONDS:.0f} s")


def start_worker(env: dict[str, str], worker_id: str) -> Process:
    args = ["worker", "--worker-id", worker_id, "--interval", "0.1", "--no-startup-delay"]
    return start(env, *args, "--no-reload", name=worker_id)


def run_headon(env: dict[str, str], *args: str, timeout: float = 60) -> str:
    result = subprocess.run(
        [sys.executable, "-m", "headon", *args],
        cwd=settings.PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"headon {' '.join(args)} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout


def paused_at(env: dict[str, str], point: str, process: Process | None = None) -> dict[str, Any]:
    """Wait until a process pauses at `point` (headon.faults); its marker:
    the paused process's pid and the detail it left."""
    marker = Path(env["HEADON_FAULT_DIR"]) / point
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        with contextlib.suppress(OSError, ValueError):
            found: dict[str, Any] = json.loads(marker.read_text())
            return found  # written and closed: it parses
        if process is not None and process.popen.poll() is not None:
            raise RuntimeError(f"exited before pausing at {point}:\n{process.log()[-3000:]}")
        time.sleep(0.02)
    raise RuntimeError(f"nothing paused at {point} in {START_SECONDS:.0f} s")


def group_gone(pgid: int) -> bool:
    """No process of the group is left (killed and reaped)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False


def wait_for(condition: Any, *, timeout: float = START_SECONDS, what: str = "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what or condition}")
        time.sleep(0.05)


# --- An applicant over HTTP ---------------------------------------------------


class SmsInbox:
    """Follows the server's SMS file (headon.sms.FileBackend); each thread
    waits for the code sent to its phone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.codes: dict[str, str] = {}
        self.messages: list[dict[str, str]] = []
        self.changed = threading.Condition()

    def _read(self) -> None:
        with contextlib.suppress(FileNotFoundError), self.path.open("rb") as fh:
            fh.seek(self.offset)
            chunk = fh.read()
            self.offset += len(chunk)
            *lines, self.partial = (self.partial + chunk).split(b"\n")
            for line in lines:
                message = json.loads(line)
                self.messages.append(message)
                if match := CODE_RE.search(message["body"]):
                    self.codes[message["to"]] = match[1]

    def code_for(self, phone: str, timeout: float = 20) -> str:
        deadline = time.monotonic() + timeout
        with self.changed:
            while phone not in self.codes:
                if time.monotonic() > deadline:
                    raise AssertionError(f"no code reached {phone}")
                self._read()
                if phone not in self.codes:
                    self.changed.wait(0.005)
            return self.codes.pop(phone)

    def all(self) -> list[dict[str, str]]:
        with self.changed:
            self._read()
            return list(self.messages)


class HttpError(Exception):
    def __init__(self, status: int, body: bytes) -> None:
        super().__init__(f"HTTP {status}: {body[:300]!r}")
        self.status = status


@dataclass
class Receipt:
    reference: str = ""
    access_token: str = ""
    party_size: int = 0
    # The submission went out: without an answer, it may or may not be stored.
    submitted: bool = False
    error: str = ""


@dataclass
class Client:
    """One keep-alive connection, used by one thread at a time."""

    port: int
    address: str
    conn: http.client.HTTPConnection = field(init=False)
    used: float = 0.0

    def __post_init__(self) -> None:
        self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=60)

    def call(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
    ) -> tuple[int, dict[str, Any]]:
        data = json.dumps(body).encode() if body is not None else None
        sent = {"X-Forwarded-For": self.address, "Content-Type": "application/json"}
        if time.monotonic() - self.used > 1.0:
            # gunicorn closes a connection idle for 2 s; a request sent as it
            # does so fails. Browsers retry those; this client reconnects.
            self.conn.close()
        try:
            self.conn.request(method, path, body=data, headers={**sent, **(headers or {})})
            response = self.conn.getresponse()
            raw = response.read()
        except (http.client.HTTPException, OSError):
            self.conn.close()  # a fresh connection next time
            raise
        self.used = time.monotonic()
        return response.status, json.loads(raw) if raw else {}

    def expect(self, status: int, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        got, data = self.call(method, path, **kwargs)
        if got != status:
            raise HttpError(got, json.dumps(data).encode())
        return data

    def pow(self, scope: str) -> str:
        challenge = self.expect(200, "GET", f"/antibot/challenge/{scope}")
        prefix = hashlib.sha256(challenge["salt"].encode())
        for number in range(int(challenge["maxnumber"]) + 1):
            digest = prefix.copy()
            digest.update(str(number).encode())
            if digest.hexdigest() == challenge["challenge"]:
                return encode_payload(challenge, number)
        raise AssertionError("unsolvable challenge")

    def close(self) -> None:
        self.conn.close()


def application_body(n: int, sessions: list[int]) -> dict[str, Any]:
    """Party n: one to three people (a companion by phone, one by phone and
    ID number), one to three ranked choices; the same n, the same party."""
    from headon.visits.identity import make_test_id_number

    size = 1 + n % 3
    companions: list[dict[str, str]] = []
    if size >= 2:
        companions.append({"name": f"Companion {n}a", "phone": f"+86137{n:08d}"})
    if size >= 3:
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=n // 1000)
        id_number = make_test_id_number(birth=birth, sequence=n % 1000)
        companions.append(
            {"name": f"Companion {n}b", "phone": f"+86136{n:08d}", "id_number": id_number}
        )
    choices = [sessions[(n + k) % len(sessions)] for k in range(1 + n % min(3, len(sessions)))]
    return {"lead": {"name": f"Lead {n}"}, "companions": companions, "choices": choices}


def verify(client: Client, inbox: SmsInbox, slug: str, n: int) -> str:
    """Applicant n asks for a code, reads it and verifies it: the token."""
    api = f"/api/v1/programs/{slug}"
    contact = {"channel": "phone", "destination": f"+86138{n:08d}"}
    client.expect(202, "POST", f"{api}/codes", body={**contact, "pow": client.pow("visits-code")})
    code = inbox.code_for(contact["destination"])
    verified = client.expect(200, "POST", f"{api}/codes/verify", body={**contact, "code": code})
    return str(verified["verification_token"])


def submit(
    client: Client, slug: str, n: int, sessions: list[int], token: str, key: str
) -> tuple[int, dict[str, Any]]:
    body = {
        **application_body(n, sessions),
        "verification_token": token,
        "consent": True,
        "pow": client.pow("visits-apply"),
    }
    return client.call(
        "POST", f"/api/v1/programs/{slug}/applications", body=body, headers={"Idempotency-Key": key}
    )


def apply(
    client: Client, inbox: SmsInbox, slug: str, n: int, sessions: list[int], receipt: Receipt
) -> Receipt:
    """Applicant n through the whole public flow; fills `receipt`."""
    token = verify(client, inbox, slug, n)
    receipt.submitted = True
    status, made = submit(client, slug, n, sessions, token, f"kill-{n}")
    if status != 201:
        raise HttpError(status, json.dumps(made).encode())
    receipt.reference = made["reference"]
    receipt.access_token = made["access_token"]
    receipt.party_size = made["party_size"]
    return receipt


def address(n: int) -> str:
    return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"
