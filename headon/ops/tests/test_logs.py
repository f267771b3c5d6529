"""Private links' tokens never reach a log: whoever reads the access log or
Django's warnings could otherwise open a party's application or tickets."""

from __future__ import annotations

import datetime as dt
import logging

from django.test import TestCase
from gunicorn.config import Config

from headon.logs import redact
from headon.ops.accesslog import RedactingLogger

TOKEN = "k3Jd9QxZ2mPq7vLw"
PRIVATE = f"/visits/open-days/a/7EPN-R1W2/{TOKEN}/tickets/"


def test_a_private_links_token_is_cut_and_the_rest_kept() -> None:
    assert redact(f"GET {PRIVATE}?x=1 HTTP/1.1") == (
        "GET /visits/open-days/a/7EPN-R1W2/…/tickets/?x=1 HTTP/1.1"
    )
    assert redact(f"/visits/feedback/12/{TOKEN}/") == "/visits/feedback/12/…/"
    assert redact(f"/visits/open-days/join/31/{TOKEN}/") == "/visits/open-days/join/31/…/"
    assert redact("/answers/2026-12-03/") == "/answers/2026-12-03/"


def test_the_access_log_line_holds_no_token() -> None:
    class Response:
        status = "200 OK"
        sent = 512
        headers: list[tuple[str, str]] = []

    environ = {
        "REQUEST_METHOD": "GET",
        "RAW_URI": PRIVATE,
        "PATH_INFO": PRIVATE,
        "SERVER_PROTOCOL": "HTTP/1.1",
        "HTTP_REFERER": f"https://answers.example.org{PRIVATE}",
    }
    atoms = RedactingLogger(Config()).atoms(Response(), [], environ, dt.timedelta(seconds=0))
    assert TOKEN not in " ".join(str(v) for v in atoms.values())
    assert "/a/7EPN-R1W2/…/" in atoms["r"]


class RequestWarningTests(TestCase):
    def test_a_not_found_private_link_is_logged_without_its_token(self) -> None:
        with self.assertLogs("django.request", logging.WARNING) as logs:
            self.assertEqual(self.client.get(PRIVATE).status_code, 404)
        self.assertNotIn(TOKEN, "\n".join(logs.output))
        self.assertIn("/a/7EPN-R1W2/…/", "\n".join(logs.output))
