"""The night's digest: the public archive, a page per date in every format,
and the staff page with the coverage ledger and the publish button."""

from __future__ import annotations

import datetime as dt
import hashlib
from pathlib import Path
from typing import Any

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import PermissionDenied
from django.core.paginator import Paginator
from django.db.models import Count, Max
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.cache import cache_control
from django.views.decorators.http import condition, require_POST, require_safe

from headon import bilingual
from headon.desk.digest import formats
from headon.desk.digest import services as digests
from headon.desk.markup import render_markdown
from headon.desk.models import Digest, DigestRevision, SetAside
from headon.desk.selectors import links_to_confirm
from headon.desk.services import lookalikes
from headon.desk.views.public import _lang
from headon.desk.views.staff import _actor, _day, desk_required
from headon.links import absolute
from headon.timezones import organiser_today

# The standalone recount anyone may download and read before trusting it.
RECONCILER = Path(digests.__file__).resolve().with_name("reconcile_digest.py")
RECONCILER_SHA256 = hashlib.sha256(RECONCILER.read_bytes()).hexdigest()


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
            # ` lang="…"` on each part that falls back to the other language.
            "langs": {
                "question": bilingual.fallback_attr(entry["question"], lang),
                "body": bilingual.fallback_attr(entry["body"], lang),
                "claim": bilingual.fallback_attr((entry.get("rumour") or {}).get("claim"), lang),
                "evidence": bilingual.fallback_attr(
                    (entry.get("rumour") or {}).get("evidence"), lang
                ),
            },
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
            "open_items": formats.open_items(snapshot),
            "share_percent": round(100 * snapshot["coverage"]["share"]),
            "answers": [e for e in entries if not e.get("rumour")],
            "rumours": [e for e in entries if e.get("rumour")],
            "draws": [
                entry | {"program_text": formats.pick(entry["program"], lang)}
                for entry in snapshot.get("draws", [])
            ],
            "previous": previous.first(),
            "next": following.first(),
            "older_revisions": range(revision.digest.revision, 0, -1),
            "reconciler_sha256": RECONCILER_SHA256,
            "json_url": absolute(
                reverse("desk:digest_revision_json", args=[snapshot["date"], revision.number])
            ),
            "set_aside": [
                (SetAside(reason).label, n)
                for reason, n in snapshot["coverage"].get("asks_set_aside_by_reason", {}).items()
                if n and reason in SetAside.values
            ],
            "lang": lang,
            "site_name_local": formats.pick(snapshot["site"]["name"], lang),
        },
    )


@require_safe
def digest_json(request: HttpRequest, day: str, number: int | None = None) -> JsonResponse:
    """A date's JSON: the latest revision, or revision `number` at its own
    URL, kept for good (docs/digest.md)."""
    revision = _revision(_date(day), number)
    return JsonResponse(
        formats.digest_json(revision.snapshot), json_dumps_params={"ensure_ascii": False}
    )


@require_safe
def reconciler_script(request: HttpRequest) -> HttpResponse:
    """reconcile_digest.py: recounts a digest's ledger, standard library only."""
    response = HttpResponse(RECONCILER.read_bytes(), content_type="text/x-python; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{RECONCILER.name}"'
    return response


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


def _feed_state(request: HttpRequest) -> dict[str, Any]:
    """The revisions' count and latest time, read once per request:
    `condition` asks for the ETag and for Last-Modified separately."""
    state = getattr(request, "_feed_state", None)
    if state is None:
        state = DigestRevision.objects.aggregate(n=Count("pk"), at=Max("published_at"))
        setattr(request, "_feed_state", state)  # noqa: B010  (HttpRequest declares no such field)
    return state


def _feed_changed(request: HttpRequest, lang: str) -> dt.datetime | None:
    latest: dt.datetime | None = _feed_state(request)["at"]
    return latest


def _feed_etag(request: HttpRequest, lang: str) -> str:
    latest = _feed_state(request)
    stamp = latest["at"].timestamp() if latest["at"] else 0
    return f"{lang}-{latest['n']}-{stamp:.6f}"


@require_safe
@condition(etag_func=_feed_etag, last_modified_func=_feed_changed)
def digest_feed(request: HttpRequest, lang: str) -> HttpResponse:
    """The Atom feed in one language; readers that poll get a 304 until a
    digest is published or corrected."""
    if lang not in formats.LANGUAGES:
        raise Http404
    response: HttpResponse = formats.DigestFeed()(request, lang=lang)
    response["Content-Language"] = formats.FEED_LANGUAGE[lang]
    return response


def _say_what_is_left(request: HttpRequest, day: dt.date) -> None:
    """Publishing with open questions that look answered, or links not yet
    confirmed, says how many: they are carried over as open."""
    left = len(lookalikes.stored(day).rows)
    waiting = links_to_confirm().count()
    if left:
        messages.warning(
            request,
            ngettext(
                "%(n)s open question looks already answered and is not linked: it stays open.",
                "%(n)s open questions look already answered and are not linked: they stay open.",
                left,
            )
            % {"n": left},
        )
    if waiting:
        messages.warning(
            request,
            ngettext(
                "%(n)s link waits for a second person to confirm it.",
                "%(n)s links wait for a second person to confirm them.",
                waiting,
            )
            % {"n": waiting},
        )


@login_required
@desk_required
def digest_staff(request: HttpRequest, day: str | None = None) -> HttpResponse:
    """The night's digest for a date: the ledger now, what publishing would
    add, and the button (with a note for a new revision)."""
    chosen = _day(day)
    if request.method == "POST":
        if not request.user.has_perm("desk.publish_digest"):
            raise PermissionDenied
        try:
            revision, created = digests.digest_publish(
                chosen, actor=_actor(request), note=request.POST.get("note", "").replace("\x00", "")
            )
        except digests.DigestError as exc:
            messages.error(request, str(exc))
        else:
            if created and revision is not None:
                messages.success(
                    request,
                    _("Published revision %(n)s of the digest.") % {"n": revision.number},
                )
            else:
                messages.info(request, _("Nothing changed since the last revision."))
            _say_what_is_left(request, chosen)
        return redirect("desk_staff:digest", day=chosen.isoformat())
    ledger = digests.coverage(chosen)
    digest = Digest.objects.filter(date=chosen).first()
    links = list(links_to_confirm()[:100])
    # The worker works the list out (it needs the sentence model); the page
    # reads what it stored, and asks for a first check of a day never checked.
    stored = lookalikes.stored(chosen)
    if stored.check is None:
        checking = bool(ledger.asks) and lookalikes.check_requested(chosen)
    else:
        checking = stored.check.is_checking()
    return render(
        request,
        "desk/digest_staff.html",
        {
            "day": chosen,
            "ledger": ledger,
            "share_percent": round(100 * ledger.share),
            "cutoff": digests.cutoff_for(chosen),
            "digest": digest,
            "pending": digests.day_answers_to_publish(chosen),
            "links": links,
            "looks_answered": stored.rows,
            "answered_check": stored.check,
            "answered_checking": checking,
            "can_publish": request.user.has_perm("desk.publish_digest"),
            "previous_day": chosen - dt.timedelta(days=1),
            "next_day": chosen + dt.timedelta(days=1) if chosen < organiser_today() else None,
        },
    )


@login_required
@desk_required
@require_POST
def digest_check(request: HttpRequest, day: str) -> HttpResponse:
    """The "Check again" button: queue the worker's check of the day's
    "Already answered?" list; a second click while one waits queues nothing."""
    chosen = _day(day)
    if lookalikes.check_requested(chosen):
        messages.success(request, _("Checking again in the background; reload in a minute."))
    else:
        messages.info(request, _("A check is already waiting to run."))
    return redirect("desk_staff:digest", day=chosen.isoformat())
