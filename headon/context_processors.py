from __future__ import annotations

from typing import Any

from django.conf import settings
from django.http import HttpRequest
from django.utils.translation import gettext_lazy as _

# The organiser's zone as people say it, where we know the name.
ZONE_NAMES = {"Asia/Shanghai": _("China Standard Time"), "Asia/Hong_Kong": _("Hong Kong Time")}


def site(request: HttpRequest) -> dict[str, Any]:
    zone = settings.HEADON_TIME_ZONE
    return {"site_name": settings.SITE_NAME, "organiser_time_zone": ZONE_NAMES.get(zone, zone)}
