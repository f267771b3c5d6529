"""Shed load past saturation: answer at once with 503 instead of queueing.

gunicorn's threaded worker hands each request to a thread pool. When work
arrives faster than the cores can do it, the pool's queue grows without
bound: every request still gets an answer, but seconds late, and a person
whose phone gives up after ten seconds has waited for nothing. So the
worker here notes when each request joins the queue and when a thread picks
it up; a request that waited longer than its budget is answered with a
small 503 and `Retry-After`, without touching Django or the database. That
answer costs well under a millisecond, so the queue drains as fast as it
can, the requests that are served stay within their budget, and when the
burst ends nothing waits long enough to be shed: recovery needs nothing.

Queue wait rather than a count of requests in flight, because it is what
the person feels, and it measures the cores whatever each request costs
(the same idea as CoDel's sojourn time, or Heroku's X-Request-Start).

Static files and `/healthz` are never shed. Requests that finish something
a person has started (verifying a code, submitting an application, a gate
check-in) get a longer budget than those that start something new, so
under overload newcomers are turned away before someone halfway through
loses their work.
"""

from __future__ import annotations

import json
import random
import re
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from gunicorn.workers.gthread import ThreadWorker

# Paths whose POSTs finish a flow; they may wait CONTINUE_FACTOR times longer.
CONTINUE_PATHS = re.compile(
    r"^/(?:api/v1/programs/[^/]+/(?:applications|codes/verify)"
    r"|visits/[^/]+/apply/(?:code|details)/"
    r"|staff/visits/gate/)"
)
CONTINUE_FACTOR = 3
MESSAGE = {
    "en": "Too many people at once. Please try again in a few seconds.",
    "zh": "当前访问人数过多，请几秒后再试。",
}

_waited = threading.local()


# Never shed: static files cost next to nothing and a page without its
# fonts and scripts is broken; a proxy that sees its health check refused
# would take the process out and send its share to the others, which are
# just as busy.
NEVER_PATHS = ("/static/", "/healthz")


def budget_seconds(environ: dict[str, Any], base: float) -> float:
    path = environ.get("PATH_INFO", "")
    if path.startswith(NEVER_PATHS):
        return float("inf")
    if environ.get("REQUEST_METHOD") == "POST" and CONTINUE_PATHS.match(path):
        return base * CONTINUE_FACTOR
    return base


def overloaded(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
    """The 503 itself: JSON for the API, a short bilingual page otherwise."""
    # A spread of retry times, so the turned-away do not all come back at once.
    retry = str(random.randint(2, 5))  # noqa: S311 - not a secret  # nosec B311
    if environ.get("PATH_INFO", "").startswith("/api/"):
        body = json.dumps(
            {"code": "overloaded", "detail": MESSAGE["en"], "detail_zh": MESSAGE["zh"]},
            ensure_ascii=False,
        ).encode()
        content_type = "application/json"
    else:
        body = (
            '<!doctype html><html lang="zh-Hans"><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f'<title>503</title><p>{MESSAGE["zh"]}</p><p lang="en">{MESSAGE["en"]}</p></html>'
        ).encode()
        content_type = "text/html; charset=utf-8"
    start_response(
        "503 Service Unavailable",
        [
            ("Content-Type", content_type),
            ("Content-Length", str(len(body))),
            ("Retry-After", retry),
            ("Cache-Control", "no-store"),
            ("X-Content-Type-Options", "nosniff"),
        ],
    )
    return [body]


class SheddingApp:
    """WSGI middleware in front of Django: sheds a request that waited in
    the worker's queue past its budget (`base` seconds; 0 sheds nothing)."""

    def __init__(self, app: Callable[..., Any], base: float) -> None:
        self.app = app
        self.base = base

    def __call__(self, environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        waited = getattr(_waited, "seconds", 0.0)
        environ["headon.queue_wait"] = waited
        if self.base > 0 and waited > budget_seconds(environ, self.base):
            return overloaded(environ, start_response)
        return self.app(environ, start_response)


class SheddingWorker(ThreadWorker):  # type: ignore[misc]
    """gunicorn's threaded worker that times each request's wait for a thread."""

    def load_wsgi(self) -> None:
        super().load_wsgi()
        from django.conf import settings

        app: Any = getattr(self, "wsgi")  # noqa: B009 - untyped in gunicorn
        self.wsgi = SheddingApp(app, settings.HEADON_SHED_AFTER_MS / 1000)

    def enqueue_req(self, conn: Any) -> None:
        conn.headon_queued_at = time.monotonic()
        super().enqueue_req(conn)

    def handle(self, conn: Any) -> Any:
        # Picked up by a thread: the wait is over. A new connection's wait
        # for its first bytes comes after this, so a slow client is not shed.
        _waited.seconds = time.monotonic() - getattr(conn, "headon_queued_at", time.monotonic())
        return super().handle(conn)
