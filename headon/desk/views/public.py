"""The public side of the answer desk: the ask form, a page per answered
question, search and helpful votes."""

from __future__ import annotations

import hashlib
import secrets
import uuid

from django import forms
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse, reverse_lazy
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language, gettext_lazy
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from headon import bilingual
from headon.antibot.forms import ProofOfWorkField
from headon.antibot.ratelimit import hit_ip, wait_message
from headon.desk.digest import formats
from headon.desk.intake.sources import IntakeError, ask_receive
from headon.desk.markup import render_markdown
from headon.desk.models import Answer, Channel, HelpfulVote
from headon.desk.services.answers import published_matches

VOTER_COOKIE = "headon_voter"
VOTES_PER_ADDRESS = (30, 3600)
SEARCHES_PER_ADDRESS = (60, 60)


def _lang() -> str:
    return "zh" if (get_language() or "en").startswith("zh") else "en"


def _voter_key(request: HttpRequest) -> tuple[str, str | None]:
    """(keyed voter hash, a new cookie value to set or None)."""
    cookie = request.COOKIES.get(VOTER_COOKIE, "")
    new = None
    if not (16 <= len(cookie) <= 64 and cookie.isalnum()):
        cookie = new = secrets.token_hex(16)
    return salted_hmac("headon.desk.helpful", cookie).hexdigest(), new


@require_safe
def question_page(request: HttpRequest, pk: int) -> HttpResponse:
    """An answered question: the answer, who asked, related questions."""
    answer = get_object_or_404(
        Answer.objects.only(
            "id", "published", "asked_by", "helpful", "related", "first_published_at"
        ),
        pk=pk,
        published__isnull=False,
    )
    lang = _lang()
    copy = answer.published or {}
    related = [
        (
            pk,
            formats.pick({"en": en, "zh": zh}, lang),
            bilingual.fallback_attr({"en": en, "zh": zh}, lang),
        )
        for pk, en, zh in Answer.objects.filter(pk__in=answer.related, published__isnull=False)
        .annotate(en=F("published__question_en"), zh=F("published__question_zh"))
        .values_list("pk", "en", "zh")
    ]
    sides = {
        name: {"en": copy.get(f"{name}_en", ""), "zh": copy.get(f"{name}_zh", "")}
        for name in ("question", "body", "claim", "evidence")
    }
    return render(
        request,
        "desk/question_page.html",
        {
            "answer": answer,
            "question_text": formats.pick(sides["question"], lang),
            "body_html": render_markdown(formats.pick(sides["body"], lang)),
            "is_clarification": copy.get("is_clarification", False),
            "claim_text": formats.pick(sides["claim"], lang),
            "verdict_label": formats.verdict_label(copy.get("verdict", "")),
            "evidence_html": render_markdown(formats.pick(sides["evidence"], lang)),
            # ` lang="…"` on each part that falls back to the other language.
            "langs": {name: bilingual.fallback_attr(side, lang) for name, side in sides.items()},
            "tags": [
                (formats.pick(tag, lang), bilingual.fallback_attr(tag, lang))
                for tag in copy.get("tags", [])
            ],
            "corrections": copy.get("corrections", []),
            "first_published_at": answer.first_published_at,
            "related": related,
            "voted": request.GET.get("voted") == "1",
            "lang": lang,
        },
    )


@require_POST
def helpful_vote(request: HttpRequest, pk: int) -> HttpResponse:
    """One "helpful" per person: a keyed cookie hash, unique per answer in
    the database, and a limit per address against cookie-clearing floods."""
    answer = get_object_or_404(Answer.objects.only("id"), pk=pk, published__isnull=False)
    voter, new_cookie = _voter_key(request)
    limit, window = VOTES_PER_ADDRESS
    if hit_ip(request, "desk-helpful", limit=limit, window_seconds=window).allowed:
        try:
            with transaction.atomic():
                HelpfulVote.objects.create(answer=answer, voter_key=voter)
                Answer.objects.filter(pk=answer.pk).update(helpful=F("helpful") + 1)
        except IntegrityError:
            pass  # voted before: one vote stands
    response = redirect(f"{request.build_absolute_uri(answer_url(answer.pk))}?voted=1")
    if new_cookie:
        response.set_cookie(
            VOTER_COOKIE,
            new_cookie,
            max_age=400 * 24 * 3600,
            httponly=True,
            samesite="Lax",
            secure=request.is_secure(),
        )
    return response


def answer_url(pk: int) -> str:
    return reverse("desk:question", args=[pk])


class SearchForm(forms.Form):
    q = forms.CharField(max_length=200, required=False, strip=True)


def _search_results(query: str, limit: int, min_score: float = 0.1) -> list[dict[str, object]]:
    lang = _lang()
    results = []
    for answer, score in published_matches(query, limit=limit, min_score=min_score):
        copy = answer.published or {}
        side = {"en": copy.get("question_en", ""), "zh": copy.get("question_zh", "")}
        results.append(
            {
                "pk": answer.pk,
                "score": score,
                "question": formats.pick(side, lang),
                "question_lang": bilingual.fallback_attr(side, lang),
                "asked_by": answer.asked_by,
            }
        )
    return results


@require_safe
def search_page(request: HttpRequest) -> HttpResponse:
    """Search every answered question, in Chinese or English."""
    form = SearchForm(request.GET or None)
    results: list[dict[str, object]] = []
    retry_after = 0
    query = ""
    if form.is_valid() and (query := form.cleaned_data["q"]):
        limit, window = SEARCHES_PER_ADDRESS
        allowed = hit_ip(request, "desk-search", limit=limit, window_seconds=window)
        if allowed.allowed:
            results = _search_results(query, 20)
        else:
            retry_after = allowed.retry_after
    template = (
        "desk/_search_results.html" if request.headers.get("HX-Request") else "desk/search.html"
    )
    response = render(
        request,
        template,
        {"form": form, "query": query, "results": results, "limited": bool(retry_after)},
        # A refusal is a 429 that says when to come back; htmx (the page's
        # search as you type) swaps only 2xx, so it gets the message as 200.
        status=429 if retry_after and not request.headers.get("HX-Request") else 200,
    )
    if retry_after:
        response["Retry-After"] = str(retry_after)
    return response


@require_http_methods(["GET", "HEAD", "POST"])
def answered_already(request: HttpRequest) -> HttpResponse:
    """For the ask form, as the person types: answers that may fit. The
    form posts its text: a long question in a query string passed the
    server's request-line limit (HTTP 414)."""
    query = (request.POST.get("text") or request.GET.get("text") or "")[:500]
    results: list[dict[str, object]] = []
    if len(query.strip()) >= 4:
        limit, window = SEARCHES_PER_ADDRESS
        if hit_ip(request, "desk-search", limit=limit, window_seconds=window).allowed:
            results = _search_results(query, 3, min_score=0.3)
    return render(request, "desk/_answered_already.html", {"results": results})


class AskForm(forms.Form):
    text = forms.CharField(
        label=gettext_lazy("Your question"),
        max_length=2000,
        widget=forms.Textarea(
            attrs={
                "rows": 4,
                "data-hx-post": reverse_lazy("desk:answered_already"),
                "data-hx-trigger": "input changed delay:600ms",
                "data-hx-target": "#answered-already",
            }
        ),
    )
    submission_id = forms.CharField(widget=forms.HiddenInput, max_length=64, required=False)
    pow = ProofOfWorkField(scope="desk-ask")


ASKS_PER_ADDRESS = (5, 600)  # questions, seconds


@never_cache
def ask_form(request: HttpRequest) -> HttpResponse:
    """The public ask form: no login; a proof-of-work and a rate limit."""
    channel = Channel.objects.filter(kind=Channel.Kind.FORM, is_active=True).order_by("pk").first()
    if channel is None:
        raise Http404
    form = AskForm(request.POST or None, initial={"submission_id": uuid.uuid4().hex})
    if request.method == "POST" and form.is_valid():
        limit, window = ASKS_PER_ADDRESS
        allowed = hit_ip(request, "desk-ask", limit=limit, window_seconds=window)
        if not allowed.allowed:
            form.add_error(None, wait_message(allowed.retry_after))
        else:
            try:
                ask_receive(
                    channel=channel,
                    text=form.cleaned_data["text"],
                    # A double click sends the same id and text: one ask. Back,
                    # edit and send again: the same id with other words, a new one.
                    external_id=f"form:{form.cleaned_data['submission_id'] or uuid.uuid4().hex}"
                    f":{hashlib.sha256(form.cleaned_data['text'].strip().encode()).hexdigest()[:16]}",
                )
            except IntakeError:
                form.add_error("text", _("Please write a question of up to 2,000 characters."))
            else:
                request.session["asked"] = form.cleaned_data["text"][:500]
                return redirect("desk:asked")
    return render(request, "desk/ask_form.html", {"form": form})


@require_safe
def ask_thanks(request: HttpRequest) -> HttpResponse:
    """Thanks, and at once the published answers that may already fit."""
    asked = request.session.get("asked", "")
    matches = (
        [r for r in _search_results(asked, 3) if float(str(r["score"])) >= 0.3] if asked else []
    )
    return render(request, "desk/ask_thanks.html", {"results": matches})
