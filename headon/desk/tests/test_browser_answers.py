"""The answer desk end to end in a real browser: a triager merges, a writer
answers, an approver approves and publishes, and the public reads the
night's digest in every format, in Chinese and English. Hostile text in
asks, questions and answers stays inert on every page."""

from __future__ import annotations

import datetime as dt
from typing import Any

import feedparser
import pytest
import time_machine
from django.test import override_settings

from headon.conftest import fill_draft, sign_in
from headon.desk.merging.normalise import exact_key
from headon.desk.models import Answer, Ask, Channel, Question
from headon.testing import make_staff
from headon.timezones import organiser_now

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

XSS = '<img src=x onerror="window.__xss=1"><script>window.__xss=2</script>'


def no_xss(page: Any) -> None:
    assert page.evaluate("window.__xss") is None


# A fixed morning: run between 23:00 and midnight in Shanghai (the cut-off),
# the answers were published late and the digest said 0% (CI failed so).
MORNING = dt.datetime(2026, 12, 3, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai


@override_settings(HEADON_EMBEDDER=["none"])
@time_machine.travel(MORNING, tick=True)
def test_a_night_at_the_desk_from_triage_to_the_published_digest(
    contexts: Any, live_server: Any
) -> None:
    make_staff("bob", "triager")
    make_staff("carol", "writer")
    make_staff("dave", "approver")
    channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
    now = organiser_now()
    today = now.date()
    delivery = Question.objects.create(text=f"什么时候开始交付？{XSS}")
    again = Question.objects.create(text="请问几号开始交车")
    for n, (question, text) in enumerate(
        [(delivery, f"什么时候开始交付？{XSS}")] * 3 + [(again, "请问几号开始交车")] * 2
    ):
        Ask.objects.create(
            channel=channel,
            external_id=f"b{n}",
            text=text,
            author=f"user{n}",
            author_key=f"user{n}",
            posted_at=now - dt.timedelta(minutes=5 * n + 1),
            day=today,
            match_key=exact_key(text),
            question=question,
        )
    base = live_server.url

    # The triager merges the second wording into the first question.
    triager = contexts()
    sign_in(triager, base, "bob")
    triager.goto(f"{base}/staff/desk/questions/{again.pk}/")
    no_xss(triager)
    triager.fill("#merge-target", str(delivery.pk))
    with triager.expect_navigation():
        triager.click("button[value=merge]")
    assert Ask.objects.filter(question=delivery).count() == 5

    # The writer answers in both languages and sends it for review.
    writer = contexts()
    sign_in(writer, base, "carol")
    writer.goto(f"{base}/staff/desk/questions/{delivery.pk}/")
    no_xss(writer)
    with writer.expect_navigation():
        writer.click("text=Write an answer")
    writer.fill("#id_question_zh", "什么时候开始交付？")
    writer.fill("#id_question_en", f"When do deliveries start? {XSS}")
    fill_draft(writer, "#id_body_zh", "**12月1日**起全国同时交付。")
    fill_draft(writer, "#id_body_en", f"Deliveries start on **1 December**. {XSS}")
    with writer.expect_navigation():
        writer.click("button:has-text('Save the draft')")
    no_xss(writer)
    with writer.expect_navigation():
        writer.click("button:has-text('Send for review')")
    assert "Sent for review." in writer.locator(".messages").inner_text()
    answer = Answer.objects.get()
    assert answer.status == Answer.Status.REVIEW

    # The approver approves, then publishes tonight's digest.
    approver = contexts()
    sign_in(approver, base, "dave")
    approver.goto(f"{base}/staff/desk/answers/{answer.pk}/")
    with approver.expect_navigation():
        approver.click("button:has-text('Approve')")
    approver.goto(f"{base}/staff/desk/digest/{today.isoformat()}/")
    assert approver.locator("text=Approved answers that publishing adds").is_visible()
    with approver.expect_navigation():
        approver.click("button:has-text('Publish the digest')")
    assert "Published revision 1" in approver.locator(".messages").inner_text()
    approver.goto(f"{base}/staff/desk/dashboard/")
    assert approver.locator(".charts svg").count() == 5

    # The public reads it in Chinese, then in English, in every format.
    reader = contexts("zh-CN")
    reader.goto(f"{base}/answers/")
    with reader.expect_navigation():
        reader.click(f"text={today.isoformat()}")
    assert reader.locator("h1").inner_text() == f"{today.isoformat()} 的回答"
    assert "什么时候开始交付？" in reader.locator(".answer-card").first.inner_text()
    assert "100%" in reader.locator(".coverage-share").inner_text()
    no_xss(reader)
    with reader.expect_navigation():
        reader.select_option("#language-select", "en")
    assert reader.locator("h1").inner_text() == f"Answers for {today.isoformat()}"
    assert "asked by 5 people" in reader.locator(".answer-card").first.inner_text()
    no_xss(reader)
    for link, kind in [
        ("Image (PNG)", "image/png"),
        ("Text for a social post", "text/plain; charset=utf-8"),
        ("JSON", "application/json"),
        ("Atom feed", "application/atom+xml; charset=utf-8"),
    ]:
        href = reader.locator(f".formats a:has-text('{link}')").get_attribute("href")
        response = reader.request.get(base + href)
        assert response.status == 200, link
        assert response.headers["content-type"] == kind, link
    feed = feedparser.parse(reader.request.get(f"{base}/answers/feed/en.atom").body())
    assert not feed.bozo
    assert feed.entries[0].title == f"Answers for {today.isoformat()}"
    # The question's own page, and a helpful vote.
    with reader.expect_navigation():
        reader.locator(".answer-card h3 a").first.click()
    assert "Asked by 5 people" in reader.locator(".answer-page").inner_text()
    no_xss(reader)
    with reader.expect_navigation():
        reader.click("button:has-text('This was helpful')")
    assert "1 person found it helpful" in reader.inner_text("main")
    # Search finds it in Chinese.
    reader.goto(f"{base}/answers/search/?q=交付")
    assert reader.locator(".results li").count() == 1
