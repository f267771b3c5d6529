"""headon on more than one process, on loopback: the production shape in small.

    python -m headon.ops.cluster [--webs 2] [--workers 2] [--port 8080]

starts, on 127.0.0.1, `--webs` web processes (`python -m headon serve`, each
its own gunicorn on its own port), a small proxy in front of them, and
`--workers` job workers (`python -m headon worker`), all sharing one fresh
PostgreSQL database and one Redis database (cache and rate limits), then
reads commands from standard input (`help` lists them) until `quit`.

Tests and benchmarks use `Cluster` directly: it hands out the proxy's base
URL and the environment every process runs with, kills a web process or a
worker with SIGKILL and restarts it, and on `stop()` shuts everything down,
drops the database and empties the Redis database. No Django import here:
the processes are headon, this module only runs them.

The proxy works at the connection level, like HAProxy in TCP mode or nginx's
`stream` module: each client connection is piped, bytes as they come, to the
next web process in turn, so keep-alive, request bodies and chunked
responses pass untouched, and a web process that refuses the connection
(it is down) is skipped for the next one. It adds no X-Forwarded-For; a
client that plays the outer HTTP proxy sends one, and the cluster runs with
HEADON_PROXY_COUNT=1 (docs/production.md has the nginx setup for real use).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess  # runs headon processes from argv lists  # nosec B404
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from types import TracebackType
from typing import Any
from urllib.parse import urlsplit, urlunsplit

PROJECT_DIR = Path(__file__).resolve().parents[2]
PG_URL = os.environ.get("HEADON_CLUSTER_PG_URL", "postgres://postgres@127.0.0.1:5432/postgres")
# A Redis database of its own: the cluster empties it when it starts and stops.
REDIS_URL = os.environ.get("HEADON_CLUSTER_REDIS_URL", "redis://127.0.0.1:6379/12")
START_SECONDS = 60.0
CHUNK = 65536


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def database_url(server_url: str, name: str) -> str:
    """`server_url` (any database on the server) pointed at database `name`."""
    return urlunsplit(urlsplit(server_url)._replace(path=f"/{name}"))


def _wait_for_port(port: int, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"exited with {process.returncode}:\n{log.read_text()[-3000:]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.5):
            return
        time.sleep(0.05)
    raise RuntimeError(f"nothing listens on port {port} after {START_SECONDS:.0f} s")


# --- The proxy ---------------------------------------------------------------


@dataclass
class ProxyStats:
    connections: list[int]  # accepted per backend
    refused: list[int]  # connection attempts that failed, per backend
    unavailable: int = 0  # client connections no backend took (answered 502)

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


BAD_GATEWAY = (
    b"HTTP/1.1 502 Bad Gateway\r\nContent-Type: text/plain\r\nContent-Length: 26\r\n"
    b"Connection: close\r\n\r\nNo web process answered.\r\n"
)


class Proxy:
    """Round robin per client connection over `backends`, skipping any that
    refuses the connection."""

    def __init__(self, backends: Sequence[tuple[str, int]]) -> None:
        self.backends = list(backends)
        self.turn = 0
        self.stats = ProxyStats([0] * len(self.backends), [0] * len(self.backends))

    async def _connect(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        first, self.turn = self.turn, self.turn + 1
        for attempt in range(len(self.backends)):
            index = (first + attempt) % len(self.backends)
            try:
                upstream = await asyncio.open_connection(*self.backends[index])
            except OSError:
                self.stats.refused[index] += 1
                continue
            self.stats.connections[index] += 1
            return upstream
        return None

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        upstream = await self._connect()
        if upstream is None:
            self.stats.unavailable += 1
            with contextlib.suppress(OSError):
                writer.write(BAD_GATEWAY)
                await writer.drain()
            writer.close()
            return
        up_reader, up_writer = upstream
        # The request side half-closes (a client may shut its sending side
        # and still wait for the answer); when the web process closes or
        # dies, the client's connection closes with it, so the client sees
        # the failure at once and retries on a new connection.
        await asyncio.gather(
            _pipe(reader, up_writer, half_close=True),
            _pipe(up_reader, writer, half_close=False),
        )
        up_writer.close()
        writer.close()

    async def serve(
        self, host: str, port: int, stop: asyncio.Event, stats_path: Path | None
    ) -> None:
        server = await asyncio.start_server(self.handle, host, port, backlog=1024)
        async with server:
            while not stop.is_set():
                if stats_path is not None:
                    _write_json(stats_path, self.stats.as_dict())
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(stop.wait(), 0.5)
        if stats_path is not None:
            _write_json(stats_path, self.stats.as_dict())


async def _pipe(
    reader: asyncio.StreamReader, writer: asyncio.StreamWriter, *, half_close: bool
) -> None:
    try:
        while data := await reader.read(CHUNK):
            writer.write(data)
            await writer.drain()
    except OSError:
        half_close = False
    if half_close and not writer.is_closing() and writer.can_write_eof():
        with contextlib.suppress(OSError):
            writer.write_eof()
    else:
        writer.close()


def _write_json(path: Path, data: dict[str, Any]) -> None:
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(data))
    partial.replace(path)


def run_proxy(listen: str, backends: Sequence[str], stats_path: Path | None) -> None:
    """Serve until SIGTERM or SIGINT."""
    host, port = listen.rsplit(":", 1)
    targets = [(b.rsplit(":", 1)[0], int(b.rsplit(":", 1)[1])) for b in backends]

    async def main() -> None:
        stop = asyncio.Event()
        loop = asyncio.get_running_loop()
        for signum in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(signum, stop.set)
        await Proxy(targets).serve(host, int(port), stop, stats_path)

    asyncio.run(main())


# --- The processes -------------------------------------------------------------


@dataclass
class Managed:
    """One process of the cluster, in a process group of its own, so that a
    kill reaches gunicorn's master and its workers at once."""

    name: str
    argv: list[str]
    log: Path
    port: int | None = None
    process: subprocess.Popen[bytes] | None = None
    starts: int = 0

    def start(self, env: dict[str, str], *, wait: bool = True) -> None:
        self.starts += 1
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(  # noqa: S603 (argv built here, no shell)  # nosec B603
                self.argv,
                cwd=PROJECT_DIR,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        if wait:
            self.wait()

    def wait(self) -> None:
        """Until it listens on its port (if it has one)."""
        if self.port is not None and self.process is not None:
            try:
                _wait_for_port(self.port, self.process, self.log)
            except RuntimeError as exc:
                raise RuntimeError(f"{self.name}: {exc}") from None

    @property
    def alive(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def signal(self, signum: int) -> None:
        if self.process is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signum)

    def kill(self) -> int:
        """SIGKILL, no chance to clean up; the exit status (-9)."""
        if self.process is None:
            raise RuntimeError(f"{self.name} was never started")
        self.signal(signal.SIGKILL)
        return self.process.wait(timeout=10)

    def reap(self, timeout: float = 15) -> None:
        """Wait for it to exit after SIGTERM; SIGKILL it after `timeout`."""
        if self.process is None:
            return
        try:
            self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.kill()


@dataclass
class Cluster:
    """`webs` web processes behind a proxy, `workers` job workers, one fresh
    PostgreSQL database on the server of `pg_url` and the Redis database of
    `redis_url`. `env` adds to (or overrides) the processes' environment."""

    webs: int = 2
    workers: int = 2
    web_workers: int = 1  # gunicorn workers per web process
    threads: int = 8
    pg_url: str = PG_URL
    redis_url: str = REDIS_URL
    port: int = 0
    env: dict[str, str] = field(default_factory=dict)
    keep: bool = False
    data_dir: Path = field(init=False)
    database: str = field(init=False)
    web: list[Managed] = field(init=False, default_factory=list)
    worker: list[Managed] = field(init=False, default_factory=list)
    proxy: Managed = field(init=False)

    def __post_init__(self) -> None:
        self.data_dir = Path(tempfile.mkdtemp(prefix="headon-cluster-"))
        self.database = f"headon_cluster_{os.getpid()}_{secrets.token_hex(3)}"
        (self.data_dir / "logs").mkdir()
        extra, self.env = (
            self.env,
            {k: v for k, v in os.environ.items() if not k.startswith(("HEADON_", "DATABASE_URL"))},
        )
        self.env.update(
            DATABASE_URL=database_url(self.pg_url, self.database),
            HEADON_REDIS_URL=self.redis_url,
            HEADON_DATA_DIR=str(self.data_dir),
            HEADON_SMS_BACKEND="headon.sms.FileBackend",
            HEADON_SMS_FILE=str(self.sms_file),
            # The proxy adds no X-Forwarded-For: the outer proxy's is the one.
            HEADON_PROXY_COUNT="1",
            HEADON_EMBEDDER="none",
            PYTHONPATH=os.pathsep.join(
                filter(None, [str(PROJECT_DIR), os.environ.get("PYTHONPATH")])
            ),
        )
        self.env.update(extra)

    # Addresses and files

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.proxy.port}"

    @property
    def sms_file(self) -> Path:
        return self.data_dir / "sms.jsonl"

    @property
    def stats_file(self) -> Path:
        return self.data_dir / "proxy-stats.json"

    def proxy_stats(self) -> dict[str, Any]:
        with contextlib.suppress(FileNotFoundError, ValueError):
            stats: dict[str, Any] = json.loads(self.stats_file.read_text())
            return stats
        return {}

    def worker_id(self, index: int) -> str:
        """The id the worker's current run claims jobs with (DBTaskResult.worker_ids)."""
        return f"cluster-worker-{index}-run-{self.worker[index].starts}"

    # Life cycle

    def start(self) -> Cluster:
        try:
            self._start()
        except BaseException:
            self.stop()
            raise
        return self

    def _start(self) -> None:
        self._create_database()
        self._flush_redis()
        self.headon("migrate", "--verbosity", "0")
        for i in range(self.webs):
            port = free_port()
            argv = [sys.executable, "-m", "headon", "serve", "--bind", f"127.0.0.1:{port}"]
            argv += ["--workers", str(self.web_workers), "--threads", str(self.threads)]
            self.web.append(Managed(f"web-{i}", argv, self._log(f"web-{i}"), port))
        port = self.port or free_port()
        argv = [sys.executable, "-m", "headon.ops.cluster", "proxy"]
        argv += ["--listen", f"127.0.0.1:{port}", "--stats", str(self.stats_file)]
        argv += [f"127.0.0.1:{web.port}" for web in self.web]
        self.proxy = Managed("proxy", argv, self._log("proxy"), port)
        for i in range(self.workers):
            self.worker.append(Managed(f"worker-{i}", [], self._log(f"worker-{i}")))
        # Started together: each spends about a second importing Django.
        for managed in [*self.web, self.proxy]:
            managed.start(self.env, wait=False)
        for managed in [*self.web, self.proxy]:
            managed.wait()
        for i in range(self.workers):
            self.restart_worker(i)

    def _log(self, name: str) -> Path:
        return self.data_dir / "logs" / f"{name}.log"

    def stop(self) -> None:
        """Stop every process, then drop the database and empty Redis
        (unless `keep`)."""
        # SIGTERM once (a worker takes a second one as "abandon the job in
        # hand"), to all at once; then wait for each.
        everything = [*self.worker, *self.web, *([self.proxy] if hasattr(self, "proxy") else [])]
        for managed in everything:
            if managed.alive:
                managed.signal(signal.SIGTERM)
        for managed in everything:
            managed.reap()
        if self.keep:
            return
        with contextlib.suppress(Exception):
            self._drop_database()
        with contextlib.suppress(Exception):
            self._flush_redis()
        shutil.rmtree(self.data_dir, ignore_errors=True)

    def __enter__(self) -> Cluster:
        return self.start()

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.stop()

    # Faults

    def holding(self, pid: int) -> tuple[str, int]:
        """Which process holds `pid`: ("web", i), ("worker", i) or ("proxy", 0)."""
        group = os.getpgid(pid)
        for kind, managed in [("web", self.web), ("worker", self.worker), ("proxy", [self.proxy])]:
            for index, one in enumerate(managed):
                if one.process is not None and one.process.pid == group:
                    return kind, index
        raise LookupError(f"pid {pid} is not in the cluster")

    def kill_web(self, index: int) -> int:
        return self.web[index].kill()

    def restart_web(self, index: int) -> None:
        self.web[index].start(self.env)

    def kill_worker(self, index: int) -> int:
        return self.worker[index].kill()

    def restart_worker(self, index: int) -> None:
        worker = self.worker[index]
        worker.argv = [sys.executable, "-m", "headon", "worker", "--interval", "0.2"]
        worker.argv += [
            "--no-startup-delay",
            "--worker-id",
            f"cluster-worker-{index}-run-{worker.starts + 1}",
        ]
        worker.start(self.env)

    # Running headon commands in the cluster's environment

    def headon(self, *args: str, timeout: float = 120) -> str:
        """`python -m headon ARGS` against the cluster's database; its stdout."""
        result = subprocess.run(  # noqa: S603 (no shell)  # nosec B603
            [sys.executable, "-m", "headon", *args],
            cwd=PROJECT_DIR,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(
                f"headon {' '.join(args)[:60]} failed:\n{result.stdout}\n{result.stderr}"
            )
        return result.stdout

    def shell(self, code: str, timeout: float = 120) -> Any:
        """Run Python `code` in `headon shell`; the JSON its last line printed."""
        return json.loads(
            self.headon("shell", "-c", code, timeout=timeout).strip().rsplit("\n", 1)[-1]
        )

    # PostgreSQL and Redis

    def _admin(self) -> Any:
        import psycopg

        return psycopg.connect(
            database_url(self.pg_url, "postgres"), autocommit=True, connect_timeout=5
        )

    def _create_database(self) -> None:
        with self._admin() as conn:
            conn.execute(f'CREATE DATABASE "{self.database}"')

    def _drop_database(self) -> None:
        with self._admin() as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{self.database}" WITH (FORCE)')

    def _flush_redis(self) -> None:
        import redis

        redis.Redis.from_url(self.redis_url, socket_timeout=5).flushdb()


def reachable(pg_url: str = PG_URL, redis_url: str = REDIS_URL) -> str | None:
    """None if PostgreSQL and Redis both answer, else what does not."""
    import psycopg
    import redis

    try:
        psycopg.connect(database_url(pg_url, "postgres"), connect_timeout=5).close()
    except Exception as exc:
        return f"PostgreSQL at {pg_url}: {str(exc).strip() or type(exc).__name__}"
    try:
        redis.Redis.from_url(redis_url, socket_timeout=5, socket_connect_timeout=5).ping()
    except Exception as exc:
        return f"Redis at {redis_url}: {str(exc).strip() or type(exc).__name__}"
    return None


# --- Command line ------------------------------------------------------------------

HELP = """commands:
  kill web N | kill worker N        SIGKILL web process or worker N
  restart web N | restart worker N  start it again
  status                            which processes run; the proxy's counts
  quit                              stop everything, drop the database"""


def _command(cluster: Cluster, line: str) -> bool:
    """Run one interactive command; False on quit."""
    words = line.split()
    if not words:
        return True
    if words[0] in {"quit", "exit"}:
        return False
    if words[0] == "status":
        for managed in [*cluster.web, *cluster.worker, cluster.proxy]:
            code = managed.process.poll() if managed.process else None
            print(f"  {managed.name:<10} {'running' if code is None else f'exited {code}'}")  # noqa: T201
        print(f"  proxy: {cluster.proxy_stats()}")  # noqa: T201
    elif len(words) == 3 and words[0] in {"kill", "restart"} and words[1] in {"web", "worker"}:
        action = getattr(cluster, f"{words[0]}_{words[1]}")
        try:
            result = action(int(words[2]))
        except (ValueError, IndexError, RuntimeError) as exc:
            print(f"  {exc}")  # noqa: T201
        else:
            print(f"  done{'' if result is None else f' (exit status {result})'}")  # noqa: T201
    else:
        print(HELP)  # noqa: T201
    return True


@contextlib.contextmanager
def sigterm_as_interrupt() -> Iterator[None]:
    """SIGTERM raises KeyboardInterrupt here, so `finally` blocks clean up."""

    def interrupt(signum: int, frame: object) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def main(argv: Sequence[str] | None = None) -> None:
    args = list(sys.argv[1:] if argv is None else argv)
    if args[:1] == ["proxy"]:
        parser = argparse.ArgumentParser(prog="headon.ops.cluster proxy")
        parser.add_argument("--listen", required=True, help="host:port")
        parser.add_argument("--stats", type=Path, help="JSON file the counts are kept in")
        parser.add_argument("backends", nargs="+", help="host:port of each web process")
        options = parser.parse_args(args[1:])
        run_proxy(options.listen, options.backends, options.stats)
        return
    parser = argparse.ArgumentParser(
        prog="python -m headon.ops.cluster", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--webs", type=int, default=2)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument(
        "--port", type=int, default=8080, help="the proxy's port (default: %(default)s)"
    )
    parser.add_argument(
        "--pg-url", default=PG_URL, help="a PostgreSQL server (default: %(default)s)"
    )
    parser.add_argument("--redis-url", default=REDIS_URL, help="emptied! (default: %(default)s)")
    parser.add_argument("--keep", action="store_true", help="keep the database and data directory")
    options = parser.parse_args(args)
    cluster = Cluster(
        webs=options.webs,
        workers=options.workers,
        pg_url=options.pg_url,
        redis_url=options.redis_url,
        port=options.port,
        keep=options.keep,
    )
    with sigterm_as_interrupt(), cluster:
        exports = " ".join(
            f"{k}={v}"
            for k, v in sorted(cluster.env.items())
            if k.startswith(("HEADON_", "DATABASE_URL"))
        )
        print(f"headon cluster at {cluster.base_url}/ (logs in {cluster.data_dir / 'logs'})")  # noqa: T201
        print(f"to run a command against it: env {exports} python -m headon createadmin")  # noqa: T201
        print(HELP)  # noqa: T201
        with contextlib.suppress(KeyboardInterrupt, EOFError):
            while _command(cluster, input("cluster> ")):
                pass


if __name__ == "__main__":
    main()
