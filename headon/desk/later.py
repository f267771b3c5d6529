"""Work the desk's services hand to the background jobs.

The jobs (`headon.desk.jobs`) are thin entry points that call the services.
A service that wants a job run once its transaction commits asks for it
here, by the job's path, rather than importing the jobs module back:
imports run one way, views and jobs -> services -> this module.
"""

from __future__ import annotations

from headon.jobs import enqueue_named

JOBS = "headon.desk.jobs"


def assign_day(day: str) -> None:
    """Place the day's new asks into questions (an ISO date)."""
    enqueue_named(f"{JOBS}.assign_day", day)


def refit_transform() -> None:
    """Learn the merge transform again from the confirmed history."""
    enqueue_named(f"{JOBS}.refit_transform")


def check_answered(day: str) -> None:
    """Work out again which of the day's open questions look answered (an
    ISO date); ask through `services.lookalikes.check_requested`, which
    queues it once."""
    enqueue_named(f"{JOBS}.check_answered", day)
