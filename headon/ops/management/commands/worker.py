from __future__ import annotations

import contextlib
import logging
import threading
import time
from typing import Any

from django.db import DatabaseError, close_old_connections
from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand

from headon import jobs

logger = logging.getLogger(__name__)
CLOCK_SECONDS = 60.0


_invited: set[int] = set()


def clock_tick() -> bool:
    """Enqueue what is due by the clock: the night's digest after its
    cut-off, lapsing offers past their deadline, reminders a day before a
    visit and before an offer lapses, feedback invitations after a visit.
    Several workers may enqueue the same; each job does it once."""
    import datetime as dt

    from django.utils import timezone

    from headon.desk import jobs
    from headon.desk.digest.services import digest_due
    from headon.jobs import enqueue
    from headon.visits import jobs as visit_jobs
    from headon.visits.models import Offer, Session

    now = timezone.now()
    enqueued = False
    if digest_due() is not None:
        enqueue(jobs.publish_due_digest)
        enqueued = True
    if Offer.objects.filter(status=Offer.Status.OFFERED, deadline__lt=now).exists():
        enqueue(visit_jobs.lapse_offers)
        enqueued = True
    for session_id in (
        Session.objects.filter(
            ends_at__lte=now,
            ends_at__gt=now - dt.timedelta(days=1),
            tickets__checked_in_at__isnull=False,
        )
        .values_list("pk", flat=True)
        .distinct()
    ):
        if session_id not in _invited:
            _invited.add(session_id)
            enqueue(visit_jobs.invite_feedback, session_id)
            enqueued = True
    from headon.visits.services.reminders import expiring_unreminded, visits_unreminded

    if visits_unreminded(now):
        enqueue(visit_jobs.remind_visits)
        enqueued = True
    if expiring_unreminded(now):
        enqueue(visit_jobs.remind_expiring_offers)
        enqueued = True
    from headon.antibot import store
    from headon.visits.services.retention import programs_due

    store.purge()  # expired rate-limit counters and spent challenges
    if programs_due(now):
        enqueue(visit_jobs.erase_personal_data)
        enqueued = True
    return enqueued


def _clock(stop: threading.Event, worker_id: str) -> None:
    """Beat (headon.jobs.heartbeat) and requeue dead workers' jobs a few
    times per lease; enqueue what is due every CLOCK_SECONDS."""
    next_tick = time.monotonic() + CLOCK_SECONDS
    while not stop.wait(jobs.beat_seconds()):
        try:
            jobs.heartbeat(worker_id)
            jobs.requeue_abandoned()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + CLOCK_SECONDS
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
    requires_migrations_checks = True  # as serve: say so before running on an old schema

    def handle(self, *args: Any, **options: Any) -> None:
        worker_id = options["worker_id"]
        # Alive before the first claim, and dead workers' jobs back in the
        # queue before looking for work.
        jobs.requeue_abandoned(starting=worker_id)
        jobs.heartbeat(worker_id)
        stop = threading.Event()
        thread = threading.Thread(
            target=_clock, args=(stop, worker_id), name="headon-clock", daemon=True
        )
        thread.start()
        try:
            super().handle(*args, **options)
        finally:
            stop.set()
            thread.join(timeout=5)
            # Gone cleanly: no need to wait out the lease. (If the database
            # is gone too, the lease will do.)
            with contextlib.suppress(DatabaseError):
                jobs.heartbeat_stop(worker_id)
