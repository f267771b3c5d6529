"""Opening-rush load benchmark: the whole application flow at a fixed arrival rate.

    python bench/rush.py --db sqlite|postgres --rate 50,100,200 --seconds 20
        [--workers 2] [--threads 4] [--redis] [--ceiling-rates 200,400,800]

Starts headon under gunicorn (`python -m headon serve`) on a free loopback port
with a fresh data directory (and, for PostgreSQL, a fresh database), opens one
program per rate, and drives from this process, a separate one from the
server, simulated applicants that arrive on a fixed schedule (open loop: each
starts on time whether or not the earlier ones have finished). Each applicant
fetches and solves a proof-of-work challenge, asks for a code, reads it from
the file the server's FileBackend appends to (HEADON_SMS_FILE), verifies it,
solves a second challenge and submits its party (40% alone, 30% two, 20%
three, 10% four; every companion with a phone, half with an ID number too;
1-3 ranked choices) with an Idempotency-Key; a few re-send the same
submission, as a double click would. Then each companion, from an address of
their own, solves a challenge, asks for a code to their phone, verifies it
and confirms the party (issue 17: a companion holds a place only once they
agree); the flow ends when the last companion has confirmed.

In the same run it measures the ceiling: the same server answering a bare view
that inserts one row (bench/views.py, routed by bench/urls.py: the server
runs with DJANGO_SETTINGS_MODULE=bench.settings).
Afterwards it counts rows in the database: applications must equal the
acknowledged 201s, reference for reference, with no duplicate person keys,
contacts or idempotency keys.

The client (bench/rush_client.py) is asyncio + aiohttp over keep-alive
connections: its HTTP parser is C, so one Python process issues thousands of
requests a second at a small share of one core, which matters when the server
has only two cores to share with it; the client's own CPU use is printed
beside each row.

Past saturation (`--overload 2`, the default) it then offers twice the
highest rate held (no error, p99 within 250 ms) and, at once after it, the
held rate again: the server must refuse fast (503 from headon/ops/shedding.py,
or 429) rather than time out, and recover by itself when the burst ends. The
table gives the refusals' latency and when the last failure came.

Prints a table and, as its last line, one JSON object with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import re
import shutil
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Coroutine, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.harness import (  # noqa: E402
    BENCH_SETTINGS,
    Identities,
    Server,
    client_cpu_seconds,
    headon,
    machine_busy,
    pg_database,
    postgres_cpu_seconds,
    server_cpu_seconds,
    start_server,
    stop_server,
)
from bench.rush_client import Flow, Outcome, SmsInbox  # noqa: E402
from headon.ops.cluster import sigterm_as_interrupt  # noqa: E402

# The lead's five (two challenges, code request, verify, submit), then four
# per companion (challenge, code request, verify, confirm): 1.0 companions
# per party on average (PARTY_WEIGHTS).
REQUESTS_PER_APPLICATION = 9
TARGET_P99_MS = 250
STEPS = ("challenge1", "codes", "sms", "verify", "challenge2", "submit", "confirm")


# --- The server and its data ----------------------------------------------------


SETUP = """
import json
from django.db import connection
from bench.views import CREATE_TABLE
from headon.visits.tests.factories import make_program
with connection.cursor() as cursor:
    cursor.execute(CREATE_TABLE[connection.vendor])
out = {}
for slug in %(slugs)r:
    program = make_program(slug=slug, sessions=16, capacity=60, party_size_max=4)
    out[slug] = list(program.sessions.order_by("starts_at").values_list("pk", flat=True))
print(json.dumps(out))
"""

PAGES_SETUP = """
import json
from django.utils import timezone
from headon.desk.merging.normalise import exact_key
from headon.desk.models import Answer, Ask, Channel, Question
from headon.desk.digest.services import digest_publish
from headon.timezones import organiser_today
day = organiser_today()
channel = Channel.objects.create(slug="bench-pages", name="Bench", kind="social_export")
body_zh = "我们的回答：" + "交付将于十二月开始，全国同时进行。" * 8
body_en = "Our answer: " + "Deliveries start in December in every city. " * 8
ids = []
for n in range(%(count)d):
    question = Question.objects.create(text=f"问题 {n}：交付、续航还是价格？ Question {n}")
    text = f"{question.text} #{n}"
    Ask.objects.create(channel=channel, external_id=f"p{n}", text=text, author=f"u{n}",
        author_key=f"u{n}", posted_at=timezone.now(), day=day, match_key=exact_key(text), question=question)
    question.answer = Answer.objects.create(question_en=f"Question {n}?", question_zh=f"问题{n}？",
        body_en=body_en, body_zh=body_zh, status="approved")
    question.save(update_fields=["answer"])
digest_publish(day)
print(json.dumps(list(Answer.objects.filter(published__isnull=False).values_list("pk", flat=True))))
"""

COUNTS = """
import json
from django.db import connection
from django.db.models import Count, Sum
from headon.visits.models import Application, ApplicationChoice, PartyMember, PersonKey
acked = json.load(open(%(path)r))
out = {}
for slug, refs in acked.items():
    apps = Application.objects.filter(program__slug=slug)
    keys = PersonKey.objects.filter(program__slug=slug, active=True)
    stored = set(apps.values_list("reference", flat=True))
    out[slug] = {
        "applications": len(stored),
        "acknowledged": len(refs),
        "missing": len(set(refs) - stored),
        "unacknowledged": len(stored - set(refs)),
        "duplicate_contacts": len(stored) - apps.values("contact").distinct().count(),
        "duplicate_idempotency_keys": len(stored) - apps.values("idempotency_key").distinct().count(),
        "members": PartyMember.objects.filter(application__program__slug=slug).count(),
        "party_size_sum": apps.aggregate(s=Sum("party_size"))["s"] or 0,
        "person_keys": keys.count(),
        "waiting": PartyMember.objects.filter(
            application__program__slug=slug, status="waiting"
        ).count(),
        "duplicate_person_keys": keys.count() - keys.values("key").distinct().count(),
        "choices": ApplicationChoice.objects.filter(application__program__slug=slug).count(),
    }
with connection.cursor() as cursor:
    cursor.execute("SELECT COUNT(*) FROM bench_ceiling")
    out["bench_ceiling_rows"] = cursor.fetchone()[0]
print(json.dumps(out))
"""


def server_env(args: argparse.Namespace, data_dir: Path, pg_name: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("HEADON_", "DATABASE_URL"))}
    env.update(
        HEADON_DATA_DIR=str(data_dir),
        HEADON_SMS_BACKEND="headon.sms.FileBackend",
        HEADON_SMS_FILE=str(data_dir / "sms.jsonl"),
        HEADON_POW_MAX_NUMBER=str(args.pow_max_number),
        HEADON_PROXY_COUNT="1",
        DJANGO_SETTINGS_MODULE=BENCH_SETTINGS,  # routes the ceiling, /bench/insert
        PYTHONPATH=str(PROJECT_DIR),
    )
    if args.db == "postgres":
        env["DATABASE_URL"] = f"postgres://postgres@127.0.0.1:5432/{pg_name}"
    if args.redis:
        env["HEADON_REDIS_URL"] = args.redis_url
    return env


# --- Phases ---------------------------------------------------------------------


def percentile(values: Sequence[float], q: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def ms(value: float | None) -> float | None:
    return None if value is None else round(value * 1000, 1)


@dataclass
class Phase:
    kind: str  # "flow" or "ceiling"
    rate: float
    seconds: float
    slug: str = ""
    outcomes: list[Outcome] = field(default_factory=list)
    elapsed: float = 0.0
    client_cpu: float = 0.0
    server_cpu: float = 0.0
    machine_busy: float = 0.0  # share of all cores
    db_cpu: float = 0.0
    late_starts: int = 0
    started_at: float = 0.0  # perf_counter of the first scheduled arrival

    def summary(self) -> dict[str, Any]:
        ok = [o for o in self.outcomes if o.ok]
        errors = Counter(o.error for o in self.outcomes if o.error)
        steps = {
            step: {
                "p50_ms": ms(percentile([o.steps[step] for o in ok if step in o.steps], 0.5)),
                "p99_ms": ms(percentile([o.steps[step] for o in ok if step in o.steps], 0.99)),
            }
            for step in (STEPS if self.kind in ("flow", "overload", "after") else ())
        }
        # Fast refusals past saturation (503 from the shedding worker, 429
        # from a rate limit), against requests that simply took too long.
        shed = [o for o in self.outcomes if re.search(r":(503|429)\b", o.error)]
        failed_at = [o.error_at - self.started_at for o in self.outcomes if o.error_at]
        replays = [o.replay_ok for o in self.outcomes if o.replay_ok is not None]
        replay_errors = Counter(o.replay_error for o in self.outcomes if o.replay_error)
        return {
            "kind": self.kind,
            "slug": self.slug,
            "offered_rate": self.rate,
            "seconds": self.seconds,
            "started": len(self.outcomes),
            "ok": len(ok),
            "ok_per_s": round(len(ok) / self.elapsed, 1) if self.elapsed else 0.0,
            "p50_ms": ms(percentile([o.flow for o in ok], 0.5)),
            "p99_ms": ms(percentile([o.flow for o in ok], 0.99)),
            "submit_p50_ms": steps.get("submit", {}).get("p50_ms"),
            "submit_p99_ms": steps.get("submit", {}).get("p99_ms"),
            "errors": sum(errors.values()),
            "errors_by_kind": dict(errors.most_common()),
            "steps": steps,
            "replays": len(replays),
            "replays_same_receipt": sum(1 for r in replays if r),
            "replay_errors": dict(replay_errors),
            "unknown_outcome_submits": sum(1 for o in self.outcomes if o.submitted and not o.ok),
            "companions_unconfirmed": sum(o.companions_waiting for o in self.outcomes),
            "late_starts": self.late_starts,
            "elapsed_s": round(self.elapsed, 2),
            "client_cpu_pct": round(100 * self.client_cpu / self.elapsed, 1),
            "server_cpu_pct": round(100 * self.server_cpu / self.elapsed, 1),
            "db_cpu_pct": round(100 * self.db_cpu / self.elapsed, 1),
            "machine_busy_pct": round(100 * self.machine_busy, 1),
            # Busy CPU that was neither the server, this client nor PostgreSQL,
            # in % of one core: other work on the machine during the phase.
            "other_cpu_pct": round(
                100 * self.machine_busy * (os.cpu_count() or 1)
                - 100 * (self.client_cpu + self.server_cpu + self.db_cpu) / self.elapsed,
                1,
            ),
            "server_cpu_ms_per_ok": round(1000 * self.server_cpu / len(ok), 2) if ok else None,
            "shed": len(shed),
            "shed_p50_ms": ms(percentile([o.error_after for o in shed], 0.5)),
            "shed_p99_ms": ms(percentile([o.error_after for o in shed], 0.99)),
            "timeouts": sum(
                1 for o in self.outcomes if o.error.endswith((":timeout", "unfinished"))
            ),
            # From the phase's first arrival to its last refusal or failure.
            "last_failure_s": round(max(failed_at), 2) if failed_at else 0.0,
        }


async def run_phase(
    phase: Phase, flow: Flow, server: Server, sessions: Sequence[int], drain: float
) -> None:
    """Start `rate` arrivals a second for `seconds`, on schedule, then wait
    (at most `drain` seconds) for the stragglers."""
    loop = asyncio.get_running_loop()
    count = int(phase.rate * phase.seconds)
    tasks: list[asyncio.Task[Outcome]] = []
    db0 = postgres_cpu_seconds()
    cpu0, server0, (busy0, total0) = (
        client_cpu_seconds(),
        server_cpu_seconds(server),
        machine_busy(),
    )
    t0 = loop.time() + 0.05
    wall0 = time.perf_counter() + 0.05
    phase.started_at = wall0
    for i in range(count):
        delay = t0 + i / phase.rate - loop.time()
        if delay > 0:
            await asyncio.sleep(delay)
        elif delay < -0.01:
            phase.late_starts += 1  # the client fell behind its own schedule
        arrival = wall0 + i / phase.rate
        outcome = Outcome()
        phase.outcomes.append(outcome)
        coroutine: Coroutine[Any, Any, Outcome]
        if phase.kind.startswith("page"):
            coroutine = flow.read(outcome, arrival, flow.pages)
        elif phase.kind != "ceiling":
            coroutine = flow.applicant(outcome, phase.slug, sessions, arrival)
        else:
            coroutine = flow.insert(outcome, arrival)
        tasks.append(asyncio.create_task(coroutine))
    if tasks:
        _done, pending = await asyncio.wait(tasks, timeout=drain)
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
    phase.elapsed = time.perf_counter() - wall0
    for outcome in phase.outcomes:
        if not outcome.ok and not outcome.error:
            outcome.error = "unfinished"  # still waiting when the drain time ran out
    phase.client_cpu = client_cpu_seconds() - cpu0
    phase.server_cpu = server_cpu_seconds(server) - server0
    phase.db_cpu = postgres_cpu_seconds() - db0
    busy1, total1 = machine_busy()
    phase.machine_busy = (busy1 - busy0) / max(total1 - total0, 1e-9)
    # Throughput over the time the work took, from the first arrival to the
    # last answer, so a backlog that drains after the schedule ends counts.
    ends = [i / phase.rate + o.flow for i, o in enumerate(phase.outcomes) if o.ok]
    phase.elapsed = max([phase.seconds, *ends])


async def drive(
    args: argparse.Namespace, server: Server, programs: dict[str, list[int]], pages: list[str]
) -> list[Phase]:
    timeout = aiohttp.ClientTimeout(total=args.timeout)
    # gunicorn closes an idle keep-alive connection after 2 s (its default);
    # reusing one just as the server closes it fails the request, so the
    # client gives idle connections up sooner, as browsers' retries would hide.
    connector = aiohttp.TCPConnector(limit=args.connections, keepalive_timeout=1.0)
    inbox = SmsInbox(server.data_dir / "sms.jsonl")
    stop = asyncio.Event()
    phases: list[Phase] = []
    async with aiohttp.ClientSession(
        connector=connector, timeout=timeout, skip_auto_headers=("User-Agent",)
    ) as http:
        follower = asyncio.create_task(inbox.follow(stop))
        flow = Flow(http, server.base, inbox, Identities(), random.Random(args.seed), args.replay)
        try:
            warm = Phase("flow", 10, 2, slug="rush-warmup")
            await run_phase(warm, flow, server, programs["rush-warmup"], args.drain)
            await run_phase(Phase("ceiling", 20, 1), flow, server, (), args.drain)
            log(f"warm-up: {warm.summary()['ok']}/{len(warm.outcomes)} applications")
            flow.pages = pages
            plan = [("flow", r) for r in args.rate] + [("ceiling", r) for r in args.ceiling_rates]
            plan += [("page", r) for r in args.pages]
            for kind, rate in plan:
                phase = Phase(
                    kind, rate, args.seconds, slug=slug_for(rate) if kind == "flow" else ""
                )
                await run_phase(phase, flow, server, programs.get(phase.slug, []), args.drain)
                phases.append(phase)
                s = phase.summary()
                log(
                    f"{kind} @ {rate:g}/s: {s['ok']}/{s['started']} ok, {s['ok_per_s']}/s, "
                    f"p99 {s['p99_ms']} ms, errors {s['errors_by_kind']}"
                )
                await asyncio.sleep(args.pause)
            if args.overload:
                phases += await overload(args, flow, server, programs, phases, "flow")
                if args.pages:
                    phases += await overload(args, flow, server, programs, phases, "page")
        finally:
            stop.set()
            await follower
    return phases


async def overload(
    args: argparse.Namespace,
    flow: Flow,
    server: Server,
    programs: dict[str, list[int]],
    phases: list[Phase],
    base: str,
) -> list[Phase]:
    """Past saturation: `--overload` times the highest rate held (no error,
    p99 within target) of the `base` kind of phase ("flow" or "page"), then
    at once the held rate again, to see the server refuse fast during the
    burst and recover by itself after it."""
    runs = [p.summary() for p in phases if p.kind == base]
    held = [s for s in runs if s["errors"] == 0 and (s["p99_ms"] or 1e9) <= TARGET_P99_MS]
    rate = max([s["offered_rate"] for s in held] or [min(s["offered_rate"] for s in runs)])
    out = []
    prefix = "" if base == "flow" else "page-"
    for kind, offered in ((f"{prefix}overload", rate * args.overload), (f"{prefix}after", rate)):
        phase = Phase(kind, offered, args.seconds, slug=f"rush-{kind}" if base == "flow" else "")
        await run_phase(phase, flow, server, programs.get(phase.slug, []), args.drain)
        s = phase.summary()
        log(
            f"{kind} @ {offered:g}/s: {s['ok']}/{s['started']} ok, {s['shed']} shed "
            f"(p99 {s['shed_p99_ms']} ms), {s['timeouts']} timeouts, errors {s['errors_by_kind']}"
        )
        out.append(phase)
    return out


def slug_for(rate: float) -> str:
    return f"rush-{rate:g}".replace(".", "-")


def log(message: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


# --- Report ---------------------------------------------------------------------


def label(summary: dict[str, Any]) -> str:
    rate = f"{summary['offered_rate']:g}"
    return rate if summary["kind"] == "flow" else f"{summary['kind']} {rate}"


def fmt(value: object) -> str:
    return "-" if value is None else str(value)


def table(rows: list[list[str]]) -> str:
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join(
        "  ".join(c.rjust(w) for c, w in zip(row, widths, strict=True)) for row in rows
    )


def report(
    args: argparse.Namespace, phases: list[Phase], counts: dict[str, Any], env: dict[str, str]
) -> dict[str, Any]:
    summaries = [p.summary() for p in phases]
    flows = [s for s in summaries if s["kind"] in ("flow", "overload", "after")]
    ceilings = [s for s in summaries if s["kind"] == "ceiling"]
    # The ceiling is the most bare inserts a second the server answered; the
    # sustained ceiling, the highest rate it held with no error and p99 <= 250 ms.
    ceiling = max([s["ok_per_s"] for s in ceilings if s["errors"] == 0] or [0.0])
    held = [s for s in ceilings if s["errors"] == 0 and (s["p99_ms"] or 1e9) <= TARGET_P99_MS]
    sustained = max([s["ok_per_s"] for s in held] or [0.0])
    for s in flows:
        s["share_of_ceiling"] = round(s["ok_per_s"] / ceiling, 3) if ceiling else None
        # An application is REQUESTS_PER_APPLICATION requests; per request, the
        # flow's share of the same ceiling is this:
        s["request_share_of_ceiling"] = (
            round(s["ok_per_s"] * REQUESTS_PER_APPLICATION / ceiling, 3) if ceiling else None
        )
        s["db"] = counts.get(s["slug"], {})
        db = s["db"]
        # Rows beyond the acknowledged ones are fine only for submissions
        # whose answer never came (timed out or abandoned); none may be missing.
        s["db_ok"] = bool(db) and (
            db["missing"] == 0
            and db["unacknowledged"] <= s["unknown_outcome_submits"]
            and db["duplicate_contacts"] == 0
            and db["duplicate_idempotency_keys"] == 0
            and db["duplicate_person_keys"] == 0
            and db["members"] == db["party_size_sum"]
            # Every companion whose flow confirmed is confirmed.
            and db["waiting"] <= s["companions_unconfirmed"]
        )
    cache = "redis" if args.redis else "database"
    print(
        f"\nheadon rush: db={args.db} cache={cache} workers={args.workers} threads={args.threads} "
        f"pow_max_number={args.pow_max_number} seconds={args.seconds} cores={os.cpu_count()}"
    )
    head = ["phase", "offered/s", "started", "ok", "ok/s", "p50 ms", "p99 ms", "submit p50"]
    head += [
        "submit p99",
        "errors",
        "share",
        "req share",
        "client cpu%",
        "server cpu%",
        "pg cpu%",
        "other cpu%",
    ]
    rows = [head]
    for s in summaries:
        rows.append(
            [
                s["kind"],
                f"{s['offered_rate']:g}",
                *(fmt(s[k]) for k in ("started", "ok", "ok_per_s", "p50_ms", "p99_ms")),
                *(fmt(s[k]) for k in ("submit_p50_ms", "submit_p99_ms", "errors")),
                fmt(s.get("share_of_ceiling")),
                fmt(s.get("request_share_of_ceiling")),
                *(fmt(s[k]) for k in ("client_cpu_pct", "server_cpu_pct", "db_cpu_pct")),
                fmt(s["other_cpu_pct"]),
            ]
        )
    print(table(rows))
    print("(cpu% is of one core; the machine has", os.cpu_count(), "cores)")
    print(
        f"ceiling: {ceiling} bare inserts/s at most, {sustained}/s held with p99 <= "
        f"{TARGET_P99_MS} ms; share = applications/s / ceiling, req share = "
        f"{REQUESTS_PER_APPLICATION} x applications/s / ceiling"
    )
    if flows:
        print("\nper-step latency of completed flows, p50 / p99 ms")
        rows = [["offered/s", *STEPS, "server cpu ms/app"]]
        for s in flows:
            steps = s["steps"]
            cells = [f"{fmt(steps[k]['p50_ms'])} / {fmt(steps[k]['p99_ms'])}" for k in STEPS]
            rows.append([label(s), *cells, fmt(s["server_cpu_ms_per_ok"])])
        print(table(rows))
        print("\ndatabase after the run (acknowledged 201s against rows)")
        rows = [["offered/s", "acked", "rows", "missing", "extra", "dup contact", "dup idem"]]
        rows[0] += ["dup person", "members/party", "waiting", "replays ok", "unanswered", "check"]
        for s in flows:
            db = s["db"]
            rows.append(
                [
                    label(s),
                    str(s["ok"]),
                    *(fmt(db.get(k)) for k in ("applications", "missing", "unacknowledged")),
                    *(fmt(db.get(k)) for k in ("duplicate_contacts", "duplicate_idempotency_keys")),
                    fmt(db.get("duplicate_person_keys")),
                    f"{fmt(db.get('members'))}/{fmt(db.get('party_size_sum'))}",
                    fmt(db.get("waiting")),
                    f"{s['replays_same_receipt']}/{s['replays']}",
                    str(s["unknown_outcome_submits"]),
                    "OK" if s["db_ok"] else "FAIL",
                ]
            )
        print(table(rows))
    bursts = [s for s in summaries if s["kind"].endswith(("overload", "after"))]
    if bursts:
        print("\npast saturation: refusals (503/429) and recovery once the burst ends")
        rows = [["phase", "offered/s", "ok/s", "p99 ms", "shed", "shed p50 / p99 ms"]]
        rows[0] += ["timeouts", "other errors", "last failure at s"]
        for s in bursts:
            other = s["errors"] - s["shed"] - s["timeouts"]
            rows.append(
                [
                    s["kind"],
                    f"{s['offered_rate']:g}",
                    *(fmt(s[k]) for k in ("ok_per_s", "p99_ms", "shed")),
                    f"{fmt(s['shed_p50_ms'])} / {fmt(s['shed_p99_ms'])}",
                    *(fmt(v) for v in (s["timeouts"], other, s["last_failure_s"])),
                ]
            )
        print(table(rows))
    acked_inserts = sum(s["ok"] for s in ceilings) + args.warm_inserts
    print(f"bench_ceiling rows: {counts.get('bench_ceiling_rows')} (acknowledged {acked_inserts})")
    print("\nerrors by kind")
    for s in summaries:
        if s["errors_by_kind"] or s["replay_errors"]:
            print(f"  {s['kind']} @ {s['offered_rate']:g}/s: {s['errors_by_kind']}", end="")
            print(f" double submits: {s['replay_errors']}" if s["replay_errors"] else "")
    target = [
        s
        for s in flows
        if s["kind"] == "flow"
        and s["ok_per_s"] >= 500
        and s["p99_ms"] is not None
        and s["p99_ms"] <= 250
    ]
    target = [s for s in target if s["errors"] == 0 and (s["share_of_ceiling"] or 0) >= 0.5]
    return {
        "bench": "rush",
        "db": args.db,
        "cache": cache,
        "workers": args.workers,
        "threads": args.threads,
        "pow_max_number": args.pow_max_number,
        "seconds": args.seconds,
        "cores": os.cpu_count(),
        "ceiling_rps": ceiling,
        "ceiling_sustained_rps": sustained,
        "phases": summaries,
        "bench_ceiling_rows": counts.get("bench_ceiling_rows"),
        "target_met": bool(target) and args.seconds >= 60,
        "server_env": {
            k: v
            for k, v in env.items()
            if (k.startswith("HEADON_") and "DIR" not in k) or k == "DJANGO_SETTINGS_MODULE"
        },
    }


# --- Main -----------------------------------------------------------------------


def rates(text: str) -> list[float]:
    values = [float(v) for v in text.split(",") if v.strip()]
    if not values or any(v <= 0 or v > 5000 for v in values):
        raise argparse.ArgumentTypeError("rates are numbers in (0, 5000], comma-separated")
    return values


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--db", choices=("sqlite", "postgres"), default="sqlite")
    parser.add_argument("--rate", type=rates, default=[50.0], help="applicants/s, e.g. 50,100")
    parser.add_argument(
        "--ceiling-rates", type=rates, default=None, help="bare-insert rates (default: --rate)"
    )
    parser.add_argument("--seconds", type=float, default=20, help="length of each phase")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--redis", action="store_true", help="shared cache in Redis, not the DB")
    parser.add_argument("--redis-url", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--pow-max-number", type=int, default=1000)
    parser.add_argument("--timeout", type=float, default=10, help="per request, seconds")
    parser.add_argument("--drain", type=float, default=30, help="wait for stragglers, seconds")
    parser.add_argument("--pause", type=float, default=3, help="between phases, seconds")
    parser.add_argument("--connections", type=int, default=1000, help="client connection cap")
    parser.add_argument("--replay", type=float, default=0.02, help="share of double submits")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--pages",
        type=rates,
        default=[],
        help="readers/s of public question pages, e.g. 100,200 (200 published answers)",
    )
    parser.add_argument(
        "--cluster",
        action="store_true",
        help="run on headon.ops.cluster: web processes behind a proxy, 2 workers, "
        "PostgreSQL, Redis",
    )
    parser.add_argument("--webs", type=int, default=2, help="web processes with --cluster")
    parser.add_argument(
        "--overload",
        type=float,
        default=2.0,
        help="then offer this many times the highest rate held, and the held rate after it "
        "(0: skip)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the data dir and database")
    args = parser.parse_args(argv)
    if args.seconds <= 0 or args.seconds > 600:
        parser.error("--seconds must be in (0, 600]")
    args.ceiling_rates = args.ceiling_rates or args.rate
    args.warm_inserts = 20
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    with sigterm_as_interrupt():
        if args.cluster:
            return run_on_cluster(args)
        data_dir = Path(tempfile.mkdtemp(prefix="headon-rush-"))
        pg_name = f"headon_bench_{os.getpid()}"
        env = server_env(args, data_dir, pg_name)
        server: Server | None = None
        try:
            if args.db == "postgres":
                pg_database(pg_name, create=True)
            log(f"data in {data_dir}; migrating")
            headon(env, "migrate", "--verbosity", "0")
            programs, pages = prepare(args, env)
            server = start_server(args, env, data_dir)
            log(f"server at {server.base} (log {server.log_path})")
            phases = asyncio.run(drive(args, server, programs, pages))
            stop_server(server)
            finish(args, phases, env, data_dir)
        finally:
            if server is not None:
                stop_server(server)
            if not args.keep:
                if args.db == "postgres":
                    with contextlib.suppress(Exception):
                        pg_database(pg_name, create=False)
                shutil.rmtree(data_dir, ignore_errors=True)
    return 0


def prepare(
    args: argparse.Namespace, env: dict[str, str]
) -> tuple[dict[str, list[int]], list[str]]:
    """One program per flow phase (sessions by slug), and with --pages the
    public question pages to read."""
    slugs = ["rush-warmup", *(slug_for(r) for r in args.rate)]
    slugs += ["rush-overload", "rush-after"] if args.overload else []
    programs = json.loads(headon(env, "shell", "-c", SETUP % {"slugs": slugs}))
    pages: list[str] = []
    if args.pages:
        ids = json.loads(headon(env, "shell", "-c", PAGES_SETUP % {"count": 200}))
        pages = [f"/answers/q/{pk}/" for pk in ids]
    return programs, pages


def finish(
    args: argparse.Namespace, phases: list[Phase], env: dict[str, str], data_dir: Path
) -> None:
    """Count the rows against what was acknowledged, print the report."""
    acked = {p.slug: [o.reference for o in p.outcomes if o.ok] for p in phases if p.slug}
    acked_path = data_dir / "acked.json"
    acked_path.write_text(json.dumps(acked))
    counts = json.loads(headon(env, "shell", "-c", COUNTS % {"path": str(acked_path)}))
    result = report(args, phases, counts, env)
    print(json.dumps(result, separators=(",", ":")))


def run_on_cluster(args: argparse.Namespace) -> int:
    """The same phases through headon's loopback cluster (headon.ops.cluster):
    two web processes behind its proxy, two job workers, PostgreSQL, Redis."""
    from headon.ops.cluster import Cluster

    args.db, args.redis = "postgres", True
    extra = {
        "HEADON_POW_MAX_NUMBER": str(args.pow_max_number),
        "DJANGO_SETTINGS_MODULE": BENCH_SETTINGS,
    }
    cluster = Cluster(
        webs=args.webs, workers=2, web_workers=1, threads=args.threads, env=extra, keep=args.keep
    )
    with cluster:
        log(f"cluster at {cluster.base_url} (data and logs in {cluster.data_dir})")
        programs, pages = prepare(args, cluster.env)
        proxy = cluster.proxy
        if proxy.process is None or proxy.port is None:
            raise RuntimeError("the cluster's proxy did not start")
        server = Server(
            proxy.process,
            proxy.port,
            cluster.env,
            cluster.data_dir,
            cluster.data_dir / "logs",
            cluster=cluster,
        )
        phases = asyncio.run(drive(args, server, programs, pages))
        finish(args, phases, cluster.env, cluster.data_dir)
    return 0


if __name__ == "__main__":
    sys.exit(main())
