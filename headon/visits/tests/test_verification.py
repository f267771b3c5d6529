from __future__ import annotations

import datetime as dt
import re

import time_machine
from django.core import mail
from django.test import TestCase

from headon import sms
from headon.visits.errors import VisitError
from headon.visits.services import verification
from headon.visits.tests.factories import PHONE, make_program


def last_code() -> str:
    match = re.search(r"\b(\d{6})\b", sms.outbox[-1][1])
    assert match
    return match.group(1)


class CodeTests(TestCase):
    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = make_program()

    def request(self, raw: str = "138 1234 5678", channel: str = "phone") -> str:
        destination = verification.normalise_destination(channel, raw)
        verification.code_request(program=self.program, channel=channel, destination=destination)
        return destination

    def verify(self, code: str, destination: str = PHONE, channel: str = "phone") -> str:
        return verification.code_verify(
            program=self.program, channel=channel, destination=destination, code=code
        )

    def test_a_code_goes_by_sms_and_proves_the_phone(self) -> None:
        destination = self.request()
        self.assertEqual(sms.outbox[-1][0], PHONE)
        token = self.verify(last_code(), destination)
        proved = verification.verified_contact(token, program=self.program)
        self.assertEqual((proved.channel, proved.destination), ("phone", PHONE))

    def test_a_code_goes_by_e_mail_too(self) -> None:
        destination = self.request("Li.Lei@Example.COM", channel="email")
        self.assertEqual(destination, "li.lei@example.com")  # one inbox, one spelling
        code = re.search(r"\b(\d{6})\b", str(mail.outbox[-1].body)).group(1)  # type: ignore[union-attr]
        self.verify(code, destination, channel="email")

    def test_the_code_is_stored_only_as_a_hash(self) -> None:
        self.request()
        from headon.visits.models import VerificationCode

        row = VerificationCode.objects.get()
        self.assertNotIn(last_code(), row.code_hash)
        self.assertNotIn("13812345678", row.destination_hash)

    def test_a_wrong_code_is_refused_and_five_wrong_codes_burn_it(self) -> None:
        self.request()
        code = last_code()
        wrong = "000000" if code != "000000" else "111111"
        for _ in range(5):
            with self.assertRaises(VisitError) as caught:
                self.verify(wrong)
            self.assertEqual(caught.exception.code, "code_wrong")
        with self.assertRaises(VisitError) as caught:
            self.verify(code)
        self.assertEqual(caught.exception.code, "code_expired")

    def test_an_expired_code_is_refused(self) -> None:
        self.request()
        with (
            time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(minutes=11)),
            self.assertRaises(VisitError) as caught,
        ):
            self.verify(last_code())
        self.assertEqual(caught.exception.code, "code_expired")

    def test_a_code_works_once(self) -> None:
        self.request()
        code = last_code()
        self.verify(code)
        with self.assertRaises(VisitError):
            self.verify(code)

    def test_the_verified_token_is_bound_to_its_program_and_expires(self) -> None:
        self.request()
        token = self.verify(last_code())
        other = make_program(slug="other")
        with self.assertRaises(VisitError):
            verification.verified_contact(token, program=other)
        with self.assertRaises(VisitError):
            # Two other last characters ("xx" itself would be the token now and then).
            wrong = "".join("y" if ch == "x" else "x" for ch in token[-2:])
            verification.verified_contact(token[:-2] + wrong, program=self.program)
        with (
            time_machine.travel(dt.datetime.now(tz=dt.UTC) + dt.timedelta(hours=3)),
            self.assertRaises(VisitError),
        ):
            verification.verified_contact(token, program=self.program)

    def test_bad_destinations_are_refused_with_their_reason(self) -> None:
        for channel, raw, code in [
            ("phone", "12345", "phone_invalid"),
            ("email", "not-an-address", "email_invalid"),
        ]:
            with self.assertRaises(VisitError) as caught:
                verification.normalise_destination(channel, raw)
            self.assertEqual(caught.exception.code, code)
