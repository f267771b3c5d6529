from __future__ import annotations

import datetime as dt
import io
from typing import Any

import time_machine
from django.core.management import call_command
from django.test import TestCase, override_settings
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from headon.desk.intake.sources import channel_token_issue
from headon.desk.models import Ask, Channel
from headon.desk.services import merging
from headon.visits.tests.factories import solved_pow


@override_settings(HEADON_EMBEDDER=["none"])
class WebhookTests(TestCase):
    def setUp(self) -> None:
        merging._embedder_state.clear()
        self.addCleanup(merging._embedder_state.clear)
        self.channel = Channel.objects.create(
            slug="dealers", name="Dealers", kind=Channel.Kind.WEBHOOK
        )
        self.token = channel_token_issue(self.channel)

    def post(self, body: Any, token: str | None = None, **headers: str):
        auth = {"Authorization": f"Bearer {token or self.token}"}
        return self.client.post(
            "/api/v1/asks", body, content_type="application/json", headers=auth | headers
        )

    def test_a_channel_posts_an_ask_with_its_token_and_a_retry_adds_nothing(self) -> None:
        first = self.post(
            {"text": "When do deliveries start?", "posted_at": "2026-11-24T18:30:00+08:00"},
            **{"Idempotency-Key": "k1"},
        )
        again = self.post(
            {"text": "When do deliveries start?", "posted_at": "2026-11-24T18:30:00+08:00"},
            **{"Idempotency-Key": "k1"},
        )
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(first.json()["id"], again.json()["id"])
        self.assertTrue(again.json()["duplicate"])
        self.assertEqual(Ask.objects.get().day.isoformat(), "2026-11-24")
        self.assertEqual(
            DBTaskResult.objects.filter(task_path="headon.desk.jobs.assign_day").count(), 1
        )

    def test_an_ask_with_an_offset_postgresql_refuses_is_stored_in_utc(self) -> None:
        response = self.post({"text": "Range?", "posted_at": "2026-11-24T08:42:37.7+22:14"})
        self.assertEqual(response.status_code, 201)
        self.assertEqual(
            Ask.objects.get().posted_at.isoformat(), "2026-11-23T10:28:37.700000+00:00"
        )

    def test_an_idempotency_key_reused_for_another_ask_is_refused_not_dropped(self) -> None:
        """The second ask came back as the first one (duplicate: true) and
        its words were lost without a word."""
        key = {"Idempotency-Key": "k-9"}
        self.assertEqual(self.post({"text": "When do deliveries start?"}, **key).status_code, 201)
        self.assertEqual(self.post({"text": "When do deliveries start?"}, **key).status_code, 200)
        other = self.post({"text": "Is there a heat pump?"}, **key)
        self.assertEqual(other.status_code, 422)
        self.assertIn("already used for a different ask", other.json()["detail"])
        self.assertEqual(Ask.objects.count(), 1)

    def test_a_wrong_or_missing_token_is_refused(self) -> None:
        self.assertEqual(self.post({"text": "hi?"}, token="hdn_wrong").status_code, 401)
        self.assertEqual(
            self.client.post(
                "/api/v1/asks", {"text": "hi?"}, content_type="application/json"
            ).status_code,
            401,
        )
        self.assertEqual(Ask.objects.count(), 0)

    def test_bad_asks_get_a_clear_422(self) -> None:
        for body in (
            {"text": ""},
            {"text": "x" * 2001},
            {"text": "ok?", "likes": -1},
            {"text": "ok?", "posted_at": "2026-11-24T18:30:00"},
        ):
            self.assertEqual(self.post(body).status_code, 422, body)
        self.assertEqual(self.post({"text": "bad\x00text"}).status_code, 422)

    def test_a_blank_external_id_counts_as_none(self) -> None:
        first = self.post({"text": "when?", "external_id": "\n "}, **{"Idempotency-Key": "k1"})
        again = self.post({"text": "when?", "external_id": " "}, **{"Idempotency-Key": "k1"})
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(first.json()["external_id"], "idem:k1")

    def test_a_new_token_retires_the_old_one(self) -> None:
        out = io.StringIO()
        call_command("channel_token", "dealers", stdout=out)
        self.assertEqual(self.post({"text": "hi?"}).status_code, 401)
        self.assertEqual(self.post({"text": "hi?"}, token=out.getvalue().strip()).status_code, 201)

    def test_the_schema_documents_the_webhook_and_its_auth(self) -> None:
        schema = self.client.get("/api/v1/openapi.json").json()
        self.assertIn("/api/v1/asks", schema["paths"])
        self.assertIn("ChannelToken", schema["components"]["securitySchemes"])


@override_settings(HEADON_EMBEDDER=["none"])
class AskFormTests(TestCase):
    def setUp(self) -> None:
        Channel.objects.create(slug="ask-form", name="Ask form", kind=Channel.Kind.FORM)

    def test_a_person_asks_without_an_account_and_a_double_click_counts_once(self) -> None:
        data = {"text": "续航多少？", "submission_id": "s1", "pow": solved_pow("desk-ask")}
        self.assertRedirects(self.client.post(reverse("desk:ask"), data), reverse("desk:asked"))
        data["pow"] = solved_pow("desk-ask")
        self.client.post(reverse("desk:ask"), data)
        self.assertEqual(Ask.objects.get().text, "续航多少？")

    def test_sending_the_form_again_with_other_words_is_a_new_ask(self) -> None:
        """Back, edit, send: the page's submission id comes again with other
        words; it is a second ask, not the first one found again."""
        for text in ("续航多少？", "有热泵吗？"):
            data = {"text": text, "submission_id": "s2", "pow": solved_pow("desk-ask")}
            self.client.post(reverse("desk:ask"), data)
        self.assertEqual(
            sorted(Ask.objects.values_list("text", flat=True)), ["有热泵吗？", "续航多少？"]
        )

    def test_a_bot_without_the_proof_of_work_is_turned_away(self) -> None:
        response = self.client.post(reverse("desk:ask"), {"text": "spam", "submission_id": "s2"})
        self.assertContains(response, "needs JavaScript")
        self.assertEqual(Ask.objects.count(), 0)

    # Mid-window: the limits count in fixed ten-minute windows.
    @time_machine.travel(dt.datetime(2026, 12, 3, 12, 3, tzinfo=dt.UTC), tick=False)
    def test_the_form_is_rate_limited_per_address_and_says_how_long(self) -> None:
        for n in range(6):
            response = self.client.post(
                reverse("desk:ask"),
                {"text": f"q{n}?", "submission_id": f"x{n}", "pow": solved_pow("desk-ask")},
            )
        self.assertContains(response, "Please try again in 7 minutes.")
        self.assertEqual(Ask.objects.count(), 5)
