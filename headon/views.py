from __future__ import annotations

import errno
import logging
import sys
import uuid

from django.db import connection
from django.db.utils import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_safe

from headon.visits.selectors import published_programs

logger = logging.getLogger("headon.errors")


@require_safe
def home(request: HttpRequest) -> HttpResponse:
    return render(request, "home.html", {"programs": published_programs()[:3]})


@never_cache
@require_safe
def healthz(request: HttpRequest) -> JsonResponse:
    """Liveness for a load balancer: 200 when the database answers."""
    try:
        with connection.cursor() as cursor:
            cursor.execute("SELECT 1")
    except Exception:
        return JsonResponse({"status": "unavailable", "database": False}, status=503)
    return JsonResponse({"status": "ok", "database": True})


def _unavailable(exc: BaseException | None) -> bool:
    """The database cannot be reached or written (down, locked, disk full):
    a temporary state that clears without a restart."""
    if isinstance(exc, (OperationalError, InterfaceError)):
        return True
    return isinstance(exc, OSError) and exc.errno in (errno.ENOSPC, errno.EDQUOT)


def server_error(request: HttpRequest) -> HttpResponse:
    """The 500 handler: an error id the person can quote and the logs hold;
    503 with Retry-After when the database is unavailable. It touches no
    database and no session, which may be what failed."""
    exc = sys.exc_info()[1]
    error_id = uuid.uuid4().hex[:12]
    unavailable = _unavailable(exc)
    status = 503 if unavailable else 500
    logger.error(
        "error_id=%s status=%s path=%s %s: %s",
        error_id,
        status,
        request.path,
        type(exc).__name__ if exc else "",
        exc,
    )
    if request.path.startswith("/api/"):
        response: HttpResponse = JsonResponse(
            {
                "detail": "The service is unavailable for a moment; try again."
                if unavailable
                else "Something went wrong on our side.",
                "error_id": error_id,
            },
            status=status,
        )
    else:
        body = render_to_string("503.html" if unavailable else "500.html", {"error_id": error_id})
        response = HttpResponse(body, status=status)
    if unavailable:
        response["Retry-After"] = "30"
    response["X-Error-Id"] = error_id
    return response
