"""The load benchmark's ceiling: the cheapest request that still writes.

Routed only by the benchmarks' own URLs (bench/urls.py, which a server run
with DJANGO_SETTINGS_MODULE=bench.settings loads), never by headon's. It goes
through the same middleware and server as the application flow and inserts
one row into `bench_ceiling`, a table bench/rush.py and bench/flow.py create
before the first request, so the figure is "one HTTP request plus one
committed INSERT" on this machine.
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
