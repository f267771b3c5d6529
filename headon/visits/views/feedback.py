"""The visitor's feedback page, reached by the private link sent after the visit."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.decorators import login_required, permission_required
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from headon.visits import feedback_report
from headon.visits.models import Feedback, Program
from headon.visits.services import feedback as service
from headon.visits.views.staff import _get_program_for_staff

RATINGS = [
    (1, _("1 · Poor")),
    (2, _("2 · Fair")),
    (3, _("3 · Good")),
    (4, _("4 · Very good")),
    (5, _("5 · Excellent")),
]


class FeedbackForm(forms.Form):
    rating = forms.TypedChoiceField(
        label=_("Overall, how was your visit?"),
        choices=RATINGS,
        coerce=int,
        widget=forms.RadioSelect,
        error_messages={"required": _("Please choose a rating from 1 to 5.")},
    )
    rating_guide = forms.TypedChoiceField(
        label=_("And the guide? (optional)"),
        choices=RATINGS,
        coerce=int,
        empty_value=None,
        required=False,
        widget=forms.RadioSelect,
    )
    comment = forms.CharField(
        label=_("Comments (optional)"),
        max_length=service.MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
    )
    question = forms.CharField(
        label=_("A question for us (optional)"),
        help_text=_("We answer questions in the public answers, without your name."),
        max_length=service.MAX_TEXT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        # The labels are questions and "(optional)" notes above their fields: no colon.
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)


@never_cache
def feedback(request: HttpRequest, ticket_id: int, token: str) -> HttpResponse:
    """The form once; the thanks page after, whatever is posted again."""
    ticket = service.ticket_for_token(ticket_id, token)
    if ticket is None:
        raise Http404
    context = {"ticket": ticket, "session": ticket.session, "program": ticket.session.program}
    if ticket.checked_in_at is None:
        return render(request, "visits/feedback_form.html", context | {"not_visited": True})
    if Feedback.objects.filter(ticket=ticket).exists():
        return render(request, "visits/feedback_thanks.html", context)
    form = FeedbackForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            service.feedback_submit(
                ticket=ticket,
                rating=data["rating"],
                rating_guide=data["rating_guide"],
                comment=data["comment"],
                question=data["question"],
                language=get_language() or "en",
            )
        except service.FeedbackError as exc:
            form.add_error(exc.code if exc.code in form.fields else None, _("Please check this."))
        else:
            return redirect("visits:feedback", ticket_id=ticket.pk, token=token)
    return render(request, "visits/feedback_form.html", context | {"form": form})


coordinator_required = permission_required("visits.coordinate_visits", raise_exception=True)


def _session_filter(request: HttpRequest, program: Program) -> int | None:
    raw = request.GET.get("session", "")
    if raw.isdigit() and len(raw) < 10 and program.sessions.filter(pk=int(raw)).exists():
        return int(raw)
    return None


@login_required
@coordinator_required
@require_safe
def feedback_staff(request: HttpRequest, slug: str) -> HttpResponse:
    """What visitors said, per session: both ratings, comments, questions."""
    program = _get_program_for_staff(request, slug)
    session_id = _session_filter(request, program)
    return render(
        request,
        "visits/staff_feedback.html",
        {
            "program": program,
            "summaries": feedback_report.session_summaries(program),
            "lines": feedback_report.feedback_lines(program, session_id),
            "session_id": session_id,
            "sessions": program.sessions.order_by("starts_at"),
            "can_open_desk": request.user.has_perm("desk.view_desk"),
        },
    )


@login_required
@coordinator_required
@require_safe
def feedback_staff_csv(request: HttpRequest, slug: str) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    lines = feedback_report.feedback_lines(program, _session_filter(request, program))
    response = HttpResponse(
        feedback_report.feedback_csv(lines).encode("utf-8"), content_type="text/csv; charset=utf-8"
    )
    response["Content-Disposition"] = f'attachment; filename="{program.slug}-feedback.csv"'
    return response
