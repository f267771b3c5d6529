"""Setting asks and questions aside, and the public lists never printing
an ask's raw words (issue 16: the public "still being worked on" list and
its PNG printed `加V看福利 http://…` and a 300-character junk line, and
staff had no way to set an ask aside)."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import time_machine
from django.test import override_settings
from django.urls import reverse

from headon.desk.digest import formats
from headon.desk.digest import services as digests
from headon.desk.models import Ask, Channel, DigestRevision, Question, SetAside, TriageAction
from headon.desk.selectors import day_overview, public_titles, set_aside_counts
from headon.desk.services import setaside, triage
from headon.desk.tests.test_answering import add_ask
from headon.testing import PersonasTestCase

DAY = dt.date(2026, 11, 24)
CUTOFF = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # 23:00 in Shanghai
MORNING = CUTOFF - dt.timedelta(hours=10)
SPAM = "加V看福利 http://t.cn/A6xYz9"
JUNK = "顶顶顶顶顶顶！！！" * 30 + "哈" * 30


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class SetAsideTests(PersonasTestCase):
    def setUp(self) -> None:
        self.weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.n = 0
        self.hud = self.question(SPAM, [SPAM, "有HUD吗", "Is there a head-up display?"])
        self.junk = self.question(JUNK, [JUNK])
        self.seats = self.question("后排有座椅加热吗 🔥🔥🔥", ["后排有座椅加热吗 🔥🔥🔥"])

    def question(self, text: str, asks: list[str]) -> Question:
        question = Question.objects.create(text=text)
        for ask in asks:
            self.n += 1
            add_ask(self.weibo, self.n, ask, question, posted_at=MORNING, likes=10 - self.n)
        return question

    def snapshot(self) -> dict[str, Any]:
        with time_machine.travel(CUTOFF):
            return digests.build_snapshot(DAY)

    def test_the_public_list_never_prints_raw_spam_or_junk(self) -> None:
        listed = [item["question"] for item in self.snapshot()["open"]]
        text = " ".join(listed)
        self.assertNotIn("http", text)
        self.assertNotIn("加V", text)
        self.assertNotIn(JUNK[:20], text)
        # The HUD question is titled after its first clean ask, the seats
        # question without its emoji, the junk withheld.
        self.assertCountEqual(listed, ["有HUD吗", "后排有座椅加热吗", ""])

    def test_a_set_aside_question_leaves_every_format_and_stays_in_the_ledger(self) -> None:
        self.client.force_login(self.bob)
        # Before the snapshot's time: the ledger counts a set-aside from then.
        with time_machine.travel(MORNING + dt.timedelta(hours=1)):
            response = self.client.post(
                reverse("desk_staff:question_action", args=[self.junk.pk]),
                {"action": "set_aside", "reason": "spam"},
            )
        self.assertEqual(response.status_code, 302)
        self.junk.refresh_from_db()
        self.assertEqual(self.junk.set_aside, SetAside.SPAM)
        self.assertEqual(self.junk.set_aside_by, self.bob)
        self.assertEqual(Ask.objects.get(text=JUNK).set_aside, SetAside.SPAM)
        snapshot = self.snapshot()
        self.assertEqual(snapshot["open_count"], 2)
        self.assertEqual(snapshot["coverage"]["asks"], 5)  # still in the ledger
        self.assertEqual(set_aside_counts(DAY), {"spam": 1})
        with time_machine.travel(CUTOFF):
            revision, _new = digests.digest_publish(DAY, automatic=True)
        assert revision is not None
        for lang in ("en", "zh"):
            shown = formats.image_snapshot(revision.snapshot, lang)["open"]
            self.assertNotIn(JUNK[:20], json.dumps(shown, ensure_ascii=False))
        data = json.loads(self.client.get(reverse("desk:digest_json", args=[DAY])).content)
        self.assertEqual(len(data["open"]), 2)

    def test_a_spam_ask_is_set_aside_and_the_undo_puts_it_back(self) -> None:
        spam = Ask.objects.get(text=SPAM)
        self.client.force_login(self.bob)
        self.client.post(
            reverse("desk_staff:question_action", args=[self.hud.pk]),
            {"action": "set_aside_asks", "reason": "spam", "ask": [spam.pk]},
        )
        spam.refresh_from_db()
        self.assertEqual(spam.set_aside, SetAside.SPAM)
        action = TriageAction.objects.get(kind=TriageAction.Kind.SET_ASIDE)
        self.assertEqual(action.sentence(), "Set 1 ask aside as Spam.")
        overview = day_overview(DAY, limit=None, listed=True)
        self.assertEqual(
            sum(item.ranked.figures.asks for item in overview.questions), 4
        )  # 5 asks less the spam one
        aside = day_overview(DAY, limit=None, listed=False)
        self.assertEqual([item.question.pk for item in aside.questions], [self.hud.pk])
        triage.action_undo(action=action, actor=self.bob)
        spam.refresh_from_db()
        self.assertEqual(spam.set_aside, "")
        self.assertIsNone(spam.set_aside_at)

    def test_putting_a_question_back_restores_its_asks_and_is_logged(self) -> None:
        with time_machine.travel(MORNING + dt.timedelta(hours=1)):
            setaside.question_set_aside(question=self.hud, reason="not_question", actor=self.bob)
        self.assertEqual(self.snapshot()["open_count"], 2)
        setaside.set_aside_restore(question=self.hud, actor=self.alice)
        self.assertFalse(Ask.objects.exclude(set_aside="").exists())
        self.assertEqual(self.snapshot()["open_count"], 3)
        sentences = [a.sentence() for a in TriageAction.objects.order_by("id")]
        self.assertEqual(
            sentences,
            [
                f"Set question #{self.hud.pk} aside as Not a question (3 asks).",
                f"Put question #{self.hud.pk} back on the lists (3 asks).",
            ],
        )

    def test_an_approved_title_is_what_the_lists_print(self) -> None:
        setaside.question_retitle(
            question=self.hud, title="  Is there a head-up display?  ", actor=self.bob
        )
        self.hud.refresh_from_db()
        self.assertEqual(public_titles([self.hud])[self.hud.pk], "Is there a head-up display?")
        self.assertIn(
            "Is there a head-up display?", [i["question"] for i in self.snapshot()["open"]]
        )

    def test_an_old_revision_with_raw_words_is_tidied_when_shown(self) -> None:
        with time_machine.travel(CUTOFF):
            revision, _new = digests.digest_publish(DAY, automatic=True)
        assert revision is not None
        # As published before titles were tidied: the raw words.
        DigestRevision.objects.filter(pk=revision.pk).update(
            snapshot=revision.snapshot
            | {"format": "headon-digest/1", "open": [{"question": SPAM, "asked_by": 1}]}
        )
        html = self.client.get(reverse("desk:digest", args=[DAY])).content.decode()
        self.assertNotIn("t.cn", html)
        self.assertNotIn("加V", html)
        data = json.loads(self.client.get(reverse("desk:digest_json", args=[DAY])).content)
        self.assertEqual(data["open"][0]["question"], "")

    def test_only_triagers_set_aside_and_a_reason_is_required(self) -> None:
        url = reverse("desk_staff:question_action", args=[self.junk.pk])
        self.client.force_login(self.carol)
        self.assertEqual(
            self.client.post(url, {"action": "set_aside", "reason": "spam"}).status_code, 403
        )
        self.client.force_login(self.bob)
        response = self.client.post(url, {"action": "set_aside", "reason": "nonsense"}, follow=True)
        self.assertContains(response, "Choose why it is set aside.")
        self.junk.refresh_from_db()
        self.assertEqual(self.junk.set_aside, "")

    def test_the_console_proposes_likely_spam_and_a_person_decides(self) -> None:
        self.client.force_login(self.bob)
        url = reverse("desk_staff:day", args=[DAY.isoformat()])
        with time_machine.travel(CUTOFF):
            spam = self.client.get(url, {"show": "spam"}).content.decode()
            listed = self.client.get(url).content.decode()
        self.assertIn(f'href="/staff/desk/questions/{self.junk.pk}/"', spam)
        self.assertIn(f'href="/staff/desk/questions/{self.hud.pk}/"', spam)
        self.assertNotIn(f'href="/staff/desk/questions/{self.seats.pk}/"', spam)
        self.assertIn(f'href="/staff/desk/questions/{self.seats.pk}/"', listed)
        page = self.client.get(reverse("desk_staff:question", args=[self.hud.pk]))
        self.assertContains(page, "Likely spam")
        self.assertEqual(Question.objects.exclude(set_aside="").count(), 0)


def test_a_re_merge_never_names_a_question_after_a_spam_row() -> None:
    """The HUD asks were titled "加V看福利" after a spam row among them."""
    from headon.desk.services.titles import representative as _representative

    texts = [SPAM, SPAM, "加V看福利 http://t.cn/other", "有HUD吗", "Is there a HUD?"]
    assert _representative(texts) in ("有HUD吗", "Is there a HUD?")
    # Only spam: the staff title keeps the words; the public lists withhold it.
    assert _representative([SPAM]) == "加V看福利"


@override_settings(HEADON_EMBEDDER=["none"])
class AskedByTests(PersonasTestCase):
    def test_a_set_aside_ask_no_longer_counts_among_the_people_who_asked(self) -> None:
        from headon.desk.tests.test_answering import published_answer

        weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        question = Question.objects.create(text="什么时候交付")
        add_ask(weibo, 1, "什么时候交付", question)
        add_ask(weibo, 2, "什么时候交付 加V看福利 http://t.cn/x", question)
        answer = published_answer(question, self.carol, self.dave)
        self.assertEqual(answer.asked_by, 2)
        spam = Ask.objects.get(external_id="t2")
        action = setaside.asks_set_aside(asks=[spam], reason="spam", actor=self.bob)
        answer.refresh_from_db()
        self.assertEqual(answer.asked_by, 1)
        triage.action_undo(action=action, actor=self.bob)
        answer.refresh_from_db()
        self.assertEqual(answer.asked_by, 2)
