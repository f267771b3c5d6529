from __future__ import annotations

import datetime as dt
import re
from typing import Any

import time_machine
from django.test import TestCase

from headon import sms
from headon.visits.models import Application
from headon.visits.tests.factories import id_number, make_program, solved_pow


class VisitsApiTests(TestCase):
    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = make_program()
        self.base = f"/api/v1/programs/{self.program.slug}"
        self.session_ids = list(
            self.program.sessions.order_by("starts_at").values_list("pk", flat=True)
        )

    def post(self, url: str, body: dict[str, Any], **headers: str):
        return self.client.post(url, body, content_type="application/json", headers=headers)

    def token(self, phone: str = "13812345678") -> str:
        self.assertEqual(
            self.post(
                f"{self.base}/codes",
                {"channel": "phone", "destination": phone, "pow": solved_pow("visits-code")},
            ).status_code,
            202,
        )
        code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)  # type: ignore[union-attr]
        response = self.post(
            f"{self.base}/codes/verify", {"channel": "phone", "destination": phone, "code": code}
        )
        self.assertEqual(response.status_code, 200)
        return str(response.json()["verification_token"])

    def body(self, token: str, **extra: Any) -> dict[str, Any]:
        return {
            "verification_token": token,
            "lead": {"name": "Li Lei"},
            "companions": [
                {"name": "Han Meimei", "phone": "13700001111", "id_number": id_number()}
            ],
            "choices": self.session_ids[:2],
            "consent": True,
            "pow": solved_pow("visits-apply"),
        } | extra

    def test_a_partner_runs_the_whole_flow(self) -> None:
        program = self.client.get(self.base).json()
        self.assertEqual(program["window"], "open")
        self.assertEqual(len(program["sessions"]), 3)
        response = self.post(
            f"{self.base}/applications", self.body(self.token()), **{"Idempotency-Key": "abc"}
        )
        self.assertEqual(response.status_code, 201, response.content)
        created = response.json()
        self.assertEqual(created["party_size"], 2)
        self.assertEqual(created["members"][1]["id_number_masked"][:3], "110")
        url = f"/api/v1/applications/{created['reference']}"
        self.assertEqual(self.client.get(url).status_code, 404)
        read = self.client.get(url, headers={"X-Access-Token": created["access_token"]})
        self.assertEqual(read.json()["reference"], created["reference"])
        # Personal data: no shared cache may keep it.
        for cached in (read, response):
            self.assertIn("no-store", cached["Cache-Control"])
            self.assertIn("private", cached["Cache-Control"])
        changed = self.client.put(
            url,
            {
                "lead": {"name": "Li Lei"},
                "choices": self.session_ids[2:],
                "pow": solved_pow("visits-apply"),
            },
            content_type="application/json",
            headers={"X-Access-Token": created["access_token"]},
        )
        self.assertEqual(changed.json()["party_size"], 1)
        withdrawn = self.post(f"{url}/withdraw", {}, **{"X-Access-Token": created["access_token"]})
        self.assertEqual(withdrawn.json()["status"], "withdrawn")

    def test_a_replayed_call_with_the_same_idempotency_key_makes_one_application(self) -> None:
        body = self.body(self.token())
        first = self.post(f"{self.base}/applications", body, **{"Idempotency-Key": "k-1"})
        again = self.post(f"{self.base}/applications", body, **{"Idempotency-Key": "k-1"})
        self.assertEqual((first.status_code, again.status_code), (201, 200))
        self.assertEqual(first.json(), again.json())
        self.assertEqual(Application.objects.count(), 1)
        other = self.post(
            f"{self.base}/applications",
            body | {"choices": [self.session_ids[2]]},
            **{"Idempotency-Key": "k-1"},
        )
        self.assertEqual(other.status_code, 409)
        self.assertEqual(other.json()["code"], "idempotency_conflict")

    def test_refusals_are_409_with_a_code_and_a_message_in_the_callers_language(self) -> None:
        token = self.token()
        self.post(f"{self.base}/applications", self.body(token))
        response = self.client.post(
            f"{self.base}/applications",
            self.body(token, choices=self.session_ids[2:]),
            content_type="application/json",
            headers={"Accept-Language": "en"},
        )
        self.assertEqual(response.status_code, 409)
        # About the lead, who verified the phone: never about anyone else.
        self.assertEqual(response.json()["code"], "person_taken")
        self.assertEqual(response.json()["position"], 0)

    def test_a_forged_verification_token_is_refused(self) -> None:
        response = self.post(f"{self.base}/applications", self.body("forged"))
        self.assertEqual(response.json()["code"], "contact_not_verified")

    def test_malformed_bodies_get_422_not_500(self) -> None:
        for body in (
            {},
            {"lead": "x"},
            self.body("t", choices=["a"]),
            self.body("t", companions=[{}] * 30),
        ):
            self.assertEqual(self.post(f"{self.base}/applications", body).status_code, 422, body)
        response = self.client.post(
            f"{self.base}/applications", "{not json", content_type="application/json"
        )
        self.assertIn(response.status_code, (400, 422))

    def test_the_schema_documents_the_operations(self) -> None:
        paths = self.client.get("/api/v1/openapi.json").json()["paths"]
        self.assertIn("/api/v1/programs/{slug}/applications", paths)
        parameters = paths["/api/v1/programs/{slug}/applications"]["post"]["parameters"]
        self.assertIn("Idempotency-Key", [p["name"] for p in parameters])

    def test_bots_pay_a_proof_of_work_once_per_request(self) -> None:
        token = self.token()
        response = self.post(f"{self.base}/applications", self.body(token, pow="forged"))
        self.assertEqual((response.status_code, response.json()["code"]), (403, "pow_invalid"))
        body = self.body(token)
        self.assertEqual(
            self.post(f"{self.base}/applications", body, **{"Idempotency-Key": "a"}).status_code,
            201,
        )
        # The same solution under another key is a replay.
        response = self.post(f"{self.base}/applications", body, **{"Idempotency-Key": "b"})
        self.assertEqual(response.json()["code"], "pow_invalid")
        missing = {k: v for k, v in self.body(token).items() if k != "pow"}
        self.assertEqual(self.post(f"{self.base}/applications", missing).status_code, 422)

    def test_one_solution_cannot_probe_many_companions_under_one_key(self) -> None:
        """The attack: a key that never made an application let one solution
        be spent on request after request, each naming another companion, and
        the refusal said which person was taken (an oracle)."""
        taken = "13700000201"
        token = self.token("13900000001")
        self.post(f"{self.base}/applications", self.body(token))
        solution = solved_pow("visits-apply")

        def probe(number: str) -> Any:
            # Since issue 17 the refusal is about the lead's own phone only,
            # whichever companion is named; a refusal still spends nothing.
            companions = [{"name": "Y", "phone": number}]
            body = self.body(token, pow=solution, companions=companions)
            return self.post(f"{self.base}/applications", body, **{"Idempotency-Key": "probe"})

        first = probe(taken)
        self.assertEqual(first.json()["code"], "person_taken")
        # The control: a retry of the very same request is answered again.
        self.assertEqual(probe(taken).json()["code"], "person_taken")
        # Another companion under the same key and solution learns nothing.
        other = probe("13700000202")
        self.assertEqual((other.status_code, other.json()["code"]), (403, "pow_invalid"))
        self.assertEqual(Application.objects.count(), 1)

    @time_machine.travel(dt.datetime(2026, 12, 3, 12, 20, tzinfo=dt.UTC), tick=False)
    def test_a_stranger_cannot_spend_the_owners_code_quota(self) -> None:
        """Five code requests from anywhere used to lock a phone's owner out
        of verifying for an hour."""

        def ask(address: str, destination: str = "13812345678", channel: str = "phone") -> int:
            body = {
                "channel": channel,
                "destination": destination,
                "pow": solved_pow("visits-code"),
            }
            return self.client.post(
                f"{self.base}/codes", body, content_type="application/json", REMOTE_ADDR=address
            ).status_code

        self.assertEqual([ask("203.0.113.9") for _ in range(6)], [202] * 5 + [429])
        self.assertEqual(ask("198.51.100.7"), 202)  # the owner, from home
        # One inbox however its address is spelt: its limit is one too.
        spellings = ["ann", "ANN", "Ann", "aNn", "anN", "ANn"]
        statuses = [ask("203.0.113.10", f"{s}@Example.org", "email") for s in spellings]
        self.assertEqual(statuses, [202] * 5 + [429])

    @time_machine.travel(dt.datetime(2026, 12, 3, 12, 20, tzinfo=dt.UTC), tick=False)
    def test_codes_to_one_phone_are_rate_limited_with_retry_after(self) -> None:
        statuses = [
            self.post(
                f"{self.base}/codes",
                {
                    "channel": "phone",
                    "destination": "13812345678",
                    "pow": solved_pow("visits-code"),
                },
            ).status_code
            for _ in range(6)
        ]
        self.assertEqual(statuses, [202] * 5 + [429])
        response = self.post(
            f"{self.base}/codes",
            {
                "channel": "phone",
                "destination": "+86 138 1234 5678",
                "pow": solved_pow("visits-code"),
            },
        )
        self.assertEqual(response.status_code, 429)
        self.assertGreater(int(response["Retry-After"]), 0)
        self.assertEqual(response.json()["code"], "rate_limited")
