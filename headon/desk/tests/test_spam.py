"""The likely-spam score and the tidy title the public lists print."""

from __future__ import annotations

import pytest

from headon.desk.spam import LIKELY, spam_score, tidy_title

# A 300-character junk line, as pasted under a launch post.
JUNK = "顶顶顶顶顶顶！！！" * 30 + "哈" * 30


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("加V看福利 http://t.cn/A6xYz9", "contact"),
        ("加微信看内部价 wx: car_deal_888", "contact"),
        ("想要优惠的私聊，QQ 23456789", "contact"),
        ("低价出车 联系 138 1234 5678", "phone"),
        ("点这里 www.example.top/deal", "link"),
        (JUNK, "monotone"),
        ("🔥🔥🔥🔥🔥🔥", "emoji"),
    ],
)
def test_it_proposes_spam_and_says_why(text, reason):
    score = spam_score(text)
    assert reason in score.reasons
    if reason in ("contact", "phone", "monotone"):
        assert score.likely, score


def test_the_issues_spam_row_and_junk_line_are_likely_spam():
    assert spam_score("加V看福利 http://t.cn/A6xYz9").score >= 0.9
    assert len(JUNK) == 300
    assert spam_score(JUNK).likely


@pytest.mark.parametrize(
    "text",
    [
        "后排有座椅加热吗",
        "Are the rear seats heated?",
        "后座加热有没有 🔥🔥",
        "支持微信吗？",
        "车机有 QQ 音乐吗",
        "参加群体试驾要报名吗",
        "Does the price of 229,800 include the home charger?",
        "保修是 8 年还是 16 万公里？",
        "發佈會上的車是不是道具車？",
    ],
)
def test_ordinary_questions_score_nothing(text):
    assert spam_score(text).score < LIKELY
    assert spam_score(text).reasons == ()


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("加V看福利 http://t.cn/A6xYz9", "看福利"),
        ("后座加热有没有 🔥🔥", "后座加热有没有"),
        ("什么时候交付？？？？ 微信 abc_123456", "什么时候交付？"),
        ("真的吗啊啊啊啊啊啊啊 保修几年", "真的吗啊啊啊 保修几年"),
        (
            "Is the warranty transferable? 3f9a0c4e5b6d7e8f9a0b1c2d3e4f5a6b7c8d",
            "Is the warranty transferable?",
        ),
        ("call me on +44 7700 900123 about the price", "call me on about the price"),
        ("🚗🚗🚗", ""),
        ("\u202eevil\u202c question", "evil question"),
    ],
)
def test_a_tidy_title_keeps_the_question_and_drops_the_bait(text, title):
    assert tidy_title(text) == title


def test_a_tidy_title_is_cut_to_a_list_sized_length():
    chinese = tidy_title("请问" + "这台车的续航" * 40 + "是多少")
    assert chinese.endswith("…")
    assert len(chinese) <= 41
    english = tidy_title("Could you tell me " + "whether the rear seats are heated " * 10)
    assert english.endswith("…")
    assert len(english) <= 80
    # Cut between words, not inside one.
    assert english[:-1].split()[-1] in {"whether", "the", "rear", "seats", "are", "heated"}
    assert len(tidy_title(JUNK)) <= 41


def test_a_tidy_title_is_stable():
    for text in ("加V看福利 http://t.cn/A6xYz9", JUNK, "什么时候交付？？？？"):
        once = tidy_title(text)
        assert tidy_title(once) == once


@pytest.mark.parametrize("text", ["a." * 5000, "a-" * 5000, "www." * 2500, "+1 " * 3000])
def test_pathological_text_is_scored_without_backtracking(text):
    """A bare-domain pattern with nested repetition took 15 s on "a.a.a.…";
    these return at once now (no timing asserted: a regression hangs here)."""
    assert "long" in spam_score(text).reasons
    assert len(tidy_title(text)) <= 80
