"""Each half's `later.py` names jobs by path; a typo there would only show
when a service first asked for that job, in production. Call every one."""

from __future__ import annotations

import inspect
from types import ModuleType
from unittest import mock

from django.test import SimpleTestCase
from django_tasks.base import Task

from headon.desk import later as desk_later
from headon.jobs import enqueue_named
from headon.visits import later as visits_later


def _requests(module: ModuleType) -> list[str]:
    return [
        name
        for name, function in inspect.getmembers(module, inspect.isfunction)
        if function.__module__ == module.__name__
    ]


class JobsByNameTests(SimpleTestCase):
    def test_every_job_a_service_can_ask_for_exists(self) -> None:
        for module in (desk_later, visits_later):
            for name in _requests(module):
                with (
                    self.subTest(later=f"{module.__name__}.{name}"),
                    mock.patch("headon.jobs.enqueue") as enqueue,
                ):
                    function = getattr(module, name)
                    function(*[1] * len(inspect.signature(function).parameters))
                    job = enqueue.call_args.args[0]
                    self.assertIsInstance(job, Task)
                    self.assertEqual(job.name, name)

    def test_a_name_that_is_not_a_job_is_refused(self) -> None:
        with self.assertRaises(ImportError):
            enqueue_named("headon.visits.jobs.no_such_job", 1)
        with self.assertRaises(TypeError):
            enqueue_named("headon.visits.jobs.Offer", 1)
