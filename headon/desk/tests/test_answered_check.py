"""The "Already answered?" list is worked out by the worker and stored; the
digest page reads it and never loads the sentence model (issue 16: a cold
web process took up to a minute to show the page)."""

from __future__ import annotations

import datetime as dt
from unittest import mock

import time_machine
from django.test import override_settings
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from headon.desk import jobs
from headon.desk.digest.services import digest_publish
from headon.desk.models import AnsweredCheck, AnsweredLookalike
from headon.desk.services import answered, lookalikes, merging, setaside, triage
from headon.desk.services import answers as answering
from headon.desk.tests.test_answering import published_answer
from headon.desk.tests.test_looks_answered import (
    DAY,
    MORNING,
    OTHER,
    WARRANTY,
    Desk,
    SubjectEmbedder,
)

LATER = MORNING + dt.timedelta(hours=2)
CHECK = "headon.desk.jobs.check_answered"


def queued() -> int:
    return DBTaskResult.objects.filter(task_path=CHECK, status="READY").count()


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class StoredListTests(Desk):
    def setUp(self) -> None:
        super().setUp()
        self.use(SubjectEmbedder())
        self.warranty = self.publish(["质保多久", "warranty how long"], WARRANTY)
        # Other answers, as in EngineScoreTests: the engine's densities need them.
        for topic in ("可以参观工厂吗", "有没有热泵", "Is there a HUD?"):
            self.publish(
                [topic, f"{topic}？"], {**OTHER, "question_zh": topic, "question_en": topic}
            )
        self.question = self.asked(["保修期是多长时间", "保修期几年"])
        self.page = reverse("desk_staff:digest", args=[DAY])

    def run_job(self) -> None:
        with time_machine.travel(LATER):
            jobs.check_answered.call(DAY.isoformat())

    def view(self, **headers: str) -> str:
        self.client.force_login(self.dave)
        with time_machine.travel(LATER + dt.timedelta(minutes=5)):
            return self.client.get(self.page, headers=headers).content.decode()

    def test_the_job_stores_the_list(self) -> None:
        self.run_job()
        row = AnsweredLookalike.objects.get()
        self.assertEqual((row.day, row.question, row.answer), (DAY, self.question, self.warranty))
        self.assertEqual(row.by, "engine")
        self.assertEqual(row.computed_at, LATER)
        self.assertEqual(AnsweredCheck.objects.get(day=DAY).checked_at, LATER)

    def test_running_the_job_twice_leaves_one_set_of_rows(self) -> None:
        self.run_job()
        self.run_job()
        self.assertEqual(AnsweredLookalike.objects.count(), 1)

    def test_a_run_that_started_before_the_stored_one_keeps_the_newer_list(self) -> None:
        """Two runs at once: the one that started later read the later
        state; the earlier one, finishing last, leaves its list alone."""
        self.run_job()
        self.assertEqual(answered.answered_check(DAY, now=LATER - dt.timedelta(minutes=1)), 0)
        self.assertEqual(AnsweredLookalike.objects.get().computed_at, LATER)
        # The control: a run that started later replaces it.
        answered.answered_check(DAY, now=LATER + dt.timedelta(minutes=1))
        self.assertEqual(
            AnsweredLookalike.objects.get().computed_at, LATER + dt.timedelta(minutes=1)
        )

    def test_the_page_shows_the_stored_rows_and_never_loads_the_model(self) -> None:
        self.run_job()
        merging._embedder_state.clear()  # a fresh web process
        refuse = mock.Mock(side_effect=AssertionError("the page loaded the sentence model"))
        with (
            override_settings(HEADON_EMBEDDER=["e5+use"]),
            mock.patch.object(merging, "embedder", refuse),
            mock.patch.object(merging, "load_embedder", refuse),
            mock.patch.object(answered, "looks_answered", refuse),
        ):
            page = self.view()
            zh = self.view(accept_language="zh-hans")
        refuse.assert_not_called()
        self.assertIn("Already answered? (1)", page)
        self.assertIn(f'name="answer" value="{self.warranty.pk}"', page)
        self.assertIn("Checked 5\xa0minutes ago.", page)
        self.assertIn('action="/staff/desk/digest/2026-12-03/check/"', page)
        self.assertIn("5\xa0分钟前已检查。", zh)

    def test_the_control_the_harness_catches_a_page_that_computes(self) -> None:
        """The guard above would catch the old page, which computed inline."""
        merging._embedder_state.clear()
        refuse = mock.Mock(side_effect=AssertionError("the page loaded the sentence model"))
        with mock.patch.object(merging, "embedder", refuse), self.assertRaises(AssertionError):
            answered.looks_answered(DAY)

    def test_a_question_linked_since_the_check_is_left_out(self) -> None:
        self.run_job()
        answering.question_link(question=self.question, answer=self.warranty, actor=self.carol)
        page = self.view()
        self.assertIn("Already answered? (0)", page)
        self.assertEqual(AnsweredLookalike.objects.count(), 1)  # stored, not shown

    def test_refusing_the_link_queues_a_check_of_the_day(self) -> None:
        self.run_job()
        answering.question_link(question=self.question, answer=self.warranty, actor=self.carol)
        self.assertEqual(queued(), 0)
        answering.question_link_refuse(question=self.question, actor=self.dave)
        self.assertEqual(queued(), 1)

    def test_a_day_never_checked_says_so_and_queues_a_check_without_computing(self) -> None:
        with mock.patch.object(answered, "looks_answered") as compute:
            page = self.view()
            self.view()
        compute.assert_not_called()
        self.assertIn("Not checked yet for this day.", page)
        self.assertIn("Checking…", page)
        self.assertNotIn("Check again", page)
        self.assertEqual(queued(), 1)  # the second view queued no other

    def test_check_again_queues_one_job_however_often_it_is_clicked(self) -> None:
        self.run_job()
        self.client.force_login(self.bob)
        url = reverse("desk_staff:digest_check", args=[DAY])
        with time_machine.travel(LATER + dt.timedelta(minutes=5)):
            self.assertRedirects(self.client.post(url), self.page, fetch_redirect_response=False)
            self.client.post(url)
            page = self.client.get(self.page).content.decode()
        self.assertEqual(queued(), 1)
        self.assertIn("Checking…", page)
        self.assertIn("A check is already waiting to run.", page)
        # The job starts: the next request may queue again (it may have read too early).
        self.run_job()
        self.assertTrue(lookalikes.check_requested(DAY, now=LATER + dt.timedelta(minutes=6)))
        self.assertEqual(queued(), 2)

    def test_a_lost_check_is_queued_again(self) -> None:
        self.assertTrue(lookalikes.check_requested(DAY, now=LATER))
        self.assertFalse(lookalikes.check_requested(DAY, now=LATER + dt.timedelta(minutes=29)))
        later = LATER + lookalikes.LOST_AFTER + dt.timedelta(minutes=1)
        self.assertTrue(lookalikes.check_requested(DAY, now=later))

    def test_check_again_is_for_the_desk_and_post_only(self) -> None:
        url = reverse("desk_staff:digest_check", args=[DAY])
        self.client.force_login(self.erin)  # visits staff
        self.assertEqual(self.client.post(url).status_code, 403)
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(url).status_code, 405)
        self.assertEqual(queued(), 0)

    def test_publishing_says_how_many_from_the_stored_list_and_queues_a_check(self) -> None:
        self.run_job()
        self.client.force_login(self.dave)
        with (
            time_machine.travel(LATER + dt.timedelta(minutes=5)),
            mock.patch.object(answered, "looks_answered") as compute,
        ):
            response = self.client.post(self.page, follow=True)
        compute.assert_not_called()
        self.assertContains(response, "1 open question looks already answered")
        self.assertEqual(queued(), 1)

    def test_a_merge_run_of_the_day_queues_a_check(self) -> None:
        with time_machine.travel(LATER):
            jobs.recluster_day.call(DAY.isoformat())
        self.assertEqual(queued(), 1)

    def test_a_check_that_died_running_shows_the_button_again(self) -> None:
        self.run_job()
        AnsweredCheck.objects.filter(day=DAY).update(started_at=LATER + dt.timedelta(minutes=1))
        self.assertIn("Checking…", self.view())  # five minutes in: still running
        self.client.force_login(self.dave)
        with time_machine.travel(LATER + dt.timedelta(hours=1)):
            page = self.client.get(self.page).content.decode()
        self.assertIn("Check again", page)

    def test_a_day_with_no_asks_is_not_checked_on_its_own(self) -> None:
        self.client.force_login(self.dave)
        with time_machine.travel(LATER):
            page = self.client.get(reverse("desk_staff:digest", args=["2026-01-05"]))
        self.assertContains(page, "Not checked yet for this day.")
        self.assertContains(page, "Check again")
        self.assertEqual(queued(), 0)

    def test_a_question_put_back_from_the_set_aside_queues_a_check(self) -> None:
        self.run_job()
        action = setaside.question_set_aside(
            question=self.question, reason="not_question", actor=self.bob
        )
        self.assertIn("Already answered? (0)", self.view())  # hidden, no check needed
        self.assertEqual(queued(), 0)
        triage.action_undo(action=action, actor=self.bob)
        self.assertEqual(queued(), 1)
        self.assertIn("Already answered? (1)", self.view())
        self.run_job()
        setaside.question_set_aside(question=self.question, reason="not_question", actor=self.bob)
        setaside.set_aside_restore(question=self.question, actor=self.bob)
        self.assertEqual(queued(), 2)  # queued again: the job ran since the first

    def test_a_refused_link_is_not_shown_again_before_the_next_check(self) -> None:
        self.run_job()
        answering.question_link(question=self.question, answer=self.warranty, actor=self.carol)
        answering.question_link_refuse(question=self.question, actor=self.dave)
        self.assertEqual(AnsweredLookalike.objects.count(), 1)  # stored, as checked
        self.assertIn("Already answered? (0)", self.view())

    def test_a_withdrawn_proposal_hides_only_its_own_pair(self) -> None:
        """The control: a refusal of another answer leaves the row shown."""
        self.run_job()
        other = self.publish(
            ["有没有热泵呀"], {**OTHER, "question_zh": "热泵", "question_en": "HP"}
        )
        answering.question_link(question=self.question, answer=other, actor=self.carol)
        answering.question_link_refuse(question=self.question, actor=self.carol)
        self.assertIn("Already answered? (1)", self.view())


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class WhatAsksForACheckTests(Desk):
    """Triage corrections and publications outside a digest change what the
    day's stored list was worked out from: its checked days are checked again."""

    def setUp(self) -> None:
        super().setUp()
        self.use(SubjectEmbedder())
        self.warranty = self.publish(["质保多久", "warranty how long"], WARRANTY)
        self.question = self.asked(["保修期是多长时间", "保修期几年"])
        self.other = self.asked(["充电桩送不送？"])
        with time_machine.travel(LATER):
            jobs.check_answered.call(DAY.isoformat())
        self.assertEqual(queued(), 0)

    def test_a_split_queues_a_check_of_the_day(self) -> None:
        triage.asks_split(asks=[self.question.asks.earliest("pk")], actor=self.bob)
        self.assertEqual(queued(), 1)

    def test_a_move_queues_a_check_of_the_day(self) -> None:
        triage.ask_move(ask=self.other.asks.get(), target=self.question, actor=self.bob)
        self.assertEqual(queued(), 1)

    def test_a_merge_queues_a_check_of_the_day(self) -> None:
        triage.questions_merge(source=self.other, target=self.question, actor=self.bob)
        self.assertEqual(queued(), 1)

    def test_accepting_a_suggestion_queues_a_check_of_the_day(self) -> None:
        ask = self.other.asks.get()
        ask.suggested = self.question
        ask.save(update_fields=["suggested"])
        triage.suggestions_accept(asks=[ask], target=self.question, actor=self.bob)
        self.assertEqual(queued(), 1)

    def test_a_new_title_queues_a_check_of_the_day(self) -> None:
        setaside.question_retitle(question=self.question, title="Battery warranty", actor=self.bob)
        self.assertEqual(queued(), 1)

    def test_flagging_a_rumour_queues_a_check_of_the_day(self) -> None:
        triage.question_flag(question=self.question, rumour=True, actor=self.bob)
        self.assertEqual(queued(), 1)

    def test_a_split_on_a_day_never_checked_queues_nothing(self) -> None:
        """Its first view asks for the first check (see StoredListTests)."""
        elsewhere = self.asked(["保修包括电池吗"], at=MORNING + dt.timedelta(days=1))
        triage.asks_split(asks=[elsewhere.asks.get()], actor=self.bob)
        self.assertEqual(queued(), 0)

    def correct(self, at: dt.datetime) -> None:
        self.warranty.refresh_from_db()
        answer = answering.answer_edit(
            answer=self.warranty,
            actor=self.carol,
            fields={"body_en": f"Changed on {at:%d %B}."},
            version=self.warranty.version,
        )
        answer = answering.answer_submit(answer=answer, actor=self.carol, version=answer.version)
        answer = answering.answer_approve(answer=answer, actor=self.dave, version=answer.version)
        with time_machine.travel(at):
            answering.answer_publish(answer=answer, actor=self.dave, note="Six years now.")

    def test_a_correction_published_on_its_own_page_queues_a_check_of_today(self) -> None:
        self.correct(LATER + dt.timedelta(hours=1))
        self.assertEqual(queued(), 1)
        self.assertIsNotNone(AnsweredCheck.objects.get(day=DAY).queued_at)

    def test_an_answer_published_on_its_own_page_queues_a_check_of_today(self) -> None:
        with time_machine.travel(LATER + dt.timedelta(hours=1)):
            published_answer(self.other, self.carol, self.dave, {**OTHER, **WARRANTY})
        self.assertEqual(queued(), 1)

    def test_a_digest_publication_queues_its_own_checks_once(self) -> None:
        """The control: answers published with a digest go in a batch, and
        the digest asks for its day and today, one job for the day."""
        answer = answering.answer_create(question=self.other, actor=self.carol, fields=WARRANTY)
        answer = answering.answer_submit(answer=answer, actor=self.carol, version=answer.version)
        answering.answer_approve(answer=answer, actor=self.dave, version=answer.version)
        digest_publish(DAY, actor=self.dave, now=LATER + dt.timedelta(hours=1))
        self.assertEqual(queued(), 1)

    def test_a_correction_checks_yesterday_again_but_no_older_day(self) -> None:
        """The day after, yesterday's list still matters until its digest is
        out; a week later, only today's, and only once it was checked."""
        self.correct(LATER + dt.timedelta(days=1))
        self.assertEqual(queued(), 1)
        with time_machine.travel(LATER + dt.timedelta(days=1, minutes=5)):
            jobs.check_answered.call(DAY.isoformat())
        self.correct(LATER + dt.timedelta(days=7))
        self.assertEqual(queued(), 1)  # the one above, and nothing new
        self.assertFalse(AnsweredCheck.objects.filter(day=DAY + dt.timedelta(days=7)).exists())
