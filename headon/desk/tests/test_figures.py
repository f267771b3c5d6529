"""Reading the figures of an answer and finding where two answers disagree."""

from __future__ import annotations

import pytest

from headon.desk.figures import chinese_number, compare, extract, marked


def _read(text):
    return [(f.family, f.value, f.text) for f in extract(text)]


@pytest.mark.parametrize(
    ("text", "figures"),
    [
        ("3 years or 60,000 km", [("duration", 1095, "3 years"), ("distance", 60000, "60,000 km")]),
        ("保修 5 年或 15 万公里", [("duration", 1825, "5 年"), ("distance", 150000, "15 万公里")]),
        ("售价 229,800 元", [("amount", 229800, "229,800 元")]),
        ("The price is ¥199,800.", [("amount", 199800, "¥199,800")]),
        ("指导价 19.98万元起", [("amount", 199800, "19.98万元")]),
        ("三年或十万公里", [("duration", 1095, "三年"), ("distance", 100000, "十万公里")]),
        ("60k km", [("distance", 60000, "60k km")]),
        ("5千米", [("distance", 5, "5千米")]),
        ("充电 30 分钟到 80%", [("duration", 30 / 1440, "30 分钟"), ("percent", 80, "80%")]),
        ("2026年3月15日起交付", [("date:ymd", "2026-03-15", "2026年3月15日")]),
        ("Deliveries start on March 15, 2026", [("date:ymd", "2026-03-15", "March 15, 2026")]),
        ("首批 2026-03 交付", [("date:ym", "2026-03", "2026-03")]),
        # Words, list numbers and model names are not figures.
        ("稍等一下，十分抱歉", []),
        ("1. Model3 has 2 rows", []),
    ],
)
def test_it_reads_figures_with_their_units(text, figures):
    got = _read(text)
    assert [(f, t) for f, _v, t in got] == [(f, t) for f, _v, t in figures]
    for (_f, value, _t), (_f2, expected, _t2) in zip(got, figures, strict=True):
        assert (
            value == pytest.approx(expected)
            if isinstance(expected, float | int)
            else value == expected
        )


def test_chinese_numerals():
    assert chinese_number("三") == 3
    assert chinese_number("十五") == 15
    assert chinese_number("两百") == 200
    assert chinese_number("一千二百") == 1200
    assert chinese_number("好") is None


@pytest.mark.parametrize(
    ("mine", "theirs", "family", "ours", "other"),
    [
        (
            "The warranty is 3 years.",
            "The warranty is 5 years.",
            "duration",
            ["3 years"],
            ["5 years"],
        ),
        (
            "The price is 199,800 yuan.",
            "售价 229,800 元。",
            "amount",
            ["199,800 yuan"],
            ["229,800 元"],
        ),
        ("电池质保 8 年", "电池质保 5 年", "duration", ["8 年"], ["5 年"]),
        (
            "or 60,000 km, whichever first",
            "或 15 万公里，以先到者为准",
            "distance",
            ["60,000 km"],
            ["15 万公里"],
        ),
    ],
)
def test_it_finds_the_issues_contradictions(mine, theirs, family, ours, other):
    differences = {d.family: d for d in compare(mine, theirs)}
    assert family in differences
    assert [f.text for f in differences[family].mine] == ours
    assert [f.text for f in differences[family].theirs] == other


@pytest.mark.parametrize(
    ("mine", "theirs"),
    [
        ("3 years (36 months)", "三年"),
        ("60,000 km", "6 万公里"),
        ("¥229,800", "22.98 万元"),
        ("The warranty is 5 years.", "质保 5 年，另送 2 次保养"),
        # A figure of a family the other does not state adds, it does not contradict.
        ("5 年质保，续航 600 公里", "质保 5 年"),
    ],
)
def test_the_same_figures_in_other_words_do_not_warn(mine, theirs):
    assert compare(mine, theirs) == []


def test_the_differing_figures_are_marked_in_place():
    text = "The warranty is 3 years or 60,000 km."
    (distance, duration) = compare(text, "质保 5 年或 15 万公里")
    pieces = marked(text, duration.mine + distance.mine)
    assert [p for p, is_mark in pieces if is_mark] == ["3 years", "60,000 km"]
    assert "".join(p for p, _m in pieces) == text


def test_a_body_of_many_figures_reads_a_bounded_number():
    from headon.desk.figures import MAX_FIGURES

    assert len(extract("2026年" * 1500)) == MAX_FIGURES
    assert len(extract("5 年 " * 1500)) == MAX_FIGURES
