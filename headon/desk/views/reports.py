"""The desk's report for the staff: the last thirty days in charts."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from headon.desk.reports import dashboard as figures
from headon.desk.views.staff import desk_required


@login_required
@desk_required
@require_safe
def dashboard(request: HttpRequest) -> HttpResponse:
    """Charts for the staff: the desk's last thirty days."""
    return render(request, "desk/dashboard.html", figures())
