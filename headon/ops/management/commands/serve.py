from __future__ import annotations

import subprocess  # starts the worker from an argv list  # nosec B404
import sys
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandParser
from gunicorn.app.base import BaseApplication

from headon.wsgi import application


class _Gunicorn(BaseApplication):  # type: ignore[misc]
    def __init__(self, options: dict[str, Any]) -> None:
        self.options = options
        super().__init__()

    def load_config(self) -> None:
        for key, value in self.options.items():
            self.cfg.set(key, value)

    def load(self) -> Any:
        return application


class Command(BaseCommand):
    help = "Serve headon over HTTP with gunicorn, optionally with a job worker beside it."
    # Say so before serving a database that misses migrations (as runserver
    # does): every page that counts a rate limit would answer 503.
    requires_migrations_checks = True

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind", default="127.0.0.1:8000", help="address:port (default: %(default)s)"
        )
        parser.add_argument(
            "--workers", type=int, default=2, help="web processes (default: %(default)s)"
        )
        parser.add_argument(
            "--threads", type=int, default=4, help="threads per web process (default: %(default)s)"
        )
        parser.add_argument(
            "--with-worker",
            action="store_true",
            help="also start one background job worker, stopped with the server",
        )

    def handle(
        self, *args: Any, bind: str, workers: int, threads: int, with_worker: bool, **options: Any
    ) -> None:
        worker = None
        if with_worker:
            # `python -m headon worker`, so the worker runs in this environment.
            worker = subprocess.Popen(  # our own argv, no shell  # nosec B603
                [sys.executable, "-m", "headon", "worker", "--verbosity", "1"]
            )
        self.stdout.write(f"headon is serving at http://{bind}/ (data in {settings.DATA_DIR})")
        try:
            _Gunicorn(
                {
                    "bind": bind,
                    "workers": workers,
                    "threads": threads,
                    # Answers 503 at once past saturation (headon/ops/shedding.py).
                    "worker_class": "headon.ops.shedding.SheddingWorker",
                    "accesslog": "-",
                    # Private links' tokens never reach the access log.
                    "logger_class": "headon.ops.accesslog.RedactingLogger",
                    "errorlog": "-",
                    "graceful_timeout": 10,
                    # gunicorn 27's control socket is one path per user: every
                    # `headon serve` on a machine would claim the same one.
                    "control_socket_disable": True,
                    "timeout": 60,
                }
            ).run()
        finally:
            if worker is not None:
                worker.terminate()
                worker.wait(timeout=15)
