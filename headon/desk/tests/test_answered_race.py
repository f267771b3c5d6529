"""Two runs of the "Already answered?" check at once (the worker's clock
and a "Check again", or two workers): both store, one after the other,
and one set of rows is left. A barrier holds both runs until both have
worked out their list, so both write at the same moment. The control
takes the row lock away and shows the harness then catches the clash."""

from __future__ import annotations

import datetime as dt
import threading
from typing import Any
from unittest import mock

from django.db import IntegrityError, connection
from django.test import TransactionTestCase, override_settings, skipUnlessDBFeature

from headon.desk.models import Answer, AnsweredCheck, AnsweredLookalike, Question
from headon.desk.services import answered
from headon.visits.tests.test_races import race

DAY = dt.date(2026, 12, 3)
AT = dt.datetime(2026, 12, 3, 4, 0, tzinfo=dt.UTC)


@override_settings(HEADON_EMBEDDER=["none"])
class TwoChecksAtOnceTests(TransactionTestCase):
    def setUp(self) -> None:
        answer = Answer.objects.create()
        questions = [Question.objects.create(text=f"q{n}") for n in range(3)]
        found = [answered.LooksAnswered(q, answer, 0.9) for q in questions]
        barrier = threading.Barrier(2, timeout=10)

        def worked_out(*args: Any, **kwargs: Any) -> list[answered.LooksAnswered]:
            barrier.wait()  # both have read; now both write
            return found

        patcher = mock.patch.object(answered, "looks_answered", worked_out)
        patcher.start()
        self.addCleanup(patcher.stop)

    def run_twice(self) -> list[Any]:
        return race(
            lambda: answered.answered_check(DAY, now=AT),
            lambda: answered.answered_check(DAY, now=AT),
        )

    def test_two_runs_at_once_leave_one_set_of_rows(self) -> None:
        results = self.run_twice()
        self.assertEqual(sorted(r for r in results if isinstance(r, int)), [3, 3], results)
        self.assertEqual(AnsweredLookalike.objects.count(), 3)
        self.assertEqual(AnsweredCheck.objects.get(day=DAY).checked_at, AT)

    @skipUnlessDBFeature("has_select_for_update")
    def test_the_control_without_the_row_lock_the_runs_clash(self) -> None:
        """PostgreSQL only: SQLite's IMMEDIATE transactions take turns anyway.

        Without the lock, each run deletes the day's rows and then inserts
        its own. A second barrier holds both runs between the two, so both
        have deleted before either inserts: left to the scheduler, on a busy
        machine one run could finish before the other deleted, and then the
        later run simply replaced the rows and nothing clashed."""
        self.assertEqual(connection.vendor, "postgresql")
        both_deleted = threading.Barrier(2, timeout=10)
        insert = AnsweredLookalike.objects.bulk_create

        def insert_together(*args: Any, **kwargs: Any) -> Any:
            both_deleted.wait()
            return insert(*args, **kwargs)

        with (
            mock.patch.object(answered, "_locked", lambda day: AnsweredCheck.objects.get(day=day)),
            mock.patch.object(AnsweredLookalike.objects, "bulk_create", insert_together),
        ):
            results = self.run_twice()
        self.assertTrue(any(isinstance(r, IntegrityError) for r in results), results)
