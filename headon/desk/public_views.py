"""The public side of the answer desk: the digest archive, a page per date
and per answered question, the formats, search and helpful votes."""

from __future__ import annotations

import datetime as dt
import secrets

from django import forms
from django.core.paginator import Paginator
from django.db import IntegrityError, transaction
from django.db.models import F
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.crypto import salted_hmac
from django.utils.translation import get_language
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_POST, require_safe

from headon.antibot.ratelimit import hit_ip
from headon.desk import formats
from headon.desk.markup import render_markdown
from headon.desk.models import Answer, Digest, DigestRevision, HelpfulVote
from headon.desk.services.answers import published_matches

VOTER_COOKIE = "headon_voter"
VOTES_PER_ADDRESS = (30, 3600)
SEARCHES_PER_ADDRESS = (60, 60)


def _lang() -> str:
    return "zh" if (get_language() or "en").startswith("zh") else "en"


def _date(value: str) -> dt.date:
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise Http404 from None


def _revision(day: dt.date, number: int | None = None) -> DigestRevision:
    revisions = DigestRevision.objects.filter(digest__date=day).select_related("digest")
    if number is not None:
        revisions = revisions.filter(number=number)
    revision = revisions.order_by("-number").first()
    if revision is None:
        raise Http404
    return revision


@require_safe
def answers_index(request: HttpRequest) -> HttpResponse:
    """The public archive of nightly digests, newest first."""
    digests = Paginator(Digest.objects.filter(revision__gt=0).order_by("-date"), 30)
    return render(
        request,
        "desk/answers_index.html",
        {"page": digests.get_page(request.GET.get("page")), "lang": _lang()},
    )


@require_safe
def digest_page(request: HttpRequest, day: str, number: int | None = None) -> HttpResponse:
    """One date's digest: a permanent link, older revisions kept."""
    chosen = _date(day)
    revision = _revision(chosen, number)
    dates = Digest.objects.filter(revision__gt=0)
    previous = dates.filter(date__lt=chosen).order_by("-date").values_list("date", flat=True)
    following = dates.filter(date__gt=chosen).order_by("date").values_list("date", flat=True)
    lang = _lang()
    snapshot = revision.snapshot
    entries = [
        {
            **entry,
            "question_text": formats.pick(entry["question"], lang),
            "body_html": render_markdown(formats.pick(entry["body"], lang)),
            "claim_text": formats.pick((entry.get("rumour") or {}).get("claim"), lang),
            "evidence_html": render_markdown(
                formats.pick((entry.get("rumour") or {}).get("evidence"), lang)
            ),
            "verdict_label": formats.verdict_label((entry.get("rumour") or {}).get("verdict", "")),
        }
        for entry in snapshot["answers"]
    ]
    return render(
        request,
        "desk/digest.html",
        {
            "revision": revision,
            "snapshot": snapshot,
            "coverage": snapshot["coverage"],
            "share_percent": round(100 * snapshot["coverage"]["share"]),
            "answers": [e for e in entries if not e.get("rumour")],
            "rumours": [e for e in entries if e.get("rumour")],
            "previous": previous.first(),
            "next": following.first(),
            "older_revisions": range(revision.digest.revision, 0, -1),
            "lang": lang,
            "site_name_local": formats.pick(snapshot["site"]["name"], lang),
        },
    )


@require_safe
def digest_json(request: HttpRequest, day: str) -> JsonResponse:
    revision = _revision(_date(day))
    return JsonResponse(
        formats.digest_json(revision.snapshot), json_dumps_params={"ensure_ascii": False}
    )


@require_safe
def digest_text(request: HttpRequest, day: str, lang: str) -> HttpResponse:
    if lang not in formats.LANGUAGES:
        raise Http404
    revision = _revision(_date(day))
    parts = formats.digest_text(revision.snapshot, lang)
    separator = "\n\n" + "—" * 20 + "\n\n"
    return HttpResponse(separator.join(parts), content_type="text/plain; charset=utf-8")


@require_safe
@cache_control(public=True, max_age=300)
def digest_png(request: HttpRequest, day: str, lang: str) -> HttpResponse:
    if lang not in formats.LANGUAGES:
        raise Http404
    revision = _revision(_date(day))
    return HttpResponse(formats.digest_png(revision, lang), content_type="image/png")


def digest_feed(request: HttpRequest, lang: str) -> HttpResponse:
    if lang not in formats.LANGUAGES:
        raise Http404
    response: HttpResponse = formats.DigestFeed()(request, lang=lang)
    return response


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
        (pk, formats.pick({"en": en, "zh": zh}, lang))
        for pk, en, zh in Answer.objects.filter(pk__in=answer.related, published__isnull=False)
        .annotate(en=F("published__question_en"), zh=F("published__question_zh"))
        .values_list("pk", "en", "zh")
    ]
    return render(
        request,
        "desk/question_page.html",
        {
            "answer": answer,
            "question_text": formats.pick(
                {"en": copy.get("question_en", ""), "zh": copy.get("question_zh", "")}, lang
            ),
            "body_html": render_markdown(
                formats.pick({"en": copy.get("body_en", ""), "zh": copy.get("body_zh", "")}, lang)
            ),
            "is_clarification": copy.get("is_clarification", False),
            "claim_text": formats.pick(
                {"en": copy.get("claim_en", ""), "zh": copy.get("claim_zh", "")}, lang
            ),
            "verdict_label": formats.verdict_label(copy.get("verdict", "")),
            "evidence_html": render_markdown(
                formats.pick(
                    {"en": copy.get("evidence_en", ""), "zh": copy.get("evidence_zh", "")}, lang
                )
            ),
            "tags": [formats.pick(tag, lang) for tag in copy.get("tags", [])],
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
        results.append(
            {
                "pk": answer.pk,
                "score": score,
                "question": formats.pick(
                    {"en": copy.get("question_en", ""), "zh": copy.get("question_zh", "")}, lang
                ),
                "asked_by": answer.asked_by,
            }
        )
    return results


@require_safe
def search_page(request: HttpRequest) -> HttpResponse:
    """Search every answered question, in Chinese or English."""
    form = SearchForm(request.GET or None)
    results: list[dict[str, object]] = []
    limited = False
    query = ""
    if form.is_valid() and (query := form.cleaned_data["q"]):
        limit, window = SEARCHES_PER_ADDRESS
        if hit_ip(request, "desk-search", limit=limit, window_seconds=window).allowed:
            results = _search_results(query, 20)
        else:
            limited = True
    template = (
        "desk/_search_results.html" if request.headers.get("HX-Request") else "desk/search.html"
    )
    return render(
        request,
        template,
        {"form": form, "query": query, "results": results, "limited": limited},
    )


@require_safe
def answered_already(request: HttpRequest) -> HttpResponse:
    """For the ask form, as the person types: answers that may fit."""
    query = (request.GET.get("text") or "")[:500]
    results: list[dict[str, object]] = []
    if len(query.strip()) >= 4:
        limit, window = SEARCHES_PER_ADDRESS
        if hit_ip(request, "desk-search", limit=limit, window_seconds=window).allowed:
            results = _search_results(query, 3, min_score=0.3)
    return render(request, "desk/_answered_already.html", {"results": results})
