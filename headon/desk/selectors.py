from __future__ import annotations

from django.db.models import QuerySet

from headon.desk.models import Channel


def active_channels() -> QuerySet[Channel]:
    return Channel.objects.filter(is_active=True).order_by("name")
