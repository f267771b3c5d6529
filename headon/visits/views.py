from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from headon.visits.selectors import programs_for_staff, published_programs


@require_safe
def programs_index(request: HttpRequest) -> HttpResponse:
    """Open factory days the public can read about and apply for."""
    return render(request, "visits/programs_index.html", {"programs": published_programs()})


@login_required
@permission_required("visits.view_visits", raise_exception=True)
@require_safe
def staff_programs(request: HttpRequest) -> HttpResponse:
    return render(request, "visits/staff_programs.html", {"programs": programs_for_staff()})
