"""The triage console: the day's questions, corrections with an undo, and
imports of exported comments."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import Any

from django import forms
from django.conf import settings
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy, ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from headon.accounts.models import User
from headon.desk import jobs
from headon.desk.models import Ask, Channel, ImportRun, Question, SetAside, TriageAction
from headon.desk.reports import trend_sparkline
from headon.desk.selectors import (
    DayOverview,
    active_channels,
    day_overview,
    learned_transform,
    public_titles,
    recent_actions,
    recent_imports,
    review_queue,
)
from headon.desk.services import answers as answering
from headon.desk.services import setaside, triage
from headon.desk.services.imports import stream_to_disk
from headon.desk.spam import spam_score
from headon.jobs import enqueue
from headon.timezones import organiser_today

triage_required = permission_required("desk.triage_questions", raise_exception=True)
desk_required = permission_required("desk.view_desk", raise_exception=True)


def _actor(request: HttpRequest) -> User:
    if not isinstance(request.user, User):
        raise PermissionDenied
    return request.user


def _day(value: str | None) -> dt.date:
    if not value:
        return organiser_today()
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Http404 from None


MAPPED_FIELDS = {
    "text": gettext_lazy("Column of the question's text"),
    "author": gettext_lazy("Column of the author"),
    "posted_at": gettext_lazy("Column of the time posted"),
    "external_id": gettext_lazy("Column of the post's id"),
    "likes": gettext_lazy("Column of the likes"),
    "replies": gettext_lazy("Column of the replies"),
    "shares": gettext_lazy("Column of the shares"),
    "url": gettext_lazy("Column of the link"),
}


class ImportForm(forms.Form):
    """An export to import, with the column mapping the command line takes
    as --map FIELD=COLUMN (each guessed from the header when left blank)."""

    channel = forms.ModelChoiceField(
        label=gettext_lazy("Channel"),
        queryset=Channel.objects.filter(is_active=True, kind=Channel.Kind.SOCIAL_EXPORT),
    )
    file = forms.FileField(label=gettext_lazy("Export file (CSV or JSON Lines)"))
    encoding = forms.ChoiceField(
        label=gettext_lazy("Encoding"),
        required=False,
        choices=[
            ("", gettext_lazy("Detect")),
            ("utf-8", "UTF-8"),
            ("utf-8-sig", "UTF-8 (BOM)"),
            ("gb18030", "GB18030"),
        ],
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for field, label in MAPPED_FIELDS.items():
            self.fields[f"map_{field}"] = forms.CharField(
                label=label, required=False, max_length=200, strip=True
            )

    def mapping(self) -> dict[str, str]:
        return {
            field: self.cleaned_data[f"map_{field}"]
            for field in MAPPED_FIELDS
            if self.cleaned_data.get(f"map_{field}")
        }

    def mapping_fields(self) -> list[forms.BoundField]:
        return [self[f"map_{field}"] for field in MAPPED_FIELDS]


QUESTIONS_PER_PAGE = 50

SPAM_REASONS = {
    "contact": gettext_lazy("contact bait"),
    "phone": gettext_lazy("phone number"),
    "link": gettext_lazy("link"),
    "bait": gettext_lazy("sales words"),
    "repeat": gettext_lazy("repeated characters"),
    "emoji": gettext_lazy("emoji run"),
    "long": gettext_lazy("very long"),
    "junk": gettext_lazy("mostly symbols"),
    "monotone": gettext_lazy("a few characters over and over"),
}


def spam_hint(text: str) -> dict[str, object] | None:
    """The likely-spam proposal for `text`, for the console to show: its
    score and reasons in the reader's language; None if it scores nothing."""
    found = spam_score(text)
    if not found.reasons:
        return None
    return {
        "likely": found.likely,
        "percent": round(100 * found.score),
        "reasons": ", ".join(str(SPAM_REASONS[r]) for r in found.reasons),
    }


def _page_number(request: HttpRequest) -> int:
    try:
        return max(1, min(int(request.GET.get("page", "1")), 10_000))
    except ValueError:
        return 1


@login_required
@desk_required
@require_safe
def staff_desk(request: HttpRequest, day: str | None = None) -> HttpResponse:
    """The triage console: the day's asks as distinct questions, best first."""
    chosen = _day(day)
    page = _page_number(request)
    show = request.GET.get("show", "")
    if show == "spam":
        overview = _likely_spam(chosen, page)
    else:
        overview = day_overview(
            chosen,
            limit=QUESTIONS_PER_PAGE,
            offset=(page - 1) * QUESTIONS_PER_PAGE,
            listed=show != "aside",
        )
    pages = max(1, -(-overview.distinct // QUESTIONS_PER_PAGE))
    return render(
        request,
        "desk/staff_desk.html",
        {
            "overview": overview,
            "trends": [
                (item, trend_sparkline(item.question.pk, item.ranked.figures.hourly))
                for item in overview.questions
            ],
            "page": page,
            "previous_page": page - 1 if page > 1 else None,
            "next_page": page + 1 if page < pages else None,
            "pages": pages,
            "previous_day": chosen - dt.timedelta(days=1),
            "next_day": chosen + dt.timedelta(days=1) if chosen < organiser_today() else None,
            "channels": active_channels(),
            "imports": recent_imports(5),
            "import_form": ImportForm(),
            "can_triage": request.user.has_perm("desk.triage_questions"),
            "show": show if show in ("spam", "aside") else "",
            "likely_spam": {
                item.question.pk
                for item in overview.questions
                if _looks_like_spam(item.question.text, item.samples)
            },
            "learned": learned_transform(),
        },
    )


def _looks_like_spam(text: str, samples: list[Ask]) -> bool:
    return spam_score(text).likely or any(spam_score(a.text).likely for a in samples)


def _likely_spam(day: dt.date, page: int) -> DayOverview:
    """The day's listed questions whose title or a top ask is likely spam:
    the console's "likely spam" filter (a proposal; a person sets aside)."""
    everything = day_overview(day, limit=None, listed=True)
    found = [q for q in everything.questions if _looks_like_spam(q.question.text, q.samples)]
    start = (page - 1) * QUESTIONS_PER_PAGE
    return replace(
        everything,
        questions=found[start : start + QUESTIONS_PER_PAGE],
        distinct=len(found),
        offset=start,
    )


@login_required
@triage_required
@require_http_methods(["GET", "HEAD", "POST"])
def review(request: HttpRequest, day: str) -> HttpResponse:
    """The review queue: the asks the engine was not sure enough to merge,
    grouped by the question it suggests, each accepted or refused by a
    person (one at a time or a question's all at once)."""
    chosen = _day(day)
    if request.method == "POST":
        return _review_decide(request, chosen)
    queue = review_queue(chosen)
    groups = queue.groups
    # Each decision comes back to the suggestion after it, so the keys go on.
    firsts = [item.ask_ids[0] for group in groups for item in group.items if item.ask_ids]
    after: dict[int, int | None] = dict(zip(firsts, [*firsts[1:], None], strict=False))
    return render(
        request,
        "desk/review.html",
        {
            "day": chosen,
            "queue": queue,
            "groups": [
                (
                    group,
                    [(item, after.get(item.ask_ids[0])) for item in group.items if item.ask_ids],
                    after.get(group.items[-1].ask_ids[0]) if group.items[-1].ask_ids else None,
                )
                for group in groups
            ],
        },
    )


def _review_decide(request: HttpRequest, day: dt.date) -> HttpResponse:
    raw = request.POST.get("target", "")
    target = get_object_or_404(Question, pk=int(raw) if raw.isdigit() and len(raw) < 12 else 0)
    ids = [int(v) for v in request.POST.getlist("ask")[:1000] if v.isdigit() and len(v) < 12]
    asks = list(Ask.objects.filter(day=day, pk__in=ids))
    try:
        if request.POST.get("action") == "accept":
            action = triage.suggestions_accept(asks=asks, target=target, actor=_actor(request))
            n = action.summary["asks"]
            messages.success(
                request,
                ngettext(
                    "Accepted %(n)s ask into question #%(q)s.",
                    "Accepted %(n)s asks into question #%(q)s.",
                    n,
                )
                % {"n": n, "q": target.pk},
            )
        elif request.POST.get("action") == "refuse":
            action = triage.suggestions_refuse(asks=asks, target=target, actor=_actor(request))
            n = action.summary["asks"]
            messages.success(
                request,
                ngettext(
                    "Refused: %(n)s ask stays out of question #%(q)s.",
                    "Refused: %(n)s asks stay out of question #%(q)s.",
                    n,
                )
                % {"n": n, "q": target.pk},
            )
        else:
            raise Http404
    except triage.TriageError as exc:
        messages.error(request, str(exc))
    url = reverse("desk_staff:review", args=[day.isoformat()])
    following = request.POST.get("next", "")
    if following.isdigit() and len(following) < 12:
        url += f"#ask-{following}"
    return redirect(url)


@login_required
@desk_required
@require_safe
def question_detail(request: HttpRequest, pk: int) -> HttpResponse:
    question = get_object_or_404(Question.objects.select_related("answer"), pk=pk)
    asks = Paginator(question.asks.select_related("channel").order_by("-likes", "id"), 100)
    page = asks.get_page(request.GET.get("page"))
    for ask in page:
        ask.spam = spam_hint(ask.text)  # type: ignore[attr-defined]
    return render(
        request,
        "desk/question_detail.html",
        {
            "question": question,
            "page": page,
            "spam": spam_hint(question.text),
            "public_title": public_titles([question])[question.pk],
            "reasons": SetAside.choices,
            "can_triage": request.user.has_perm("desk.triage_questions"),
            "can_draft": request.user.has_perm("desk.draft_answers"),
            "suggestions": [] if question.answer_id else answering.suggestions_for(question),
        },
    )


def _question_from(request: HttpRequest, field: str) -> Question:
    """The question a staff member typed the number of, or a message on
    the form saying there is none (a typo is not a missing page)."""
    raw = request.POST.get(field, "").strip().lstrip("#")
    try:
        return Question.objects.get(pk=int(raw))
    except (ValueError, OverflowError, Question.DoesNotExist):
        raise triage.TriageError(
            _("There is no question number %(number)s.") % {"number": raw[:20] or "…"}
        ) from None


@login_required
@triage_required
@require_POST
def question_action(request: HttpRequest, pk: int) -> HttpResponse:
    """Merge into another question, flag or clear a rumour, split or move asks."""
    question = get_object_or_404(Question, pk=pk)
    action = request.POST.get("action")
    try:
        if action == "merge":
            target = _question_from(request, "target")
            triage.questions_merge(source=question, target=target, actor=_actor(request))
            messages.success(
                request, _("Merged. Undo it from the list of changes if it was wrong.")
            )
            return redirect("desk_staff:question", pk=target.pk)
        if action in ("flag", "unflag"):
            triage.question_flag(question=question, rumour=action == "flag", actor=_actor(request))
        elif action == "split":
            asks = list(question.asks.filter(pk__in=request.POST.getlist("ask")))
            new, _action = triage.asks_split(asks=asks, actor=_actor(request))
            messages.success(request, _("The asks are a question of their own now."))
            return redirect("desk_staff:question", pk=new.pk)
        elif action == "move":
            target = _question_from(request, "target")
            for ask in question.asks.filter(pk__in=request.POST.getlist("ask")):
                triage.ask_move(ask=ask, target=target, actor=_actor(request))
        elif action in SET_ASIDE_ACTIONS:
            _set_aside(request, question, action)
        else:
            raise Http404
    except triage.TriageError as exc:
        messages.error(request, str(exc))
    return redirect("desk_staff:question", pk=question.pk)


SET_ASIDE_ACTIONS = ("set_aside", "restore", "set_aside_asks", "restore_asks", "retitle")


def _set_aside(request: HttpRequest, question: Question, action: str) -> None:
    """Set the question or its chosen asks aside, put them back, or
    approve the question's public title: each one undoable step."""
    reason = request.POST.get("reason", "")
    asks = list(question.asks.filter(pk__in=request.POST.getlist("ask")))
    actor = _actor(request)
    if action == "set_aside":
        setaside.question_set_aside(question=question, reason=reason, actor=actor)
    elif action == "restore":
        setaside.set_aside_restore(question=question, actor=actor)
    elif action == "set_aside_asks":
        setaside.asks_set_aside(asks=asks, reason=reason, actor=actor)
    elif action == "restore_asks":
        setaside.set_aside_restore(asks=asks, actor=actor)
    else:
        setaside.question_retitle(
            question=question, title=request.POST.get("title", ""), actor=actor
        )
    messages.success(request, _("Done. Undo it from the list of changes if it was wrong."))


@login_required
@triage_required
def actions_log(request: HttpRequest) -> HttpResponse:
    """Every correction, newest first, each with an undo."""
    if request.method == "POST":
        action = get_object_or_404(TriageAction, pk=request.POST.get("action_id") or 0)
        try:
            triage.action_undo(action=action, actor=_actor(request))
            messages.success(request, _("Undone."))
        except triage.TriageError as exc:
            messages.error(request, str(exc))
        return redirect("desk_staff:actions")
    return render(request, "desk/actions.html", {"actions": recent_actions(100)})


@login_required
@triage_required
@require_POST
def recluster(request: HttpRequest, day: str) -> HttpResponse:
    chosen = _day(day)
    enqueue(jobs.recluster_day, chosen.isoformat())
    messages.success(request, _("Merging the day again in the background; reload in a minute."))
    return redirect("desk_staff:day", day=chosen.isoformat())


@login_required
@triage_required
@require_POST
def import_upload(request: HttpRequest) -> HttpResponse:
    """Triagers import exports from the console, as the README says; the
    column mapping and encoding are those `headon import-asks` takes."""
    form = ImportForm(request.POST, request.FILES)
    if not form.is_valid():
        messages.error(request, _("Choose a channel and a file."))
        return redirect("desk_staff:home")
    upload = form.cleaned_data["file"]
    path = stream_to_disk(upload, settings.DATA_DIR / "imports")
    run = ImportRun.objects.create(
        channel=form.cleaned_data["channel"],
        file_name=upload.name[:255],
        file_sha256="",
        started_by=_actor(request),
        mapping=form.mapping(),
        encoding=form.cleaned_data["encoding"],
    )
    enqueue(jobs.import_file, run.pk, str(path))
    return redirect("desk_staff:import", pk=run.pk)


@login_required
@desk_required
@require_safe
def import_progress(request: HttpRequest, pk: int) -> HttpResponse:
    run = get_object_or_404(ImportRun.objects.select_related("channel"), pk=pk)
    template = (
        "desk/_import_progress.html" if request.headers.get("HX-Request") else "desk/import.html"
    )
    return render(request, template, {"run": run})
