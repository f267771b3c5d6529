"""The coordinator writes to a group of parties: a form in both languages,
a preview as an English and a Chinese reader would get it with the count,
then the worker sends it (services/messages.py)."""

from __future__ import annotations

from django import forms
from django.contrib import messages as flash
from django.contrib.auth.decorators import login_required, permission_required
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext

from headon.visits.models import Application, Message, Program, Session
from headon.visits.services import messages as service
from headon.visits.views.staff import _actor, _get_program_for_staff

coordinator_required = permission_required("visits.coordinate_visits", raise_exception=True)
HELP = gettext_lazy("{program}, {reference} and {session} are filled in; the link is added.")


class SessionChoice(forms.ModelChoiceField[Session]):
    def label_from_instance(self, obj: Session) -> str:
        return obj.both_label


class MessageForm(forms.Form):
    audience = forms.ChoiceField(label=gettext_lazy("To"), choices=Message.Audience.choices)
    session = SessionChoice(
        label=gettext_lazy("Session"), queryset=Session.objects.none(), required=False
    )
    subject_en = forms.CharField(label=gettext_lazy("Subject (English)"), max_length=120)
    subject_zh = forms.CharField(label=gettext_lazy("Subject (Chinese)"), max_length=120)
    body_en = forms.CharField(
        label=gettext_lazy("Message (English)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=HELP,
    )
    body_zh = forms.CharField(
        label=gettext_lazy("Message (Chinese)"),
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text=HELP,
    )

    def __init__(self, *args: object, program: Program, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self.fields["session"].queryset = program.sessions.order_by("starts_at")  # type: ignore[attr-defined]

    def draft(self) -> service.Draft:
        data = self.cleaned_data
        return service.Draft(
            audience=data["audience"],
            session=data["session"],
            subject_en=data["subject_en"],
            subject_zh=data["subject_zh"],
            body_en=data["body_en"],
            body_zh=data["body_zh"],
        )


def _sample(program: Program, draft: service.Draft, language: str) -> tuple[str, str]:
    """The message as a party reading `language` would get it: an example
    party, so the preview shows no one's data, and no private link."""
    example = Application(
        program=program, reference="ABCD2345", language=language, contact_kind="phone"
    )
    return service.render(draft, example, link=False)


@login_required
@coordinator_required
def program_messages(request: HttpRequest, slug: str) -> HttpResponse:
    """GET: the form and the messages sent. POST: preview, or send."""
    program = _get_program_for_staff(request, slug)
    form = MessageForm(request.POST or None, program=program)
    context: dict[str, object] = {"program": program, "form": form}
    if request.method == "POST" and form.is_valid():
        draft = form.draft()
        try:
            count = service.audience(program, draft.audience, draft.session).count()
            if request.POST.get("step") == "send":
                message = service.message_create(
                    program=program, draft=draft, actor=_actor(request)
                )
                flash.success(
                    request,
                    ngettext(
                        "Sending to %(n)s party.",
                        "Sending to %(n)s parties.",
                        len(message.recipients),
                    )
                    % {"n": len(message.recipients)},
                )
                return redirect("visits_staff:messages", slug=slug)
        except service.MessageError as exc:
            form.add_error(None, str(exc))
        else:
            context |= {
                "count": count,
                "preview_en": _sample(program, draft, "en"),
                "preview_zh": _sample(program, draft, "zh-hans"),
            }
    context["sent"] = program.messages.select_related("session", "created_by")[:20]
    context["link_note"] = _("Each party's private link is added at the end.")
    return render(request, "visits/staff_messages.html", context)
