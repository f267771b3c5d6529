from __future__ import annotations

import re
from pathlib import Path

from django.test import Client, override_settings
from django.urls import reverse

from headon.testing import PersonasTestCase

PAGES = ["home", "desk:answers", "visits:programs", "accounts:login"]
TEMPLATES = Path(__file__).resolve().parents[1]


class SecurityHeaderTests(PersonasTestCase):
    def assert_hardened(self, response) -> None:
        csp = response["Content-Security-Policy"]
        self.assertIn("script-src 'self'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertEqual(response["X-Content-Type-Options"], "nosniff")
        self.assertEqual(response["X-Frame-Options"], "DENY")
        self.assertEqual(response["Referrer-Policy"], "same-origin")

    def test_every_public_page_sends_the_security_headers(self) -> None:
        for name in PAGES:
            response = self.client.get(reverse(name))
            self.assertEqual(response.status_code, 200, name)
            self.assert_hardened(response)

    def test_staff_pages_and_errors_send_them_too(self) -> None:
        self.client.force_login(self.alice)
        self.assert_hardened(self.client.get(reverse("staff_home")))
        self.assert_hardened(self.client.get("/no-such-page/"))

    def test_no_page_carries_an_inline_script_or_style(self) -> None:
        self.client.force_login(self.alice)
        for name in [*PAGES, "staff_home", "desk_staff:home", "visits_staff:home"]:
            html = self.client.get(reverse(name)).content.decode()
            self.assertIsNone(
                re.search(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", html), name
            )
            self.assertNotIn("<style", html, name)
            self.assertIsNone(re.search(r"\son[a-z]+=", html), name)
            self.assertNotIn(" style=", html, name)

    @override_settings(SECURE_HSTS_SECONDS=31536000, SECURE_HSTS_INCLUDE_SUBDOMAINS=True)
    def test_hsts_is_sent_over_tls_only(self) -> None:
        self.assertIn(
            "max-age=31536000", self.client.get("/", secure=True)["Strict-Transport-Security"]
        )
        self.assertFalse(self.client.get("/").has_header("Strict-Transport-Security"))

    def test_a_form_post_without_the_csrf_token_is_refused(self) -> None:
        client = Client(enforce_csrf_checks=True)
        response = client.post(reverse("accounts:login"), {"username": "bob", "password": "x"})
        self.assertEqual(response.status_code, 403)
        response = client.post(reverse("set_language"), {"language": "zh-hans"})
        self.assertEqual(response.status_code, 403)

    def test_every_post_form_in_every_template_carries_the_csrf_token(self) -> None:
        for path in TEMPLATES.rglob("templates/**/*.html"):
            text = path.read_text()
            for form in re.findall(
                r"<form[^>]*method=\"post\"[^>]*>(.*?)</form>", text, re.S | re.I
            ):
                self.assertIn("{% csrf_token %}", form, path)

    def test_scripts_are_served_by_headon_itself(self) -> None:
        html = self.client.get("/").content.decode()
        sources = re.findall(r'<script[^>]*src="([^"]+)"', html)
        self.assertTrue(sources)
        for src in sources:
            self.assertTrue(src.startswith("/static/"), src)
            response = self.client.get(src)
            self.assertEqual(response.status_code, 200, src)
            self.assertIn("javascript", response["Content-Type"])

    def test_the_health_check_says_the_database_answers(self) -> None:
        response = self.client.get(reverse("healthz"))
        self.assertEqual(response.json(), {"status": "ok", "database": True})
