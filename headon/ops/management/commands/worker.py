from __future__ import annotations

from django_tasks_db.management.commands.db_worker import Command as DatabaseWorkerCommand


class Command(DatabaseWorkerCommand):
    help = (
        "Run background jobs (digests, notifications, draws) from the database queue. "
        "Run one or more; each job is claimed by exactly one worker."
    )
