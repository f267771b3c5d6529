"""The desk learns its own words: after a published digest the worker fits
a transform on the confirmed history, stores it with that history, and
live assignment and re-clusters use the latest one. The fake embedder of
test_merging.py stands in for the model."""

from __future__ import annotations

import datetime as dt

import numpy as np
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from headon.desk import jobs
from headon.desk.digest.services import cutoff_for, digest_publish
from headon.desk.merging import Locks, Transform, match_key
from headon.desk.models import Ask, LearnedTransform, Question
from headon.desk.services import learning, merging, triage
from headon.desk.tests.test_answering import add_ask, published_answer
from headon.desk.tests.test_merging import FakeEmbedder
from headon.testing import PersonasTestCase

DAY = dt.date(2026, 11, 24)
AT = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
FITTED = dt.datetime(2026, 11, 24, 16, 0, tzinfo=dt.UTC)

# Six wordings a question, so that every third can be held out to choose
# the bands on (two of each answered question).
TOPICS = {
    "delivery": [
        "什么时候交付",
        "when will my car be delivered",
        "交车要等多久",
        "delivery date?",
        "几号能提车",
        "how long until delivery",
    ],
    "range": [
        "续航多少公里",
        "what is the real range",
        "满电能跑多远",
        "range on one charge",
        "冬天续航掉多少",
        "how far does it go",
    ],
    "price": [
        "售价多少钱",
        "how much does it cost",
        "落地价是多少",
        "what is the price",
        "有优惠吗",
        "price after subsidy",
    ],
}


class TopicEmbedder(FakeEmbedder):
    """test_merging's fake space, with these wordings: a topic an axis."""

    def __init__(self) -> None:
        super().__init__()
        rng = np.random.default_rng(1)
        for axis, texts in enumerate(TOPICS.values()):
            for text in texts:
                vec = np.zeros(self.dim, dtype=np.float32)
                vec[axis] = 1.0
                vec[3:] = rng.normal(0, 0.2, self.dim - 3)
                self.vectors[match_key(text)] = vec / np.linalg.norm(vec)


class LearningTests(PersonasTestCase):
    def setUp(self) -> None:
        merging._embedder_state.clear()
        merging._embedder_state["loaded"] = TopicEmbedder()
        merging._engines.clear()
        merging._transform_state.clear()
        for state in (merging._embedder_state, merging._engines, merging._transform_state):
            self.addCleanup(state.clear)
        from headon.desk.models import Channel

        self.channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        self.questions: dict[str, Question] = {}
        n = 0
        for topic, texts in TOPICS.items():
            question = Question.objects.create(text=texts[0])
            self.questions[topic] = question
            for text in texts:
                n += 1
                add_ask(self.channel, n, text, question, posted_at=AT + dt.timedelta(minutes=n))

    def answer_and_publish(self, *topics: str) -> None:
        for topic in topics:
            published_answer(self.questions[topic], self.carol, self.dave)
        digest_publish(DAY, now=cutoff_for(DAY))

    def test_with_no_published_night_nothing_is_learned_and_the_engine_runs_as_shipped(
        self,
    ) -> None:
        self.assertIsNone(learning.transform_refit())
        self.assertFalse(LearnedTransform.objects.exists())
        self.assertEqual(merging.current_transform(merging.embedder()), (0, None))
        engine, row = merging.new_engine(locks=Locks(), closed=frozenset())
        self.assertEqual((engine.transform, row), (None, 0))

    def test_a_published_night_is_learned_from_and_stored_with_its_history(self) -> None:
        self.answer_and_publish("delivery", "range")
        fitted = learning.transform_refit(now=FITTED)
        assert fitted is not None
        self.assertEqual(fitted.embedder, "fake")
        self.assertEqual((fitted.questions, fitted.asks, fitted.nights), (2, 12, 1))
        self.assertEqual(fitted.held_out, 4)  # the third and sixth wording of each
        self.assertEqual((fitted.first_day, fitted.last_day), (DAY, DAY))
        self.assertEqual(fitted.fitted_at, FITTED)
        transform = Transform.from_bytes(bytes(fitted.data))
        self.assertEqual(transform.dims[0], FakeEmbedder.dim)
        self.assertEqual(transform.classes, 2)  # the unanswered price question is not one
        self.assertEqual(transform.examples, 12)  # fitted again on all, once the bands are chosen
        # The bands chosen on the held-out wordings travel with it.
        self.assertIn("meaning", transform.thresholds)
        self.assertIn("suggest", transform.thresholds)
        assert fitted.precision is not None
        self.assertGreaterEqual(fitted.precision, 0.95)

    def test_refitting_the_same_history_adds_nothing_and_a_correction_refits(self) -> None:
        self.answer_and_publish("delivery", "range")
        first = learning.transform_refit()
        self.assertEqual(learning.transform_refit(), first)
        self.assertEqual(LearnedTransform.objects.count(), 1)
        # A person moves an ask into the delivery question: it and the asks
        # it joined make pairs, and the history has changed.
        ask = Ask.objects.filter(question=self.questions["price"]).first()
        assert ask is not None
        triage.ask_move(ask=ask, target=self.questions["delivery"], actor=self.bob)
        second = learning.transform_refit()
        assert first is not None
        assert second is not None
        self.assertNotEqual(second.pk, first.pk)
        self.assertGreater(second.pairs, 0)

    def test_a_refused_suggestion_teaches_a_pair_that_is_apart(self) -> None:
        self.answer_and_publish("delivery", "range")
        ask = Ask.objects.filter(question=self.questions["price"]).first()
        assert ask is not None
        Ask.objects.filter(pk=ask.pk).update(suggested=self.questions["delivery"])
        triage.suggestions_refuse(asks=[ask], target=self.questions["delivery"], actor=self.bob)
        history = learning.confirmed_history()
        self.assertTrue(history.different)
        self.assertEqual(history.same, [])
        refused_row = next(i for i, (a, _t, _l) in enumerate(history.rows) if a == ask.pk)
        self.assertTrue(all(a == refused_row for a, _b in history.different))

    def test_live_assignment_and_reclusters_use_the_latest_transform(self) -> None:
        self.answer_and_publish("delivery", "range")
        fitted = learning.transform_refit()
        assert fitted is not None
        row, transform = merging.current_transform(merging.embedder())
        self.assertEqual(row, fitted.pk)
        assert transform is not None
        engine, used = merging.new_engine(locks=Locks(), closed=frozenset())
        self.assertIs(engine.transform, transform)
        self.assertEqual(used, fitted.pk)
        later = DAY + dt.timedelta(days=1)
        add_ask(self.channel, 99, "什么时候交付", None, day=later)
        with self.captureOnCommitCallbacks(execute=True):
            merging.assign_unassigned(later)
        self.assertIs(merging._engines[later][0].transform, transform)
        self.assertEqual(merging.recluster_day(later).questions, 1)

    def test_an_unreadable_transform_is_not_used(self) -> None:
        LearnedTransform.objects.create(
            embedder="fake",
            data=b"not a transform",
            first_day=DAY,
            last_day=DAY,
            nights=1,
            questions=2,
            asks=8,
            history_hash="x",
            fitted_at=FITTED,
        )
        with self.assertLogs("headon.desk.services.merging", "ERROR"):
            row, transform = merging.current_transform(merging.embedder())
        self.assertIsNone(transform)
        self.assertEqual(merging.new_engine(locks=Locks(), closed=frozenset())[0].transform, None)
        self.assertNotEqual(row, 0)

    def test_publishing_a_digest_queues_the_refit_and_the_job_fits_once(self) -> None:
        self.answer_and_publish("delivery", "range")
        job = DBTaskResult.objects.get(task_path="headon.desk.jobs.refit_transform")
        self.assertEqual(job.args_kwargs["args"], [])
        fitted = jobs.refit_transform.call()
        self.assertEqual(fitted, LearnedTransform.objects.get().pk)
        self.assertEqual(jobs.refit_transform.call(), fitted)

    def test_the_console_says_what_the_engine_learned(self) -> None:
        self.client.force_login(self.bob)
        url = reverse("desk_staff:day", args=[DAY.isoformat()])
        self.assertContains(self.client.get(url), "has not learned from this desk")
        self.answer_and_publish("delivery", "range")
        learning.transform_refit(now=FITTED)
        page = self.client.get(url)
        self.assertContains(
            page,
            "learned this desk's words from 2 answered questions and 12 asks on 1 published"
            " night, fitted at 2026-11-25 00:00.",
        )
        page = self.client.get(url, HTTP_ACCEPT_LANGUAGE="zh-hans")
        self.assertContains(page, "合并引擎已从 1 个已发布的夜晚中 2 个已回答的问题")
