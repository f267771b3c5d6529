"""The placement cases of issue 16, on small days merged by the sentence
model the desk ships (e5+use): each was a wrong placement a newcomer met on
a real import, and each is kept from coming back here.

The model loads once for the module; a machine without it skips these
(as test_merging.py's quiet-day tests do)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest

from headon.desk.merging import Embedder, load_embedder
from headon.desk.merging.normalise import exact_key
from headon.desk.models import Ask, Channel, Question
from headon.desk.services import merging, triage
from headon.desk.services.titles import spam_like
from headon.desk.tests.test_answering import published_answer
from headon.testing import make_staff

pytestmark = pytest.mark.django_db

DAY = dt.date(2026, 12, 3)
AT = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai

BACK_SEAT = ["Is the back seat OK for three adults?", "后排坐三个人挤不挤", "后排能坐三个成年人吗"]
HEATED = ["后排有座椅加热吗", "Are the rear seats heated?", "后座加热有没有 🔥🔥"]
HEAT_PUMP = ["有热泵吗", "Does the car have a heat pump?"]
HUD = ["逗号,测试：有没有HUD抬头显示", "Does it have a head-up display (HUD)?"]
SPAM = ["加V看福利 http://spam.example/xx 👉👉", "👍👍👍"]


@pytest.fixture(scope="module")
def sentence_model() -> Embedder:
    model = load_embedder(("e5+use",))
    if model is None:
        pytest.skip("no sentence model loads on this machine")
    return model


@pytest.fixture
def desk(sentence_model: Embedder) -> Iterator[Channel]:
    """The desk merging with the model, its engines forgotten after the test."""
    merging._embedder_state.clear()
    merging._embedder_state["loaded"] = sentence_model
    merging._engines.clear()
    yield Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
    merging._embedder_state.clear()
    merging._engines.clear()


def add(channel: Channel, texts: list[str], question: Question | None = None) -> list[Ask]:
    start = Ask.objects.count()
    return [
        Ask.objects.create(
            channel=channel,
            external_id=f"c{start + n}",
            text=text,
            author=f"user{start + n}",
            author_key=f"user{start + n}",
            posted_at=AT + dt.timedelta(minutes=start + n),
            day=DAY,
            match_key=exact_key(text),
            question=question,
        )
        for n, text in enumerate(texts)
    ]


def fresh(asks: list[Ask]) -> list[Ask]:
    return list(Ask.objects.filter(pk__in=[a.pk for a in asks]).order_by("pk"))


def test_heated_seat_asks_are_not_hidden_in_the_back_seat_question(desk: Channel) -> None:
    """Issue 16: the three heated-rear-seat asks went into "Is the back seat
    OK for three adults?", hidden there. Now they get a question of their
    own, and each placement says how sure the engine was."""
    back = add(desk, BACK_SEAT)
    merging.recluster_day(DAY)
    back_seat = {a.question_id for a in fresh(back)}
    heated = add(desk, HEATED)
    merging.assign_unassigned(DAY)
    heated = fresh(heated)
    assert not {a.question_id for a in heated} & back_seat
    assert all(a.suggested_id is None or a.suggested_id in back_seat for a in heated)
    assert heated[0].placement == Ask.Placement.NEW
    assert {a.placement for a in heated[1:]} <= {Ask.Placement.MEANING, Ask.Placement.NEW}
    assert all(a.placement_score is not None for a in heated if a.placement == "meaning")


def test_a_recluster_puts_no_heat_pump_ask_under_the_answered_heated_seat_question(
    desk: Channel,
) -> None:
    """Issue 16: after the heated-seat asks were split off, answered and
    published, "Merge the day again" moved the heat-pump asks into that
    question and the ledger counted them covered."""
    writer, approver, bob = make_staff("carol", "writer"), make_staff("dave", "approver"), None
    back = add(desk, BACK_SEAT + HEATED)
    pump = add(desk, HEAT_PUMP)
    merging.recluster_day(DAY)
    back = fresh(back)
    heated_question, _ = triage.asks_split(asks=back[3:], actor=bob)
    published_answer(heated_question, writer, approver)
    heated_question.refresh_from_db()
    assert heated_question.covered_at is not None
    for _ in range(2):  # and again: a second run changes nothing of it
        merging.recluster_day(DAY)
        assert {a.pk for a in heated_question.asks.all()} == {a.pk for a in back[3:]}
        assert all(a.question_id != heated_question.pk for a in fresh(pump))
        covered = Ask.objects.filter(day=DAY, question__covered_at__isnull=False)
        assert covered.count() == len(HEATED)
    # The split asks and those of the answered question are still where a person put them.
    assert all(a.placement == Ask.Placement.STAFF for a in fresh(back[3:]))


def test_a_new_heat_pump_ask_reaches_the_answered_question_only_through_the_queue(
    desk: Channel,
) -> None:
    """A question with a published answer is closed below the auto band, in
    live assignment as in a re-cluster."""
    writer, approver = make_staff("carol", "writer"), make_staff("dave", "approver")
    question = Question.objects.create(text="后排有座椅加热吗")
    add(desk, HEATED, question)
    published_answer(question, writer, approver)
    late = add(desk, ["后排座椅能加热吗？", *HEAT_PUMP])
    merging.assign_unassigned(DAY)
    for ask in fresh(late):
        if ask.question_id == question.pk:  # only a duplicate or a sure one gets in
            assert ask.placement in (Ask.Placement.EXACT, Ask.Placement.NEAR, "meaning")
            assert ask.placement != "meaning" or ask.placement_score is not None
    assert all(a.question_id != question.pk for a in fresh(late)[1:])


def test_no_question_is_titled_after_spam_when_it_has_real_asks(desk: Channel) -> None:
    """Issue 16: the HUD asks went into a new question titled "加V看福利"."""
    add(desk, SPAM[:1])
    merging.assign_unassigned(DAY)
    add(desk, HUD + SPAM[1:])
    merging.assign_unassigned(DAY)
    for step in ("live", "recluster"):
        for question in Question.objects.filter(asks__day=DAY).distinct():
            texts = list(question.asks.values_list("text", flat=True))
            if spam_like(question.text):
                assert all(spam_like(t) for t in texts), (step, question.text, texts)
        merging.recluster_day(DAY)


def test_the_demo_learns_from_its_answered_night_and_merges_its_next_day_with_it(
    sentence_model: Embedder,
) -> None:
    """Issue 16: the demo's own day kept five "refurbished battery"
    questions apart and merged range asks into the price question through a
    shared filler ("问了客服也没说清楚"). The demo learns from yesterday's
    answered questions as it loads, and a newcomer sees what it learned."""
    import io
    from collections import Counter, defaultdict

    from django.core.management import call_command
    from django.test import Client

    from headon.accounts.models import User
    from headon.desk.models import AnsweredLookalike, LearnedTransform
    from headon.timezones import organiser_today

    merging._embedder_state.clear()
    merging._embedder_state["loaded"] = sentence_model
    merging._engines.clear()
    try:
        call_command("demo", no_serve=True, stdout=io.StringIO())
    finally:
        merging._engines.clear()
    learned = LearnedTransform.objects.get()
    assert (learned.nights, learned.questions) == (1, 10)
    assert learned.precision is not None
    assert learned.precision >= 0.95
    today = organiser_today()
    asked: dict[int, Counter[int]] = defaultdict(Counter)  # question -> demo question index
    for question_id, external_id in Ask.objects.filter(day=today).values_list(
        "question", "external_id"
    ):
        asked[question_id][int(external_id.rsplit("-q", 1)[1])] += 1
    kind = {q: kinds.most_common(1)[0][0] for q, kinds in asked.items()}
    battery = {q for q, k in kind.items() if k == 2}
    # One question in whichever words, or questions a reviewer joins from the
    # queue: each one the engine was not sure of is suggested for another
    # battery question (the bands learned from ten questions are held to the
    # engine's own false merges, decision 19), and nothing else is.
    groups = {q: q for q in battery}

    def root(q: int) -> int:
        while groups[q] != q:
            q = groups[q]
        return q

    for question_id, suggested in (
        Ask.objects.filter(day=today, suggested__isnull=False)
        .values_list("question", "suggested")
        .distinct()
    ):
        if question_id in battery or suggested in battery:
            assert kind[question_id] == kind[suggested] == 2
            groups[root(question_id)] = root(suggested)
    assert len({root(q) for q in battery}) <= 2
    assert not [q for q, kinds in asked.items() if kinds[1] and kinds[3]]  # range with price
    # What it learned never lists a question as looking answered by another's answer.
    for question_id, answer_id in AnsweredLookalike.objects.values_list("question", "answer"):
        answered = Ask.objects.filter(question__answer_id=answer_id).values_list(
            "external_id", flat=True
        )
        assert kind[question_id] in {int(e.rsplit("-q", 1)[1]) for e in answered}
    client = Client()
    client.force_login(User.objects.get(username="demo-triager"))
    page = client.get("/staff/desk/").content.decode()
    assert "The merge engine learned this desk's words from 10 answered questions" in page
    a_lone_ask_on_the_demos_busy_day_stays_alone(sentence_model, today)


def a_lone_ask_on_the_demos_busy_day_stays_alone(model: Embedder, today: dt.date) -> None:
    """Issue 16's import, tried on the demo's day of 1,500 asks: "有热泵吗"
    joined the new question "后排有座椅加热吗" inside the auto band, learned
    transform or not. On a busy day a lone ask's nearest asks are about other
    things, its r was low and so was its bar (scoring.lifted). The control
    shows the merge without the floor on r."""
    from dataclasses import replace

    from headon.desk.merging.engine import MergeEngine
    from headon.desk.merging.scoring import Thresholds

    _row, transform = merging.current_transform(model)
    remembering = merging.RememberingEmbedder(model)
    placed = [
        (str(pk), text, str(question))
        for pk, text, question in Ask.objects.filter(day=today, question__isnull=False)
        .order_by("pk")
        .values_list("pk", "text", "question")
    ]
    assert len(placed) > 1000
    for learned in (None, transform):
        base = Thresholds.from_values(learned.thresholds) if learned else Thresholds()
        for slack, joined in ((base.density_slack, False), (10.0, True)):
            engine = MergeEngine(
                embedder=remembering,
                transform=learned,
                thresholds=replace(base, density_slack=slack),
            )
            engine.load(placed)
            heated = [engine.assign(f"h{n}", text) for n, text in enumerate(HEATED)]
            pump = [engine.assign(f"p{n}", text) for n, text in enumerate(HEAT_PUMP)]
            together = pump[0].question_id == heated[0].question_id
            assert together is joined, (learned is not None, slack, heated, pump)
            if not joined:
                assert heated[2].question_id == heated[0].question_id  # still a desk that merges
    a_remark_carries_no_ask_into_an_answered_question(remembering, transform, today, placed)


def a_remark_carries_no_ask_into_an_answered_question(
    model: Embedder, transform: Any, today: dt.date, placed: list[tuple[str, str, str]]
) -> None:
    """The same import, on the walk-through's demo: "续航到底多少公里
    问了客服也没说清楚" (what is the real range) joined the answered one-ask
    question "冬天续航能有多少 问了客服也没说清楚" (winter range) inside the
    auto band, carried by the remark both end with, and counted as covered.
    The demo's day ends asks of 30-odd questions with that remark; the engine
    matches without it. The control, without the day's remarks, joins them."""
    from headon.desk.merging.engine import MergeEngine

    winter = "冬天续航能有多少 问了客服也没说清楚"
    remarks = merging.remarks_of(today, list(Ask.objects.filter(day=today)))
    assert "问了客服也没说清楚" in remarks
    others = [row for row in placed if row[1] != winter]
    for fillers, joined in ((remarks, False), (frozenset(), True)):
        engine = MergeEngine(embedder=model, transform=transform, fillers=fillers)
        engine.load([*others, ("winter-1", winter, "winter")])
        engine.closed = frozenset({"winter"})
        found = engine.assign("range-1", "续航到底多少公里 问了客服也没说清楚")
        assert (found.question_id == "winter") is joined, (bool(fillers), found)
