from __future__ import annotations

from axes.models import AccessAttempt
from django.test import Client
from django.urls import reverse

from headon.accounts.models import AuditEvent
from headon.testing import PASSWORD, PersonasTestCase


class LoginTests(PersonasTestCase):
    def login(self, password: str, client: Client | None = None, ip: str = "203.0.113.7"):
        return (client or self.client).post(
            reverse("accounts:login"),
            {"username": "bob", "password": password},
            REMOTE_ADDR=ip,
        )

    def test_a_staff_member_signs_in_and_lands_on_the_staff_home(self) -> None:
        response = self.login(PASSWORD)
        self.assertRedirects(response, reverse("staff_home"))
        self.assertTrue(AuditEvent.objects.filter(action="login", actor=self.bob).exists())

    def test_a_wrong_password_is_refused_with_a_message_and_logged(self) -> None:
        response = self.login("nope")
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "correct username and password")
        self.assertEqual(AccessAttempt.objects.get(username="bob").failures_since_start, 1)

    def test_five_wrong_passwords_lock_the_account_out_even_with_the_right_one(self) -> None:
        for _ in range(5):
            self.login("nope")
        response = self.login(PASSWORD)
        self.assertEqual(response.status_code, 429)
        self.assertContains(response, "locked", status_code=429)
        self.assertTrue(AuditEvent.objects.filter(action="login_locked_out").exists())

    def test_the_lockout_is_per_address_so_bob_still_signs_in_from_elsewhere(self) -> None:
        for _ in range(5):
            self.login("nope")
        response = self.login(PASSWORD, client=Client(), ip="198.51.100.9")
        self.assertRedirects(response, reverse("staff_home"))

    def test_signing_out_takes_a_post_and_is_audited(self) -> None:
        self.client.force_login(self.bob)
        self.assertEqual(self.client.get(reverse("accounts:logout")).status_code, 405)
        self.client.post(reverse("accounts:logout"))
        self.assertTrue(AuditEvent.objects.filter(action="logout", actor=self.bob).exists())
        self.assertEqual(self.client.get(reverse("staff_home")).status_code, 302)
