"""Enqueue background jobs so that they run only if the caller's transaction
commits.

With the database backend (the default) the job row is written inside the
caller's transaction: it commits or rolls back with the work it belongs to,
and a crash between the two cannot lose it. A backend with its own store
(Redis) cannot join the transaction, so the job is handed over on commit.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone
from django.utils.module_loading import import_string
from django_tasks import task_backends
from django_tasks.base import Task, TaskResultStatus

logger = logging.getLogger(__name__)


def _is_transactional(task: Task[Any, Any]) -> bool:
    return type(task_backends[task.backend]).__module__.startswith("django_tasks_db.")


def enqueue(task: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    """Enqueue `task` as part of the current transaction, if there is one."""
    if _is_transactional(task) or not transaction.get_connection().in_atomic_block:
        task.enqueue(*args, **kwargs)
    else:
        transaction.on_commit(lambda: task.enqueue(*args, **kwargs))


def enqueue_named(path: str, *args: Any) -> None:
    """Enqueue the job at `path` ("module.function") like `enqueue`.

    For services (through each half's `later` module): they must not import
    the jobs modules, which import them."""
    job = import_string(path)
    if not isinstance(job, Task):
        raise TypeError(f"{path} is not a job")
    enqueue(job, *args)


# Jobs of dead workers -------------------------------------------------------
#
# django-tasks-db claims a job by setting it RUNNING in a transaction of its
# own, then runs it. A worker killed while running a job (SIGKILL, OOM, a
# lost machine) leaves the job RUNNING for ever: nobody runs it again. So
# each `headon worker` writes a heartbeat every few seconds, and every live
# worker puts back in the queue the RUNNING jobs whose worker has been silent
# for HEADON_JOB_LEASE_SECONDS. The job runs again from the start: what the
# crash cut short was rolled back with its transaction, and jobs are
# idempotent (STYLE.md rule 8), so it does its work once.

# A job that took down its worker this many times is failed, not retried:
# the next attempt would probably kill a worker again.
MAX_ATTEMPTS = 3
# Heartbeats of workers gone this long are deleted.
FORGET_AFTER = dt.timedelta(days=1)


class WorkerLostError(Exception):
    """Recorded on a job whose workers died running it MAX_ATTEMPTS times."""


def beat_seconds() -> float:
    """How often a worker shows it is alive: four beats per lease."""
    return max(0.25, min(30.0, settings.HEADON_JOB_LEASE_SECONDS / 4))


def heartbeat(worker_id: str, *, now: dt.datetime | None = None) -> None:
    from headon.ops.models import WorkerHeartbeat

    at = now or timezone.now()
    if not WorkerHeartbeat.objects.filter(worker_id=worker_id).update(seen_at=at):
        WorkerHeartbeat.objects.get_or_create(worker_id=worker_id, defaults={"seen_at": at})


def heartbeat_stop(worker_id: str) -> None:
    from headon.ops.models import WorkerHeartbeat

    WorkerHeartbeat.objects.filter(worker_id=worker_id).delete()


def requeue_abandoned(*, now: dt.datetime | None = None, starting: str = "") -> int:
    """Put the jobs of dead workers back in the queue; the number put back.

    A worker's last sign of life is its heartbeat or, for a worker that
    keeps none (django-tasks-db's own `db_worker`), the job's start. Each
    job is put back with an UPDATE conditional on it still being RUNNING
    since the same start: if another worker requeued and claimed it
    meanwhile, its `started_at` changed and this UPDATE matches nothing.

    `starting` is the id of a worker that is starting now: a job still
    RUNNING under that id was left by its previous run (a worker restarted
    under a fixed id, say by systemd, before its lease ran out), since a
    worker that has not started yet runs nothing. It goes back at once.
    """
    from django_tasks_db.models import DBTaskResult

    from headon.ops.models import WorkerHeartbeat

    at = now or timezone.now()
    stale = at - dt.timedelta(seconds=settings.HEADON_JOB_LEASE_SECONDS)
    WorkerHeartbeat.objects.filter(seen_at__lt=at - FORGET_AFTER).delete()
    seen = dict(WorkerHeartbeat.objects.values_list("worker_id", "seen_at"))
    requeued = 0
    # No index on status: a scan of the job table, every few seconds per
    # worker. Finished jobs should be pruned (`prune_db_task_results`).
    for job in DBTaskResult.objects.running().only("id", "worker_ids", "started_at"):
        last = job.worker_ids[-1] if job.worker_ids else ""
        if last != starting and seen.get(last, job.started_at) >= stale:
            continue  # its worker is alive, or may be
        same_run = DBTaskResult.objects.filter(
            pk=job.pk, status=TaskResultStatus.RUNNING, started_at=job.started_at
        )
        if len(job.worker_ids) >= MAX_ATTEMPTS:
            failed = same_run.update(
                status=TaskResultStatus.FAILED,
                finished_at=at,
                exception_class_path=f"{__name__}.{WorkerLostError.__name__}",
                traceback=f"Its worker died while running it, {len(job.worker_ids)} times.\n",
            )
            if failed:
                logger.error("Job %s failed: its workers died running it.", job.pk)
            continue
        if same_run.update(status=TaskResultStatus.READY):
            logger.warning("Job %s is back in the queue: worker %s died running it.", job.pk, last)
            requeued += 1
    return requeued
