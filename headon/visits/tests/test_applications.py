from __future__ import annotations

import datetime as dt
from typing import Any

import time_machine
from django.test import TestCase

from headon.visits.errors import VisitError
from headon.visits.models import Application, PartyMember, PersonKey
from headon.visits.services.applications import (
    PersonInput,
    access_token,
    application_change,
    application_for_token,
    application_submit,
    application_withdraw,
)
from headon.visits.services.companions import companion_confirm
from headon.visits.tests.factories import OTHER_PHONE, PHONE, contact, id_number, make_program

FRIEND = "+8613700001111"


class SubmitTests(TestCase):
    def setUp(self) -> None:
        self.program = make_program()
        self.sessions = list(self.program.sessions.order_by("starts_at"))

    def submit(self, phone: str = PHONE, companions: list[PersonInput] | None = None, **kwargs):
        values: dict[str, Any] = {
            "program": self.program,
            "contact": contact(self.program, phone),
            "lead": PersonInput(name="Li Lei"),
            "companions": companions or [],
            "session_ids": [self.sessions[0].pk, self.sessions[1].pk],
            "consent": True,
        }
        values.update(kwargs)
        return application_submit(**values)

    def assert_refused(self, code: str, **kwargs) -> VisitError:
        with self.assertRaises(VisitError) as caught:
            self.submit(**kwargs)
        self.assertEqual(caught.exception.code, code)
        return caught.exception

    def test_a_party_applies_with_ranked_choices_and_gets_a_private_link(self) -> None:
        submission = self.submit(
            companions=[PersonInput(name="Han Meimei", phone=FRIEND, id_number=id_number())]
        )
        application = submission.application
        self.assertTrue(submission.created)
        self.assertEqual(application.party_size, 2)
        self.assertEqual(
            [c.session_id for c in application.choices.order_by("rank")],
            [self.sessions[0].pk, self.sessions[1].pk],
        )
        self.assertEqual(
            application_for_token(application.reference, submission.token), application
        )
        self.assertIsNone(application_for_token(application.reference, "0" * 36))

    def test_id_numbers_are_kept_sealed_and_masked_never_in_clear(self) -> None:
        number = id_number()
        self.submit(companions=[PersonInput(name="Han Meimei", phone=FRIEND, id_number=number)])
        member = PartyMember.objects.get(position=1)
        self.assertEqual(member.id_number_masked, number[:3] + "*" * 11 + number[-4:])
        self.assertNotIn(number, member.id_number_sealed)
        self.assertFalse(PersonKey.objects.filter(key__contains=number[-6:]).exists())

    def test_it_rejects_a_second_application_by_the_same_verified_phone(self) -> None:
        self.submit()
        error = self.assert_refused("person_taken", session_ids=[self.sessions[2].pk])
        self.assertEqual(error.position, 0)

    def test_a_confirmed_companion_holds_their_place_by_their_phone(self) -> None:
        first = self.submit(companions=[PersonInput(name="Han", phone=FRIEND)])
        # Waiting: no place held, so they can still lead a party themselves.
        self.assertEqual(PersonKey.objects.filter(active=True).count(), 1)
        companion_confirm(member=first.application.members.get(position=1))
        # Confirmed, then leading a party themselves (their phone verified).
        self.assertEqual(self.assert_refused("person_taken", phone=FRIEND).position, 0)

    def test_an_id_number_alone_claims_nobody(self) -> None:
        """Anyone can type anyone's ID number: it never holds a place."""
        self.submit(phone=OTHER_PHONE, lead=PersonInput(name="Mallory", id_number=id_number()))
        lower_x = id_number().lower()
        mine = self.submit(lead=PersonInput(name="Han", id_number=f" {lower_x} "))
        self.assertTrue(mine.created)

    def test_the_same_person_twice_in_one_party_is_refused(self) -> None:
        self.assert_refused(
            "person_repeated", companions=[PersonInput(name="Li again", phone=PHONE)]
        )

    def test_too_many_companions_are_refused(self) -> None:
        four = [PersonInput(name=f"P{n}", phone=f"+861381234{n:04d}") for n in range(4)]
        self.assert_refused("too_many_companions", companions=four)

    def test_an_invalid_id_number_is_refused_with_its_reason(self) -> None:
        bad = id_number()[:-1] + ("0" if id_number()[-1] != "0" else "1")
        error = self.assert_refused(
            "id_invalid_checksum",
            companions=[PersonInput(name="Han", phone=FRIEND, id_number=bad)],
        )
        self.assertEqual((error.position, error.field), (1, "id_number"))

    def test_a_companion_needs_their_own_phone_to_confirm_through(self) -> None:
        self.assert_refused("person_needs_identity", companions=[PersonInput(name="Han")])
        error = self.assert_refused(
            "companion_phone_required", companions=[PersonInput(name="Han", id_number=id_number())]
        )
        self.assertEqual((error.position, error.field), (1, "phone"))

    def test_a_program_can_ask_every_person_for_an_id_number(self) -> None:
        self.program.id_number_required = True
        self.program.save()
        self.assertEqual(self.assert_refused("id_required").position, 0)
        error = self.assert_refused(
            "id_required",
            lead=PersonInput(name="Li", id_number=id_number(5)),
            companions=[PersonInput(name="Han", phone=FRIEND)],
        )
        self.assertEqual(error.position, 1)

    def test_choices_are_checked(self) -> None:
        self.assert_refused("no_choice", session_ids=[])
        self.assert_refused("choice_repeated", session_ids=[self.sessions[0].pk] * 2)
        self.assert_refused(
            "too_many_choices", session_ids=[s.pk for s in self.sessions] + [self.sessions[0].pk]
        )
        other = make_program(slug="other")
        self.assert_refused("session_unavailable", session_ids=[other.sessions.first().pk])  # type: ignore[union-attr]

    def test_consent_is_required(self) -> None:
        self.assert_refused("consent_required", consent=False)

    def test_the_window_is_enforced_at_both_ends(self) -> None:
        with time_machine.travel(self.program.applications_open_at - dt.timedelta(minutes=1)):  # type: ignore[operator]
            self.assert_refused("window_not_open")
        with time_machine.travel(self.program.applications_close_at):
            self.assert_refused("window_closed")

    def test_a_retry_with_the_same_key_returns_the_first_application(self) -> None:
        first = self.submit(idempotency_key="k1")
        again = self.submit(idempotency_key="k1")
        self.assertFalse(again.created)
        self.assertEqual(again.application, first.application)
        self.assertEqual(again.token, first.token)
        self.assertEqual(Application.objects.count(), 1)

    def test_the_same_key_with_different_details_is_a_conflict(self) -> None:
        self.submit(idempotency_key="k1")
        self.assert_refused(
            "idempotency_conflict", idempotency_key="k1", session_ids=[self.sessions[2].pk]
        )
        self.assert_refused("idempotency_conflict", idempotency_key="k1", phone=OTHER_PHONE)

    def test_withdrawing_frees_the_people_to_apply_again(self) -> None:
        first = self.submit()
        application_withdraw(application=first.application)
        self.assertEqual(Application.objects.get().status, Application.Status.WITHDRAWN)
        second = self.submit()
        self.assertNotEqual(second.application, first.application)

    def test_a_change_replaces_party_and_choices_but_keeps_the_rules(self) -> None:
        first = self.submit(companions=[PersonInput(name="Han", phone=FRIEND)])
        companion_confirm(member=first.application.members.get(position=1))
        self.submit(phone=OTHER_PHONE, lead=PersonInput(name="Other"))
        changed = application_change(
            application=first.application,
            lead=PersonInput(name="Li Lei"),
            companions=[
                PersonInput(name="Han Meimei", phone="+86 137-0000-1111", id_number=id_number()),
                PersonInput(name="Other lead", phone=OTHER_PHONE),
            ],
            session_ids=[self.sessions[2].pk],
        )
        self.assertEqual(changed.party_size, 3)
        self.assertEqual([c.session_id for c in changed.choices.all()], [self.sessions[2].pk])
        # Han kept their phone, so their consent; the new companion waits
        # (and, a lead elsewhere, claims nothing here until they confirm).
        self.assertEqual(
            [m.status for m in changed.members.order_by("position")],
            ["confirmed", "confirmed", "waiting"],
        )
        with self.assertRaises(VisitError) as caught:
            application_change(
                application=first.application,
                lead=PersonInput(name="Li Lei"),
                companions=[
                    PersonInput(name=f"P{n}", phone=f"+861371234{n:04d}") for n in range(4)
                ],
                session_ids=[self.sessions[2].pk],
            )
        self.assertEqual(caught.exception.code, "too_many_companions")
        # The failed change left the first change whole.
        self.assertEqual(Application.objects.get(pk=first.application.pk).members.count(), 3)

    def test_the_access_token_changes_when_the_version_is_bumped(self) -> None:
        application = self.submit().application
        token = access_token(application)
        application.access_version += 1
        application.save()
        self.assertIsNone(application_for_token(application.reference, token))
        self.assertIsNotNone(
            application_for_token(application.reference.lower(), access_token(application))
        )

    def test_nothing_is_written_when_a_refusal_happens_midway(self) -> None:
        self.assert_refused(
            "id_invalid_checksum",
            companions=[PersonInput(name="Han", phone=FRIEND, id_number="110105194912310021")],
        )
        self.assertEqual((Application.objects.count(), PersonKey.objects.count()), (0, 0))
