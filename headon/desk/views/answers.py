"""Staff pages for answering: write, review, approve."""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST, require_safe

from headon import bilingual
from headon.antibot import ratelimit
from headon.desk.markup import render_markdown
from headon.desk.merging.terms import _HAN
from headon.desk.models import Answer, Question, Tag
from headon.desk.selectors import links_to_confirm
from headon.desk.services import answers as answering
from headon.desk.views.staff import _actor

desk_required = permission_required("desk.view_desk", raise_exception=True)
draft_required = permission_required("desk.draft_answers", raise_exception=True)
approve_required = permission_required("desk.approve_answers", raise_exception=True)
publish_required = permission_required("desk.publish_digest", raise_exception=True)


class TagChoiceField(forms.ModelMultipleChoiceField[Tag]):
    """Tags named in the UI's language, the other language beside it."""

    def label_from_instance(self, obj: Tag) -> str:
        return bilingual.both(obj, "name") or obj.slug


class AnswerForm(forms.Form):
    question_en = forms.CharField(
        label=gettext_lazy("The question, in English"), max_length=300, required=False
    )
    question_zh = forms.CharField(
        label=gettext_lazy("The question, in Chinese"), max_length=300, required=False
    )
    body_en = forms.CharField(
        label=gettext_lazy("Answer in English (Markdown)"),
        max_length=answering.BODY_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    body_zh = forms.CharField(
        label=gettext_lazy("Answer in Chinese (Markdown)"),
        max_length=answering.BODY_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 8}),
    )
    claim_en = forms.CharField(
        label=gettext_lazy("The rumour's claim, in English"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    claim_zh = forms.CharField(
        label=gettext_lazy("The rumour's claim, in Chinese"),
        max_length=2000,
        required=False,
        widget=forms.Textarea(attrs={"rows": 2}),
    )
    verdict = forms.ChoiceField(
        label=gettext_lazy("Verdict"),
        choices=[("", "—"), *Answer.Verdict.choices],
        required=False,
    )
    evidence_en = forms.CharField(
        label=gettext_lazy("Evidence, in English (Markdown)"),
        max_length=answering.BODY_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    evidence_zh = forms.CharField(
        label=gettext_lazy("Evidence, in Chinese (Markdown)"),
        max_length=answering.BODY_LIMIT,
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    tags = TagChoiceField(
        label=gettext_lazy("Tags"),
        queryset=Tag.objects.order_by("slug"),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    version = forms.IntegerField(widget=forms.HiddenInput, required=False)

    def __init__(
        self, *args: Any, clarification: bool = False, check_url: str = "", **kwargs: Any
    ) -> None:
        super().__init__(*args, **kwargs)
        if not clarification:
            for name in ("claim_en", "claim_zh", "verdict", "evidence_en", "evidence_zh"):
                del self.fields[name]
        if check_url:
            # As the writer types, the draft (the whole form, its CSRF token
            # with it) is checked against published answers; without
            # JavaScript, saving shows the same warnings.
            for name in ("body_en", "body_zh"):
                self.fields[name].widget.attrs.update(
                    {
                        "data-hx-post": check_url,
                        "data-hx-trigger": "input changed delay:700ms",
                        "data-hx-target": "#draft-warnings",
                        "data-hx-swap": "innerHTML",
                        "data-hx-sync": "closest form:replace",
                    }
                )


def _fields(form: AnswerForm) -> dict[str, Any]:
    return {k: v for k, v in form.cleaned_data.items() if k in answering.TEXT_FIELDS}


def _warn_of_contradictions(request: HttpRequest, answer: Answer) -> None:
    """Tell the writer at once when the saved draft's figures differ from
    a published answer's (the page shows both side by side)."""
    answer.refresh_from_db()
    if any(w["kind"] == "contradicts" for w in answering.warnings_for(answer)):
        messages.warning(
            request,
            _("Its figures differ from a published answer to a similar question: see below."),
        )


@login_required
@draft_required
def question_answer(request: HttpRequest, pk: int) -> HttpResponse:
    """Write a new answer for a question (or go to the one it has)."""
    question = get_object_or_404(Question, pk=pk)
    if question.answer_id:
        return redirect("desk_staff:answer", pk=question.answer_id)
    initial = {"question_zh" if _HAN.search(question.text) else "question_en": question.text[:300]}
    form = AnswerForm(
        request.POST or None,
        initial=initial,
        clarification=question.is_rumour,
        check_url=f"{reverse('desk_staff:answer_check')}?question={question.pk}",
    )
    if request.method == "POST" and form.is_valid():
        try:
            answer = answering.answer_create(
                question=question,
                actor=_actor(request),
                fields=_fields(form),
                tags=form.cleaned_data["tags"],
            )
        except answering.AnswerError as exc:
            form.add_error(None, str(exc))
        else:
            messages.success(request, _("Draft saved."))
            _warn_of_contradictions(request, answer)
            return redirect("desk_staff:answer", pk=answer.pk)
    return render(
        request,
        "desk/answer_form.html",
        {
            "form": form,
            "question": question,
            "suggestions": answering.suggestions_for(question),
        },
    )


CHECKS_PER_MINUTE = 120  # a writer pausing every 0.7 s makes about 85


@login_required
@draft_required
@require_POST
def answer_check(request: HttpRequest) -> HttpResponse:
    """The draft form's warnings while the writer types (htmx posts the
    form): the partial the saved draft's page shows, for the words as
    they are now. `?answer=` (editing) leaves that answer out and adds the
    questions it covers; `?question=` (a new answer) adds that question."""
    fields = {
        name: request.POST.get(name, "").replace("\x00", "")
        for name in ("question_en", "question_zh", "body_en", "body_zh")
    }
    if any(len(v) > answering.LIMITS.get(k, answering.BODY_LIMIT) for k, v in fields.items()):
        message = _("Too long to check as you type: saving the draft checks it.")
        return HttpResponse(message, status=413, content_type="text/plain; charset=utf-8")
    limit = ratelimit.hit(
        "answer_check", str(request.user.pk), limit=CHECKS_PER_MINUTE, window_seconds=60
    )
    if not limit.allowed:
        response = HttpResponse(
            ratelimit.wait_message(limit.retry_after),
            status=429,
            content_type="text/plain; charset=utf-8",
        )
        response["Retry-After"] = str(limit.retry_after)
        return response
    questions = [fields["question_en"], fields["question_zh"]]
    exclude: list[int] = []
    answer = Answer.objects.filter(pk=_int(request.GET.get("answer"))).first()
    if answer is not None:
        exclude.append(answer.pk)
        questions += answer.questions.values_list("text", flat=True)[:5]
    question = Question.objects.filter(pk=_int(request.GET.get("question"))).first()
    if question is not None:
        questions.append(question.text)
    warnings = answering.draft_warnings(
        questions=questions, body_en=fields["body_en"], body_zh=fields["body_zh"], exclude=exclude
    )
    return render(request, "desk/_answer_warnings.html", {"warnings": warnings})


def _int(value: str | None) -> int:
    return int(value) if value and value.isdigit() and len(value) < 10 else 0


@login_required
@draft_required
@require_POST
def question_link(request: HttpRequest, pk: int) -> HttpResponse:
    """Propose a link from a question to an answer already written; an
    approver other than the proposer confirms or refuses it; unlink."""
    question = get_object_or_404(Question, pk=pk)
    action = request.POST.get("action", "")
    actor = _actor(request)
    try:
        if action == "unlink":
            answering.question_unlink(question=question, actor=actor)
            messages.success(request, _("The question has no answer now."))
        elif action == "refuse":
            if question.proposed_by_id != actor.pk and not actor.has_perm("desk.approve_answers"):
                raise PermissionDenied
            answering.question_link_refuse(question=question, actor=actor)
            messages.success(request, _("The proposed link is dropped."))
        elif action == "confirm":
            if not actor.has_perm("desk.approve_answers"):
                raise PermissionDenied
            answer = get_object_or_404(Answer, pk=request.POST.get("answer") or 0)
            answering.question_link_confirm(question=question, answer=answer, actor=actor)
            messages.success(request, _("Confirmed: the answer covers this question's asks."))
        else:
            answer = get_object_or_404(Answer, pk=request.POST.get("answer") or 0)
            answering.question_link(question=question, answer=answer, actor=actor)
            messages.success(
                request,
                _("Link proposed. It covers the question once an approver confirms it."),
            )
    except answering.AnswerError as exc:
        messages.error(request, str(exc))
    return redirect(_next_page(request) or reverse("desk_staff:question", args=[question.pk]))


def _next_page(request: HttpRequest) -> str | None:
    """Back to the staff page the button was on (the queue, the digest)."""
    target = request.POST.get("next", "")
    if target.startswith("/staff/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return None


@login_required
@desk_required
def answer_detail(request: HttpRequest, pk: int) -> HttpResponse:
    """An answer: its working copy, the next steps, warnings, history."""
    answer = get_object_or_404(Answer, pk=pk)
    can_draft = request.user.has_perm("desk.draft_answers")
    form = AnswerForm(
        request.POST or None,
        initial={
            **{name: getattr(answer, name) for name in answering.TEXT_FIELDS},
            "tags": list(answer.tags.all()),
            "version": answer.version,
        },
        clarification=answer.is_clarification,
        check_url=f"{reverse('desk_staff:answer_check')}?answer={answer.pk}",
    )
    if request.method == "POST":
        if not can_draft:
            raise PermissionDenied
        if form.is_valid():
            try:
                answering.answer_edit(
                    answer=answer,
                    actor=_actor(request),
                    fields=_fields(form),
                    version=form.cleaned_data["version"] or 0,
                    tags=form.cleaned_data["tags"],
                )
            except answering.AnswerError as exc:
                form.add_error(None, str(exc))
            else:
                messages.success(request, _("Saved."))
                _warn_of_contradictions(request, answer)
                return redirect("desk_staff:answer", pk=answer.pk)
    return render(
        request,
        "desk/answer_detail.html",
        {
            "answer": answer,
            "form": form,
            "can_draft": can_draft,
            "can_approve": request.user.has_perm("desk.approve_answers"),
            "preview_en": render_markdown(answer.body_en),
            "preview_zh": render_markdown(answer.body_zh),
            "missing": answering.missing_for_review(answer),
            "warnings": answering.warnings_for(answer),
            "questions": answer.questions.order_by("-created_at")[:20],
            "history": answer.revisions.select_related("actor")[:50],
        },
    )


@login_required
@desk_required
@require_POST
def answer_step(request: HttpRequest, pk: int) -> HttpResponse:
    """Move an answer on: submit, return, approve, publish."""
    answer = get_object_or_404(Answer, pk=pk)
    step = request.POST.get("step")
    try:
        version = int(request.POST.get("version", ""))
    except ValueError:
        raise Http404 from None
    # Typed into a bare textarea, not a form field that refuses NUL (which
    # PostgreSQL's text cannot hold).
    note = request.POST.get("note", "").replace("\x00", "")
    needs = {
        "submit": "desk.draft_answers",
        "return": "desk.approve_answers",
        "approve": "desk.approve_answers",
        "publish": "desk.publish_digest",
    }
    if step not in needs:
        raise Http404
    if not request.user.has_perm(needs[step]):
        raise PermissionDenied
    actor = _actor(request)
    try:
        if step == "submit":
            answering.answer_submit(answer=answer, actor=actor, version=version)
            messages.success(request, _("Sent for review."))
        elif step == "return":
            answering.answer_return(answer=answer, actor=actor, version=version, note=note)
            messages.success(request, _("Returned to the writer."))
        elif step == "approve":
            answering.answer_approve(answer=answer, actor=actor, version=version)
            messages.success(
                request, _("Approved. It goes out with tonight's digest, or publish it now.")
            )
        else:
            if answer.version != version:
                raise answering.AnswerError(
                    _("Someone else changed this answer while you were reading it. Reload.")
                )
            answering.answer_publish(answer=answer, actor=actor, note=note)
            messages.success(request, _("Published."))
    except answering.AnswerError as exc:
        messages.error(request, str(exc))
    return redirect("desk_staff:answer", pk=answer.pk)


@login_required
@desk_required
@require_safe
def answers_queue(request: HttpRequest) -> HttpResponse:
    """Answers by status: what waits for whom."""
    answers = Answer.objects.exclude(status=Answer.Status.PUBLISHED).order_by("-updated_at")[:300]
    groups: dict[str, list[Answer]] = {status: [] for status in Answer.Status.values}
    for answer in answers:
        groups[answer.status].append(answer)
    recent = Answer.objects.filter(status=Answer.Status.PUBLISHED).order_by("-published_at")[:30]
    links = list(links_to_confirm()[:100])
    return render(
        request,
        "desk/answers_queue.html",
        {
            "groups": [
                (Answer.Status(status).label, items)
                for status, items in groups.items()
                if status != Answer.Status.PUBLISHED
            ],
            "recent": recent,
            "links": links,
        },
    )
