"""The database unavailable: a clear 503 with an error id, and recovery
on the next request without a restart."""

from __future__ import annotations

import errno
import logging
from unittest import mock

from django.db import connection
from django.db.utils import OperationalError
from django.test import TestCase


class UnavailableTests(TestCase):
    def setUp(self) -> None:
        self.client.raise_request_exception = False

    def test_a_lost_database_is_a_503_with_an_error_id_then_recovers(self) -> None:
        failing = mock.patch.object(
            connection, "cursor", side_effect=OperationalError("could not connect to server")
        )
        with failing, self.assertLogs("headon.errors", logging.ERROR) as logs:
            page = self.client.get("/answers/")
            api = self.client.get("/api/v1/programs/open-days")
        self.assertEqual(page.status_code, 503)
        self.assertEqual(page["Retry-After"], "30")
        error_id = page["X-Error-Id"]
        self.assertContains(page, error_id, status_code=503)
        self.assertIn(f"error_id={error_id}", logs.output[0])
        self.assertEqual(api.status_code, 503)
        self.assertEqual(api.json()["error_id"], api["X-Error-Id"])
        # The next request, with the database back, simply works.
        self.assertEqual(self.client.get("/answers/").status_code, 200)

    def test_a_full_disk_is_a_503_too(self) -> None:
        full = OSError(errno.ENOSPC, "No space left on device")
        with (
            mock.patch("headon.desk.views.digest.Paginator", side_effect=full),
            self.assertLogs("headon.errors", logging.ERROR),
        ):
            response = self.client.get("/answers/")
        self.assertEqual(response.status_code, 503)

    def test_any_other_error_is_a_500_with_an_error_id(self) -> None:
        with (
            mock.patch("headon.desk.views.digest.Paginator", side_effect=ValueError("boom")),
            self.assertLogs("headon.errors", logging.ERROR),
        ):
            response = self.client.get("/answers/")
        self.assertEqual(response.status_code, 500)
        self.assertContains(response, response["X-Error-Id"], status_code=500)
