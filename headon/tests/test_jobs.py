from __future__ import annotations

import io

import pytest
from django.core import mail
from django.core.management import call_command
from django.db import transaction
from django.test import TestCase, override_settings
from django_tasks_db.models import DBTaskResult

from headon.jobs import enqueue
from headon.mail import send_email

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
