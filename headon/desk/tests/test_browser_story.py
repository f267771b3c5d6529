"""In a real browser, at phone width, in Chinese and English: a triager
sets an ask aside and it leaves the public digest; the public list never
prints a spam line; a writer's draft that contradicts a published answer
is shown beside it with the differing figures marked."""

from __future__ import annotations

import datetime as dt
import os
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.test import override_settings

from headon.conftest import fill_draft, sign_in
from headon.desk.digest import services as digests
from headon.desk.merging.normalise import exact_key
from headon.desk.models import Answer, Ask, Channel, Question
from headon.desk.services import answers as answering
from headon.testing import make_staff
from headon.timezones import organiser_now

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

MORNING = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
SPAM = "加V看福利 http://t.cn/A6xYz9"
CHATTER = "今天的发布会真精彩，支持国货"
# Screenshots to look at by hand: HEADON_SHOTS=/tmp/shots pytest -m browser ...
SHOTS = os.environ.get("HEADON_SHOTS")


def shot(page: Any, name: str) -> None:
    if SHOTS:
        Path(SHOTS).mkdir(parents=True, exist_ok=True)
        page.screenshot(path=str(Path(SHOTS) / f"{name}.png"), full_page=True)


def staff_page(contexts: Any, base: str, username: str, lang: str = "en") -> Any:
    """A staff member signed in (the login page in English), then reading
    in `lang` through the language menu, as a person would switch."""
    page = contexts()
    sign_in(page, base, username)
    if lang == "zh":
        with page.expect_navigation():
            page.select_option("#language-select", "zh-hans")
    return page


def _ask(channel: Channel, n: int, text: str, question: Question) -> None:
    now = organiser_now()
    Ask.objects.create(
        channel=channel,
        external_id=f"s{n}",
        text=text,
        author=f"user{n}",
        author_key=f"user{n}",
        posted_at=now - dt.timedelta(minutes=n + 1),
        day=now.date(),
        match_key=exact_key(text),
        question=question,
    )


@override_settings(HEADON_EMBEDDER=["none"])
@time_machine.travel(MORNING, tick=True)
def test_a_set_aside_ask_leaves_the_public_digest(contexts: Any, live_server: Any) -> None:
    make_staff("bob", "triager")
    make_staff("dave", "approver")
    channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
    spam = Question.objects.create(text=SPAM)
    chatter = Question.objects.create(text=CHATTER)
    heated = Question.objects.create(text="后排有座椅加热吗")
    for n, (question, text) in enumerate(
        [
            (spam, SPAM),
            (chatter, CHATTER),
            (heated, "后排有座椅加热吗"),
            (heated, "后座加热有没有 🔥🔥"),
        ]
    ):
        _ask(channel, n, text, question)
    today = organiser_now().date()
    digests.digest_publish(today)
    base = live_server.url
    reader = contexts("zh-CN")
    reader.goto(f"{base}/answers/{today.isoformat()}/")
    listed = reader.locator(".open-questions").inner_text()
    assert CHATTER in listed
    assert "后排有座椅加热吗" in listed
    assert "加V" not in reader.content()
    assert "t.cn" not in reader.content()
    assert "一个待审核的问题" in listed
    shot(reader, "public-open-list-zh")
    png = reader.request.get(f"{base}/answers/{today.isoformat()}/zh.png")
    assert png.headers["content-type"] == "image/png"
    if SHOTS:
        (Path(SHOTS) / "digest-zh.png").write_bytes(png.body())

    triager = staff_page(contexts, base, "bob", "zh")
    triager.goto(f"{base}/staff/desk/?show=spam")
    assert triager.locator(".questions .card").count() == 1  # the spam line, proposed
    shot(triager, "console-likely-spam-zh")
    triager.goto(f"{base}/staff/desk/questions/{chatter.pk}/")
    triager.select_option("#aside-reason", "not_question")
    with triager.expect_navigation():
        triager.click("button[value=set_aside]")
    assert "已搁置" in triager.locator("main").inner_text()
    shot(triager, "question-set-aside-zh")

    approver = staff_page(contexts, base, "dave")
    approver.goto(f"{base}/staff/desk/digest/{today.isoformat()}/")
    approver.fill("#digest-note", "Took a comment that was no question off the list.")
    with approver.expect_navigation():
        approver.click("button:has-text('Publish a new revision')")
    assert "Published revision 2" in approver.locator(".messages").inner_text()

    reader.goto(f"{base}/answers/{today.isoformat()}/")
    assert CHATTER not in reader.locator("main").inner_text()
    assert "后排有座椅加热吗" in reader.locator(".open-questions").inner_text()
    english = contexts()
    english.goto(f"{base}/answers/{today.isoformat()}/")
    assert "A question awaiting review" in english.locator(".open-questions").inner_text()
    shot(english, "public-open-list-en")


@override_settings(HEADON_EMBEDDER=["none"])
@time_machine.travel(MORNING, tick=True)
def test_a_contradicting_draft_is_shown_beside_the_published_answer(
    contexts: Any, live_server: Any
) -> None:
    carol = make_staff("carol", "writer")
    dave = make_staff("dave", "approver")
    channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
    published = Question.objects.create(text="质保多久")
    _ask(channel, 0, "质保多久", published)
    answer = answering.answer_create(
        question=published,
        actor=carol,
        fields={
            "question_en": "How long is the warranty?",
            "question_zh": "整车质保多久？",
            "body_en": "The whole car is under warranty for 5 years or 150,000 km.",
            "body_zh": "整车质保 5 年或 15 万公里，以先到者为准。",
        },
    )
    answer = answering.answer_submit(answer=answer, actor=carol, version=answer.version)
    answer = answering.answer_approve(answer=answer, actor=dave, version=answer.version)
    answering.answer_publish(answer=answer, actor=dave)
    asked = Question.objects.create(text="保修期是多久？")
    _ask(channel, 1, "保修期是多久？", asked)
    base = live_server.url
    for lang in ("zh", "en"):
        writer = staff_page(contexts, base, "carol", lang)
        if lang == "zh":
            writer.goto(f"{base}/staff/desk/questions/{asked.pk}/answer/")
            writer.fill("#id_question_en", "How long is the warranty?")
            fill_draft(writer, "#id_body_en", "The warranty is 3 years or 60,000 km.")
            fill_draft(writer, "#id_body_zh", "质保 3 年或 6 万公里。")
            with writer.expect_navigation():
                writer.click("form.form > button[type=submit]")
        else:
            draft = Answer.objects.get(questions=asked)
            writer.goto(f"{base}/staff/desk/answers/{draft.pk}/")
        warning = writer.locator(".warning.contradiction")
        shot(writer, f"draft-contradiction-{lang}")
        assert warning.count() == 1, writer.locator("main").inner_text()
        marks = warning.locator(".side-by-side mark").all_inner_texts()
        assert "60,000 km" in marks
        assert "15 万公里" in marks
        assert "5 年" in marks
        heading = warning.locator("h2").inner_text()
        assert heading == (
            "这份草稿与相似问题的已发布回答相矛盾"
            if lang == "zh"
            else "This draft contradicts a published answer to a similar question"
        )
        shot(writer, f"draft-contradiction-{lang}")


@override_settings(HEADON_EMBEDDER=["none"])
@time_machine.travel(MORNING, tick=True)
def test_the_contradiction_shows_while_the_writer_types(contexts: Any, live_server: Any) -> None:
    """Typing "3 years" where a published answer says 5 shows the warning
    before anything is saved (htmx, after a pause), at phone width, in
    Chinese and English."""
    carol = make_staff("carol", "writer")
    dave = make_staff("dave", "approver")
    channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
    published = Question.objects.create(text="质保多久")
    _ask(channel, 0, "质保多久", published)
    answer = answering.answer_create(
        question=published,
        actor=carol,
        fields={
            "question_en": "How long is the warranty?",
            "question_zh": "整车质保多久？",
            "body_en": "The whole car is under warranty for 5 years or 150,000 km.",
            "body_zh": "整车质保 5 年或 15 万公里，以先到者为准。",
        },
    )
    answer = answering.answer_submit(answer=answer, actor=carol, version=answer.version)
    answer = answering.answer_approve(answer=answer, actor=dave, version=answer.version)
    answering.answer_publish(answer=answer, actor=dave)
    asked = Question.objects.create(text="保修期是多久？")
    _ask(channel, 1, "保修期是多久？", asked)
    base = live_server.url
    for lang, heading in (
        ("zh", "这份草稿与相似问题的已发布回答相矛盾"),
        ("en", "This draft contradicts a published answer to a similar question"),
    ):
        writer = staff_page(contexts, base, "carol", lang)
        writer.goto(f"{base}/staff/desk/questions/{asked.pk}/answer/")
        writer.fill("#id_question_en", "How long is the warranty?")
        assert writer.locator("#draft-warnings .warning").count() == 0
        writer.locator("#id_body_en").press_sequentially("The warranty is 3 years.")
        warning = writer.locator("#draft-warnings .warning.contradiction")
        warning.wait_for()
        shot(writer, f"draft-contradiction-typing-{lang}")
        assert warning.locator("h2").inner_text() == heading
        marks = warning.locator(".side-by-side mark").all_inner_texts()
        assert "3 years" in marks
        assert "5 年" in marks
        assert writer.url == f"{base}/staff/desk/questions/{asked.pk}/answer/"
        assert not Answer.objects.filter(questions=asked).exists()  # nothing saved
