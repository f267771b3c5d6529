"""Attack: SMS pumping and lock-outs through numbers that are not mobiles.

Codes and companions' invitations go by SMS, which the site pays for. A
script that asks for codes to premium-rate or shared-cost numbers earns
its owner money on the site's bill; a landline can never read a code. So
an SMS goes only to a mobile number in the countries the site serves
(HEADON_SMS_REGIONS, the organiser's by default). The numbers here are
libphonenumber's own examples of each type."""

from __future__ import annotations

from typing import Any

import pytest
from django.test import TestCase, override_settings

from headon import sms
from headon.visits import identity
from headon.visits.errors import VisitError
from headon.visits.services.people import clean_person
from headon.visits.tests.factories import make_program, solved_pow

MOBILE_CN = "+8613123456789"
LANDLINE_CN = "+861012345678"
PREMIUM_CN = "+8616812345"
SHARED_COST_CN = "+864001234567"
TOLL_FREE_CN = "+868001234567"
MOBILE_GB = "+447400123456"
PREMIUM_GB = "+449012345678"


class CodeDestinationTests(TestCase):
    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = make_program()
        self.url = f"/api/v1/programs/{self.program.slug}/codes"

    def ask(self, destination: str) -> Any:
        body = {"channel": "phone", "destination": destination, "pow": solved_pow("visits-code")}
        return self.client.post(self.url, body, content_type="application/json")

    def test_no_code_goes_to_a_premium_shared_cost_toll_free_or_fixed_line_number(self) -> None:
        for number in (PREMIUM_CN, SHARED_COST_CN, TOLL_FREE_CN, LANDLINE_CN):
            with self.subTest(number=number):
                response = self.ask(number)
                self.assertEqual(response.status_code, 409)
                self.assertEqual(response.json()["code"], "phone_not_mobile")
        self.assertEqual(sms.outbox, [])
        # Control: a mobile number gets its code.
        self.assertEqual(self.ask(MOBILE_CN).status_code, 202)
        self.assertEqual(len(sms.outbox), 1)

    def test_no_code_goes_abroad_unless_the_site_serves_that_country(self) -> None:
        response = self.ask(MOBILE_GB)
        self.assertEqual(response.status_code, 409)
        self.assertEqual(response.json()["code"], "phone_region")
        self.assertEqual(sms.outbox, [])
        with override_settings(HEADON_SMS_REGIONS=frozenset({"CN", "GB"})):
            self.assertEqual(self.ask(MOBILE_GB).status_code, 202)
            # Still a mobile only, in a country the site serves.
            self.assertEqual(self.ask(PREMIUM_GB).json()["code"], "phone_not_mobile")
        self.assertEqual(len(sms.outbox), 1)

    def test_the_refusal_reads_in_chinese(self) -> None:
        response = self.client.post(
            self.url,
            {"channel": "phone", "destination": LANDLINE_CN, "pow": solved_pow("visits-code")},
            content_type="application/json",
            headers={"accept-language": "zh-hans"},
        )
        self.assertIn("手机号码", response.json()["detail"])


class PartyPhoneTests(TestCase):
    def test_a_companion_named_by_a_landline_is_refused_on_the_form(self) -> None:
        """A companion confirms through an SMS: a number that cannot take
        one would leave the party waiting until the seal drops them."""
        with self.assertRaises(VisitError) as caught:
            clean_person(name="Wang Fang", phone="010 1234 5678", position=1)
        self.assertEqual(caught.exception.code, "phone_not_mobile")
        self.assertEqual(caught.exception.position, 1)
        # Control: a mobile is taken.
        self.assertEqual(
            clean_person(name="Wang Fang", phone=MOBILE_CN, position=1).phone, MOBILE_CN
        )


def test_sms_reachable_knows_each_kind_of_number() -> None:
    allowed = frozenset({"CN"})
    identity.sms_reachable(MOBILE_CN, allowed)
    for number, code in [
        (LANDLINE_CN, identity.PHONE_NOT_MOBILE),
        (PREMIUM_CN, identity.PHONE_NOT_MOBILE),
        (MOBILE_GB, identity.PHONE_REGION),
    ]:
        with pytest.raises(identity.IdentityError) as caught:
            identity.sms_reachable(number, allowed)
        assert caught.value.code == code, number
