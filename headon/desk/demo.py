"""The answer desk's part of the demo: channels and a realistic bilingual
day of asks after a car launch (see demo_asks.py)."""

from __future__ import annotations

import datetime as dt
import random
from collections import Counter, defaultdict
from typing import Any

from django.utils import timezone

from headon.accounts.models import User
from headon.desk.demo_answers import ANSWERS, TAGS, TODAY, TODAY_ANSWERS
from headon.desk.demo_asks import EMOJI, FILLERS_EN, FILLERS_ZH, MENTIONS, QUESTIONS, TRADITIONAL
from headon.desk.digest.services import cutoff_for, digest_publish
from headon.desk.merging.normalise import exact_key
from headon.desk.models import Answer, Ask, Channel, Question, Tag
from headon.desk.services.answered import answered_check
from headon.desk.services.answers import (
    answer_approve,
    answer_create,
    answer_publish,
    answer_submit,
    question_link,
    question_link_confirm,
)
from headon.desk.services.imports import author_key
from headon.desk.services.learning import transform_refit
from headon.desk.services.merging import recluster_day
from headon.desk.services.triage import question_flag
from headon.timezones import day_bounds, organiser_today

CHANNELS = [
    ("weibo", "微博 Weibo", Channel.Kind.SOCIAL_EXPORT),
    ("wechat", "微信 WeChat", Channel.Kind.SOCIAL_EXPORT),
    ("x", "X (Twitter)", Channel.Kind.SOCIAL_EXPORT),
    ("ask-form", "Ask form · 提问表单", Channel.Kind.FORM),
    ("dealer-api", "Dealer webhook · 经销商接口", Channel.Kind.WEBHOOK),
    ("visit-feedback", "Visit feedback · 参观反馈", Channel.Kind.FEEDBACK),
]
# Where Chinese and English asks come from, by channel slug.
ZH_CHANNELS = [
    ("weibo", 50),
    ("wechat", 30),
    ("ask-form", 10),
    ("dealer-api", 6),
    ("visit-feedback", 4),
]
EN_CHANNELS = [("x", 60), ("ask-form", 25), ("dealer-api", 10), ("visit-feedback", 5)]
DEMO_ASKS = 1500


def _is_chinese(text: str) -> bool:
    return any("\u4e00" <= ch <= "\u9fff" for ch in text)


def _dress(text: str, rng: random.Random) -> str:
    """What a real comment adds to a question."""
    chinese = _is_chinese(text)
    if chinese and rng.random() < 0.12:
        text = text.translate(TRADITIONAL)
    if not chinese and rng.random() < 0.15:
        text = text.lower()
    if not chinese and rng.random() < 0.08 and len(text) > 8:
        i = rng.randrange(1, len(text) - 2)
        text = text[:i] + text[i + 1] + text[i] + text[i + 2 :]  # a typo: two letters swapped
    if rng.random() < 0.1:
        text = text.replace("?", "？？") if chinese else text.replace("?", "??")
    if rng.random() < 0.15:
        text = f"{rng.choice(MENTIONS)} {text}"
    filler = rng.choice(FILLERS_ZH if chinese else FILLERS_EN)
    if filler:
        text = f"{text} {filler}"
    if rng.random() < 0.3:
        text += " " + "".join(rng.choice(EMOJI) for _ in range(rng.randint(1, 3)))
    return text


def _weighted(rng: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rng.choices([p[0] for p in pairs], weights=[p[1] for p in pairs])[0]


def load_asks(*, day: dt.date | None = None, count: int = DEMO_ASKS, seed: int = 2027) -> int:
    """Add a day of asks (nothing if that day has demo asks already)."""
    day = day or organiser_today()
    channels = {c.slug: c for c in Channel.objects.all()}
    if Ask.objects.filter(day=day, external_id__startswith="demo-").exists():
        return 0
    rng = random.Random(f"{seed}-{day.isoformat()}")  # noqa: S311  (demo data, not secrets)  # nosec B311
    start, end = day_bounds(day)
    end = min(end, max(timezone.now(), start + dt.timedelta(hours=20)))
    span = (end - start).total_seconds()
    weights = [int(q["weight"]) for q in QUESTIONS]
    asks = []
    for n in range(count):
        index = rng.choices(range(len(QUESTIONS)), weights=weights)[0]
        question = QUESTIONS[index]
        wording: str = rng.choice(question["wordings"])
        channel = channels[_weighted(rng, ZH_CHANNELS if _is_chinese(wording) else EN_CHANNELS)]
        # Later in the day, more people ask: a rising curve, as after news.
        posted_at = start + dt.timedelta(seconds=span * rng.random() ** 0.7)
        author = f"user{rng.randint(1, int(count * 0.8))}"
        text = _dress(wording, rng)
        asks.append(
            Ask(
                channel=channel,
                # "-q3": the demo question it asks, so the demo can answer it.
                external_id=f"demo-{day.isoformat()}-{n}-q{index}",
                text=text,
                author=author,
                author_key=author_key(channel, author),
                posted_at=posted_at,
                day=day,
                likes=int(rng.paretovariate(1.3)) - 1,
                replies=int(rng.paretovariate(2.0)) - 1,
                shares=int(rng.paretovariate(2.5)) - 1,
                match_key=exact_key(text),
            )
        )
    Ask.objects.bulk_create(asks, batch_size=500)
    return len(asks)


def questions_by_index(day: dt.date) -> dict[int, list[Question]]:
    """The day's questions grouped by the demo question most of their asks
    ask, biggest first: what staff would link to one answer."""
    votes: dict[int, Counter[int]] = defaultdict(Counter)
    for question_id, external_id in (
        Ask.objects.filter(day=day, external_id__startswith="demo-")
        .exclude(question=None)
        .values_list("question", "external_id")
    ):
        votes[question_id][int(external_id.rsplit("-q", 1)[1])] += 1
    grouped: dict[int, list[tuple[int, int]]] = defaultdict(list)
    for question_id, counter in votes.items():
        index, _n = counter.most_common(1)[0]
        grouped[index].append((sum(counter.values()), question_id))
    questions = Question.objects.in_bulk([q for pairs in grouped.values() for _n, q in pairs])
    return {
        index: [questions[q] for _n, q in sorted(pairs, reverse=True)]
        for index, pairs in grouped.items()
    }


def _tags() -> dict[str, Tag]:
    return {
        slug: Tag.objects.get_or_create(slug=slug, defaults={"name_en": en, "name_zh": zh})[0]
        for slug, en, zh in TAGS
    }


def _answer(
    question: Question, spec: dict[str, Any], stage: str, tags: dict[str, Tag], at: dt.datetime
) -> Answer:
    writer = User.objects.filter(username="demo-writer").first()
    approver = User.objects.filter(username="demo-approver").first()
    fields = {k: v for k, v in spec.items() if k != "tags"}
    answer = answer_create(
        question=question, actor=writer, fields=fields, tags=[tags[t] for t in spec["tags"]]
    )
    if stage == "draft" or approver is None:
        return answer
    answer = answer_submit(answer=answer, actor=writer, version=answer.version)
    if stage == "review":
        return answer
    answer = answer_approve(answer=answer, actor=approver, version=answer.version)
    if stage == "published":
        answer = answer_publish(answer=answer, actor=approver, at=at)
    return answer


def load_answers() -> None:
    """Yesterday answered and its digest published; today half done."""
    if Answer.objects.exists():
        return
    tags = _tags()
    today = organiser_today()
    yesterday = today - dt.timedelta(days=1)
    evening = cutoff_for(yesterday) - dt.timedelta(hours=3)
    linker = User.objects.filter(username="demo-writer").first()
    # A link is confirmed by a second person (four eyes), as in real work.
    checker = User.objects.filter(username="demo-approver").first()

    def link(question: Question, answer: Answer) -> None:
        question_link(question=question, answer=answer, actor=linker)
        if checker is not None:
            question_link_confirm(question=question, answer=answer, actor=checker)

    published: dict[int, Answer] = {}
    groups = questions_by_index(yesterday)
    rumours = {i for i, q in enumerate(QUESTIONS) if q.get("rumour")}
    for day_groups in (groups, questions_by_index(today)):
        for index in rumours:
            for question in day_groups.get(index, []):
                question_flag(question=question, rumour=True, actor=None)
    for index, spec in ANSWERS.items():
        if not groups.get(index):
            continue
        first, *others = groups[index]
        first.refresh_from_db()
        published[index] = _answer(first, spec, "published", tags, evening)
        for question in others:
            link(question, published[index])
    Question.objects.filter(answer__in=published.values()).update(covered_at=evening)
    digest_publish(yesterday, now=cutoff_for(yesterday))
    # Yesterday is confirmed history now: the engine learns from it at once,
    # as the worker does after a digest, and merges today with what it
    # learned (load() left today for this), so the demo desk shows both.
    transform_refit()
    recluster_day(today)
    # Today: the questions asked again link to yesterday's answers...
    groups = questions_by_index(today)
    for index in (0, 1, 2, 3, 5):
        for question in groups.get(index, []):
            if index in published:
                link(question, published[index])
    # ... and a few new answers are on their way.
    for index, stage in TODAY.items():
        if groups.get(index) and groups[index][0].answer_id is None:
            _answer(groups[index][0], TODAY_ANSWERS[index], stage, tags, timezone.now())


def load() -> None:
    for slug, name, kind in CHANNELS:
        Channel.objects.get_or_create(slug=slug, defaults={"name": name, "kind": kind})
    today = organiser_today()
    yesterday = today - dt.timedelta(days=1)
    if load_asks(day=yesterday, count=DEMO_ASKS * 4 // 5, seed=2026):
        recluster_day(yesterday)
    # Today is merged once the demo has learned from yesterday (load_answers);
    # a demo loaded again on a later day has its answers, and merges here.
    if load_asks() and Answer.objects.exists():
        recluster_day(today)


def load_after_accounts() -> None:
    """What needs the demo staff: answers written, approved, published;
    then today's "Already answered?" list, as the worker would store it
    after the day's merge (the demo runs no worker while it loads)."""
    load_answers()
    answered_check(organiser_today())
