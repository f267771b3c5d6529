from __future__ import annotations

from unittest import mock

from axes.models import AccessAttempt
from django.test import Client, override_settings
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


@override_settings(HEADON_PROXY_COUNT=1)
class BehindTheProxyTests(PersonasTestCase):
    """Every request comes from the proxy (REMOTE_ADDR 127.0.0.1); the client
    is the address the proxy appended to X-Forwarded-For."""

    def login(self, password: str, client_address: str) -> object:
        return Client().post(
            reverse("accounts:login"),
            {"username": "bob", "password": password},
            REMOTE_ADDR="127.0.0.1",
            headers={"X-Forwarded-For": f"192.0.2.1, {client_address}"},
        )

    def attack_then_sign_in(self) -> int:
        for _ in range(5):
            self.login("nope", "203.0.113.66")
        return self.login(PASSWORD, "198.51.100.9").status_code  # type: ignore[attr-defined,no-any-return]

    def test_a_stranger_cannot_lock_a_staff_member_out_for_everyone(self) -> None:
        self.assertEqual(self.attack_then_sign_in(), 302)
        event = AuditEvent.objects.get(action="login", actor=self.bob)
        self.assertEqual(event.ip_address, "198.51.100.9")

    def test_the_control_keyed_on_the_proxy_everyone_was_locked_out(self) -> None:
        with override_settings(AXES_CLIENT_IP_CALLABLE=None):
            self.assertEqual(self.attack_then_sign_in(), 429)


class LoginFloodTests(PersonasTestCase):
    @override_settings(HEADON_LOGINS_PER_ADDRESS=3)
    def test_attempts_past_the_limit_are_refused_before_any_password_is_hashed(self) -> None:
        def attempt(address: str) -> int:
            return (
                Client()
                .post(
                    reverse("accounts:login"),
                    {"username": "nobody", "password": "guess"},
                    REMOTE_ADDR=address,
                )
                .status_code
            )

        self.assertEqual([attempt("203.0.113.5") for _ in range(3)], [200] * 3)
        # The form's authenticate() is what hashes the password.
        with mock.patch("django.contrib.auth.forms.authenticate") as authenticate:
            refused = Client().post(
                reverse("accounts:login"),
                {"username": "nobody", "password": "guess"},
                REMOTE_ADDR="203.0.113.5",
            )
        authenticate.assert_not_called()
        self.assertEqual(refused.status_code, 429)
        self.assertContains(refused, "Too many sign-in attempts", status_code=429)
        self.assertGreater(int(refused["Retry-After"]), 0)
        self.assertEqual(attempt("198.51.100.5"), 200)  # another address is not affected
