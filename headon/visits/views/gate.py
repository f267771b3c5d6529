"""The gate: pick a session, then check visitors in with a phone.

The check-in page works three ways: the camera scanner (gate-scan.js)
fills the code and submits the form, htmx posts it and swaps in only the
result panel (and the count, out of band); with no camera the code is
typed; with no JavaScript the form posts plainly and the whole page comes
back with the result.
"""

from __future__ import annotations

import datetime as dt
import time

from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from headon.accounts.models import User
from headon.timezones import day_bounds, organiser_today
from headon.visits.models import Program, Session, Ticket
from headon.visits.services import gate as service
from headon.visits.services import offers

gate_staff_required = permission_required("visits.check_in_visitors", raise_exception=True)
GATE_FIELD_MAX = 40
PICKER_LIMIT = 40


def _actor(request: HttpRequest) -> User:
    if not isinstance(request.user, User):  # login_required runs first
        raise PermissionDenied
    return request.user


def _get_session_for_gate(request: HttpRequest, session_id: int) -> Session:
    return get_object_or_404(
        Session.objects.select_related("program").exclude(program__status=Program.Status.ARCHIVED),
        pk=session_id,
    )


def gate_sessions_today_onwards(now: dt.datetime) -> list[tuple[Session, bool]]:
    """Today's and later sessions across programs, each with whether its
    gate is open now; the open ones first, then by start."""
    start_of_today, _end = day_bounds(organiser_today())
    sessions: QuerySet[Session] = (
        Session.objects.select_related("program")
        .filter(status=Session.Status.SCHEDULED, ends_at__gte=start_of_today)
        .exclude(program__status=Program.Status.ARCHIVED)
        .order_by("starts_at")[:PICKER_LIMIT]
    )
    opens = dt.timedelta(minutes=settings.HEADON_GATE_OPENS_MINUTES)
    closes = dt.timedelta(minutes=settings.HEADON_GATE_CLOSES_MINUTES)
    rows = [(s, s.starts_at - opens <= now <= s.ends_at + closes) for s in sessions]
    return sorted(rows, key=lambda row: (not row[1], row[0].starts_at))


@login_required
@gate_staff_required
@require_safe
def gate_home(request: HttpRequest) -> HttpResponse:
    rows = gate_sessions_today_onwards(timezone.now())
    return render(request, "visits/gate_sessions.html", {"rows": rows})


def _page(request: HttpRequest, session: Session, **context: object) -> HttpResponse:
    checked_in, tickets = service.session_counts(session)
    now = timezone.now()
    return render(
        request,
        "visits/gate.html",
        {
            "session": session,
            "session_name": service.session_name(session),
            "checked_in": checked_in,
            "tickets": tickets,
            "gate_name": request.session.get("gate_name", ""),
            "gate_open": service.gate_is_open(session, now),
            "started": now >= session.starts_at,
            "no_shows": service.no_show_count(session),
            "walk_in_free": offers.walk_in_free(session, now)
            if offers.walk_in_open(session, now)
            else 0,
            "walk_ins": offers.walk_in_waiting(session, now),
            **context,
        },
    )


@login_required
@gate_staff_required
def gate_check_in(request: HttpRequest, session_id: int) -> HttpResponse:
    """GET: the check-in page. POST: check one code in; htmx gets the result
    panel and the count, a plain form post the whole page."""
    started = time.perf_counter()
    session = _get_session_for_gate(request, session_id)
    if request.method != "POST":
        return _page(request, session)
    gate = request.POST.get("gate", "").replace("\x00", "").strip()[:GATE_FIELD_MAX]
    if gate != request.session.get("gate_name", ""):
        request.session["gate_name"] = gate  # remembered for this phone's next scans
    result = service.check_in(
        code=request.POST.get("code", ""), session=session, actor=_actor(request), gate=gate
    )
    context = {
        "result": result,
        "session": session,
        "checked_in": result.checked_in,
        "tickets": result.tickets,
    }
    if request.headers.get("HX-Request") == "true":
        response = render(request, "visits/gate_result_swap.html", context)
    else:
        response = _page(request, session, result=result)
    # The time this server spent, for bench/gate.py and the browser's devtools.
    response["Server-Timing"] = f"app;dur={(time.perf_counter() - started) * 1000:.2f}"
    return response


@login_required
@gate_staff_required
@require_safe
def gate_count(request: HttpRequest, session_id: int) -> HttpResponse:
    """The live count, polled by htmx every few seconds."""
    session = _get_session_for_gate(request, session_id)
    checked_in, tickets = service.session_counts(session)
    return render(
        request,
        "visits/gate_count.html",
        {"session": session, "checked_in": checked_in, "tickets": tickets},
    )


@login_required
@gate_staff_required
@require_POST
def gate_undo(request: HttpRequest, session_id: int, ticket_id: int) -> HttpResponse:
    """Take back a mistaken check-in from the result panel."""
    session = _get_session_for_gate(request, session_id)
    ticket = get_object_or_404(Ticket, pk=ticket_id, session=session)
    undone = service.undo_check_in(ticket, _actor(request))
    context = {"session": session, "undone": undone, "undone_ticket": ticket}
    if request.headers.get("HX-Request") == "true":
        checked_in, tickets = service.session_counts(session)
        context |= {"checked_in": checked_in, "tickets": tickets}
        return render(request, "visits/gate_result_swap.html", context)
    return redirect("visits_staff:gate_session", session_id=session.pk)


def _gate_name(request: HttpRequest) -> str:
    return str(request.POST.get("gate", request.session.get("gate_name", "")))


@login_required
@gate_staff_required
@require_POST
@never_cache
def gate_lookup(request: HttpRequest, session_id: int) -> HttpResponse:
    """Find a visitor by reference or name when a code will not scan. A
    POST, so the name typed stays out of URLs and access logs."""
    session = _get_session_for_gate(request, session_id)
    query = request.POST.get("q", "")[:100]
    found = service.lookup(query=query, session=session, actor=_actor(request))
    return _page(request, session, lookup=found, lookup_query=query)


@login_required
@gate_staff_required
@require_POST
@never_cache
def gate_check_in_found(request: HttpRequest, session_id: int, ticket_id: int) -> HttpResponse:
    """Check in a visitor the look-up found."""
    session = _get_session_for_gate(request, session_id)
    ticket = get_object_or_404(
        Ticket.objects.select_related("offer__session", "member"), pk=ticket_id, session=session
    )
    result = service.check_in_found(
        ticket=ticket, session=session, actor=_actor(request), gate=_gate_name(request)
    )
    return _page(request, session, result=result)


@login_required
@gate_staff_required
@require_POST
def gate_no_shows(request: HttpRequest, session_id: int) -> HttpResponse:
    """Mark those who did not come, once the session has started."""
    session = _get_session_for_gate(request, session_id)
    marked = service.mark_no_shows(session=session, actor=_actor(request))
    messages.success(
        request,
        ngettext("%(n)s visitor marked as a no-show.", "%(n)s visitors marked as no-shows.", marked)
        % {"n": marked},
    )
    return redirect("visits_staff:gate_session", session_id=session.pk)


WALK_IN_REFUSALS = {
    "walk_in_closed": lambda: _("Walk-ins are admitted only from 30 minutes before the start."),
    "walk_in_not_waiting": lambda: _("This party is no longer waiting for this session."),
    "walk_in_no_room": lambda: _("The party no longer fits: another gate took the seats."),
}


@login_required
@gate_staff_required
@require_POST
def gate_walk_in(request: HttpRequest, session_id: int, application_id: int) -> HttpResponse:
    """Admit a waiting party that is at the gate into free seats."""
    session = _get_session_for_gate(request, session_id)
    try:
        offer = offers.walk_in_admit(
            session=session,
            application_id=application_id,
            actor=_actor(request),
            gate=_gate_name(request),
        )
    except offers.OfferError as exc:
        messages.error(request, WALK_IN_REFUSALS[exc.code]())
    else:
        messages.success(
            request,
            ngettext(
                "Party %(reference)s admitted and checked in: %(n)s visitor.",
                "Party %(reference)s admitted and checked in: %(n)s visitors.",
                offer.seats,
            )
            % {"reference": offer.application.reference, "n": offer.seats},
        )
    return redirect("visits_staff:gate_session", session_id=session.pk)
