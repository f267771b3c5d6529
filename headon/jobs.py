"""Enqueue background jobs so that they run only if the caller's transaction
commits.

With the database backend (the default) the job row is written inside the
caller's transaction: it commits or rolls back with the work it belongs to,
and a crash between the two cannot lose it. A backend with its own store
(Redis) cannot join the transaction, so the job is handed over on commit.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction
from django_tasks import task_backends
from django_tasks.base import Task


def _is_transactional(task: Task[Any, Any]) -> bool:
    return type(task_backends[task.backend]).__module__.startswith("django_tasks_db.")


def enqueue(task: Task[Any, Any], *args: Any, **kwargs: Any) -> None:
    """Enqueue `task` as part of the current transaction, if there is one."""
    if _is_transactional(task) or not transaction.get_connection().in_atomic_block:
        task.enqueue(*args, **kwargs)
    else:
        transaction.on_commit(lambda: task.enqueue(*args, **kwargs))
