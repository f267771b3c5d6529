"""Background jobs of the answer desk. They take ids and call a service;
each can run twice and do its work once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from django_tasks import task

from headon.desk.digest import formats
from headon.desk.digest import services as digests
from headon.desk.models import ImportRun
from headon.desk.services import answered, imports, learning, lookalikes, merging


@task()
def import_file(run_id: int, path: str) -> int:
    """Import an uploaded file into its run, then place the new asks."""
    run = ImportRun.objects.select_related("channel").get(pk=run_id)
    if run.status != ImportRun.Status.RUNNING:
        return run.added  # done already: a second run of the job adds nothing
    source = Path(path)
    run.file_sha256 = imports.file_sha256(source)
    run.save(update_fields=["file_sha256"])
    # The mapping and encoding chosen on the page, as `--map` and `--encoding`.
    imports.import_file(
        channel=run.channel,
        path=source,
        name=run.file_name,
        run=run,
        mapping=run.mapping or None,
        encoding=run.encoding or None,
    )
    source.unlink(missing_ok=True)
    for day in set(run.channel.asks.filter(import_run=run).values_list("day", flat=True)):
        merging.assign_unassigned(day)
        lookalikes.check_requested(day)
    return run.added


@task()
def recluster_day(day: str) -> int:
    """Merge the day again from scratch, then check its list again."""
    questions = merging.recluster_day(dt.date.fromisoformat(day)).questions
    lookalikes.check_requested(dt.date.fromisoformat(day))
    return questions


@task()
def assign_day(day: str) -> int:
    """Place the day's new asks; a no-op when another run placed them. New
    questions may look answered: the day's list is checked again."""
    placed = merging.assign_unassigned(dt.date.fromisoformat(day))
    if placed:
        lookalikes.check_requested(dt.date.fromisoformat(day))
    return placed


@task()
def publish_due_digest() -> str:
    """Publish the digest whose cut-off has passed, if nobody has: the
    worker's clock enqueues this every minute; extra runs change nothing."""
    due = digests.digest_due()
    if due is None:
        return ""
    revision, created = digests.digest_publish(due, automatic=True)
    if revision is not None:
        for lang in formats.LANGUAGES:
            formats.digest_png(revision, lang)
    return f"{due.isoformat()} r{revision.number if revision else 0}{'' if created else ' (kept)'}"


@task()
def refit_transform() -> int:
    """Learn the organisation's words again from the confirmed nights, after
    a digest is published (services/learning); fits once per history."""
    fitted = learning.transform_refit()
    return fitted.pk if fitted is not None else 0


@task()
def check_answered(day: str) -> int:
    """Store which of the day's open questions look answered; the worker
    alone loads the sentence model for it. Twice at once stores one list."""
    return answered.answered_check(dt.date.fromisoformat(day))
