from __future__ import annotations

from django.db.models import QuerySet

from headon.visits.models import Program


def published_programs() -> QuerySet[Program]:
    return Program.objects.filter(status=Program.Status.PUBLISHED).order_by("-created_at")


def programs_for_staff() -> QuerySet[Program]:
    return Program.objects.exclude(status=Program.Status.ARCHIVED).order_by("-created_at")
