"""Two submissions racing for the same person. Each test runs the race with
a barrier that holds both requests until both have passed the readable
pre-check, so the database constraint alone decides. The control case drops
the constraint and shows that the harness then lets both in."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any
from unittest import mock

from django.db import connection, connections
from django.test import TransactionTestCase

from headon.visits.errors import VisitError
from headon.visits.models import Application, PersonKey
from headon.visits.services import applications as apps
from headon.visits.tests.factories import PHONE, contact, make_program


def race(*calls: Callable[[], Any]) -> list[Any]:
    """Run the calls at once, each in its own thread and connection; return
    each call's result or exception."""
    results: list[Any] = [None] * len(calls)

    def run(n: int) -> None:
        try:
            results[n] = calls[n]()
        except Exception as exc:  # the race reports, the test asserts
            results[n] = exc
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(n,)) for n in range(len(calls))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=30)
    return results


class DoubleSubmitRaceTests(TransactionTestCase):
    def setUp(self) -> None:
        self.program = make_program()
        self.session_ids = [self.program.sessions.first().pk]  # type: ignore[union-attr]
        barrier = threading.Barrier(2, timeout=10)
        original = apps._raise_if_taken

        def checked_then_wait(*args: Any, **kwargs: Any) -> None:
            original(*args, **kwargs)
            barrier.wait()

        patcher = mock.patch.object(apps, "_raise_if_taken", checked_then_wait)
        patcher.start()
        self.addCleanup(patcher.stop)

    def submit(self, phone: str, key: str | None = None) -> Callable[[], apps.Submission]:
        def call() -> apps.Submission:
            return apps.application_submit(
                program=self.program,
                contact=contact(self.program, phone),
                lead=apps.PersonInput(name="Lead"),
                companions=[apps.PersonInput(name="Shared friend", phone="+8613700001111")],
                session_ids=self.session_ids,
                consent=True,
                idempotency_key=key,
            )

        return call

    def test_one_person_leading_two_parties_at_once_makes_one_application(self) -> None:
        """Two tabs, two submission ids, one verified phone. (Naming the same
        companion in two parties is no race since issue 17: a companion
        holds a place only once they confirm, and that is one UPDATE.)"""
        results = race(self.submit(PHONE, key="tab-1"), self.submit(PHONE, key="tab-2"))
        refused = [r for r in results if isinstance(r, VisitError)]
        self.assertEqual(len(refused), 1, results)
        self.assertEqual(refused[0].code, "person_taken")
        self.assertEqual(Application.objects.count(), 1)

    def test_a_double_click_with_one_key_makes_one_application(self) -> None:
        results = race(self.submit(PHONE, key="same"), self.submit(PHONE, key="same"))
        self.assertTrue(all(isinstance(r, apps.Submission) for r in results), results)
        self.assertEqual({r.application.pk for r in results}, {Application.objects.get().pk})
        self.assertEqual(sorted(r.created for r in results), [False, True])

    def test_control_without_the_constraint_the_race_lets_both_in(self) -> None:
        constraint = next(
            c
            for c in PersonKey._meta.constraints
            if c.name == "person_in_one_active_application_per_program"
        )
        with connection.schema_editor() as editor:
            editor.remove_constraint(PersonKey, constraint)
        try:
            results = race(self.submit(PHONE, key="tab-1"), self.submit(PHONE, key="tab-2"))
            self.assertEqual(Application.objects.count(), 2, results)
        finally:
            PersonKey.objects.all().delete()
            with connection.schema_editor() as editor:
                editor.add_constraint(PersonKey, constraint)
