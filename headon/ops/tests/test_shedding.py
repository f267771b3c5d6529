from __future__ import annotations

import json
from typing import Any

from gunicorn.util import load_class

from headon.ops import shedding


def _call(path: str, waited: float, method: str = "GET") -> tuple[str, dict[str, str], bytes]:
    seen: dict[str, Any] = {}

    def app(environ: dict[str, Any], start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return [b"served"]

    def start_response(status: str, headers: list[tuple[str, str]]) -> None:
        seen["status"], seen["headers"] = status, dict(headers)

    shedding._waited.seconds = waited
    try:
        body = b"".join(
            shedding.SheddingApp(app, 0.2)(
                {"PATH_INFO": path, "REQUEST_METHOD": method}, start_response
            )
        )
    finally:
        del shedding._waited.seconds
    return seen["status"], seen["headers"], body


def test_a_request_served_within_its_budget_reaches_the_app():
    assert _call("/visits/open-day/", waited=0.19)[2] == b"served"


def test_a_request_that_waited_too_long_is_refused_at_once_with_retry_after():
    status, headers, body = _call("/visits/open-day/", waited=0.21)
    assert status.startswith("503")
    assert 2 <= int(headers["Retry-After"]) <= 5
    assert headers["Cache-Control"] == "no-store"
    assert "当前访问人数过多".encode() in body
    assert b"Too many people" in body


def test_the_api_is_refused_in_json_with_a_code():
    status, headers, body = _call("/api/v1/programs/open-day/codes", waited=1.0, method="POST")
    assert status.startswith("503")
    assert headers["Content-Type"] == "application/json"
    assert json.loads(body)["code"] == "overloaded"


def test_finishing_an_application_may_wait_longer_than_starting_one():
    submit = "/api/v1/programs/open-day/applications"
    assert _call(submit, waited=0.5, method="POST")[2] == b"served"
    assert _call(submit, waited=0.7, method="POST")[0].startswith("503")
    assert _call("/visits/open-day/apply/details/", waited=0.5, method="POST")[2] == b"served"
    assert _call("/visits/open-day/apply/", waited=0.5, method="POST")[0].startswith("503")
    assert _call(submit, waited=0.5, method="GET")[0].startswith("503")


def test_gunicorn_finds_the_worker_class_that_serve_names():
    assert load_class("headon.ops.shedding.SheddingWorker") is shedding.SheddingWorker


def test_static_files_and_the_health_check_are_never_shed():
    assert _call("/static/headon/css/headon.css", waited=60)[2] == b"served"
    assert _call("/healthz", waited=60)[2] == b"served"
