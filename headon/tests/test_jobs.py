from __future__ import annotations

import datetime as dt
import io
from typing import Any
from unittest import mock

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase, override_settings
from django_tasks_db.models import DBTaskResult

from headon import mail as mail_module
from headon.jobs import enqueue, heartbeat, requeue_abandoned
from headon.mail import send_email

NOW = dt.datetime(2026, 11, 24, 12, 0, tzinfo=dt.UTC)
DUMMY = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}


class BoomError(Exception):
    pass


@pytest.mark.django_db(transaction=True)
def test_a_job_enqueued_in_a_rolled_back_transaction_never_exists() -> None:
    with pytest.raises(BoomError), transaction.atomic():
        enqueue(send_email, to="a@example.org", subject="s", body="b")
        raise BoomError
    assert DBTaskResult.objects.count() == 0


@pytest.mark.django_db(transaction=True)
def test_a_worker_beats_while_it_runs_and_drops_its_heartbeat_when_it_stops() -> None:
    from headon.ops.models import WorkerHeartbeat

    seen: list[bool] = []

    def send_mail(*args: Any, **kwargs: Any) -> int:
        seen.append(WorkerHeartbeat.objects.filter(worker_id="w-batch").exists())
        return 1

    with transaction.atomic():
        enqueue(send_email, to="a@example.org", subject="s", body="b")
    with mock.patch.object(mail_module, "send_mail", send_mail):
        call_command(
            "worker",
            batch=True,
            no_startup_delay=True,
            reload=False,
            worker_id="w-batch",
            stdout=io.StringIO(),
        )
    assert seen == [True]
    assert not WorkerHeartbeat.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_committed_job_is_run_once_by_the_worker() -> None:
    with transaction.atomic():
        enqueue(send_email, to="a@example.org", subject="Hello 你好", body="b")
    assert DBTaskResult.objects.get().status == "READY"
    call_command("worker", batch=True, no_startup_delay=True, reload=False, stdout=io.StringIO())
    call_command("worker", batch=True, no_startup_delay=True, reload=False, stdout=io.StringIO())
    assert DBTaskResult.objects.get().status == "SUCCESSFUL"
    assert [m.subject for m in mail.outbox] == ["Hello 你好"]


class BrokerBackendTests(TestCase):
    """A backend with its own store cannot join the transaction: the job is
    handed over only once the transaction commits."""

    @override_settings(TASKS=DUMMY)
    def test_the_job_waits_for_the_commit(self) -> None:
        from django_tasks import task_backends

        backend = task_backends["default"]
        backend.clear()  # type: ignore[attr-defined]
        with self.captureOnCommitCallbacks(execute=False) as callbacks, transaction.atomic():
            enqueue(send_email, to="a@example.org", subject="s", body="b")
        self.assertEqual(backend.results, [])  # type: ignore[attr-defined]
        self.assertEqual(len(callbacks), 1)
        callbacks[0]()
        self.assertEqual(len(backend.results), 1)  # type: ignore[attr-defined]


class RequeueTests(TestCase):
    """The jobs of a dead worker go back to the queue (headon.jobs); the
    SIGKILL tests in test_kill.py run the same with real processes."""

    def running(self, *worker_ids: str, started: dt.datetime) -> DBTaskResult[Any, Any]:
        with transaction.atomic():
            enqueue(send_email, to="a@example.org", subject="s", body="b")
        job = DBTaskResult.objects.latest("enqueued_at")
        DBTaskResult.objects.filter(pk=job.pk).update(
            status="RUNNING", worker_ids=list(worker_ids), started_at=started
        )
        return DBTaskResult.objects.get(pk=job.pk)

    @override_settings(HEADON_JOB_LEASE_SECONDS=60)
    def test_the_job_of_a_silent_worker_goes_back_to_the_queue_and_a_live_ones_stays(
        self,
    ) -> None:
        heartbeat("dead", now=NOW - dt.timedelta(seconds=61))
        heartbeat("alive", now=NOW - dt.timedelta(seconds=59))
        started = NOW - dt.timedelta(hours=1)  # a long job, still beating
        dead, alive = self.running("dead", started=started), self.running("alive", started=started)
        self.assertEqual(requeue_abandoned(now=NOW), 1)
        self.assertEqual(DBTaskResult.objects.get(pk=dead.pk).status, "READY")
        self.assertEqual(DBTaskResult.objects.get(pk=alive.pk).status, "RUNNING")
        self.assertEqual(requeue_abandoned(now=NOW), 0)  # once, however many look

    @override_settings(HEADON_JOB_LEASE_SECONDS=60)
    def test_a_worker_restarted_under_its_old_id_gets_its_lost_job_back_at_once(self) -> None:
        heartbeat("fixed-id", now=NOW - dt.timedelta(seconds=5))  # killed 5 s ago
        job = self.running("fixed-id", started=NOW - dt.timedelta(seconds=10))
        self.assertEqual(requeue_abandoned(now=NOW), 0)  # within the lease
        self.assertEqual(requeue_abandoned(now=NOW, starting="fixed-id"), 1)
        self.assertEqual(DBTaskResult.objects.get(pk=job.pk).status, "READY")

    @override_settings(HEADON_JOB_LEASE_SECONDS=60)
    def test_a_worker_without_heartbeat_gets_the_lease_from_the_jobs_start(self) -> None:
        fresh = self.running("db-worker", started=NOW - dt.timedelta(seconds=30))
        stale = self.running("db-worker", started=NOW - dt.timedelta(seconds=90))
        self.assertEqual(requeue_abandoned(now=NOW), 1)
        self.assertEqual(DBTaskResult.objects.get(pk=fresh.pk).status, "RUNNING")
        self.assertEqual(DBTaskResult.objects.get(pk=stale.pk).status, "READY")

    @override_settings(HEADON_JOB_LEASE_SECONDS=60)
    def test_a_job_that_took_down_its_worker_three_times_fails(self) -> None:
        job = self.running("w1", "w2", "w3", started=NOW - dt.timedelta(hours=1))
        self.assertEqual(requeue_abandoned(now=NOW), 0)
        job.refresh_from_db()
        self.assertEqual(job.status, "FAILED")
        self.assertEqual(job.exception_class_path, "headon.jobs.WorkerLostError")
