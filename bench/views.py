"""The load benchmark's ceiling: the cheapest request that still writes.

Served only with HEADON_BENCH_ENDPOINTS=1 (headon/urls.py). It goes through
the same middleware and server as the application flow and inserts one row
into `bench_ceiling`, a table bench/rush.py creates before the server starts,
so the figure is "one HTTP request plus one committed INSERT" on this machine.
"""

from __future__ import annotations

from django.db import connection
from django.http import HttpRequest, JsonResponse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_POST

TABLE = "bench_ceiling"
CREATE_TABLE = {
    "sqlite": f"CREATE TABLE IF NOT EXISTS {TABLE} (id INTEGER PRIMARY KEY AUTOINCREMENT, note TEXT NOT NULL)",
    "postgresql": f"CREATE TABLE IF NOT EXISTS {TABLE} (id BIGSERIAL PRIMARY KEY, note TEXT NOT NULL)",
}


@csrf_exempt
@require_POST
def insert_one(request: HttpRequest) -> JsonResponse:
    # Autocommit: the INSERT is its own transaction, committed before we answer.
    with connection.cursor() as cursor:
        cursor.execute(f"INSERT INTO {TABLE} (note) VALUES (%s)", [request.body[:64].decode()])  # noqa: S608
    return JsonResponse({"ok": True}, status=201)
