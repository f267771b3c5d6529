"""Pages for the public: the program, the application steps, the receipt."""

from __future__ import annotations

import uuid

from django.contrib import messages
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_POST, require_safe

from headon.links import site_host
from headon.visits import guards
from headon.visits.errors import VisitError
from headon.visits.forms import ApplicationForm, CodeForm, ContactForm
from headon.visits.ical import program_calendar
from headon.visits.models import Application, Offer, Program, WaitlistEntry
from headon.visits.selectors import open_sessions, public_program, published_programs
from headon.visits.services import applications as apps
from headon.visits.services import companions, verification
from headon.visits.visitors import party_answers

SESSION_PENDING = "visits-pending-contact"
SESSION_VERIFIED = "visits-verified"


@require_safe
def programs_index(request: HttpRequest) -> HttpResponse:
    """Open factory days the public can read about and apply for."""
    return render(request, "visits/programs_index.html", {"programs": published_programs()})


@require_safe
def program_detail(request: HttpRequest, slug: str) -> HttpResponse:
    program = public_program(slug)
    return render(
        request,
        "visits/program_detail.html",
        {"program": program, "sessions": open_sessions(program), "window": program.window_state()},
    )


@require_safe
def program_calendar_feed(request: HttpRequest, slug: str) -> HttpResponse:
    program = public_program(slug)
    body = program_calendar(
        program, program.sessions.order_by("starts_at"), host=site_host(), now=timezone.now()
    )
    response = HttpResponse(body, content_type="text/calendar; charset=utf-8")
    response["Content-Disposition"] = f'inline; filename="{program.slug}.ics"'
    return response


def _refusal(request: HttpRequest, program: Program, error: VisitError) -> HttpResponse:
    return render(
        request, "visits/refused.html", {"program": program, "message": error.message}, status=409
    )


@never_cache
def apply_contact(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 1: the phone or e-mail address that gets a one-time code."""
    program = public_program(slug)
    try:
        apps.check_window(program)
    except VisitError as exc:
        return _refusal(request, program, exc)
    form = ContactForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        channel = form.channel
        try:
            destination = verification.normalise_destination(
                channel, form.cleaned_data["destination"]
            )
            guards.code_request_allowed(request, destination)
            verification.code_request(program=program, channel=channel, destination=destination)
        except VisitError as exc:
            form.add_error("destination", exc.message)
        else:
            request.session[SESSION_PENDING] = {"p": program.pk, "c": channel, "d": destination}
            return redirect("visits:apply_verify", slug=program.slug)
    return render(request, "visits/apply_contact.html", {"program": program, "form": form})


@never_cache
def apply_verify(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 2: the code."""
    program = public_program(slug)
    pending = request.session.get(SESSION_PENDING)
    if not pending or pending.get("p") != program.pk:
        return redirect("visits:apply", slug=program.slug)
    form = CodeForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            guards.code_verify_allowed(request)
            token = verification.code_verify(
                program=program,
                channel=pending["c"],
                destination=pending["d"],
                code=form.cleaned_data["code"],
            )
        except VisitError as exc:
            form.add_error("code", exc.message)
        else:
            request.session[SESSION_VERIFIED] = token
            request.session.pop(SESSION_PENDING, None)
            return redirect("visits:apply_form", slug=program.slug)
    return render(
        request,
        "visits/apply_verify.html",
        {"program": program, "form": form, "destination": pending["d"], "channel": pending["c"]},
    )


@never_cache
def apply_form(request: HttpRequest, slug: str) -> HttpResponse:
    """Step 3: the party, the choices and consent."""
    program = public_program(slug)
    try:
        contact = verification.verified_contact(
            request.session.get(SESSION_VERIFIED, ""), program=program
        )
    except VisitError:
        messages.info(request, _("Please verify your mobile phone number first."))
        return redirect("visits:apply", slug=program.slug)
    earlier = apps.application_of_contact(program, contact)
    if request.method == "GET" and earlier is not None:
        # Verified again with an application made: a lost link, not a second
        # party. (A POST goes on: a retried submission finds its application.)
        token = apps.application_relink(application=earlier)
        messages.success(
            request,
            _(
                "You have applied already: here is your application, with a new private "
                "link (also sent to you). The old link no longer works."
            ),
        )
        return redirect(
            "visits:application", slug=program.slug, reference=earlier.reference, token=token
        )
    sessions = list(open_sessions(program))
    data = request.POST if request.method == "POST" else None
    # Named as a companion somewhere: said (never whose), with a way out.
    naming = companions.namings_of(program, contact)
    # A fresh id per rendered form: a double click or a browser retry sends
    # the same id again and finds the first application.
    form = ApplicationForm(
        data, program=program, sessions=sessions, initial={"submission_id": uuid.uuid4().hex}
    )
    if request.method == "POST" and form.is_valid():
        try:
            guards.submit_allowed(request)
            submission = apps.application_submit(
                program=program,
                contact=contact,
                lead=form.lead(),
                companions=form.companions(),
                session_ids=form.session_ids(),
                consent=form.cleaned_data["consent"],
                language=get_language() or "en",
                idempotency_key=f"web:{form.cleaned_data['submission_id']}"
                if form.cleaned_data["submission_id"]
                else None,
                extras=form.extras(),
            )
        except VisitError as exc:
            exc.position = form.row_of(exc.position)  # as the form numbers its rows
            form.add_error(form.field_name_for(exc.field, exc.position), exc.message)
        else:
            if submission.created:
                messages.success(
                    request,
                    _("Your application is in. Keep this page's address: it is your private link."),
                )
            return redirect(
                "visits:application",
                slug=program.slug,
                reference=submission.application.reference,
                token=submission.token,
            )
    return render(
        request,
        "visits/apply_form.html",
        {
            "program": program,
            "form": form,
            "contact": contact,
            "sessions": sessions,
            "naming": naming,
        },
    )


@never_cache
@require_POST
def apply_leave(request: HttpRequest, slug: str) -> HttpResponse:
    """A person who verified their phone leaves every party that names them
    as a companion; each lead is told."""
    program = public_program(slug)
    try:
        contact = verification.verified_contact(
            request.session.get(SESSION_VERIFIED, ""), program=program
        )
        companions.companion_leave(program=program, contact=contact)
    except VisitError as exc:
        return _refusal(request, program, exc)
    messages.success(request, _("You are no longer in any other party for this program."))
    return redirect("visits:apply_form", slug=program.slug)


@never_cache
def companion(request: HttpRequest, slug: str, member_id: int, token: str) -> HttpResponse:
    """The page a named companion's SMS links to: confirm or decline."""
    member = companions.member_for_token(member_id, token)
    if member is None or member.application.program.slug != slug:
        raise Http404
    program = member.application.program
    error = None
    if request.method == "POST":
        try:
            if request.POST.get("answer") == "decline":
                companions.companion_decline(member=member)
                messages.success(request, _("You declined. The person who named you is told."))
                return redirect("visits:program", slug=slug)
            member = companions.companion_confirm(member=member)
        except VisitError as exc:
            error = exc.message
        else:
            messages.success(request, _("Thank you: you are in the party."))
            return redirect("visits:companion", slug=slug, member_id=member.pk, token=token)
    return render(
        request,
        "visits/companion.html",
        {
            "program": program,
            "member": member,
            "lead": member.application.members.get(position=0),
            "choices": member.application.choices.select_related("session"),
            "error": error,
            "can_answer": program.is_accepting(),
        },
        status=409 if error else 200,
    )


@never_cache
@require_POST
def companion_resend(
    request: HttpRequest, slug: str, reference: str, token: str, position: int
) -> HttpResponse:
    """The lead sends a waiting companion's message again."""
    application = _application_or_404(slug, reference, token)
    try:
        companions.companion_resend(application=application, position=position)
    except VisitError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, _("The message is sent again."))
    return redirect("visits:application", slug=slug, reference=application.reference, token=token)


def _application_or_404(slug: str, reference: str, token: str) -> Application:
    application = apps.application_for_token(reference, token)
    if application is None or application.program.slug != slug:
        raise Http404
    return application


@never_cache
@require_safe
def application_detail(request: HttpRequest, slug: str, reference: str, token: str) -> HttpResponse:
    """The receipt and private page of one application."""
    application = _application_or_404(slug, reference, token)
    members = list(application.members.all())
    return render(
        request,
        "visits/application_detail.html",
        {
            "program": application.program,
            "application": application,
            "members": members,
            "waiting": any(m.is_waiting for m in members),
            "choices": application.choices.select_related("session"),
            "can_change": application.is_active and application.program.is_accepting(),
            "token": token,
            "offer": Offer.objects.filter(application=application)
            .select_related("session")
            .first(),
            "waitlist": WaitlistEntry.objects.filter(
                application=application, status=WaitlistEntry.Status.WAITING
            ).first(),
            "answers": party_answers(application.program, application),
        },
    )


@never_cache
@require_POST
def application_relink(request: HttpRequest, slug: str, reference: str, token: str) -> HttpResponse:
    """A new private link, for a party that fears its link leaked; the old
    one stops working at once."""
    application = _application_or_404(slug, reference, token)
    new = apps.application_relink(application=application)
    messages.success(
        request,
        _("This is your new private link (also sent to you). The old one no longer works."),
    )
    return redirect("visits:application", slug=slug, reference=application.reference, token=new)


@never_cache
def application_edit(request: HttpRequest, slug: str, reference: str, token: str) -> HttpResponse:
    application = _application_or_404(slug, reference, token)
    program = application.program
    try:
        if not application.is_active:
            raise VisitError("application_withdrawn")
        apps.check_window(program)
    except VisitError as exc:
        return _refusal(request, program, exc)
    sessions = list(open_sessions(program))
    form = ApplicationForm(
        request.POST or None,
        program=program,
        sessions=sessions,
        initial=_initial(application),
        emergency_on_file=application.emergency_phone_masked,
    )
    if request.method == "POST" and form.is_valid():
        try:
            # One limit for creating and changing: either is a probe.
            guards.submit_allowed(request)
            apps.application_change(
                application=application,
                lead=form.lead(),
                companions=form.companions(),
                session_ids=form.session_ids(),
                extras=form.extras(),
            )
        except VisitError as exc:
            exc.position = form.row_of(exc.position)  # as the form numbers its rows
            form.add_error(form.field_name_for(exc.field, exc.position), exc.message)
        else:
            messages.success(request, _("Your application is changed."))
            return redirect(
                "visits:application", slug=slug, reference=application.reference, token=token
            )
    return render(
        request,
        "visits/apply_form.html",
        {"program": program, "form": form, "application": application, "editing": True},
    )


def _initial(application: Application) -> dict[str, object]:
    """The change form filled with what is on file, but the phones and ID
    numbers: they are sealed, and typed again."""
    members = list(application.members.all())
    initial: dict[str, object] = {
        "lead_name": members[0].name,
        "lead_birth_date": members[0].birth_date,
        "accessibility_needs": application.accessibility_needs,
        "emergency_name": application.emergency_name,
    }
    for member in members[1:]:
        initial[f"companion_{member.position}_name"] = member.name
        initial[f"companion_{member.position}_birth_date"] = member.birth_date
    for choice in application.choices.all():
        initial[f"choice_{choice.rank}"] = choice.session_id
    for answer in application.answers if isinstance(application.answers, list) else []:
        if isinstance(answer, dict):
            initial[f"answer_{answer.get('q')}"] = answer.get("c", answer.get("a", ""))
    return initial


@require_POST
def application_withdraw(
    request: HttpRequest, slug: str, reference: str, token: str
) -> HttpResponse:
    application = _application_or_404(slug, reference, token)
    try:
        apps.application_withdraw(application=application)
    except VisitError as exc:
        return _refusal(request, application.program, exc)
    messages.success(request, _("Your application is withdrawn."))
    return redirect(reverse("visits:application", args=[slug, application.reference, token]))
