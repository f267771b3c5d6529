"""More than one machine, on loopback: two web processes behind a proxy, two
workers, PostgreSQL and Redis (headon.ops.cluster). An application rush and
the night's digest run through it while one web process and one worker die
by SIGKILL; afterwards every acknowledged application is there, reference
for reference, and nothing was done twice.

Runs in the suite's PostgreSQL pass (DATABASE_URL=postgres://...), against
that server and the Redis of HEADON_CLUSTER_REDIS_URL (default db 12, which
it empties). It skips when either is unreachable, unless
HEADON_REQUIRE_CLUSTER=1 (CI), which makes that a failure.
"""

from __future__ import annotations

import datetime as dt
import http.client
import json
import os
import random
import re
import threading
import time
import uuid
from collections import Counter, defaultdict
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from headon.antibot import pow
from headon.ops import cluster as clusters
from headon.visits.identity import make_test_id_number

DATABASE_URL = os.environ.get("DATABASE_URL", "")
REQUIRED = os.environ.get("HEADON_REQUIRE_CLUSTER") == "1"
pytestmark = pytest.mark.skipif(
    not DATABASE_URL.startswith(("postgres://", "postgresql://")),
    reason="runs in the PostgreSQL pass (DATABASE_URL=postgres://...)",
)

APPLICANTS = 300
CLIENTS = 16  # applicants in flight at once, each on its own keep-alive connection
ASKS = 40
RETRY_SECONDS = 30.0  # how long a client keeps retrying one request
CODE_RE = re.compile(r"\b(\d{6})\b")
JOBS_SQL = "SELECT id, task_path, status, worker_ids FROM django_tasks_database_dbtaskresult"

SETUP = """
import json
from headon.desk.intake.sources import channel_token_issue
from headon.desk.models import Channel
from headon.testing import make_staff
from headon.visits.tests.factories import make_program
program = make_program(slug="rush", sessions=16, capacity=60, party_size_max=4)
channel = Channel.objects.create(slug="partner", name="Partner", kind=Channel.Kind.WEBHOOK)
make_staff("carol", "writer")
make_staff("dave", "approver")
sessions = list(program.sessions.values_list("pk", flat=True))
print(json.dumps({"sessions": sessions, "token": channel_token_issue(channel)}))
"""

# Carol writes and Dave approves an answer to every question of the day.
ANSWER = """
import json
from headon.accounts.models import User
from headon.desk.models import Question
from headon.desk.services import answers
carol, dave = User.objects.get(username="carol"), User.objects.get(username="dave")
made = []
for question in Question.objects.filter(merged_into__isnull=True, answer__isnull=True):
    text = question.text[:200]
    fields = {"question_en": text, "question_zh": text, "body_en": "Yes.", "body_zh": "是的。"}
    answer = answers.answer_create(question=question, actor=carol, fields=fields)
    answer = answers.answer_submit(answer=answer, actor=carol, version=answer.version)
    answers.answer_approve(answer=answer, actor=dave, version=answer.version)
    made.append(answer.pk)
print(json.dumps(made))
"""

# What each worker's clock does once a minute; run here on demand.
CLOCK_TICK = """
import json
from headon.ops.management.commands.worker import clock_tick
print(json.dumps(clock_tick()))
"""

COUNTS = """
import json
from django.db.models import Sum
from headon.desk.models import Answer, Ask, Digest, DigestRevision
from headon.visits.models import Application, PartyMember, PersonKey
applications = Application.objects.filter(program__slug="rush")
# One key per person, active or waiting for a companion to confirm.
keys = PersonKey.objects.filter(program__slug="rush")
print(json.dumps({
    "references": list(applications.values_list("reference", flat=True)),
    "contacts": applications.values("contact").distinct().count(),
    "idempotency_keys": applications.values("idempotency_key").distinct().count(),
    "members": PartyMember.objects.filter(application__program__slug="rush").count(),
    "party_size_sum": applications.aggregate(s=Sum("party_size"))["s"],
    "person_keys": keys.count(),
    "distinct_person_keys": keys.values("key").distinct().count(),
    "asks": list(Ask.objects.values_list("external_id", flat=True)),
    "unassigned_asks": Ask.objects.filter(question__isnull=True).count(),
    "digests": [[str(d.date), d.revision] for d in Digest.objects.all()],
    "revisions": [
        sorted(e["answer_id"] for e in r.snapshot["answers"])
        for r in DigestRevision.objects.order_by("pk")
    ],
    "published": sorted(Answer.objects.filter(status="published").values_list("pk", flat=True)),
}))
"""

TEXTS = [
    "When do applications for the open factory days close?",
    "Can I bring my children to the factory visit?",
    "Is it true that the battery pack catches fire in winter?",
    "Where can visitors park at the factory?",
    "开放日需要带身份证吗？",
]


# --- The client side: what a browser or a partner would do ----------------------


class Tally:
    """Retries by cause, across every client thread."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.retries: Counter[str] = Counter()

    def add(self, cause: str) -> None:
        with self.lock:
            self.retries[cause] += 1


class Http:
    """One keep-alive connection through the proxy. A request that fails on
    the way (connection refused or reset, a timeout, 502 or 503) is sent
    again on a new connection, unchanged, as a client would."""

    def __init__(self, base: str, tally: Tally) -> None:
        parts = urlsplit(base)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.tally = tally
        self.conn: http.client.HTTPConnection | None = None

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None

    def call(
        self, method: str, path: str, body: Any = None, headers: dict[str, str] | None = None
    ) -> tuple[int, dict[str, Any]]:
        payload = None if body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/json", **(headers or {})}
        deadline = time.monotonic() + RETRY_SECONDS
        while True:
            try:
                if self.conn is None:
                    self.conn = http.client.HTTPConnection(self.host, self.port, timeout=10)
                self.conn.request(method, path, body=payload, headers=headers)
                response = self.conn.getresponse()
                data = response.read()
                if response.will_close:
                    self.close()
            except (OSError, http.client.HTTPException) as exc:
                self.close()
                cause = type(exc).__name__
            else:
                if response.status not in (502, 503):
                    try:
                        return response.status, json.loads(data) if data else {}
                    except ValueError:
                        return response.status, {"body": data[:300].decode(errors="replace")}
                cause = str(response.status)
            self.tally.add(cause)
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{method} {path} still fails after {RETRY_SECONDS} s: {cause}"
                )
            time.sleep(0.05)


class Inbox:
    """The codes the web processes append to the SMS file, by phone."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.lock = threading.Lock()
        self.offset = 0
        self.partial = b""
        self.codes: defaultdict[str, list[str]] = defaultdict(list)

    def _read(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        for line in lines:
            message = json.loads(line)
            if match := CODE_RE.search(message["body"]):
                self.codes[message["to"]].append(match[1])

    def count(self, phone: str) -> int:
        with self.lock:
            self._read()
            return len(self.codes[phone])

    def latest(self, phone: str, *, after: int) -> str:
        """The newest code for `phone`, once more than `after` have come."""
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            with self.lock:
                self._read()
                if len(self.codes[phone]) > after:
                    return self.codes[phone][-1]
            time.sleep(0.005)
        raise AssertionError(f"no code for {phone}")


def solved(http: Http, scope: str, headers: dict[str, str]) -> str:
    status, challenge = http.call("GET", f"/antibot/challenge/{scope}", headers=headers)
    assert status == 200, challenge
    number = pow.solve(challenge)
    assert number is not None
    return pow.encode_payload(challenge, number)


def party(n: int, sessions: list[int]) -> dict[str, Any]:
    rng = random.Random(n)
    companions: list[dict[str, str]] = []
    for k in range(1, rng.choice((1, 1, 1, 1, 2, 2, 2, 3, 3, 4))):
        if k % 2:
            companions.append({"name": f"Companion {k}", "phone": f"+86137{4 * n + k:08d}"})
        else:
            birth = dt.date(1960, 1, 1) + dt.timedelta(days=n)
            companions.append(
                {
                    "name": f"Companion {k}",
                    "phone": f"+86136{4 * n + k:08d}",
                    "id_number": make_test_id_number(birth=birth),
                }
            )
    choices = rng.sample(sessions, rng.randint(1, 3))
    return {"lead": {"name": f"Lead {n}"}, "companions": companions, "choices": choices}


def apply(http: Http, inbox: Inbox, n: int, sessions: list[int]) -> str:
    """One applicant's whole flow; the reference of the acknowledged application."""
    phone = f"+86138{n:08d}"
    headers = {"X-Forwarded-For": f"10.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}"}
    api = "/api/v1/programs/rush"
    contact = {"channel": "phone", "destination": phone}
    for _attempt in range(5):
        sent = inbox.count(phone)
        status, data = http.call(
            "POST",
            f"{api}/codes",
            {**contact, "pow": solved(http, "visits-code", headers)},
            headers,
        )
        if status == 403 and data.get("code") == "pow_invalid":
            continue  # a retry after a lost answer: the first try spent the solution
        assert status == 202, data
        code = inbox.latest(phone, after=sent)
        status, data = http.call("POST", f"{api}/codes/verify", {**contact, "code": code}, headers)
        if status == 200:
            break
        # A retry after a lost answer: the first try used the code up.
        assert status == 409, data
        assert data["code"] == "code_expired", data
    else:
        raise AssertionError(f"applicant {n} never got a verified contact")
    body = {
        "verification_token": data["verification_token"],
        **party(n, sessions),
        "consent": True,
        "pow": solved(http, "visits-apply", headers),
    }
    key = {"Idempotency-Key": uuid.uuid4().hex}
    status, data = http.call("POST", f"{api}/applications", body, {**headers, **key})
    assert status in (200, 201), data  # 200: a retry found the first try's application
    return str(data["reference"])


# --- The cluster -----------------------------------------------------------------


@pytest.fixture(scope="module")
def cluster() -> Iterator[clusters.Cluster]:
    redis_url = os.environ.get("HEADON_CLUSTER_REDIS_URL", clusters.REDIS_URL)
    reason = clusters.reachable(DATABASE_URL, redis_url)
    if reason:
        message = f"NO CLUSTER: {reason}"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    env = {
        "HEADON_POW_MAX_NUMBER": "200",
        # Due as soon as there are asks: the clock publishes at once.
        "HEADON_DIGEST_CUTOFF": "00:00",
        # A job whose worker died goes back to the queue after 3 s.
        "HEADON_JOB_LEASE_SECONDS": "3",
        # The first application and the first digest publication to get
        # there wait, their transaction open, to be killed (headon/faults.py).
        "HEADON_FAULT_PAUSE": "application-submit,digest-publish",
    }
    with clusters.Cluster(pg_url=DATABASE_URL, redis_url=redis_url, env=env) as running:
        (running.data_dir / "faults").mkdir()
        yield running


def paused(cluster: clusters.Cluster, point: str) -> dict[str, Any] | None:
    """The process waiting at pause point `point` ({"pid", "detail"}), if any."""
    try:
        pause: dict[str, Any] = json.loads((cluster.data_dir / "faults" / point).read_text())
    except (FileNotFoundError, ValueError):  # not there, or not written yet
        return None
    return pause


def jobs(cluster: clusters.Cluster) -> list[tuple[str, str, str, list[str]]]:
    import psycopg

    with psycopg.connect(cluster.env["DATABASE_URL"], autocommit=True) as conn:
        return [(str(r[0]), r[1], r[2], r[3]) for r in conn.execute(JOBS_SQL)]


def wait_for_jobs(cluster: clusters.Cluster, seconds: float = 30) -> None:
    """Until no job is waiting or running."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        busy = [job for job in jobs(cluster) if job[2] in ("READY", "RUNNING")]
        if not busy:
            return
        time.sleep(0.1)
    raise AssertionError(f"jobs still waiting or running: {busy}")


def test_a_rush_and_the_digest_lose_nothing_and_do_nothing_twice_when_processes_die(cluster):
    setup = cluster.shell(SETUP)
    tally = Tally()
    inbox = Inbox(cluster.sms_file)
    local = threading.local()
    acked: list[str] = []
    ask_ids: list[str] = []
    posted_at = dt.datetime.now(dt.UTC).isoformat()  # one instant: all asks on one date

    def http() -> Http:
        client: Http | None = getattr(local, "http", None)
        if client is None:
            client = local.http = Http(cluster.base_url, tally)
        return client

    def applicant(n: int) -> None:
        acked.append(apply(http(), inbox, n, setup["sessions"]))

    def partner() -> None:
        """A partner's webhook posts asks through the rush; a retried post
        carries the same external id."""
        own = Http(cluster.base_url, tally)
        auth = {"Authorization": f"Bearer {setup['token']}"}
        for i in range(ASKS):
            body = {
                "text": TEXTS[i % len(TEXTS)],
                "external_id": f"partner-{i}",
                "author": f"person-{i}",
                "posted_at": posted_at,
            }
            status, data = own.call("POST", "/api/v1/asks", body, auth)
            assert status in (200, 201), data
            ask_ids.append(body["external_id"])
            time.sleep(0.1)

    # 1. The rush, with the partner's asks beside it. The first application
    # waits between its INSERTs and its COMMIT; a third of the way in, its
    # web process is killed with whatever else it was serving; two thirds
    # in, that web process is back.
    killed_at = restarted_at = web = -1
    uncommitted = ""
    started = time.monotonic()
    paused_since = 0.0
    with ThreadPoolExecutor(CLIENTS + 1) as pool:
        asks = pool.submit(partner)
        rush = [pool.submit(applicant, n) for n in range(APPLICANTS)]
        while not all(f.done() for f in rush):
            pause = paused(cluster, "application-submit") if killed_at < 0 else None
            if pause and not paused_since:
                paused_since = time.monotonic()
            # Soon enough that the paused applicant's retries have not given up.
            if pause and (len(acked) >= APPLICANTS // 3 or time.monotonic() - paused_since > 5):
                kind, web = cluster.holding(pause["pid"])
                assert kind == "web"
                assert cluster.kill_web(web) == -9
                killed_at, uncommitted = len(acked), pause["detail"]
            if killed_at >= 0 > restarted_at and len(acked) >= 2 * APPLICANTS // 3:
                restarted_at = len(acked)
                cluster.restart_web(web)
            time.sleep(0.02)
        for future in [asks, *rush]:
            future.result()  # a client that gave up fails the test here
    assert 0 <= killed_at < restarted_at < APPLICANTS
    rush_seconds = time.monotonic() - started

    # 2. The night's digest: every question answered, then two workers'
    # clocks enqueue its publication at once. The worker that gets there
    # first waits with its transaction open and is killed; the other one
    # publishes, and the killed worker's job, back in the queue when its
    # lease lapses, finds the digest published.
    wait_for_jobs(cluster)
    answer_ids = cluster.shell(ANSWER)
    assert answer_ids
    with ThreadPoolExecutor(2) as pool:
        ticks = [pool.submit(cluster.shell, CLOCK_TICK) for _ in range(2)]
        deadline = time.monotonic() + 30
        while not (pause := paused(cluster, "digest-publish")):
            assert time.monotonic() < deadline, "no worker started publishing the digest"
            time.sleep(0.02)
        kind, worker = cluster.holding(pause["pid"])
        assert kind == "worker"
        killed_worker = cluster.worker_id(worker)
        assert cluster.kill_worker(worker) == -9
        assert any(tick.result() for tick in ticks)
    cluster.restart_worker(worker)
    wait_for_jobs(cluster)

    counts = cluster.shell(COUNTS)
    stats = cluster.proxy_stats()
    print(  # noqa: T201
        f"\nrush: {APPLICANTS} applications in {rush_seconds:.1f} s; digest and checks: "
        f"{time.monotonic() - started - rush_seconds:.1f} s; retries by cause: "
        f"{dict(tally.retries)}; proxy: {stats}"
    )

    # Nothing lost: every acknowledged application, reference for reference,
    # and nothing that was not acknowledged; the one killed before its
    # COMMIT left no row.
    assert len(acked) == APPLICANTS
    assert sorted(counts["references"]) == sorted(acked)
    assert uncommitted not in counts["references"]
    # Nothing twice: one application per contact and per idempotency key,
    # one person key per person, every member stored once.
    assert counts["contacts"] == counts["idempotency_keys"] == APPLICANTS
    assert counts["person_keys"] == counts["distinct_person_keys"] == counts["party_size_sum"]
    assert counts["members"] == counts["party_size_sum"]
    # Every ask once, each placed in a question.
    assert len(ask_ids) == ASKS
    assert sorted(counts["asks"]) == sorted(ask_ids)
    assert counts["unassigned_asks"] == 0
    # One digest, published once, with every approved answer in it.
    assert [revision for _date, revision in counts["digests"]] == [1]
    assert counts["revisions"] == [sorted(answer_ids)]
    assert counts["published"] == sorted(answer_ids)
    # Every job finished, each by one worker, but for the killed worker's:
    # another worker finished it.
    finished = jobs(cluster)
    assert {status for _id, _path, status, _workers in finished} == {"SUCCESSFUL"}, finished
    rerun = [workers for _id, _path, _status, workers in finished if len(workers) > 1]
    assert len(rerun) == 1, rerun
    assert rerun[0][0] == killed_worker
    assert len(rerun[0]) == 2
    # The proxy spread the connections over both web processes and skipped
    # the dead one.
    assert all(stats["connections"])
    assert stats["refused"][web] > 0
