"""PATCH /api/v1/staff/programs/{slug}/sessions/{id}: a coordinator changes
a session through the same service as the staff page, with the same
consequences; a gate account, a visitor, a revoked key and bad input are
refused; the same body twice changes nothing and tells nobody twice."""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import time_machine
from django.core.management import call_command
from django.test.utils import override_settings
from django_tasks_db.models import DBTaskResult

from headon.accounts.models import ApiToken, AuditEvent
from headon.accounts.services import api_token_create, api_token_revoke
from headon.testing import PersonasTestCase
from headon.visits import jobs
from headon.visits.models import Offer, Program, Session
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, held, make_application
from headon.visits.tests.test_moving import moved_jobs

NOW = dt.datetime(2027, 1, 10, 4, 0, tzinfo=dt.UTC)
START = dt.datetime(2027, 2, 15, 1, 30, tzinfo=dt.UTC)  # make_program's first session


def promote() -> None:
    for job in DBTaskResult.objects.filter(task_path="headon.visits.jobs.promote_program"):
        jobs.promote_program.call(*job.args_kwargs["args"])


@time_machine.travel(NOW, tick=False)
@override_settings(LANGUAGE_CODE="en")
class SessionPatchTests(PersonasTestCase):
    program: Program
    session: Session
    other: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="api-days", sessions=2, capacity=4)
        cls.session, cls.other = cls.program.sessions.order_by("starts_at")
        Session.objects.filter(pk=cls.other.pk).update(capacity=2)
        make_application(cls.program, 1, 2, [cls.session, cls.other], priority_tier=0)
        make_application(cls.program, 2, 2, [cls.session], priority_tier=0)
        make_application(cls.program, 3, 2, [cls.session], priority_tier=1)  # waits
        drawn(cls.program, tiers=True)

    def setUp(self) -> None:
        self.erin_key = api_token_create(user=self.erin, name="script")
        DBTaskResult.objects.all().delete()

    def patch(self, body: Any, key: str | None = None, session: Session | None = None) -> Any:
        url = f"/api/v1/staff/programs/{self.program.slug}/sessions/{(session or self.session).pk}"
        headers = {"Authorization": f"Bearer {key or self.erin_key}"} if key != "" else {}
        return self.client.patch(
            url, json.dumps(body), content_type="application/json", headers=headers
        )

    def moved(self, by: dt.timedelta) -> dict[str, str]:
        return {
            "starts_at": (START + by).isoformat(),
            "ends_at": (START + by + dt.timedelta(hours=2)).isoformat(),
        }

    # Capacity

    def test_raising_the_capacity_offers_the_new_seats_to_the_waitlist(self) -> None:
        self.assertEqual(held(self.session), 4)
        response = self.patch({"capacity": 6})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["changed"], ["capacity"])
        self.assertEqual(response.json()["capacity"], 6)
        promote()
        self.assertEqual(held(self.session), 6)
        self.assertEqual(Offer.objects.filter(source=Offer.Source.WAITLIST).count(), 1)

    def test_a_cut_below_the_bookings_is_refused_naming_who_holds_the_seats(self) -> None:
        response = self.patch({"capacity": 2})
        self.assertEqual(response.status_code, 409)
        problem = response.json()
        self.assertEqual(problem["code"], "capacity_below_bookings")
        self.assertIn("4 seats of this session are offered or confirmed", problem["detail"])
        self.assertEqual((problem["parties"], problem["seats"]), (2, 4))
        self.assertEqual(problem["references"], ["T00001", "T00002"])
        self.session.refresh_from_db()
        self.assertEqual(self.session.capacity, 4)
        # The control: a cut to the bookings is allowed.
        self.assertEqual(self.patch({"capacity": 4}).status_code, 200)
        self.assertEqual(self.patch({"capacity": 5}).status_code, 200)
        self.assertEqual(self.patch({"capacity": 4}).json()["changed"], ["capacity"])

    def test_a_capacity_that_is_text_negative_zero_or_huge_is_refused(self) -> None:
        for capacity in ("1e3", "6", -1, 0, 100_001, 2**63, 4.5, True):
            with self.subTest(capacity=capacity):
                response = self.patch({"capacity": capacity})
                self.assertEqual(response.status_code, 422, response.content)
                self.assertIn("capacity", response.json()["detail"])
        self.session.refresh_from_db()
        self.assertEqual(self.session.capacity, 4)
        # JSON's 1e3 is the integer 1000 (JSON Schema says so too).
        response = self.client.patch(
            f"/api/v1/staff/programs/{self.program.slug}/sessions/{self.session.pk}",
            '{"capacity": 1e3}',
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.erin_key}"},
        )
        self.assertEqual(response.json()["capacity"], 1000)

    def test_an_unknown_field_is_refused_not_ignored(self) -> None:
        response = self.patch({"capcity": 6})
        self.assertEqual(response.status_code, 422)

    # Moving

    def test_a_move_without_confirmation_says_whom_it_reaches_and_moves_nothing(self) -> None:
        response = self.patch(self.moved(dt.timedelta(days=1)))
        self.assertEqual(response.status_code, 409)
        problem = response.json()
        self.assertEqual(problem["code"], "move_unconfirmed")
        self.assertIn("reaches 2 parties (4 visitors)", problem["detail"])
        self.assertEqual(moved_jobs(), [])
        self.session.refresh_from_db()
        self.assertEqual(self.session.starts_at, START)

    def test_a_confirmed_move_tells_each_party_once_and_a_repeat_does_nothing(self) -> None:
        body = {**self.moved(dt.timedelta(days=1)), "confirm_move": True}
        response = self.patch(body)
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["changed"], ["ends_at", "starts_at"])
        self.assertEqual(len(moved_jobs()), 2)
        edits = AuditEvent.objects.filter(action="session_edit").count()
        again = self.patch(body)
        self.assertEqual(again.status_code, 200)
        self.assertEqual(again.json()["changed"], [])
        self.assertEqual(len(moved_jobs()), 2, "no second notice")
        self.assertEqual(AuditEvent.objects.filter(action="session_edit").count(), edits)

    def test_a_move_into_the_past_is_refused_even_confirmed(self) -> None:
        response = self.patch({**self.moved(-dt.timedelta(days=60)), "confirm_move": True})
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["code"], "move_into_past")
        self.session.refresh_from_db()
        self.assertEqual(self.session.starts_at, START)
        self.assertEqual(moved_jobs(), [])

    def test_a_time_without_a_zone_is_refused(self) -> None:
        response = self.patch({"starts_at": "2027-02-16T09:30:00", "confirm_move": True})
        self.assertEqual(response.status_code, 422)

    def test_a_move_onto_another_sessions_start_is_refused(self) -> None:
        response = self.patch(
            {
                "starts_at": self.other.starts_at.isoformat(),
                "ends_at": self.other.ends_at.isoformat(),
                "confirm_move": True,
            }
        )
        self.assertEqual(response.json()["code"], "start_taken")

    # Cancelling

    def test_cancelling_offers_each_party_its_next_choice_or_the_waitlist(self) -> None:
        response = self.patch({"status": "cancelled"})
        self.assertEqual(response.status_code, 200, response.content)
        self.assertEqual(response.json()["status"], "cancelled")
        moved = Offer.objects.get(application__reference="T00001")
        self.assertEqual((moved.session_id, moved.source), (self.other.pk, Offer.Source.MOVED))
        back = Offer.objects.get(application__reference="T00002")
        self.assertEqual(back.status, Offer.Status.CANCELLED)
        rehomed = DBTaskResult.objects.filter(task_path="headon.visits.jobs.notify_rehomed")
        self.assertEqual(rehomed.count(), 2)
        # The same request again: nothing more happens, nobody is told twice.
        self.assertEqual(self.patch({"status": "cancelled"}).json()["changed"], [])
        self.assertEqual(rehomed.count(), 2)

    def test_cancelling_and_moving_at_once_is_refused(self) -> None:
        response = self.patch(
            {**self.moved(dt.timedelta(days=1)), "status": "cancelled", "confirm_move": True}
        )
        self.assertEqual(response.json()["code"], "cancel_or_move")
        self.session.refresh_from_db()
        self.assertEqual(self.session.status, Session.Status.SCHEDULED)

    # Who may

    def test_a_gate_account_or_a_keyless_visitor_cannot_change_a_session(self) -> None:
        gate_key = api_token_create(user=self.gus, name="gate")
        response = self.patch({"capacity": 6}, key=gate_key)
        self.assertEqual(response.status_code, 403)
        self.assertEqual(response.json()["code"], "not_coordinator")
        self.assertEqual(self.patch({"capacity": 6}, key="").status_code, 401)
        self.assertEqual(self.patch({"capacity": 6}, key="hdn_guess").status_code, 401)
        # A signed-in coordinator's cookie is no key: the API takes headers only.
        self.client.force_login(self.erin)
        self.assertEqual(self.patch({"capacity": 6}, key="").status_code, 401)
        self.session.refresh_from_db()
        self.assertEqual(self.session.capacity, 4)
        # The control: the coordinator's key changes it.
        self.assertEqual(self.patch({"capacity": 6}).status_code, 200)

    def test_a_revoked_key_or_a_deactivated_coordinator_is_refused(self) -> None:
        api_token_revoke(token=ApiToken.objects.get(user=self.erin))
        self.assertEqual(self.patch({"capacity": 6}).status_code, 401)
        key = api_token_create(user=self.erin, name="second")
        self.assertEqual(self.patch({"capacity": 5}, key=key).status_code, 200)
        self.erin.is_active = False
        self.erin.save(update_fields=["is_active"])
        self.assertEqual(self.patch({"capacity": 6}, key=key).status_code, 401)

    def test_a_session_of_another_program_is_not_found(self) -> None:
        elsewhere = make_program(slug="other-days", sessions=1).sessions.get()
        self.assertEqual(self.patch({"capacity": 6}, session=elsewhere).status_code, 404)
        archived = make_program(slug="old-days", sessions=1, status=Program.Status.ARCHIVED)
        url = f"/api/v1/staff/programs/old-days/sessions/{archived.sessions.get().pk}"
        response = self.client.patch(
            url,
            '{"capacity": 6}',
            content_type="application/json",
            headers={"Authorization": f"Bearer {self.erin_key}"},
        )
        self.assertEqual(response.status_code, 404)

    def test_the_key_is_stored_hashed_and_the_command_makes_one(self) -> None:
        self.assertFalse(ApiToken.objects.filter(key_hash__contains=self.erin_key[4:]).exists())
        from io import StringIO

        out = StringIO()
        call_command("apitoken", "create", "erin", "--name", "cli", stdout=out)
        key = out.getvalue().strip()
        self.assertTrue(key.startswith("hdn_"))
        self.assertEqual(self.patch({"capacity": 6}, key=key).status_code, 200)


@time_machine.travel(NOW, tick=False)
class EdgeTimeTests(PersonasTestCase):
    def test_a_time_at_the_edge_of_the_calendar_is_refused_not_a_crash(self) -> None:
        program = make_program(slug="edge-days", sessions=1)
        session = program.sessions.get()
        key = api_token_create(user=self.erin, name="edge")
        make_application(program, 1, 2, [session])
        drawn(program)
        Offer.objects.update(status=Offer.Status.CONFIRMED)
        for starts, ends in (
            ("0001-01-01T00:00:00+01:00", None),
            ("9999-12-31T23:59:59-01:00", None),
            ("9999-12-31T20:00:00Z", "9999-12-31T23:59:00Z"),
        ):
            with self.subTest(starts=starts):
                response = self.client.patch(
                    f"/api/v1/staff/programs/{program.slug}/sessions/{session.pk}",
                    json.dumps({"starts_at": starts, "ends_at": ends, "confirm_move": True}),
                    content_type="application/json",
                    headers={"Authorization": f"Bearer {key}"},
                )
                self.assertIn(response.status_code, (409, 422), response.content)
