"""The night's digest and the public question page, at a day's scale.

    python bench/digest.py --asks 100000 --answered 300
    python bench/digest.py --db postgres

1. Builds a day of `--asks` asks over `--questions` questions (Zipf-like
   popularity), `--answered` of them with an approved answer in both
   languages, and times `digest_publish` (which publishes those answers
   and freezes the snapshot with its coverage ledger) and then every
   format: the text posts and JSON in both languages, the Atom feed, and
   the long PNG in both languages. The baseline in the same run is the
   floor: one aggregate query reading the day's asks once.
2. Serves it with `headon serve` (gunicorn, `--workers`) and runs
   `--readers` concurrent readers (closed loop, keep-alive) for `--seconds`
   against random public question pages; the baseline is the same load on
   /healthz (one SELECT 1): the framework's own floor on this machine.

Targets (issue 6): publish with all formats under 10 s; the question page
p99 under 50 ms with 50 readers on a 2-core machine.
Prints a table, then one JSON line with every figure.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import statistics
import sys
import time
from pathlib import Path

import aiohttp

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))

from bench.harness import headon, isolated_headon, start_server, stop_server  # noqa: E402

SETUP = r"""
import datetime as dt, json, random, time
from django.db import connection
from django.db.models import Count
from headon.desk.models import Answer, Ask, Channel, Question
from headon.desk.digest.services import digest_publish
from headon.desk.merging.normalise import exact_key
from headon.timezones import organiser_today

ASKS, QUESTIONS, ANSWERED = {asks}, {questions}, {answered}
rng = random.Random(7)
day = organiser_today()
channels = [Channel.objects.create(slug=f"c{{n}}", name=f"Channel {{n}}", kind="social_export") for n in range(4)]
questions = Question.objects.bulk_create(
    Question(text=f"问题 {{n}}：交付、续航还是价格？ Question {{n}} about delivery") for n in range(QUESTIONS)
)
weights = [1 / (n + 1) ** 0.9 for n in range(QUESTIONS)]
# Posted in the 12 hours before now: a revision counts no ask posted after it.
start = dt.datetime.now(dt.UTC) - dt.timedelta(hours=12)
asks = []
for n in range(ASKS):
    q = rng.choices(questions, weights=weights)[0]
    text = f"{{q.text}} #{{n % 97}}"
    asks.append(Ask(channel=channels[n % 4], external_id=f"b{{n}}", text=text,
        author=f"u{{rng.randint(1, ASKS)}}", author_key=f"u{{rng.randint(1, ASKS)}}",
        posted_at=start + dt.timedelta(seconds=rng.randint(0, 12 * 3600)), day=day,
        likes=int(rng.paretovariate(1.5)) - 1, match_key=exact_key(text), question=q))
Ask.objects.bulk_create(asks, batch_size=5000)
body_zh = "我们的回答：" + "交付将于十二月开始，全国同时进行。" * 8
body_en = "Our answer: " + "Deliveries start in December in every city. " * 8
for q in questions[:ANSWERED]:
    answer = Answer.objects.create(question_en=f"Question {{q.pk}}?", question_zh=f"问题{{q.pk}}？",
        body_en=body_en, body_zh=body_zh, status="approved")
    q.answer = answer
Question.objects.bulk_update(questions[:ANSWERED], ["answer"])
connection.close()

t0 = time.perf_counter()
Ask.objects.filter(day=day).aggregate(n=Count("id"), q=Count("question", distinct=True))
floor = time.perf_counter() - t0

from headon.desk.digest import formats
from django.test import RequestFactory
t0 = time.perf_counter()
revision, created = digest_publish(day)
t_publish = time.perf_counter() - t0
t0 = time.perf_counter()
for lang in formats.LANGUAGES:
    formats.digest_text(revision.snapshot, lang)
t_text = time.perf_counter() - t0
t0 = time.perf_counter()
json.dumps(formats.digest_json(revision.snapshot), ensure_ascii=False)
t_json = time.perf_counter() - t0
t0 = time.perf_counter()
feed = formats.DigestFeed()(RequestFactory().get("/answers/feed/en.atom", HTTP_HOST="127.0.0.1"), lang="en")
t_feed = time.perf_counter() - t0
t0 = time.perf_counter()
sizes = [len(formats.digest_png(revision, lang)) for lang in formats.LANGUAGES]
t_png = time.perf_counter() - t0
ids = list(Answer.objects.filter(published__isnull=False).values_list("pk", flat=True))
print(json.dumps({{"floor_s": floor, "publish_s": t_publish, "text_s": t_text, "json_s": t_json,
    "feed_s": t_feed, "png_s": t_png, "png_bytes": sizes, "answers": len(revision.snapshot["answers"]),
    "coverage": revision.snapshot["coverage"], "answer_ids": ids}}))
"""


async def readers(
    base: str, paths: list[str], count: int, seconds: float, think_ms: float = 0.0
) -> dict[str, float]:
    """`count` readers, each reading a page, thinking `think_ms` on average
    (exponentially distributed; 0: no pause, the server's saturation)."""
    latencies: list[float] = []
    errors = 0
    stop = time.monotonic() + seconds
    rng = random.Random(11)
    connector = aiohttp.TCPConnector(limit=count)
    async with aiohttp.ClientSession(connector=connector) as http:

        async def reader() -> None:
            nonlocal errors
            if think_ms:  # readers arrive spread out, not all in the same millisecond
                await asyncio.sleep(rng.uniform(0, think_ms / 1000))
            while time.monotonic() < stop:
                path = rng.choice(paths)
                began = time.perf_counter()
                try:
                    async with http.get(base + path) as response:
                        await response.read()
                        if response.status != 200:
                            errors += 1
                except aiohttp.ClientError:
                    errors += 1
                latencies.append((time.perf_counter() - began) * 1000)
                if think_ms:
                    await asyncio.sleep(rng.expovariate(1000 / think_ms))

        await asyncio.gather(*(reader() for _ in range(count)))
    latencies.sort()

    def pct(p: float) -> float:
        return latencies[min(len(latencies) - 1, int(p * len(latencies)))] if latencies else 0.0

    return {
        "requests": len(latencies),
        "rps": len(latencies) / seconds,
        "p50_ms": pct(0.50),
        "p95_ms": pct(0.95),
        "p99_ms": pct(0.99),
        "mean_ms": statistics.fmean(latencies) if latencies else 0.0,
        "errors": errors,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--asks", type=int, default=100_000)
    parser.add_argument("--questions", type=int, default=600)
    parser.add_argument("--answered", type=int, default=300)
    parser.add_argument("--readers", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=15)
    parser.add_argument(
        "--think-ms", type=float, default=1000, help="mean pause between a reader's pages"
    )
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--db", choices=["sqlite", "postgres"], default="sqlite")
    args = parser.parse_args()
    with isolated_headon(args.db, "digest") as (data_dir, env):
        server = None
        try:
            headon(env, "migrate", "--verbosity", "0")
            script = SETUP.format(asks=args.asks, questions=args.questions, answered=args.answered)
            built = json.loads(headon(env, "shell", "-c", script, timeout=1800))
            total = built["publish_s"] + built["text_s"] + built["json_s"] + built["feed_s"]
            total += built["png_s"]
            server = start_server(args, env, data_dir)
            paths = [f"/answers/q/{pk}/" for pk in built["answer_ids"]]
            asyncio.run(readers(server.base, paths[:20], 4, 2))  # warm the workers
            runs = {
                "healthz": asyncio.run(
                    readers(server.base, ["/healthz"], args.readers, args.seconds, args.think_ms)
                ),
                "page": asyncio.run(
                    readers(server.base, paths, args.readers, args.seconds, args.think_ms)
                ),
                "healthz_saturated": asyncio.run(
                    readers(server.base, ["/healthz"], args.readers, args.seconds)
                ),
                "page_saturated": asyncio.run(
                    readers(server.base, paths, args.readers, args.seconds)
                ),
            }
        finally:
            if server is not None:
                stop_server(server)

    print(f"Digest of {args.asks:,} asks, {built['answers']} answers ({args.db}):")
    print(f"  {'stage':<34}{'seconds':>10}")
    rows = [
        ("baseline: read the day once", built["floor_s"]),
        ("publish (answers + snapshot)", built["publish_s"]),
        ("text posts, both languages", built["text_s"]),
        ("JSON", built["json_s"]),
        ("Atom feed", built["feed_s"]),
        ("PNG, both languages", built["png_s"]),
        ("all formats (target < 10 s)", total),
    ]
    for name, seconds in rows:
        print(f"  {name:<34}{seconds:>10.2f}")
    print(
        f"\nPublic pages, {args.readers} readers for {args.seconds:.0f} s each, "
        f"{args.workers} workers x {args.threads} threads:"
    )
    print(f"  {'page':<40}{'req/s':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}{'errors':>8}")
    think = f"{args.think_ms:.0f} ms think"
    for name, figures in (
        (f"baseline: /healthz, {think}", runs["healthz"]),
        (f"question page, {think} (target p99<50)", runs["page"]),
        ("baseline: /healthz, no pause", runs["healthz_saturated"]),
        ("question page, no pause", runs["page_saturated"]),
    ):
        print(
            f"  {name:<40}{figures['rps']:>8.0f}{figures['p50_ms']:>9.1f}"
            f"{figures['p95_ms']:>9.1f}{figures['p99_ms']:>9.1f}{figures['errors']:>8}"
        )
    print(
        json.dumps(
            {
                "db": args.db,
                "asks": args.asks,
                "answers": built["answers"],
                "publish_s": round(built["publish_s"], 3),
                "formats_total_s": round(total, 3),
                "png_s": round(built["png_s"], 3),
                "baseline_read_day_s": round(built["floor_s"], 3),
                **{
                    name: {k: round(v, 2) for k, v in figures.items()}
                    for name, figures in runs.items()
                },
                "readers": args.readers,
                "think_ms": args.think_ms,
                "workers": args.workers,
            }
        )
    )


if __name__ == "__main__":
    main()
