"""What the benchmarks share: headon on a throwaway data directory (and
PostgreSQL database), served by gunicorn on a free loopback port; the CPU
the server, PostgreSQL and the machine spend; the pieces of a simulated
client (fresh identities, the proof of work); and timing a child process.

`headon()` and `start_server()` run `python -m headon` from this checkout
(its directory as cwd and PYTHONPATH), so a worktree measures its own code.
A server that must answer the ceiling endpoint (bench/views.py) runs with
DJANGO_SETTINGS_MODULE=BENCH_SETTINGS: headon's settings with bench/urls.py
for URLs. The product itself never routes it and never imports bench/.
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import os
import random
import resource
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
PG_ADMIN_URL = "postgres://postgres@127.0.0.1:5432/postgres"
# headon's settings with the ceiling endpoint routed (bench/settings.py).
BENCH_SETTINGS = "bench.settings"


# --- Running headon -------------------------------------------------------------


@dataclass
class Server:
    process: subprocess.Popen[bytes]
    port: int
    env: dict[str, str]
    data_dir: Path
    log_path: Path
    # With --cluster: the cluster (headon.ops.cluster), whose proxy is `port`.
    cluster: Any = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def roots(self) -> list[int]:
        """The pids whose CPU (with their children's) is the server's."""
        if self.cluster is None:
            return [self.process.pid]
        managed = [*self.cluster.web, self.cluster.proxy, *self.cluster.worker]
        return [m.process.pid for m in managed if m.process is not None]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def headon(env: dict[str, str], *args: str, timeout: float = 300) -> str:
    """Run `python -m headon ARGS` in the server's environment; its stdout."""
    result = subprocess.run(
        [sys.executable, "-m", "headon", *args],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if result.returncode != 0:
        raise RuntimeError(f"headon {args[0]} failed:\n{result.stdout}\n{result.stderr}")
    return result.stdout.strip().rsplit("\n", 1)[-1]  # the last line: the JSON a script printed


def pg_database(name: str, *, create: bool) -> None:
    import psycopg

    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            conn.execute(f'CREATE DATABASE "{name}"')


@contextlib.contextmanager
def isolated_headon(db: str, name: str) -> Iterator[tuple[Path, dict[str, str]]]:
    """A throwaway data directory (and PostgreSQL database, for db="postgres")
    and the environment that points headon at them; both gone afterwards."""
    data_dir = Path(tempfile.mkdtemp(prefix=f"headon-bench-{name}-"))
    pg_name = f"headon_bench_{name}_{os.getpid()}"
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADON_", "DATABASE_URL"))}
    env.update(HEADON_DATA_DIR=str(data_dir), HEADON_EMBEDDER="none", PYTHONPATH=str(PROJECT_DIR))
    if db == "postgres":
        pg_database(pg_name, create=True)
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{pg_name}"
    try:
        yield data_dir, env
    finally:
        shutil.rmtree(data_dir, ignore_errors=True)
        if db == "postgres":
            pg_database(pg_name, create=False)


def start_server(args: argparse.Namespace, env: dict[str, str], data_dir: Path) -> Server:
    port = free_port()
    log_path = data_dir / "server.log"
    with log_path.open("wb") as log:
        serve = ["serve", "--bind", f"127.0.0.1:{port}", "--workers", str(args.workers)]
        process = subprocess.Popen(
            [sys.executable, "-m", "headon", *serve, "--threads", str(args.threads)],
            cwd=PROJECT_DIR,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # its own process group, stopped as one
        )
    server = Server(process, port, env, data_dir, log_path)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"server exited:\n{log_path.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return server
        time.sleep(0.2)
    raise RuntimeError("server did not start within 60 s")


def stop_server(server: Server) -> None:
    if server.process.poll() is not None:
        return
    with contextlib.suppress(ProcessLookupError):
        os.killpg(server.process.pid, signal.SIGTERM)
    try:
        server.process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(server.process.pid, signal.SIGKILL)
        server.process.wait(timeout=10)


# --- What the server, PostgreSQL and the machine spend --------------------------


def _proc_ticks(pid: int, children: bool = False) -> int:
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0
    own = int(fields[11]) + int(fields[12])  # utime + stime
    return own + (int(fields[13]) + int(fields[14]) if children else 0)  # + cutime, cstime


def server_cpu_seconds(server: Server) -> float:
    """CPU time of gunicorn's master and workers so far (with --cluster: of
    every web process, the proxy and the job workers)."""
    roots = server.roots()
    pids = list(roots)
    for stat in Path("/proc").glob("[0-9]*/stat"):
        with contextlib.suppress(OSError, IndexError):
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) in roots:
                pids.append(int(stat.parent.name))
    return sum(_proc_ticks(pid) for pid in pids) / os.sysconf("SC_CLK_TCK")


def postgres_cpu_seconds() -> float:
    """CPU time of every PostgreSQL process so far (0 when it is not local).

    A backend that exits takes its time along, except into its parent's
    cutime/cstime: the postmaster's children times keep those."""
    ticks = 0
    for comm in Path("/proc").glob("[0-9]*/comm"):
        with contextlib.suppress(OSError):
            if comm.read_text().strip() == "postgres":
                pid = int(comm.parent.name)
                ppid = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[1]
                postmaster = Path(f"/proc/{ppid}/comm").read_text().strip() != "postgres"
                ticks += _proc_ticks(pid, children=postmaster)
    return ticks / os.sysconf("SC_CLK_TCK")


def machine_busy() -> tuple[float, float]:
    """(busy, total) CPU seconds of the whole machine, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = values[3] + values[4]
    tick = os.sysconf("SC_CLK_TCK")
    return (sum(values) - idle) / tick, sum(values) / tick


def client_cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


# --- A simulated client ---------------------------------------------------------


class StepError(Exception):
    def __init__(self, kind: str) -> None:
        super().__init__(kind)
        self.kind = kind


class Identities:
    """Fresh phones, addresses and ID numbers, never reused within a run."""

    def __init__(self) -> None:
        self.n = 0

    def next(self) -> int:
        self.n += 1
        return self.n

    def phone(self, prefix: str) -> str:
        return f"+86{prefix}{self.next():08d}"

    def address(self) -> str:
        n = self.next()
        return f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"

    def id_number(self) -> str:
        # Imported here, as psycopg and headon.antibot.pow are below: it pulls
        # in cryptography and phonenumbers, 7 MB more in every benchmark's
        # process, the ones draw.py measures the peak memory of included.
        from headon.visits.identity import make_test_id_number

        n = self.next()
        birth = dt.date(1950, 1, 1) + dt.timedelta(days=n // 1000)
        return make_test_id_number(birth=birth, sequence=n % 1000)


def solve_fast(challenge: dict[str, Any]) -> int:
    """pow.solve, with the salt hashed once: the client must stay cheap."""
    import hashlib

    prefix = hashlib.sha256(challenge["salt"].encode())
    target = bytes.fromhex(challenge["challenge"])
    for number in range(int(challenge["maxnumber"]) + 1):
        digest = prefix.copy()
        digest.update(str(number).encode())
        if digest.digest() == target:
            return number
    raise StepError("pow:unsolvable")


def encode_payload(challenge: dict[str, Any], number: int) -> str:
    from headon.antibot.pow import encode_payload as encode

    return encode(challenge, number)


# --- Children and samples -------------------------------------------------------


def run_timed(argv: list[str], env: dict[str, str] | None = None) -> tuple[float, float, str]:
    """(seconds, peak RSS in MB, stdout) of a child process, by GNU time when
    there is one (getrusage's children figure is the largest child so far)."""
    with tempfile.NamedTemporaryFile("r") as report:
        timer = ["/usr/bin/time", "-f", "%M", "-o", report.name]
        if not Path(timer[0]).exists():
            timer = []
        started = time.perf_counter()
        done = subprocess.run(
            [*timer, *argv], env=env, check=True, cwd=PROJECT_DIR, stdout=subprocess.PIPE, text=True
        )
        seconds = time.perf_counter() - started
        lines = report.read().strip().splitlines()
    if timer and lines:
        peak_kb = float(lines[-1])
    else:
        peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, peak_kb / 1024, done.stdout


def sample(rows: list[Any], n: int, seed: int) -> list[Any]:
    """A seeded sample of `n` rows; all of them for n <= 0 or too few rows."""
    if n <= 0 or len(rows) <= n:
        return rows
    return random.Random(seed).sample(rows, n)
