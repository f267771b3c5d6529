"""The coordinator's applications and visitors: the searchable list, a
party's page with its history, and each session's gate list (CSV and print).

Everything here needs `visits.coordinate_visits`; showing a phone or ID
number in clear also needs `visits.reveal_personal_data`, and each reveal is
a POST that is logged before the page shows anything (services/visitors.py).
"""

from __future__ import annotations

import csv
import io

from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from headon.timezones import organiser_tz
from headon.visits import visitors
from headon.visits.models import Application, Offer, Program, Session
from headon.visits.reports import spreadsheet_safe
from headon.visits.services import offers
from headon.visits.services import visitors as service
from headon.visits.views.staff import _actor, _get_program_for_staff

coordinator_required = permission_required("visits.coordinate_visits", raise_exception=True)


@login_required
@coordinator_required
@require_safe
@never_cache
def applications(request: HttpRequest, slug: str) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    filters = visitors.parse_filters(request.GET.dict(), program)
    page, rows = visitors.application_page(program, filters, request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "visits/staff_applications.html",
        {
            "program": program,
            "filters": filters,
            "statuses": visitors.STATUSES.items(),
            "sessions": program.sessions.order_by("starts_at"),
            "page": page,
            "rows": rows,
            "query": query.urlencode(),
        },
    )


@login_required
@coordinator_required
@require_http_methods(["GET", "HEAD", "POST"])
@never_cache
def party(request: HttpRequest, slug: str, reference: str) -> HttpResponse:
    """GET: the party, masked. POST: the same page with its phone and ID
    numbers in clear, for a role that may see them; logged."""
    program = _get_program_for_staff(request, slug)
    application = get_object_or_404(
        Application.objects.select_related("offer__session", "waitlist"),
        program=program,
        reference=reference.upper()[:12],
    )
    revealed = None
    contact = emergency_phone = ""
    may_reveal = request.user.has_perm("visits.reveal_personal_data")
    if request.method == "POST":
        contact, revealed, emergency_phone = service.party_reveal(
            application=application, actor=_actor(request), request=request
        )
    drawn = visitors._drawn(program)
    status = visitors.status_of(application, drawn=drawn)
    members = application.members.order_by("position").select_related("ticket")
    return render(
        request,
        "visits/staff_party.html",
        {
            "program": program,
            "application": application,
            "status": visitors.STATUSES[status],
            "waitlist_position": (
                application.waitlist.position if status == "waitlisted" else None
            ),
            "choices": application.choices.select_related("session").order_by("rank"),
            "members": members,
            "history": visitors.party_history(application),
            "may_reveal": may_reveal,
            "revealed": revealed,
            "contact": contact,
            "emergency_phone": emergency_phone or application.emergency_phone_masked,
            "ages": visitors.party_ages(application, list(members)),
            "answers": visitors.party_answers(program, application),
        },
    )


def _session(request: HttpRequest, slug: str, session_id: int) -> Session:
    program = _get_program_for_staff(request, slug)
    return get_object_or_404(
        Session.objects.select_related("program"), program=program, pk=session_id
    )


def gate_list_columns(program: Program | None = None) -> list[str]:
    columns = [
        _("Reference"),
        _("Party"),
        _("Name"),
        _("Phone"),
        _("ID number"),
        _("Ticket"),
        _("Checked in"),
        _("No-show"),
    ]
    if program is None:
        return columns
    # What the program asks, for the gate and security (decision 26).
    if program.asks_birth_dates:
        columns.append(_("Under 18"))
    if program.ask_accessibility:
        columns.append(_("Accessibility needs"))
    if program.ask_emergency_contact:
        columns.append(_("Emergency contact"))
    return columns + visitors.answer_columns(program)


def _extra_cells(program: Program, line: visitors.GateLine) -> list[str]:
    cells = []
    if program.asks_birth_dates:
        cells.append("" if line.minor is None else _("yes") if line.minor else _("no"))
    if program.ask_accessibility:
        cells.append(line.accessibility_needs)
    if program.ask_emergency_contact:
        cells.append(line.emergency)
    return cells + list(line.answers)


def _local(moment: object) -> str:
    if moment is None:
        return ""
    return timezone.localtime(moment, organiser_tz()).strftime("%H:%M")  # type: ignore[arg-type]


def gate_list_csv_text(session: Session, lines: list[visitors.GateLine]) -> str:
    """A BOM, then a heading row naming the session in English and in
    Chinese (a cell each: the list is passed on to whoever keeps the gate),
    then the columns."""
    out = io.StringIO()
    out.write("\ufeff")
    writer = csv.writer(out)
    program = session.program
    writer.writerow(
        [
            spreadsheet_safe(
                f"{program.title_en or program.title_zh} · {session.full_label_in('en')}"
            ),
            spreadsheet_safe(
                f"{program.title_zh or program.title_en} · {session.full_label_in('zh-hans')}"
            ),
        ]
    )
    writer.writerow(gate_list_columns(program))
    for line in lines:
        writer.writerow(
            [
                spreadsheet_safe(cell)
                for cell in (
                    line.reference,
                    _("%(position)s of %(size)s")
                    % {"position": line.position, "size": line.party_size},
                    line.name,
                    line.phone,
                    line.id_number,
                    str(line.ticket_id),
                    _local(line.checked_in_at),
                    _("yes") if line.no_show else "",
                    *_extra_cells(program, line),
                )
            ]
        )
    return out.getvalue()


@login_required
@coordinator_required
@require_safe
@never_cache
def gate_list_csv(request: HttpRequest, slug: str, session_id: int) -> HttpResponse:
    session = _session(request, slug, session_id)
    lines = visitors.gate_list(session)
    service.gate_list_exported(
        session=session, actor=_actor(request), kind="csv", rows=len(lines), request=request
    )
    response = HttpResponse(
        gate_list_csv_text(session, lines).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    start = timezone.localtime(session.starts_at, organiser_tz()).strftime("%Y%m%d-%H%M")
    name = f"{session.program.slug}-{start}-visitors.csv"
    response["Content-Disposition"] = f'attachment; filename="{name}"'
    return response


@login_required
@coordinator_required
@require_safe
@never_cache
def gate_list_print(request: HttpRequest, slug: str, session_id: int) -> HttpResponse:
    session = _session(request, slug, session_id)
    lines = visitors.gate_list(session)
    service.gate_list_exported(
        session=session, actor=_actor(request), kind="print", rows=len(lines), request=request
    )
    return render(
        request,
        "visits/staff_gate_list.html",
        {
            "program": session.program,
            "session": session,
            "lines": lines,
            "people": len(lines),
            "printed_at": timezone.now(),
            # The print has the gate's extra columns; the answers are in the CSV.
            "columns": 6
            + sum(
                [
                    session.program.asks_birth_dates,
                    session.program.ask_accessibility,
                    session.program.ask_emergency_contact,
                ]
            ),
        },
    )


@login_required
@coordinator_required
@require_POST
def offer_extend(request: HttpRequest, slug: str, offer_id: int) -> HttpResponse:
    """Give a party more time to confirm its place."""
    program = _get_program_for_staff(request, slug)
    offer = get_object_or_404(
        Offer.objects.select_related("session", "application"),
        pk=offer_id,
        session__program=program,
    )
    raw = request.POST.get("hours", "")
    hours = int(raw) if raw.isdigit() and len(raw) < 5 else 0
    try:
        offer = offers.offer_extend(offer=offer, hours=hours, actor=_actor(request))
    except offers.OfferError as exc:
        messages.error(
            request,
            {
                "offer_closed": _("This offer is no longer waiting for an answer."),
                "session_started": _("The visit has started."),
            }.get(exc.code, _("Give between 1 hour and 14 days.")),
        )
    else:
        messages.success(
            request,
            _("%(reference)s now has until %(deadline)s to confirm.")
            % {
                "reference": offer.application.reference,
                "deadline": timezone.localtime(offer.deadline, organiser_tz()).strftime(
                    "%Y-%m-%d %H:%M"
                ),
            },
        )
    return redirect("visits_staff:program", slug=slug)
