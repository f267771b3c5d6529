from __future__ import annotations

import datetime as dt

from django.test import override_settings
from django.urls import reverse

from headon.desk.merging.normalise import exact_key
from headon.desk.models import Ask, Channel, Question, TriageAction
from headon.desk.services import merging, triage
from headon.testing import PersonasTestCase

DAY = dt.date(2026, 11, 24)
AT = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


def qid(ask: Ask) -> int:
    assert ask.question_id is not None
    return ask.question_id


def add_ask(channel: Channel, n: int, text: str, author: str = "") -> Ask:
    return Ask.objects.create(
        channel=channel,
        external_id=f"t{n}",
        text=text,
        author=author,
        author_key=author,
        posted_at=AT + dt.timedelta(minutes=n),
        day=DAY,
        match_key=exact_key(text),
    )


@override_settings(HEADON_EMBEDDER=["none"])
class TriageTests(PersonasTestCase):
    def setUp(self) -> None:
        merging._embedder_state.clear()
        self.addCleanup(merging._embedder_state.clear)
        self.channel = Channel.objects.create(
            slug="weibo", name="Weibo", kind=Channel.Kind.SOCIAL_EXPORT
        )
        texts = [
            "什么时候交付？",
            "什么时候交付？？😂",
            "@客服 什么时候交付?",
            "Is the range real?",
            "is the range real??",
        ]
        self.asks = [add_ask(self.channel, n, text, author=f"a{n}") for n, text in enumerate(texts)]
        merging.recluster_day(DAY)
        for ask in self.asks:
            ask.refresh_from_db()

    def test_the_day_is_clustered_into_distinct_questions(self) -> None:
        self.assertEqual(len({a.question_id for a in self.asks[:3]}), 1)
        self.assertEqual(len({a.question_id for a in self.asks[3:]}), 1)
        self.assertNotEqual(self.asks[0].question_id, self.asks[3].question_id)

    def test_a_split_is_never_overturned_by_a_later_run_and_undo_restores_it(self) -> None:
        new, action = triage.asks_split(asks=[self.asks[2]], actor=self.bob)
        merging.recluster_day(DAY)
        self.asks[2].refresh_from_db()
        self.assertEqual(self.asks[2].question_id, new.pk)
        triage.action_undo(action=action, actor=self.bob)
        self.asks[2].refresh_from_db()
        self.assertEqual(self.asks[2].question_id, self.asks[0].question_id)

    def test_a_merge_holds_through_a_rerun_and_can_be_undone(self) -> None:
        source = Question.objects.get(pk=qid(self.asks[3]))
        target = Question.objects.get(pk=qid(self.asks[0]))
        action = triage.questions_merge(source=source, target=target, actor=self.bob)
        merging.recluster_day(DAY)
        self.assertEqual(Ask.objects.filter(question=target).count(), 5)
        triage.action_undo(action=action, actor=self.bob)
        self.assertEqual(Ask.objects.filter(question=source).count(), 2)
        self.assertIsNone(Question.objects.get(pk=source.pk).merged_into_id)

    def test_an_undo_refuses_when_a_later_change_moved_the_same_asks(self) -> None:
        first = triage.ask_move(
            ask=self.asks[0],
            target=Question.objects.get(pk=qid(self.asks[3])),
            actor=self.bob,
        )
        triage.asks_split(asks=[Ask.objects.get(pk=self.asks[0].pk)], actor=self.bob)
        with self.assertRaises(triage.TriageError):
            triage.action_undo(action=first, actor=self.bob)

    def test_new_asks_join_existing_questions_without_moving_old_ones(self) -> None:
        late = add_ask(self.channel, 10, "什么时候交付？？？", author="z")
        self.assertEqual(merging.assign_unassigned(DAY), 1)
        late.refresh_from_db()
        self.assertEqual(late.question_id, self.asks[0].question_id)

    def test_a_question_is_titled_without_emoji_mentions_or_a_run_of_marks(self) -> None:
        self.assertEqual(Question.objects.get(pk=qid(self.asks[0])).text, "什么时候交付？")
        self.assertEqual(Question.objects.get(pk=qid(self.asks[3])).text, "Is the range real?")
        late = add_ask(self.channel, 11, "@HeadonMotors Can I tow a trailer?? 🚗 https://t.cn/x")
        merging.assign_unassigned(DAY)
        late.refresh_from_db()
        self.assertEqual(Question.objects.get(pk=qid(late)).text, "Can I tow a trailer?")
        self.assertIn("🚗", late.text)  # the ask itself is kept as received
        only_emoji = add_ask(self.channel, 12, "🚗🚗🚗")
        merging.assign_unassigned(DAY)
        only_emoji.refresh_from_db()
        self.assertEqual(Question.objects.get(pk=qid(only_emoji)).text, "🚗🚗🚗")

    def test_the_console_ranks_questions_and_explains_each(self) -> None:
        self.client.force_login(self.bob)
        response = self.client.get(reverse("desk_staff:day", args=[DAY.isoformat()]))
        page = response.content.decode()
        self.assertIn("asked by 3 people on 1 channel, ", page)
        self.assertLess(page.index("什么时候交付"), page.index("range real"))
        # Each question shows its asks per hour through the day.
        self.assertEqual(page.count('<div class="trend"><svg'), len(response.context["trends"]))
        self.assertGreater(len(response.context["trends"]), 1)

    def test_every_question_of_a_busy_day_can_be_reached_page_by_page(self) -> None:
        """The console showed the first 50 questions, "50+", and no way on."""
        for n in range(73):
            question = Question.objects.create(text=f"question {n}")
            ask = add_ask(self.channel, 100 + n, f"question {n}", author=f"p{n}")
            Ask.objects.filter(pk=ask.pk).update(question=question)
        self.client.force_login(self.bob)
        url = reverse("desk_staff:day", args=[DAY.isoformat()])
        first = self.client.get(url)
        self.assertEqual(len(first.context["trends"]), 50)
        self.assertEqual(first.context["overview"].distinct, 75)
        self.assertContains(first, "Page 1 of 2")
        second = self.client.get(url, {"page": 2})
        self.assertEqual(len(second.context["trends"]), 25)
        self.assertContains(second, '<ol class="questions" start="51">')
        shown = {item.question.pk for item, _ in first.context["trends"] + second.context["trends"]}
        self.assertEqual(len(shown), 75)
        self.assertEqual(self.client.get(url, {"page": "abc"}).context["page"], 1)

    def test_the_console_takes_a_fixed_number_of_queries(self) -> None:
        self.client.force_login(self.bob)
        url = reverse("desk_staff:day", args=[DAY.isoformat()])
        self.client.get(url)
        # Session, user, permissions (2), then the overview: totals (with the
        # review queue's count), figures, hours, rumours, questions, samples;
        # then the import form's channels and recent imports (triagers
        # import), and what the engine learned. The same for 5 asks or 100,000.
        with self.assertNumQueries(13):
            self.client.get(url)

    def test_triage_through_the_pages_is_logged_and_writers_cannot_do_it(self) -> None:
        question = qid(self.asks[0])
        self.client.force_login(self.carol)
        url = reverse("desk_staff:question_action", args=[question])
        self.assertEqual(self.client.post(url, {"action": "flag"}).status_code, 403)
        self.client.force_login(self.bob)
        self.client.post(url, {"action": "flag"})
        self.assertTrue(Question.objects.get(pk=question).is_rumour)
        self.client.post(url, {"action": "split", "ask": [self.asks[1].pk]})
        self.assertEqual(TriageAction.objects.count(), 2)
        log = self.client.get(reverse("desk_staff:actions"))
        self.assertContains(log, "Undo")
        # Sentences, not the stored dicts, in the reader's language.
        self.assertContains(log, f"Flagged question #{question} as a rumour.")
        self.assertContains(log, "Split 1 ask off into a new question, #")
        self.assertNotContains(log, "{&#x27;question&#x27;")
        zh = self.client.get(reverse("desk_staff:actions"), headers={"accept-language": "zh-hans"})
        self.assertContains(zh, f"已将问题 #{question} 标记为谣言。")

    def test_a_mistyped_merge_target_is_an_error_on_the_page_not_a_404(self) -> None:
        question = qid(self.asks[0])
        self.client.force_login(self.bob)
        url = reverse("desk_staff:question_action", args=[question])
        for typed in ("abc", "99999", "-1", "", "9" * 40):
            with self.subTest(typed=typed):
                response = self.client.post(url, {"action": "merge", "target": typed}, follow=True)
                self.assertEqual(response.status_code, 200)
                self.assertContains(response, "There is no question number")
        self.assertFalse(TriageAction.objects.exists())

    def test_a_refused_page_logs_one_line_not_a_traceback(self) -> None:
        self.client.force_login(self.carol)
        url = reverse("desk_staff:question_action", args=[qid(self.asks[0])])
        with self.assertLogs("django.request", "WARNING") as logs:
            self.assertEqual(self.client.post(url, {"action": "flag"}).status_code, 403)
        self.assertEqual([r.exc_info for r in logs.records], [None])

    def test_the_console_figures_add_up_to_the_asks_in_the_database(self) -> None:
        from headon.desk.selectors import day_overview

        add_ask(self.channel, 20, "完全不同的问题：颜色有哪些？", author="")
        merging.assign_unassigned(DAY)
        overview = day_overview(DAY)
        self.assertEqual(overview.asks, Ask.objects.filter(day=DAY).count())
        self.assertEqual(overview.unassigned, 0)
        self.assertEqual(sum(q.ranked.figures.asks for q in overview.questions), overview.asks)
        self.assertEqual(
            sum(q.ranked.figures.people for q in overview.questions),
            Ask.objects.filter(day=DAY)
            .exclude(author_key="")
            .values("question", "author_key")
            .distinct()
            .count()
            + Ask.objects.filter(day=DAY, author_key="").count(),
        )

    def test_the_kept_engine_notices_a_correction_made_elsewhere(self) -> None:
        add_ask(self.channel, 30, "什么时候交付？？？？", author="y")
        merging.assign_unassigned(DAY)  # builds and keeps the day's engine
        triage.asks_split(
            asks=list(Ask.objects.filter(pk__in=[self.asks[0].pk, self.asks[1].pk])), actor=self.bob
        )
        late = add_ask(self.channel, 31, "什么时候交付", author="w")
        merging.assign_unassigned(DAY)
        late.refresh_from_db()
        moved = Ask.objects.get(pk=self.asks[0].pk)
        # The split-off question holds the wording now; the engine rebuilt
        # with the correction pinned, so the new ask follows its exact key.
        self.assertIn(late.question_id, {moved.question_id, qid(self.asks[2])})
        self.assertEqual(Ask.objects.get(pk=self.asks[1].pk).question_id, moved.question_id)
