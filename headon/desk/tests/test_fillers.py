"""Remarks that end asks of many questions are matched as if absent
(merging/fillers.py); names and a question's own words never are."""

from __future__ import annotations

from headon.desk.merging.fillers import clauses, shared_remarks, without_fillers

QUESTIONS = ["续航多少公里", "什么时候交车", "价格多少", "保修几年", "有没有热泵", "后排挤不挤"]


def day(*remarks: str) -> list[tuple[str, int]]:
    """Each question asked plainly and with each remark, under its own id."""
    asks = [(q, n) for n, q in enumerate(QUESTIONS)]
    asks += [(f"{q} {r}", n) for n, q in enumerate(QUESTIONS) for r in remarks]
    return asks


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
    english = [(f"{q}? pls answer", n) for n, q in enumerate(["a b", "c d", "e f", "g h", "i j"])]
    assert shared_remarks(english) == {"pls answer"}


def test_a_questions_own_words_asked_with_many_remarks_are_not():
    """ "充电桩送不送" ends nothing and starts asks of one question."""
    asks = [(f"充电桩送不送 {r}", 7) for r in ("在线等", "求回复", "急急急", "有人知道吗")]
    assert shared_remarks(day("在线等") + asks) == {"在线等"}


def test_a_name_or_a_word_on_its_own_is_never_a_filler():
    """Dropping "Model Y" from "多少钱，Model Y" and "Model 3" from
    "多少钱，Model 3" would make two questions one."""
    names = ["Model Y", "Model 3", "SU7", "海豹", "Camry"]
    asks = [(f"{q}，{name}", n) for name in names for n, q in enumerate(QUESTIONS)]
    assert shared_remarks(asks) == frozenset()
    # A name that leads is never a last clause.
    leading = [(f"比亚迪海豹，{q}", n) for n, q in enumerate(QUESTIONS)]
    assert shared_remarks(leading) == frozenset()


def test_a_remark_also_asked_on_its_own_is_not_a_filler():
    asks = day("后排挤不挤吗") + [("后排挤不挤吗", 9)] * 3
    assert shared_remarks(asks) == frozenset()


def test_fewer_questions_than_the_bar_find_nothing():
    asks = [(f"{q} 在线等", n) for n, q in enumerate(QUESTIONS[:4])]
    assert shared_remarks(asks) == frozenset()


def test_only_ending_fillers_go_and_never_the_whole_ask():
    fillers = frozenset({"在线等", "问了客服也没说清楚"})
    assert without_fillers("续航多少 问了客服也没说清楚 在线等", fillers) == "续航多少"
    assert without_fillers("在线等 续航多少", fillers) == "在线等 续航多少"
    assert without_fillers("在线等", fillers) == "在线等"
    assert without_fillers("续航多少 在线等", frozenset()) == "续航多少 在线等"
