"""The coordinator's report on a program: the page and its CSV."""

from __future__ import annotations

from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from headon.visits.reports import program_report, report_charts, report_csv
from headon.visits.views.staff import _get_program_for_staff

coordinator_required = permission_required("visits.coordinate_visits", raise_exception=True)


@login_required
@coordinator_required
@require_safe
def report(request: HttpRequest, slug: str) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    data = program_report(program)
    return render(
        request,
        "visits/report.html",
        {"program": program, "report": data, "charts": report_charts(data)},
    )


@login_required
@coordinator_required
@require_safe
def report_csv_download(request: HttpRequest, slug: str) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    response = HttpResponse(
        report_csv(program_report(program)).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{program.slug}-report.csv"'
    return response
