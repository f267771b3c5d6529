from __future__ import annotations

import datetime as dt
import json
from io import StringIO
from typing import ClassVar

import feedparser
import time_machine
from django.core.management import call_command
from django.core.management.base import CommandError
from django.test import override_settings
from django.urls import reverse

from headon.desk.digest import formats
from headon.desk.digest import services as digests
from headon.desk.models import Answer, Ask, Channel, DigestRevision, Question
from headon.desk.services import answers as answering
from headon.desk.services import triage
from headon.desk.tests.test_answering import add_ask, published_answer
from headon.testing import PersonasTestCase

DAY = dt.date(2026, 11, 24)
# The cut-off, 23:00 in Shanghai, is 15:00 UTC.
CUTOFF = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)


def fields(en: str, zh: str) -> dict[str, str]:
    return {"question_en": en, "question_zh": zh, "body_en": f"About {en}", "body_zh": f"关于{zh}"}


def ledger_by_hand(day: dt.date, now: dt.datetime) -> dict[str, int]:
    """The ledger counted ask by ask in Python, independently of the SQL:
    the asks posted by `now`, each in its question's state."""
    cutoff = digests.cutoff_for(day)
    counts = dict.fromkeys(
        ("asks", "covered", "late", "open", "questions", "q_covered", "q_late"), 0
    )
    seen: dict[int, str] = {}
    for ask in Ask.objects.filter(day=day, posted_at__lte=now).select_related("question"):
        counts["asks"] += 1
        at = ask.question.covered_at if ask.question else None
        state = "open" if at is None or at > now else "covered" if at <= cutoff else "late"
        counts[state] += 1
        if ask.question_id is not None:
            seen[ask.question_id] = state
    counts["questions"] = len(seen)
    counts["q_covered"] = sum(1 for s in seen.values() if s == "covered")
    counts["q_late"] = sum(1 for s in seen.values() if s == "late")
    return counts


def as_counts(c: digests.Coverage) -> dict[str, int]:
    return {
        "asks": c.asks,
        "covered": c.asks_covered,
        "late": c.asks_late,
        "open": c.asks_open,
        "questions": c.questions,
        "q_covered": c.questions_covered,
        "q_late": c.questions_late,
    }


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class LedgerTests(PersonasTestCase):
    def setUp(self) -> None:
        self.weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.n = 0

    def asks(self, question: Question | None, count: int, at: dt.datetime) -> list[Ask]:
        made = []
        for _ in range(count):
            self.n += 1
            made.append(add_ask(self.weibo, self.n, f"ask {self.n}", question, posted_at=at))
        return made

    def test_the_ledger_reconciles_through_merges_splits_late_asks_and_a_correction(
        self,
    ) -> None:
        morning = CUTOFF - dt.timedelta(hours=10)
        a, b, c, d = (Question.objects.create(text=t) for t in "ABCD")
        self.asks(a, 5, morning)
        self.asks(b, 3, morning)
        c_asks = self.asks(c, 4, morning)
        self.asks(d, 2, morning)
        self.asks(None, 2, morning)  # not merged into a question yet
        with time_machine.travel(morning + dt.timedelta(hours=1)):
            answer_a = published_answer(a, self.carol, self.dave, fields("A", "甲"))
            published_answer(c, self.carol, self.dave, fields("C", "丙"))
        with time_machine.travel(morning + dt.timedelta(hours=2)):
            triage.questions_merge(source=b, target=a, actor=self.bob)
            triage.asks_split(asks=c_asks[:2], actor=self.bob)
        # Late asks: posted after the cut-off on the same date.
        self.asks(a, 2, CUTOFF + dt.timedelta(minutes=30))
        # A correction of A before the cut-off changes no coverage time.
        with time_machine.travel(CUTOFF - dt.timedelta(hours=1)):
            edited = answering.answer_edit(
                answer=answer_a,
                actor=self.carol,
                fields={"body_en": "Corrected"},
                version=Answer.objects.get(pk=answer_a.pk).version,
            )
            edited = answering.answer_submit(
                answer=edited, actor=self.carol, version=edited.version
            )
            edited = answering.answer_approve(
                answer=edited, actor=self.dave, version=edited.version
            )
            answering.answer_publish(answer=edited, actor=self.dave, note="Fixed a date.")

        with time_machine.travel(CUTOFF):
            revision, created = digests.digest_publish(DAY, automatic=True)
        assert revision is not None
        self.assertTrue(created)
        at_cutoff = ledger_by_hand(DAY, CUTOFF)
        snapshot_counts = revision.snapshot["coverage"]
        self.assertEqual(snapshot_counts["asks"], at_cutoff["asks"])
        self.assertEqual(snapshot_counts["asks_covered"], at_cutoff["covered"])
        self.assertEqual(snapshot_counts["questions_covered"], at_cutoff["q_covered"])
        # The two asks posted after the cut-off are not in a revision made at it.
        self.assertEqual(
            (at_cutoff["asks"], at_cutoff["covered"], at_cutoff["questions"]), (16, 10, 4)
        )
        self.assertEqual(snapshot_counts["asks_after_cutoff"], 0)

        # D is answered after the cut-off: late, not covered.
        later = CUTOFF + dt.timedelta(hours=2)
        with time_machine.travel(later):
            published_answer(d, self.carol, self.dave, fields("D", "丁"))
        live = digests.coverage(DAY, now=later + dt.timedelta(minutes=1))
        self.assertEqual(as_counts(live), ledger_by_hand(DAY, later + dt.timedelta(minutes=1)))
        self.assertEqual(live.asks, live.asks_covered + live.asks_late + live.asks_open)
        self.assertEqual(
            live.questions, live.questions_covered + live.questions_late + live.questions_open
        )
        self.assertEqual((live.asks_late, live.questions_late), (2, 1))
        self.assertEqual(live.asks_after_cutoff, 2)
        self.assertEqual(live.asks_unassigned, 2)

    def test_publishing_is_idempotent_and_a_new_revision_needs_a_note(self) -> None:
        morning = CUTOFF - dt.timedelta(hours=10)
        a, b = Question.objects.create(text="A"), Question.objects.create(text="B")
        self.asks(a, 3, morning)
        self.asks(b, 2, morning)
        with time_machine.travel(morning):
            answer = answering.answer_create(question=a, actor=self.carol, fields=fields("A", "甲"))
            answer = answering.answer_submit(answer=answer, actor=self.carol, version=1)
            answering.answer_approve(answer=answer, actor=self.dave, version=1)
        with time_machine.travel(CUTOFF):
            first, created = digests.digest_publish(DAY, automatic=True)
            again, created_again = digests.digest_publish(DAY, actor=self.dave)
        assert first is not None
        self.assertTrue(created)
        self.assertFalse(created_again)
        self.assertEqual(again, first)
        self.assertEqual([e["answer_id"] for e in first.snapshot["answers"]], [answer.pk])
        self.assertEqual(first.snapshot["open_count"], 1)
        # The digest published the approved answer.
        self.assertEqual(Answer.objects.get(pk=answer.pk).status, Answer.Status.PUBLISHED)

        before = feedparser.parse(self.client.get(reverse("desk:feed", args=["en"])).content)

        later = CUTOFF + dt.timedelta(hours=1)
        with time_machine.travel(later):
            published_answer(b, self.carol, self.dave, fields("B", "乙"))
            # The automatic run never adds a revision; a person must, with a note.
            self.assertEqual(digests.digest_publish(DAY, automatic=True), (first, False))
            with self.assertRaises(digests.DigestError):
                digests.digest_publish(DAY, actor=self.dave)
            second, created = digests.digest_publish(
                DAY, actor=self.dave, note="Added the late answer to B."
            )
        assert second is not None
        self.assertTrue(created)
        self.assertEqual(second.number, 2)
        self.assertEqual(second.snapshot["note"], "Added the late answer to B.")
        # A feed reader sees the same entry, updated, not a second one.
        after = feedparser.parse(self.client.get(reverse("desk:feed", args=["en"])).content)
        self.assertEqual(len(after.entries), 1)
        self.assertEqual(after.entries[0].id, before.entries[0].id)
        self.assertEqual(after.entries[0].published, before.entries[0].published)
        self.assertNotEqual(after.entries[0].updated, before.entries[0].updated)
        self.assertEqual(len(second.snapshot["answers"]), 2)
        self.assertTrue(
            second.snapshot["answers"][1]["late"] or second.snapshot["answers"][0]["late"]
        )
        # Revision 1 is kept as it was.
        first.refresh_from_db()
        self.assertEqual(len(first.snapshot["answers"]), 1)

    def test_digest_due_after_the_cutoff_only_once(self) -> None:
        self.asks(Question.objects.create(text="A"), 1, CUTOFF - dt.timedelta(hours=1))
        self.assertIsNone(digests.digest_due(CUTOFF - dt.timedelta(minutes=1)))
        self.assertEqual(digests.digest_due(CUTOFF + dt.timedelta(minutes=1)), DAY)
        with time_machine.travel(CUTOFF + dt.timedelta(minutes=1)):
            digests.digest_publish(DAY, automatic=True)
        self.assertIsNone(digests.digest_due(CUTOFF + dt.timedelta(minutes=2)))


XSS = '<script>alert("x")</script><img src=x onerror=alert(1)>'


@override_settings(
    HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00", HEADON_SOCIAL_TEXT_LIMIT=280
)
class DigestFormatTests(PersonasTestCase):
    revision: ClassVar[DigestRevision]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        morning = CUTOFF - dt.timedelta(hours=10)
        n = 0
        for i in range(6):
            question = Question.objects.create(text=f"{XSS} question {i}", is_rumour=i == 5)
            for _ in range(6 - i):
                n += 1
                add_ask(weibo, n, f"{XSS} ask {n}", question, posted_at=morning)
            if i < 5 or i == 5:
                extra = (
                    {
                        "claim_en": f"{XSS} claim",
                        "claim_zh": "电池是二手的",
                        "verdict": "false",
                        "evidence_en": "Invoices from the cell maker.",
                        "evidence_zh": "电芯厂的发票。",
                    }
                    if i == 5
                    else {}
                )
                with time_machine.travel(morning):
                    published_answer(
                        question,
                        cls.carol,
                        cls.dave,
                        {
                            "question_en": f"{XSS} Question {i}?",
                            "question_zh": f"问题{i}？",
                            "body_en": f"Answer {i}. " + "Long text. " * 20 + XSS,
                            "body_zh": f"回答{i}。" + "很长的文字。" * 20,
                        }
                        | extra,
                    )
        Question.objects.create(text="open one")
        n += 1
        add_ask(weibo, n, "open", Question.objects.get(text="open one"), posted_at=morning)
        with time_machine.travel(CUTOFF):
            revision, _created = digests.digest_publish(DAY, automatic=True)
        assert revision is not None
        cls.revision = revision

    def test_page_shows_answers_rumours_open_and_coverage_in_both_languages(self) -> None:
        url = reverse("desk:digest", args=[DAY.isoformat()])
        with self.assertNumQueries(3):  # revision, previous date, next date
            response = self.client.get(url, headers={"accept-language": "en"})
        html = response.content.decode()
        self.assertContains(response, "Rumours cleared")
        self.assertContains(response, "Still being worked on: 1 question")
        self.assertIn("95%", html)  # 22 asks, 21 covered
        self.assertNotIn("<script>alert", html)
        self.assertNotIn("<img src=x", html)
        response = self.client.get(url, headers={"accept-language": "zh-hans"})
        self.assertContains(response, "问题0？")
        self.assertContains(response, "谣言")

    def test_atom_feed_parses_with_a_real_feed_reader(self) -> None:
        for lang in ("en", "zh"):
            response = self.client.get(reverse("desk:feed", args=[lang]))
            self.assertEqual(response.status_code, 200)
            feed = feedparser.parse(response.content)
            self.assertFalse(feed.bozo, feed.get("bozo_exception"))
            self.assertEqual(feed.version, "atom10")
            self.assertEqual(len(feed.entries), 1)
            entry = feed.entries[0]
            self.assertIn(DAY.isoformat(), entry.title)
            self.assertTrue(entry.link.endswith(f"/answers/{DAY.isoformat()}/"))
            self.assertNotIn("<script", entry.summary)

    def test_each_feed_speaks_its_own_language_with_ids_of_its_own(self) -> None:
        """zh.atom said xml:lang="en" to an English browser, both feeds had
        one feed id and the same entry ids, and no author (RFC 4287)."""
        feeds = {}
        for lang, xml_lang in (("en", "en"), ("zh", "zh-Hans")):
            response = self.client.get(
                reverse("desk:feed", args=[lang]), headers={"accept-language": "en"}
            )
            self.assertEqual(response["Content-Language"], xml_lang)
            feeds[lang] = feedparser.parse(response.content)
            self.assertFalse(feeds[lang].bozo, feeds[lang].get("bozo_exception"))
            self.assertEqual(feeds[lang].feed.language, xml_lang)
            self.assertTrue(feeds[lang].feed.author)
        self.assertNotEqual(feeds["en"].feed.id, feeds["zh"].feed.id)
        self.assertNotEqual(feeds["en"].entries[0].id, feeds["zh"].entries[0].id)
        self.assertIn("Covered by the cut-off: ", feeds["en"].entries[0].summary)
        self.assertRegex(feeds["en"].entries[0].summary, r"\d+% of ")
        self.assertIn("截止时已覆盖", feeds["zh"].entries[0].summary)

    def test_a_feed_reader_polling_gets_304_until_something_changes(self) -> None:
        url = reverse("desk:feed", args=["en"])
        first = self.client.get(url)
        again = self.client.get(
            url,
            headers={
                "if-none-match": first["ETag"],
                "if-modified-since": first["Last-Modified"],
            },
        )
        self.assertEqual(again.status_code, 304)
        other = self.client.get(reverse("desk:feed", args=["zh"]))
        self.assertNotEqual(other["ETag"], first["ETag"])

    def test_json_and_text(self) -> None:
        response = self.client.get(reverse("desk:digest_json", args=[DAY.isoformat()]))
        data = json.loads(response.content)
        self.assertEqual(data["format"], "headon-digest/2")
        self.assertEqual(data["coverage"]["asks"], 22)
        self.assertTrue(data["answers"][0]["url"].startswith("http"))
        response = self.client.get(reverse("desk:digest_text", args=[DAY.isoformat(), "zh"]))
        self.assertEqual(response["content-type"], "text/plain; charset=utf-8")
        parts = formats.digest_text(self.revision.snapshot, "zh", 280)
        self.assertGreater(len(parts), 1)
        for part in parts:
            self.assertLessEqual(len(part), 280)
        self.assertTrue(parts[0].endswith(f"(1/{len(parts)})"))

    def test_png_in_both_languages_is_drawn_once(self) -> None:
        for lang in ("zh", "en"):
            url = reverse("desk:digest_png", args=[DAY.isoformat(), lang])
            first = self.client.get(url)
            self.assertEqual(first["content-type"], "image/png")
            self.assertTrue(first.content.startswith(b"\x89PNG"))
            self.assertEqual(self.client.get(url).content, first.content)
        self.assertEqual(DigestRevision.objects.get().images.count(), 2)

    def test_unknown_dates_and_languages_are_404(self) -> None:
        self.assertEqual(self.client.get("/answers/2026-01-01/").status_code, 404)
        self.assertEqual(self.client.get("/answers/2026-13-45/").status_code, 404)
        self.assertEqual(self.client.get(f"/answers/{DAY}/fr.txt").status_code, 404)
        self.assertEqual(self.client.get("/answers/feed/xx.atom").status_code, 404)

    def test_staff_digest_page_and_publish_rights(self) -> None:
        url = reverse("desk_staff:digest", args=[DAY.isoformat()])
        self.client.force_login(self.carol)
        self.assertEqual(self.client.get(url).status_code, 200)
        self.assertEqual(self.client.post(url, {"note": "x"}).status_code, 403)
        self.client.force_login(self.dave)
        response = self.client.post(url, {"note": ""}, follow=True)
        self.assertContains(response, "Nothing changed")


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class DigestCommandTests(PersonasTestCase):
    def setUp(self) -> None:
        weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        question = Question.objects.create(text="A")
        add_ask(weibo, 1, "A", question, posted_at=CUTOFF - dt.timedelta(hours=2))

    def test_the_command_publishes_then_keeps(self) -> None:
        out = StringIO()
        with time_machine.travel(CUTOFF + dt.timedelta(minutes=5)):
            call_command("digest", "publish", "--date", DAY.isoformat(), stdout=out)
            call_command("digest", "publish", "--date", DAY.isoformat(), stdout=out)
        self.assertIn("Published the digest of 2026-11-24, revision 1", out.getvalue())
        self.assertIn("Unchanged: the digest of 2026-11-24, revision 1", out.getvalue())
        with self.assertRaisesMessage(CommandError, "not a date"):
            call_command("digest", "publish", "--date", "yesterday")

    def test_the_worker_clock_enqueues_the_due_digest_once_it_is_due(self) -> None:
        from django_tasks_db.models import DBTaskResult

        from headon.ops.management.commands.worker import clock_tick

        with time_machine.travel(CUTOFF - dt.timedelta(minutes=5)):
            self.assertFalse(clock_tick())
        with time_machine.travel(CUTOFF + dt.timedelta(minutes=5)):
            self.assertTrue(clock_tick())
            job = DBTaskResult.objects.get()
            self.assertTrue(job.task_path.endswith("publish_due_digest"))
            from headon.desk import jobs

            self.assertEqual(jobs.publish_due_digest.call(), "2026-11-24 r1")
            self.assertFalse(clock_tick())
