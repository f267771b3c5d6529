"""The draw's pages: the public commitment and record with the verifier,
the coordinator's commit/seal/run page, and the applicant's offer and
tickets behind their private link."""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from headon.desk.digest.services import night_of
from headon.links import absolute, site_host
from headon.visits import beacon, later
from headon.visits import tickets as ticket_core
from headon.visits.ical import ticket_calendar
from headon.visits.models import Draw, Offer, Program, WaitlistEntry
from headon.visits.services import draws, offers
from headon.visits.services.tickets import public_key, short_code
from headon.visits.views.public import _application_or_404
from headon.visits.views.staff import _actor, _get_program_for_staff

coordinator_required = permission_required("visits.coordinate_visits", raise_exception=True)
# The standalone checkers anyone may download and read before trusting them.
VERIFIER = Path(__file__).resolve().parent.parent / "verify_draw.py"
TICKET_VERIFIER = VERIFIER.with_name("verify_ticket.py")


def _public_program(slug: str) -> Program:
    return get_object_or_404(
        Program.objects.exclude(status=Program.Status.DRAFT).select_related("draw"), slug=slug
    )


@cache
def verifier_sha256() -> str:
    """What docs/draw.md also publishes, so a copy from anywhere can be checked."""
    return hashlib.sha256(VERIFIER.read_bytes()).hexdigest()


def public_line(program: Program, draw: Draw) -> str:
    """One line with what the draw committed to and sealed, for anyone to
    post or timestamp elsewhere: a time for it that the organiser does not
    control."""
    parts = [
        f"headon draw {absolute(f'/visits/{program.slug}/draw/')}:",
        f"{draw.algorithm} {draw.mechanism} tiers={'on' if draw.tiers else 'off'}",
        f"beacon=drand-quicknet+{draw.beacon_offset}",
        f"commitment={draw.commitment or 'none'}",
    ]
    if draw.sealed_hash and draw.closed_at and draw.beacon_round:
        parts += [
            f"sealed={draw.sealed_hash}",
            f"at={int(draw.closed_at.timestamp())}",
            f"round={draw.beacon_round}",
        ]
    return " ".join(parts)


@require_safe
def draw_page(request: HttpRequest, slug: str) -> HttpResponse:
    """What anyone can check: the commitment before close, the sealed hash
    and the beacon round at the seal, the record after the draw."""
    program = _public_program(slug)
    draw = getattr(program, "draw", None)
    is_v2 = draw is not None and draw.algorithm != "headon-draw-v1"
    return render(
        request,
        "visits/draw.html",
        {
            "program": program,
            "draw": draw,
            "is_v2": is_v2,
            "line": public_line(program, draw) if draw is not None and is_v2 else "",
            "page_url": absolute(f"/visits/{program.slug}/draw/"),
            "round_due": (
                beacon.round_time(draw.beacon_round) if draw and draw.beacon_round else None
            ),
            "round_url": (
                beacon.URL + str(draw.beacon_round) if draw and draw.beacon_round else ""
            ),
            "verifier_sha256": verifier_sha256(),
            # The nights whose answer digest dates the commitment and the seal.
            "committed_night": night_of(draw.committed_at) if draw else None,
            "sealed_night": night_of(draw.closed_at) if draw and draw.closed_at else None,
            "offered": (
                sum(1 for s in (draw.record or {}).get("outcome", {}).values() if s)
                if draw and draw.record
                else 0
            ),
        },
    )


@require_safe
def draw_record(request: HttpRequest, slug: str) -> JsonResponse:
    program = _public_program(slug)
    draw = getattr(program, "draw", None)
    if draw is None or draw.stage != Draw.Stage.DONE:
        raise Http404
    response = JsonResponse(draw.record, json_dumps_params={"separators": (",", ":")})
    response["Content-Disposition"] = f'attachment; filename="{program.slug}-draw-record.json"'
    return response


def _script(path: Path) -> HttpResponse:
    response = HttpResponse(path.read_bytes(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{path.name}"'
    return response


@require_safe
def verifier_script(request: HttpRequest) -> HttpResponse:
    return _script(VERIFIER)


@require_safe
def ticket_verifier_script(request: HttpRequest) -> HttpResponse:
    """verify_ticket.py: checks a ticket against key.pem, offline."""
    return _script(TICKET_VERIFIER)


@require_safe
def ticket_public_key(request: HttpRequest) -> HttpResponse:
    """The key that checks every ticket offline."""
    return HttpResponse(
        ticket_core.public_key_pem(public_key()), content_type="application/x-pem-file"
    )


class CommitForm(forms.Form):
    source = forms.ChoiceField(label=gettext_lazy("Seed source"), choices=Draw.Source.choices)
    beacon_offset = forms.IntegerField(
        label=gettext_lazy("Beacon round: rounds after the seal"),
        min_value=1,
        max_value=28_800,
        initial=100,
        help_text=gettext_lazy(
            "The draw uses the first drand quicknet round at or after the seal, plus this"
            " many (one every 3 seconds: 100 is 5 minutes)."
        ),
    )
    mechanism = forms.ChoiceField(label=gettext_lazy("Mechanism"), choices=Draw.Mechanism.choices)
    tiers = forms.BooleanField(label=gettext_lazy("Priority tiers"), required=False)


@login_required
@coordinator_required
def draw_staff(request: HttpRequest, slug: str) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    draw = Draw.objects.filter(program=program).first()
    form = CommitForm(request.POST or None)
    if request.method == "POST":
        action = request.POST.get("action")
        try:
            if action == "commit":
                if not form.is_valid():
                    raise draws.DrawStepError(
                        _("Choose a seed source, a beacon round and a mechanism.")
                    )
                draws.draw_commit(
                    program=program,
                    source=form.cleaned_data["source"],
                    beacon_offset=form.cleaned_data["beacon_offset"],
                    mechanism=form.cleaned_data["mechanism"],
                    tiers=form.cleaned_data["tiers"],
                    actor=_actor(request),
                )
                messages.success(request, _("Committed. The commitment is public now."))
            elif action == "close_now":
                draws.applications_close_now(program=program, actor=_actor(request))
                messages.success(request, _("Applications are closed."))
            elif action == "close":
                draws.draw_close(program=program, actor=_actor(request))
                messages.success(request, _("The application list is sealed and its hash public."))
            elif action == "promote":
                later.promote_program(program.pk)
                messages.success(
                    request, _("Free seats are being offered to the waitlist, in draw order.")
                )
            elif action == "run":
                draws.draw_run(
                    program=program,
                    actor=_actor(request),
                    beacon_value=request.POST.get("beacon_value", ""),
                )
                messages.success(request, _("Drawn. Offers are on their way."))
            else:
                raise Http404
        except draws.DrawStepError as exc:
            messages.error(request, str(exc))
        return redirect("visits_staff:draw", slug=program.slug)
    return render(
        request,
        "visits/draw_staff.html",
        {
            "program": program,
            "draw": draw,
            "form": form,
            "closed": bool(
                program.applications_close_at and timezone.now() >= program.applications_close_at
            ),
            "round_due": (
                beacon.round_time(draw.beacon_round) if draw and draw.beacon_round else None
            ),
            "round_url": (
                beacon.URL + str(draw.beacon_round) if draw and draw.beacon_round else ""
            ),
            "offers": Offer.objects.filter(session__program=program).count(),
            "waiting": WaitlistEntry.objects.filter(
                program=program, status=WaitlistEntry.Status.WAITING
            ).count(),
        },
    )


@never_cache
@require_POST
def offer_respond(request: HttpRequest, slug: str, reference: str, token: str) -> HttpResponse:
    """The applicant confirms or declines their place."""
    application = _application_or_404(slug, reference, token)
    offer = Offer.objects.filter(application=application).select_related("session").first()
    if offer is None:
        raise Http404
    try:
        if request.POST.get("answer") == "confirm":
            offers.offer_confirm(offer)
            messages.success(request, _("Confirmed. Your tickets are below."))
        elif request.POST.get("answer") == "decline":
            offers.offer_decline(offer)
            messages.success(request, _("Declined. The place goes to the next party waiting."))
        else:
            raise Http404
    except offers.OfferError as exc:
        messages.error(
            request,
            {
                "offer_closed": _("This offer is no longer open."),
                "offer_lapsed": _("The time to confirm has passed."),
                "session_started": _("The visit has started; it can no longer be declined."),
            }.get(exc.code, _("This cannot be done now.")),
        )
    return redirect("visits:application", slug=slug, reference=reference, token=token)


@never_cache
@require_safe
def application_tickets(
    request: HttpRequest, slug: str, reference: str, token: str
) -> HttpResponse:
    """Each visitor's ticket: the QR code to show at the gate, and the code."""
    application = _application_or_404(slug, reference, token)
    offer = Offer.objects.filter(application=application, status=Offer.Status.CONFIRMED).first()
    if offer is None:
        raise Http404
    rows = [
        {
            "ticket": ticket,
            "qr": ticket_core.qr_svg(ticket.code, label=_("Ticket QR code")),
            "typed": ticket_core.format_code(ticket.code),
            "short": short_code(ticket),
        }
        for ticket in offer.tickets.filter(void_at__isnull=True)
        .select_related("member", "session")
        .order_by("member__position")
    ]
    return render(
        request,
        "visits/tickets.html",
        {
            "program": application.program,
            "application": application,
            "offer": offer,
            "rows": rows,
            "token": token,
        },
    )


@never_cache
@require_safe
def application_tickets_ics(
    request: HttpRequest, slug: str, reference: str, token: str
) -> HttpResponse:
    application = _application_or_404(slug, reference, token)
    offer = (
        Offer.objects.filter(application=application, status=Offer.Status.CONFIRMED)
        .select_related("session")
        .first()
    )
    if offer is None:
        raise Http404
    body = ticket_calendar(application.program, offer, host=site_host(), now=timezone.now())
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{application.reference}.ics"'
    return response
