from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _


class WorkerHeartbeat(models.Model):
    """A job worker's last sign of life. A worker writes its row every few
    seconds; the jobs of a worker whose row went stale are put back in the
    queue (headon.jobs.requeue_abandoned)."""

    # The id the worker claims jobs with (DBTaskResult.worker_ids).
    worker_id = models.CharField(max_length=64, primary_key=True)
    seen_at = models.DateTimeField()

    class Meta:
        verbose_name = _("worker heartbeat")
        verbose_name_plural = _("worker heartbeats")

    def __str__(self) -> str:
        return f"{self.worker_id} {self.seen_at.isoformat()}"
