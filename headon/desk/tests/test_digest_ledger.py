"""The ledger anyone can recount (issue 18) and a digest that tells one
story (issue 16): every question of the date in the public JSON, each
revision at its own URL, a defined cut-off, times in one offset, every key
documented, and no answered question "still being worked on"."""

from __future__ import annotations

import copy
import datetime as dt
import hashlib
import json
import re
import subprocess  # nosec B404 (runs the reconciler as a stranger would)
import sys
import urllib.request
from pathlib import Path
from typing import Any

import feedparser
import pytest
import time_machine
from django.test import override_settings
from django.urls import reverse

from headon.desk.digest import formats, reconcile_digest
from headon.desk.digest import services as digests
from headon.desk.models import Answer, Ask, Channel, DigestRevision, Question
from headon.desk.services import answers as answering
from headon.desk.tests.test_answering import add_ask, published_answer
from headon.testing import PersonasTestCase, make_staff

DAY = dt.date(2026, 11, 24)
# The cut-off, 23:00 in Shanghai, is 15:00 UTC.
CUTOFF = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)
MORNING = CUTOFF - dt.timedelta(hours=10)
DOC = Path(__file__).resolve().parents[3] / "docs" / "digest.md"


def fields(en: str, zh: str) -> dict[str, str]:
    return {"question_en": en, "question_zh": zh, "body_en": f"About {en}", "body_zh": f"关于{zh}"}


def approved_answer(question: Question, writer: Any, approver: Any, copy: dict[str, str]) -> Answer:
    answer = answering.answer_create(question=question, actor=writer, fields=copy)
    answer = answering.answer_submit(answer=answer, actor=writer, version=answer.version)
    return answering.answer_approve(answer=answer, actor=approver, version=answer.version)


def set_aside(item: Ask | Question, reason: str, at: dt.datetime) -> None:
    item.set_aside, item.set_aside_at = reason, at
    item.save(update_fields=["set_aside", "set_aside_at"])


def recount(data: dict[str, Any]) -> list[str]:
    report = reconcile_digest.Report()
    reconcile_digest.reconcile(data, report)
    return report.problems


class Day:
    """A date with every state of the ledger in it."""

    def __init__(self, test: Any) -> None:
        self.test = test
        self.weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.n = 0

    def asks(self, question: Question | None, count: int, at: dt.datetime = MORNING) -> list[Ask]:
        made = []
        for _ in range(count):
            self.n += 1
            made.append(
                add_ask(self.weibo, self.n, f"ask {self.n}", question, posted_at=at, day=DAY)
            )
        return made

    def build(self) -> None:
        t = self.test
        # 55 open questions: more than the 50 the JSON used to list.
        for i in range(55):
            self.asks(Question.objects.create(text=f"Open question {i}?"), 1 + i % 3)
        covered = [Question.objects.create(text=f"Covered {i}") for i in range(2)]
        self.asks(covered[0], 4)
        self.asks(covered[1], 2)
        with time_machine.travel(MORNING + dt.timedelta(hours=1)):
            answer = published_answer(covered[0], t.carol, t.dave, fields("Covered", "已覆盖"))
            # A link covers once a second person confirms it.
            answering.question_link(question=covered[1], answer=answer, actor=t.carol)
            answering.question_link_confirm(question=covered[1], answer=answer, actor=t.dave)
        self.late = Question.objects.create(text="Late one")
        self.asks(self.late, 3)
        with time_machine.travel(MORNING):
            self.late_answer = approved_answer(self.late, t.carol, t.dave, fields("Late", "迟"))
        spam = Question.objects.create(text="加V看福利 http://spam.example")
        self.asks(spam, 3)
        set_aside(spam, "spam", MORNING + dt.timedelta(hours=2))
        mixed = Question.objects.create(text="Mixed?")
        personal = self.asks(mixed, 3)[0]
        set_aside(personal, "personal", MORNING + dt.timedelta(hours=2))
        loose = self.asks(None, 2)
        set_aside(loose[0], "not_question", MORNING + dt.timedelta(hours=2))
        # Posted after the cut-off, on the same date.
        self.asks(covered[0], 2, CUTOFF + dt.timedelta(minutes=20))


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class LedgerJsonTests(PersonasTestCase):
    def setUp(self) -> None:
        self.day = Day(self)
        self.day.build()

    def publish(self, at: dt.datetime, note: str = "") -> DigestRevision:
        with time_machine.travel(at):
            revision, _created = digests.digest_publish(DAY, actor=self.dave, note=note)
        assert revision is not None
        return revision

    def json(self, number: int | None = None) -> dict[str, Any]:
        name, args = ("desk:digest_json", [DAY.isoformat()])
        if number is not None:
            name, args = ("desk:digest_revision_json", [DAY.isoformat(), str(number)])
        response = self.client.get(reverse(name, args=args))
        self.assertEqual(response.status_code, 200)
        data: dict[str, Any] = json.loads(response.content)
        return data

    def test_the_json_lists_every_question_and_every_figure_is_a_sum_over_it(self) -> None:
        self.publish(CUTOFF + dt.timedelta(hours=1))
        data = self.json()
        rows = data["ledger"]["questions"]
        on_the_day = Question.objects.filter(asks__day=DAY).distinct().count()
        self.assertEqual(len(rows), on_the_day)
        self.assertEqual(on_the_day, 55 + 2 + 1 + 1 + 1)
        self.assertEqual(recount(data), [])
        c = data["coverage"]
        # Counted here ask by ask from the rows, as a stranger would.
        self.assertEqual(c["asks"], Ask.objects.filter(day=DAY).count())
        self.assertEqual((c["asks_covered"], c["asks_late"], c["asks_after_cutoff"]), (8, 3, 2))
        self.assertEqual(c["asks_set_aside_by_reason"]["spam"], 3)
        self.assertEqual(c["asks_set_aside_by_reason"]["personal"], 1)
        self.assertEqual(c["asks_set_aside_by_reason"]["not_question"], 1)
        self.assertEqual((c["asks_unassigned"], c["questions_set_aside"]), (2, 1))
        self.assertEqual(
            c["asks"], c["asks_covered"] + c["asks_late"] + c["asks_open"] + c["asks_set_aside"]
        )
        # Counts with the questions' states, titles (and one for a clean
        # ask's words where a title is spam), what published answers answer
        # (2), the covering answers, earlier days, the night's draws: the
        # same eight queries for 60 questions as for 6.
        with self.assertNumQueries(8):
            digests.build_snapshot(DAY, now=CUTOFF + dt.timedelta(hours=1))
        states = {r["state"] for r in rows}
        self.assertEqual(states, {"covered", "late", "open", "set_aside"})
        late = next(r for r in rows if r["id"] == self.day.late.pk)
        self.assertEqual((late["state"], late["answer_id"]), ("late", self.day.late_answer.pk))
        spam = next(r for r in rows if r["state"] == "set_aside")
        self.assertIsNone(spam["title"])  # its words stay off the public JSON
        self.assertNotIn("加V", response_text := json.dumps(data, ensure_ascii=False))
        self.assertNotIn("spam.example", response_text)

    def test_the_page_counts_set_aside_asks_by_reason_and_never_shows_their_words(self) -> None:
        revision = self.publish(CUTOFF + dt.timedelta(hours=1))
        url = reverse("desk:digest", args=[DAY.isoformat()])
        english = self.client.get(url, headers={"accept-language": "en"}).content.decode()
        self.assertIn(
            "Set aside, by reason: Spam: 3 · Personal data: 1 · Not a question: 1", english
        )
        chinese = self.client.get(url, headers={"accept-language": "zh-hans"}).content.decode()
        self.assertIn("按原因搁置：垃圾信息：3", chinese)
        for lang in formats.LANGUAGES:
            text = "".join(formats.digest_text(revision.snapshot, lang))
            pictured = json.dumps(
                formats.image_snapshot(revision.snapshot, lang), ensure_ascii=False
            )
            for shown in (english, chinese, text, pictured):
                self.assertNotIn("加V", shown)

    def test_a_tampered_ledger_does_not_reconcile(self) -> None:
        self.publish(CUTOFF + dt.timedelta(hours=1))
        data = self.json()
        self.assertEqual(recount(data), [])
        tampered = []
        for change in (
            lambda d: d["coverage"].__setitem__("asks_covered", d["coverage"]["asks_covered"] + 1),
            lambda d: d["ledger"]["questions"].pop(),
            lambda d: d["ledger"]["questions"][-1].update(
                state="covered", answer_id=1, state_at=d["cutoff"]
            ),
            lambda d: d["open"].pop(),
            lambda d: d["answers"][0].__setitem__("asks", 99),
            lambda d: d.__setitem__("answers", "none"),
            lambda d: d["ledger"]["questions"].append("junk"),
            lambda d: d.__setitem__("cutoff", d["cutoff"].replace("+08:00", "+00:00")),
        ):
            forged = copy.deepcopy(data)
            change(forged)
            tampered.append(recount(forged))
        self.assertTrue(all(tampered), tampered)

    def test_a_revision_at_exactly_the_cutoff_counts_no_ask_posted_after_it(self) -> None:
        revision = self.publish(CUTOFF)
        self.assertEqual(revision.snapshot["coverage"]["asks_after_cutoff"], 0)
        self.assertEqual(
            revision.snapshot["coverage"]["asks"],
            Ask.objects.filter(day=DAY, posted_at__lte=CUTOFF).count(),
        )
        self.assertEqual(recount(self.json()), [])

    def test_an_answer_public_exactly_at_the_cutoff_counts_and_one_later_is_late(self) -> None:
        on_time = Question.objects.create(text="On time")
        self.day.asks(on_time, 1)
        with time_machine.travel(CUTOFF, tick=False):
            published_answer(on_time, self.carol, self.dave, fields("On time", "准时"))
        # The digest published after the cut-off publishes the approved
        # answer at its own instant: late, not met by the act of publishing.
        revision = self.publish(CUTOFF + dt.timedelta(seconds=1))
        rows = {r["id"]: r for r in revision.snapshot["ledger"]["questions"]}
        self.assertEqual(rows[on_time.pk]["state"], "covered")
        self.assertEqual(rows[self.day.late.pk]["state"], "late")
        late_answer = Answer.objects.get(pk=self.day.late_answer.pk)
        self.assertEqual(late_answer.first_published_at, CUTOFF + dt.timedelta(seconds=1))
        entry = next(e for e in revision.snapshot["answers"] if e["answer_id"] == late_answer.pk)
        self.assertTrue(entry["late"])

    def test_each_revision_keeps_its_json_and_a_note_alone_makes_none(self) -> None:
        first = self.publish(CUTOFF + dt.timedelta(hours=1))
        # Hours later, nothing changed but a note: no revision 2.
        with time_machine.travel(CUTOFF + dt.timedelta(hours=5)):
            again, created = digests.digest_publish(DAY, actor=self.dave, note="Typo fixed.")
        self.assertEqual((again, created), (first, False))
        question = Question.objects.get(text="Open question 0?")
        with time_machine.travel(CUTOFF + dt.timedelta(hours=6)):
            published_answer(question, self.carol, self.dave, fields("Zero", "零"))
        second = self.publish(CUTOFF + dt.timedelta(hours=7), note="Answered question 0.")
        self.assertEqual(second.number, 2)
        one, two, latest = self.json(1), self.json(2), self.json()
        self.assertEqual((one["revision"], two["revision"], latest["revision"]), (1, 2, 2))
        self.assertEqual(one["coverage"], first.snapshot["coverage"])
        self.assertNotEqual(one["coverage"], two["coverage"])
        self.assertTrue(one["links"]["json"].endswith(f"/answers/{DAY}/r1.json"))
        self.assertEqual(recount(one), [])
        self.assertEqual(recount(two), [])
        self.assertEqual(
            self.client.get(reverse("desk:digest_revision_json", args=[DAY, 3])).status_code, 404
        )

    def test_every_time_is_in_the_organisers_offset(self) -> None:
        answer = Answer.objects.filter(published__isnull=False).get()
        with time_machine.travel(MORNING + dt.timedelta(hours=3)):
            edited = answering.answer_edit(
                answer=answer, actor=self.carol, fields={"body_en": "Fixed"}, version=answer.version
            )
            edited = answering.answer_submit(
                answer=edited, actor=self.carol, version=edited.version
            )
            edited = answering.answer_approve(
                answer=edited, actor=self.dave, version=edited.version
            )
            answering.answer_publish(answer=edited, actor=self.dave, note="Fixed a word.")
        self.publish(CUTOFF + dt.timedelta(hours=1))
        text = json.dumps(self.json())
        times = re.findall(r'"(\d{4}-\d\d-\d\dT[^"]+)"', text)
        self.assertGreater(len(times), 5)
        self.assertEqual({t[-6:] for t in times}, {"+08:00"}, times)

    def test_every_key_of_the_json_is_in_the_doc(self) -> None:
        self.publish(CUTOFF + dt.timedelta(hours=1))
        spans = re.findall(r"`([^`]+)`", DOC.read_text(encoding="utf-8"))
        documented = {word for span in spans for word in re.findall(r"[a-z_]+", span)}
        keys: set[str] = set()

        def walk(value: Any) -> None:
            if isinstance(value, dict):
                keys.update(value)
                for item in value.values():
                    walk(item)
            elif isinstance(value, list):
                for item in value:
                    walk(item)

        walk(self.json())
        self.assertEqual(keys - documented, set())


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class OneStoryTests(PersonasTestCase):
    """Issue 16: "How long is the warranty?" and "Does it support Apple
    CarPlay?" listed as answered and, further down, as still being worked
    on; yesterday's answered questions listed as open today."""

    def test_no_format_lists_a_question_with_a_published_answer_as_worked_on(self) -> None:
        weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        yesterday = DAY - dt.timedelta(days=1)
        n = iter(range(1, 100))

        def asks(question: Question, count: int, day: dt.date) -> None:
            at = digests.cutoff_for(day) - dt.timedelta(hours=5)
            for _ in range(count):
                add_ask(weibo, next(n), question.text, question, posted_at=at, day=day)

        warranty = Question.objects.create(text="How long is the warranty?")
        asks(warranty, 3, yesterday)
        with time_machine.travel(digests.cutoff_for(yesterday) - dt.timedelta(hours=3)):
            published_answer(warranty, self.carol, self.dave, fields(warranty.text, "质保多久？"))
        with time_machine.travel(digests.cutoff_for(yesterday)):
            digests.digest_publish(yesterday, automatic=True)
        # Today: asked again in the answered question, and as a new one.
        asks(warranty, 2, DAY)
        again = Question.objects.create(text="How long is the warranty?")
        asks(again, 2, DAY)
        carplay = Question.objects.create(text="车机支持CarPlay吗")
        asks(carplay, 3, DAY)
        with time_machine.travel(MORNING):
            approved_answer(
                carplay,
                self.carol,
                self.dave,
                fields("Does it support Apple CarPlay?", "车机支持 CarPlay 吗？"),
            )
        carplay_en = Question.objects.create(text="Does it support Apple CarPlay? 🔥🔥")
        asks(carplay_en, 2, DAY)
        uk = Question.objects.create(text="Any plans for the UK market?")
        asks(uk, 1, DAY)
        with time_machine.travel(CUTOFF):
            revision, _created = digests.digest_publish(DAY, automatic=True)
        assert revision is not None
        snapshot = revision.snapshot
        rows = {r["id"]: r for r in snapshot["ledger"]["questions"]}
        self.assertEqual(rows[warranty.pk]["state"], "covered")  # answered yesterday
        self.assertEqual(rows[carplay.pk]["state"], "covered")
        # Not linked by a person: still open in the ledger, but pointed to its answer.
        self.assertEqual(rows[again.pk]["state"], "open")
        self.assertEqual(
            rows[again.pk]["see_answer_id"], Question.objects.get(pk=warranty.pk).answer_id
        )
        self.assertEqual(
            rows[carplay_en.pk]["see_answer_id"], Question.objects.get(pk=carplay.pk).answer_id
        )
        self.assertEqual([item["question"] for item in snapshot["open"]], [uk.text])
        self.assertEqual(snapshot["open_count"], 1)

        worked_on = re.compile(r"(?s)<section aria-labelledby=\"open-h\">.*?</section>")
        for lang in ("en", "zh-hans"):
            html = self.client.get(
                reverse("desk:digest", args=[DAY.isoformat()]), headers={"accept-language": lang}
            ).content.decode()
            section = worked_on.search(html)
            assert section is not None
            self.assertIn("UK market", section.group())
            for words in ("warranty", "CarPlay"):
                self.assertNotIn(words, section.group())
        self.assertIn(
            "Asked again, answered already",
            self.client.get(
                reverse("desk:digest", args=[DAY.isoformat()]), headers={"accept-language": "en"}
            ).content.decode(),
        )
        data = json.loads(
            self.client.get(reverse("desk:digest_json", args=[DAY.isoformat()])).content
        )
        self.assertEqual([i["id"] for i in data["open"]], [uk.pk])
        self.assertEqual(recount(data), [])
        text = self.client.get(reverse("desk:digest_text", args=[DAY.isoformat(), "en"])).content
        self.assertIn(b"Still being worked on: 1 questions", text)
        feed = feedparser.parse(self.client.get(reverse("desk:feed", args=["en"])).content)
        today = next(e for e in feed.entries if DAY.isoformat() in e.title)
        self.assertIn("Still being worked on: 1 question", today.summary)
        for lang in formats.LANGUAGES:
            image = formats.image_snapshot(snapshot, lang)
            self.assertEqual([item["question"] for item in image["open"]], [uk.text])
            self.assertEqual(image["open_count"], 1)


@pytest.mark.django_db(transaction=True)
@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
def test_the_downloaded_reconciler_passes_a_published_digest_and_fails_a_tampered_one(
    live_server: Any, tmp_path: Path
) -> None:
    """What a stranger does: fetch reconcile_digest.py from the digest page's
    link, run it on the date's JSON URL, then on a copy with one figure
    changed."""
    writer, approver = make_staff("carol", "writer"), make_staff("dave", "approver")
    holder = type("Personas", (), {"carol": writer, "dave": approver})()
    Day(holder).build()
    with time_machine.travel(CUTOFF + dt.timedelta(hours=1)):
        digests.digest_publish(DAY, actor=approver)
    base = live_server.url
    page = urllib.request.urlopen(f"{base}/answers/{DAY}/").read().decode()  # noqa: S310
    link = re.search(r'href="([^"]*reconcile_digest\.py)"', page)
    assert link is not None
    script = tmp_path / "reconcile_digest.py"
    script.write_bytes(urllib.request.urlopen(f"{base}{link.group(1)}").read())  # noqa: S310
    # The page names the script's SHA-256, to compare with the repository's copy.
    assert hashlib.sha256(script.read_bytes()).hexdigest() in page
    run = [sys.executable, "-I", str(script)]

    good = subprocess.run(
        [*run, f"{base}/answers/{DAY}/r1.json"], capture_output=True, text=True, timeout=60
    )
    assert good.returncode == 0, good.stdout + good.stderr
    assert "RECONCILED" in good.stdout

    data = json.loads(urllib.request.urlopen(f"{base}/answers/{DAY}.json").read())  # noqa: S310
    data["coverage"]["asks_covered"] += 5  # a prettier night than the rows say
    forged = tmp_path / "forged.json"
    forged.write_text(json.dumps(data), encoding="utf-8")
    bad = subprocess.run([*run, str(forged)], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1, bad.stdout
    assert "MISMATCH coverage.asks_covered" in bad.stdout
    assert "DOES NOT RECONCILE" in bad.stdout
