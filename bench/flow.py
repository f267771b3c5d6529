"""The application flow's own cost: CPU and queries per step, in-process.

    python bench/flow.py [--applications 300] [--db sqlite|postgres]

Drives the whole API flow (challenge, code request, verification, second
challenge, submission, as bench/rush.py does over HTTP) through Django's
test client in one process, with no server, network or other load in the
way, and times each step in CPU seconds (time.process_time) and counts its
queries. The baseline in the same run is bench/views.py's bare insert (one
committed INSERT behind the same middleware; Django runs on bench/settings.py
to route it), so the table says how many bare inserts one application costs.
Where rush.py says how fast the whole server goes, this says where an
application's time goes.

Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.harness import (  # noqa: E402
    BENCH_SETTINGS,
    Identities,
    encode_payload,
    pg_database,
    solve_fast,
)

STEPS = ("challenge1", "codes", "verify", "challenge2", "submit")


def configure(args: argparse.Namespace, data_dir: str) -> None:
    os.environ.update(
        DJANGO_SETTINGS_MODULE=BENCH_SETTINGS,  # routes the bare insert, /bench/insert
        HEADON_DATA_DIR=data_dir,
        HEADON_EMBEDDER="none",
        HEADON_SMS_BACKEND="headon.sms.FileBackend",
        HEADON_SMS_FILE=str(Path(data_dir) / "sms.jsonl"),
        HEADON_POW_MAX_NUMBER="1000",
        HEADON_PROXY_COUNT="1",
    )
    if args.db == "postgres":
        os.environ["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{args.pg_name}"
    import django

    django.setup()


def run(args: argparse.Namespace) -> dict[str, Any]:
    from django.core.management import call_command
    from django.db import connection
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from bench.views import CREATE_TABLE
    from headon.visits.tests.factories import make_program

    call_command("migrate", verbosity=0)
    with connection.cursor() as cursor:
        cursor.execute(CREATE_TABLE[connection.vendor])
    program = make_program(slug="flow", sessions=16, capacity=60, party_size_max=4)
    sessions = list(program.sessions.values_list("pk", flat=True))
    sms = Path(os.environ["HEADON_SMS_FILE"])
    client = Client(HTTP_HOST="127.0.0.1")
    rng = random.Random(1)
    cpu: dict[str, list[float]] = {step: [] for step in (*STEPS, "bare insert")}
    queries: dict[str, list[int]] = {step: [] for step in cpu}

    def step(name: str, record: bool, call: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        with CaptureQueriesContext(connection) as captured:
            started = time.process_time()
            response = call(*args, **kwargs)
            spent = time.process_time() - started
        if record:
            cpu[name].append(spent * 1000)
            queries[name].append(len(captured.captured_queries))
        return response

    def code_for(phone: str) -> str:
        for line in reversed(sms.read_text().splitlines()):
            message = json.loads(line)
            if message["to"] == phone:
                found = re.search(r"\b(\d{6})\b", message["body"])
                if found:
                    return found.group(1)
        raise RuntimeError(f"no code for {phone}")

    api = "/api/v1/programs/flow"
    ids = Identities()
    warm = 20
    for i in range(warm + args.applications):
        record = i >= warm  # the first ones fill Django's caches
        meta = {"HTTP_X_FORWARDED_FOR": ids.address()}
        json_post = {"content_type": "application/json", **meta}
        phone = ids.phone("138")
        contact = {"channel": "phone", "destination": phone}
        challenge = step("challenge1", record, client.get, "/antibot/challenge/visits-code", **meta)
        solution = encode_payload(challenge.json(), solve_fast(challenge.json()))
        answer = step(
            "codes", record, client.post, f"{api}/codes", {**contact, "pow": solution}, **json_post
        )
        if answer.status_code != 202:
            raise RuntimeError(f"code request: {answer.status_code} {answer.content[:200]!r}")
        body: dict[str, Any] = {**contact, "code": code_for(phone)}
        answer = step("verify", record, client.post, f"{api}/codes/verify", body, **json_post)
        if answer.status_code != 200:
            raise RuntimeError(f"verification: {answer.status_code} {answer.content[:200]!r}")
        token = answer.json()["verification_token"]
        challenge = step(
            "challenge2", record, client.get, "/antibot/challenge/visits-apply", **meta
        )
        size = rng.choice((1, 1, 1, 1, 2, 2, 2, 3, 3, 4))
        # Every companion names a phone to confirm through; half an ID too.
        companions = [
            {"name": f"C{n}", "phone": ids.phone("137")}
            | ({} if n % 2 else {"id_number": ids.id_number()})
            for n in range(1, size)
        ]
        body = {
            "verification_token": token,
            "lead": {"name": "Lead"},
            "companions": companions,
            "choices": rng.sample(sessions, rng.randint(1, 3)),
            "consent": True,
            "pow": encode_payload(challenge.json(), solve_fast(challenge.json())),
        }
        answer = step(
            "submit",
            record,
            client.post,
            f"{api}/applications",
            body,
            HTTP_IDEMPOTENCY_KEY=uuid.uuid4().hex,
            **json_post,
        )
        if answer.status_code != 201:
            raise RuntimeError(f"submission: {answer.status_code} {answer.content[:200]!r}")
        step("bare insert", record, client.post, "/bench/insert", b"x", content_type="text/plain")
    out: dict[str, Any] = {"steps": {}}
    for name in cpu:
        out["steps"][name] = {
            "cpu_ms_median": round(statistics.median(cpu[name]), 3),
            "cpu_ms_mean": round(statistics.fmean(cpu[name]), 3),
            "queries": round(statistics.fmean(queries[name]), 2),
        }
    flow = sum(out["steps"][s]["cpu_ms_mean"] for s in STEPS)
    bare = out["steps"]["bare insert"]["cpu_ms_mean"]
    out.update(
        flow_cpu_ms=round(flow, 3),
        flow_queries=round(sum(out["steps"][s]["queries"] for s in STEPS), 2),
        bare_insert_cpu_ms=bare,
        bare_inserts_per_application=round(flow / bare, 2) if bare else None,
    )
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--applications", type=int, default=300)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    args = parser.parse_args()
    if not 1 <= args.applications <= 100_000:
        parser.error("--applications must be in [1, 100000]")
    args.pg_name = f"headon_bench_flow_{os.getpid()}"
    if args.db == "postgres":
        pg_database(args.pg_name, create=True)
    try:
        with tempfile.TemporaryDirectory(prefix="headon-flow-") as data_dir:
            configure(args, data_dir)
            out = run(args)
            from django.db import connections

            connections.close_all()
    finally:
        if args.db == "postgres":
            pg_database(args.pg_name, create=False)
    print(f"\nheadon flow: db={args.db} applications={args.applications} (in-process, CPU time)")
    print(f"{'step':<12} {'cpu ms median':>14} {'cpu ms mean':>12} {'queries':>8}")
    for name, figures in out["steps"].items():
        print(
            f"{name:<12} {figures['cpu_ms_median']:>14.2f} {figures['cpu_ms_mean']:>12.2f}"
            f" {figures['queries']:>8.1f}"
        )
    print(
        f"whole flow: {out['flow_cpu_ms']:.2f} ms of CPU and {out['flow_queries']:.1f} queries an "
        f"application, {out['bare_inserts_per_application']} bare inserts' worth"
    )
    print(json.dumps({"bench": "flow", "db": args.db, "applications": args.applications, **out}))


if __name__ == "__main__":
    main()
