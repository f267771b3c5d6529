from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from headon.desk.selectors import active_channels
from headon.timezones import organiser_today


@require_safe
def answers_index(request: HttpRequest) -> HttpResponse:
    """The public archive of nightly digests."""
    return render(request, "desk/answers_index.html", {"today": organiser_today()})


@login_required
@permission_required("desk.view_desk", raise_exception=True)
@require_safe
def staff_desk(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "desk/staff_desk.html",
        {"today": organiser_today(), "channels": active_channels()},
    )
