"""The digest in its formats: plain text for a social post, JSON, Atom,
and the long PNG. Each is rendered from a revision's snapshot, so a format
never shows anything the digest page does not."""

from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.contrib.syndication.views import Feed
from django.db import IntegrityError, transaction
from django.http import HttpRequest
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import translation
from django.utils.feedgenerator import Atom1Feed
from django.utils.formats import number_format
from django.utils.translation import gettext as _

from headon.desk.markup import markdown_text
from headon.desk.models import Answer, DigestImage, DigestRevision
from headon.desk.spam import list_title
from headon.links import absolute

LANGUAGES = ("en", "zh")
DJANGO_LANGUAGE = {"en": "en", "zh": "zh-hans"}
FEED_LANGUAGE = {"en": "en", "zh": "zh-Hans"}


def pick(value: dict[str, str] | str | None, lang: str) -> str:
    """The `lang` side of a bilingual value, or the other side if empty."""
    if not isinstance(value, dict):
        return str(value or "")
    other = "zh" if lang == "en" else "en"
    return str(value.get(lang) or value.get(other) or "")


def _coverage_line(snapshot: dict[str, Any]) -> str:
    c = snapshot["coverage"]
    return _(
        "Covered by the cut-off: %(share)s%% of %(asks)s asks, %(covered)s of %(questions)s questions."
    ) % {
        "share": round(100 * c["share"]),
        "asks": number_format(c["asks"], force_grouping=True),
        "covered": number_format(c["questions_covered"], force_grouping=True),
        "questions": number_format(c["questions"], force_grouping=True),
    }


def _pack(blocks: list[str], limit: int) -> list[str]:
    """Blocks into as few parts as fit `limit` characters, each numbered
    "(1/3)" when there is more than one; a block too long alone is cut."""
    suffix_room = 8
    room = max(limit - suffix_room, 40)
    cut = [b if len(b) <= room else b[: room - 1] + "…" for b in blocks]
    parts: list[str] = []
    current = ""
    for block in cut:
        candidate = f"{current}\n\n{block}" if current else block
        if len(candidate) <= room:
            current = candidate
        else:
            parts.append(current)
            current = block
    if current:
        parts.append(current)
    if len(parts) > 1:
        parts = [f"{part}\n({n}/{len(parts)})" for n, part in enumerate(parts, start=1)]
    return parts


def digest_text(snapshot: dict[str, Any], lang: str, limit: int | None = None) -> list[str]:
    """The digest as plain text, ready to paste: a list of posts."""
    limit = limit or settings.HEADON_SOCIAL_TEXT_LIMIT
    with translation.override(DJANGO_LANGUAGE[lang]):
        site = pick(snapshot["site"]["name"], lang)
        head = _("%(site)s: answers for %(date)s") % {"site": site, "date": snapshot["date"]}
        if snapshot.get("revision", 1) > 1:
            head += " " + _("(revision %(n)s)") % {"n": snapshot["revision"]}
        blocks = [head, _coverage_line(snapshot)]
        if snapshot.get("note"):
            blocks.append(_("Correction: %(note)s") % {"note": snapshot["note"]})
        answers = [a for a in snapshot["answers"] if not a.get("rumour")]
        rumours = [a for a in snapshot["answers"] if a.get("rumour")]
        for number, entry in enumerate(answers, start=1):
            blocks.append(
                f"{number}. {pick(entry['question'], lang)}\n"
                f"{markdown_text(pick(entry['body'], lang))}\n{absolute(entry['url'])}"
            )
        for entry in rumours:
            rumour = entry["rumour"]
            blocks.append(
                _("Rumour: %(claim)s — %(verdict)s.")
                % {
                    "claim": pick(rumour["claim"], lang),
                    "verdict": verdict_label(rumour["verdict"]),
                }
                + f"\n{markdown_text(pick(entry['body'], lang))}\n{absolute(entry['url'])}"
            )
        if snapshot["open_count"]:
            blocks.append(
                _("Still being worked on: %(n)s questions. They stay on the list until answered.")
                % {"n": snapshot["open_count"]}
            )
        blocks.extend(draw_line(entry, lang) for entry in snapshot.get("draws", []))
        blocks.append(absolute(reverse("desk:digest", args=[snapshot["date"]])))
    return _pack(blocks, limit)


def draw_line(entry: dict[str, Any], lang: str) -> str:
    """One draw commitment or seal as the text and the feed write it: the
    program, the hash, the beacon round, the time, the draw page. Call
    inside the language's override."""
    values = {
        "program": pick(entry["program"], lang),
        "hash": entry["hash"],
        "offset": entry["beacon_offset"],
        "round": entry["beacon_round"],
        "at": entry["at"],
    }
    if entry["kind"] == "sealed":
        line = _(
            "Draw sealed: %(program)s, sealed hash %(hash)s, drand quicknet round %(round)s, at %(at)s."
        )
    elif entry["hash"]:
        line = _(
            "Draw committed: %(program)s, commitment %(hash)s, the drand quicknet round %(offset)s after the seal, at %(at)s."
        )
    else:
        line = _(
            "Draw committed: %(program)s, no organiser secret, the drand quicknet round %(offset)s after the seal, at %(at)s."
        )
    return line % values + "\n" + absolute(entry["url"])


def open_items(snapshot: dict[str, Any]) -> list[dict[str, Any]]:
    """The snapshot's open questions as the public may read them. A
    revision of the first format printed asks' raw words, so they are
    tidied again as shown ("" when withheld as likely spam); later ones
    carry their ledger rows' titles, which the reconciler holds them to."""
    items = snapshot.get("open", [])
    if snapshot.get("format", "headon-digest/1") != "headon-digest/1":
        return list(items)
    return [item | {"question": list_title(str(item.get("question", "")))} for item in items]


def verdict_label(verdict: str) -> str:
    try:
        return str(Answer.Verdict(verdict).label)
    except ValueError:
        return verdict


def digest_json(snapshot: dict[str, Any]) -> dict[str, Any]:
    """The snapshot with absolute links: the digest's public JSON. `links`
    is added as it is served (it names the revision's own permanent URL);
    everything else is the snapshot as frozen at publication."""
    day = snapshot["date"]
    data = dict(snapshot)
    data["answers"] = [entry | {"url": absolute(entry["url"])} for entry in snapshot["answers"]]
    if "answered_already" in snapshot:
        data["answered_already"] = [
            item | {"url": absolute(item["url"])} for item in snapshot["answered_already"]
        ]
    if "draws" in snapshot:
        data["draws"] = [entry | {"url": absolute(entry["url"])} for entry in snapshot["draws"]]
    number = snapshot.get("revision", 1)
    data["open"] = open_items(snapshot)
    data["links"] = {
        "html": absolute(reverse("desk:digest_revision", args=[day, number])),
        "json": absolute(reverse("desk:digest_revision_json", args=[day, number])),
        "latest_html": absolute(reverse("desk:digest", args=[day])),
        "latest_json": absolute(reverse("desk:digest_json", args=[day])),
        **{
            f"text_{lang}": absolute(reverse("desk:digest_text", args=[day, lang]))
            for lang in LANGUAGES
        },
        **{
            f"png_{lang}": absolute(reverse("desk:digest_png", args=[day, lang]))
            for lang in LANGUAGES
        },
        "reconciler": absolute(reverse("desk:reconciler")),
    }
    return data


class DigestFeed(Feed[DigestRevision, str]):
    """An Atom feed of the latest digests, one per language."""

    feed_type = Atom1Feed

    def get_object(self, request: HttpRequest, lang: str) -> str:
        return lang

    def feed_guid(self, lang: str) -> str:
        # One id per language: a reader subscribed to both keeps them apart.
        return absolute(reverse("desk:feed", args=[lang]))

    def author_name(self, lang: str) -> str:
        # RFC 4287 wants an author on the feed or on every entry.
        return settings.SITE_NAME if lang == "en" else settings.HEADON_SITE_NAME_ZH

    def title(self, lang: str) -> str:
        with translation.override(DJANGO_LANGUAGE[lang]):
            return _("%(site)s: the night's answers") % {
                "site": settings.SITE_NAME if lang == "en" else settings.HEADON_SITE_NAME_ZH
            }

    def link(self, lang: str) -> str:
        return reverse("desk:answers")

    def subtitle(self, lang: str) -> str:
        with translation.override(DJANGO_LANGUAGE[lang]):
            return _("Every question asked today, answered tonight.")

    def items(self, lang: str) -> list[DigestRevision]:
        latest = (
            DigestRevision.objects.select_related("digest")
            .order_by("-digest__date", "-number")
            .only(
                "digest__date", "digest__first_published_at", "number", "snapshot", "published_at"
            )
        )
        seen: set[dt.date] = set()
        items = []
        for revision in latest[:60]:
            if revision.digest.date in seen:
                continue
            seen.add(revision.digest.date)
            items.append(revision)
            if len(items) == 30:
                break
        return items

    def item_title(self, item: DigestRevision) -> str:
        lang = self._lang
        with translation.override(DJANGO_LANGUAGE[lang]):
            title = _("Answers for %(date)s") % {"date": item.snapshot["date"]}
            if item.number > 1:
                title += " " + _("(revision %(n)s)") % {"n": item.number}
            return title

    def item_description(self, item: DigestRevision) -> str:
        with translation.override(DJANGO_LANGUAGE[self._lang]):
            return render_to_string(
                "desk/_digest_feed_item.html",
                {
                    "snapshot": item.snapshot,
                    "lang": self._lang,
                    "draw_lines": [
                        draw_line(entry, self._lang) for entry in item.snapshot.get("draws", [])
                    ],
                },
            )

    def item_link(self, item: DigestRevision) -> str:
        return reverse("desk:digest", args=[item.snapshot["date"]])

    def item_guid(self, item: DigestRevision) -> str:
        # One entry per date and language, the same across revisions: a
        # correction updates the entry instead of adding a second one.
        page = absolute(reverse("desk:digest", args=[item.snapshot["date"]]))
        return f"{page}?lang={self._lang}"

    def item_pubdate(self, item: DigestRevision) -> dt.datetime:
        # When the date's digest first appeared; `updated` is this revision.
        return item.digest.first_published_at or item.published_at

    def item_updateddate(self, item: DigestRevision) -> dt.datetime:
        return item.published_at

    def __call__(self, request: HttpRequest, *args: Any, **kwargs: Any) -> Any:
        self._lang = kwargs.get("lang", "en")
        # The feed's own language (xml:lang), not the requester's.
        self.language = FEED_LANGUAGE[self._lang]
        return super().__call__(request, *args, **kwargs)


def digest_png(revision: DigestRevision, lang: str) -> bytes:
    """The revision's long PNG in `lang`: drawn once, then kept."""
    stored = DigestImage.objects.filter(revision=revision, language=lang).first()
    if stored is not None:
        return bytes(stored.png)
    png = draw_png(revision.snapshot, lang)
    try:
        with transaction.atomic():
            DigestImage.objects.create(revision=revision, language=lang, png=png)
    except IntegrityError:
        pass  # another process drew it at the same moment: same bytes
    return png


IMAGE_EXCERPT = 160
IMAGE_OPEN = 10


def image_snapshot(snapshot: dict[str, Any], lang: str) -> dict[str, Any]:
    """What the image shows: the first answers, rumours cleared, each as an
    excerpt; the page holds every answer in full. A share-sized picture,
    not a 200,000-pixel one."""
    limit = settings.HEADON_DIGEST_IMAGE_ANSWERS
    answers = [a for a in snapshot["answers"] if not a.get("rumour")]
    rumours = [a for a in snapshot["answers"] if a.get("rumour")]

    def excerpt(entry: dict[str, Any]) -> dict[str, Any]:
        body = markdown_text(pick(entry["body"], lang)).replace("\n", " ")
        if len(body) > IMAGE_EXCERPT:
            body = body[: IMAGE_EXCERPT - 1].rstrip() + "…"
        return entry | {"body": {lang: body}}

    shown = [excerpt(e) for e in answers[:limit]] + [excerpt(e) for e in rumours[:limit]]
    page = absolute(reverse("desk:digest", args=[snapshot["date"]]))
    return snapshot | {
        "answers": shown,
        "open": [
            item | {"question": item["question"] or _("A question awaiting review")}
            for item in open_items(snapshot)[:IMAGE_OPEN]
        ],
        "answers_not_shown": len(snapshot["answers"]) - len(shown),
        "site": snapshot["site"] | {"url": page},
    }


def draw_png(snapshot: dict[str, Any], lang: str) -> bytes:
    from headon.desk.digest.image import render_digest_png

    with translation.override(DJANGO_LANGUAGE[lang]):
        return render_digest_png(
            image_snapshot(snapshot, lang), language=lang, labels=image_labels()
        )


def image_labels() -> Any:
    """The image's words in the active language."""
    from headon.desk.digest.image import ImageLabels

    return ImageLabels(
        title=_("Answers for {date}"),
        revision=_("Revision {n}"),
        published=_("Published {time}"),
        correction=_("Correction"),
        coverage=_("Coverage"),
        coverage_line=_(
            "{asks_covered} of {asks} asks had an answer by the cut-off; "
            "{questions_covered} of {questions} questions answered, {questions_open} still open."
        ),
        answers_heading=_("Tonight's answers"),
        asked_by=_("asked by {n} people"),
        asked_by_one=_("asked by 1 person"),
        channels=_("{n} channels"),
        channels_one=_("1 channel"),
        rumours_heading=_("Rumours cleared"),
        verdict=_("Verdict"),
        verdict_false=_("False"),
        verdict_misleading=_("Misleading"),
        verdict_true=_("True"),
        verdict_unproven=_("Unproven"),
        evidence=_("Evidence"),
        open_heading=_("Still being worked on ({n})"),
        open_more=_("and {n} more"),
        footer=_("Every answer in full: {url}"),
    )
