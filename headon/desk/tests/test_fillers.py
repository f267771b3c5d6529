"""Remarks that end asks of many questions are matched as if absent
(merging/fillers.py); names and a question's own words never are."""

from __future__ import annotations

import pytest

from headon.desk.merging.fillers import clauses, shared_remarks, without_fillers

QUESTIONS = ["续航多少公里", "什么时候交车", "价格多少", "保修几年", "有没有热泵", "后排挤不挤"]


def day(*remarks: str) -> list[tuple[str, int, str]]:
    """Each question asked plainly and with each remark, under its own id,
    each ask by a named author of its own."""
    asks = [(q, n) for n, q in enumerate(QUESTIONS)]
    asks += [(f"{q} {r}", n) for n, q in enumerate(QUESTIONS) for r in remarks]
    return named(asks)


def named(asks: list[tuple[str, int]]) -> list[tuple[str, int, str]]:
    return [(text, question, f"author-{i}") for i, (text, question) in enumerate(asks)]


def test_clauses_break_at_punctuation_and_between_chinese_words_only():
    assert clauses("续航到底多少公里 问了客服也没说清楚") == [
        "续航到底多少公里",
        "问了客服也没说清楚",
    ]
    assert clauses("Will it be sold in Europe? anyone know?") == [
        "will it be sold in europe",
        "anyone know",
    ]
    assert clauses("Model Y 什么时候交付") == ["model y 什么时候交付"]


def test_a_remark_ending_asks_of_many_questions_is_a_filler():
    assert shared_remarks(day("问了客服也没说清楚", "在线等")) == {"问了客服也没说清楚", "在线等"}
    english = named(
        [(f"{q}? pls answer", n) for n, q in enumerate(["a b", "c d", "e f", "g h", "i j"])]
    )
    assert shared_remarks(english) == {"pls answer"}


def test_a_questions_own_words_asked_with_many_remarks_are_not():
    """ "充电桩送不送" ends nothing and starts asks of one question."""
    asks = named([(f"充电桩送不送 {r}", 7) for r in ("在线等", "求回复", "急急急", "有人知道吗")])
    assert shared_remarks(day("在线等") + asks) == {"在线等"}


def test_a_name_or_a_word_on_its_own_is_never_a_filler():
    """Dropping "Model Y" from "多少钱，Model Y" and "Model 3" from
    "多少钱，Model 3" would make two questions one."""
    names = ["Model Y", "Model 3", "SU7", "海豹", "Camry"]
    asks = named([(f"{q}，{name}", n) for name in names for n, q in enumerate(QUESTIONS)])
    assert shared_remarks(asks) == frozenset()
    # A name that leads is never a last clause.
    leading = named([(f"比亚迪海豹，{q}", n) for n, q in enumerate(QUESTIONS)])
    assert shared_remarks(leading) == frozenset()


def test_a_remark_also_asked_on_its_own_is_not_a_filler():
    asks = day("后排挤不挤吗") + named([("后排挤不挤吗", 9)] * 3)
    assert shared_remarks(asks) == frozenset()


def test_fewer_questions_than_the_bar_find_nothing():
    asks = named([(f"{q} 在线等", n) for n, q in enumerate(QUESTIONS[:4])])
    assert shared_remarks(asks) == frozenset()


def test_only_ending_fillers_go_and_never_the_whole_ask():
    fillers = frozenset({"在线等", "问了客服也没说清楚"})
    assert without_fillers("续航多少 问了客服也没说清楚 在线等", fillers) == "续航多少"
    assert without_fillers("在线等 续航多少", fillers) == "在线等 续航多少"
    assert without_fillers("在线等", fillers) == "在线等"
    assert without_fillers("续航多少 在线等", frozenset()) == "续航多少 在线等"


@pytest.mark.django_db
def test_a_script_on_the_anonymous_ask_form_cannot_make_a_question_a_remark():
    """The attack: post "<topic>，换电池要多少钱" under six topics from the
    public form, so that the engine drops that clause from "电池质保几年，
    换电池要多少钱" and files a real question under the answered warranty
    one. The form's asks are anonymous and teach the engine nothing; the
    control, the same asks from six named authors (an import), would."""
    import datetime as dt

    from headon.desk.intake.sources import ask_receive
    from headon.desk.models import Channel, Question
    from headon.desk.services.merging import remarks_of

    clause = "换电池要多少钱"
    today = dt.date(2026, 12, 4)
    at = dt.datetime(2026, 12, 4, 2, 0, tzinfo=dt.UTC)
    for author, slug in (("", "web"), ("someone", "weibo")):
        channel = Channel.objects.create(slug=slug, name=slug, kind="social_export")
        asks = []
        for n, topic in enumerate(QUESTIONS):
            received = ask_receive(
                channel=channel,
                text=f"{topic}，{clause}",
                external_id=f"{slug}-{n}",
                author=f"{author}{n}" if author else "",
                posted_at=at,
            )
            received.ask.question = Question.objects.create(text=topic)
            received.ask.save(update_fields=["question"])
            asks.append(received.ask)
        found = clause in remarks_of(today, asks)
        assert found is bool(author), (slug, found)
