from __future__ import annotations

import logging
import threading
from typing import Any

from django.db import close_old_connections
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

logger = logging.getLogger(__name__)
CLOCK_SECONDS = 60.0


def clock_tick() -> bool:
    """Enqueue what is due by the clock: the night's digest after its
    cut-off. Several workers may enqueue it; the job publishes once."""
    from headon.desk import jobs
    from headon.desk.services.digest import digest_due
    from headon.jobs import enqueue

    if digest_due() is None:
        return False
    enqueue(jobs.publish_due_digest)
    return True


def _clock(stop: threading.Event) -> None:
    while not stop.wait(CLOCK_SECONDS):
        try:
            clock_tick()
        except Exception:
            logger.exception("The worker's clock could not check for due work.")
        finally:
            close_old_connections()


class Command(DatabaseWorkerCommand):
    help = (
        "Run background jobs (digests, notifications, draws) from the database queue. "
        "Run one or more; each job is claimed by exactly one worker. Publishes the "
        "night's digest at its cut-off if nobody has."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        stop = threading.Event()
        thread = threading.Thread(target=_clock, args=(stop,), name="headon-clock", daemon=True)
        thread.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
