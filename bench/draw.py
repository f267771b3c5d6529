"""The draw at scale: headon's verifiable group lottery against a naive one.

    python bench/draw.py --applications 1000000 --seats 960
    python bench/draw.py --applications 1000000 --seats 100000

Generates a synthetic application list (seeded, so every run draws the same
list): parties of 1-4 (35/35/15/15%), each ranking `--choices` sessions by
popularity without repeats (Gumbel top-k over the session weights), where a
session on a Lunar New Year holiday is three times as wanted and a Saturday
twice. Sessions run two a day from a week before the 2027 holiday; 960 seats
make the reference program's 16 sessions of 60, a larger program gets about
one session per 300 seats with capacities between 60 and 600.

Then, each in its own child process so peak memory is per pipeline (getrusage
and GNU time's maximum resident set; tracemalloc would slow a million objects
down too much to time anything):

- headon: build the `Party` rows, the sealed hash published at the seal, the seed,
  the order alone, the assignment alone, the whole draw (`run_draw`: validate,
  sort, hash, shuffle, assign), and the record written as published. The
  draw figure is `run_draw` plus the record.
- verifier: `verify_draw.py` re-running the draw from the published record,
  on the standard library alone (`python -I -S`), start to exit.
- baseline: `random.shuffle` then group serial dictatorship on plain tuples:
  no validation, no hashing, no record; the floor for this much Python.

Prints a table, then one JSON object with the figures as its last line.
Target (the issue): the draw under 5 s and under 2 GB for a million
applications over 960 seats and over 100,000 seats.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import hashlib
import json
import os
import pickle
import random
import resource
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from headon.visits import beacon, draw  # noqa: E402

VERIFIER = ROOT / "headon" / "visits" / "verify_draw.py"
SECRET = hashlib.sha256(b"headon bench organiser secret").digest()
# A published quicknet round; the seal is a second before the round 100 earlier.
ROUND = 657413
SEAL = draw.Seal(
    mechanism=draw.GROUP_RSD_FAIR,
    tiers=False,
    commitment=draw.commitment_for_secret(SECRET),
    sealed_at=int(beacon.round_time(ROUND - 100).timestamp()) - 1,
    beacon_offset=100,
    beacon_round=ROUND,
)
SIZES, SIZE_SHARES = (1, 2, 3, 4), (0.35, 0.35, 0.15, 0.15)
FIRST_DAY = dt.date(2027, 1, 30)  # a week before the first day of the Year of the Goat
HOLIDAY = {FIRST_DAY + dt.timedelta(days=d) for d in range(7, 14)}  # 2027-02-06..12


def make_sessions(seats: int, count: int, rng: np.random.Generator) -> list[tuple[str, int, float]]:
    """(session id, capacity, popularity weight), two sessions a day."""
    if seats <= 60 * count:
        caps = [seats // count + (k < seats % count) for k in range(count)]
    else:
        raw = rng.integers(60, 601, size=count).astype(float)
        caps = np.floor(raw * seats / raw.sum()).astype(int).tolist()
        for k in range(seats - sum(caps)):
            caps[k % count] += 1
    rows = []
    for k, cap in enumerate(caps):
        day = FIRST_DAY + dt.timedelta(days=k // 2)
        weight = (3.0 if day in HOLIDAY else 1.0) * (2.0 if day.weekday() == 5 else 1.0)
        weight *= float(rng.uniform(0.7, 1.3))
        rows.append((f"{day.isoformat()}.{'am' if k % 2 == 0 else 'pm'}", cap, weight))
    return rows


def make_applications(
    n: int, sessions: list[tuple[str, int, float]], choices: int, rng: np.random.Generator
) -> list[tuple[str, int, tuple[str, ...], int]]:
    """(ref, size, choices, tier) rows; refs are 16 random hex digits, as a
    pseudonymised reference would be."""
    names = [name for name, _, _ in sessions]
    log_w = np.log(np.array([w for _, _, w in sessions]))
    k = min(choices, len(names))
    ranked: list[tuple[str, ...]] = []
    for start in range(0, n, 20_000):  # Gumbel top-k in chunks: 20,000 x sessions floats
        m = min(20_000, n - start)
        keys = log_w + rng.gumbel(size=(m, len(names)))
        top = np.argpartition(-keys, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(keys, top, 1), 1), 1)
        ranked.extend(tuple(map(names.__getitem__, row)) for row in top.tolist())
    refs = rng.bytes(8 * n).hex()
    sizes = rng.choice(SIZES, p=SIZE_SHARES, size=n).tolist()
    rows = [(refs[16 * i : 16 * i + 16], sizes[i], ranked[i], 0) for i in range(n)]
    if len({r[0] for r in rows}) != n:
        raise SystemExit("duplicate refs in the generated list; change --seed")
    return rows


def peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


# --- The children ----------------------------------------------------------------------


def child_headon(work: Path, mechanism: str) -> dict[str, Any]:
    with (work / "input.pickle").open("rb") as fh:
        rows, seats = pickle.load(fh)  # noqa: S301 - written by the parent a moment ago
    stages: dict[str, float] = {}

    def timed(name: str, fn: Any, *args: Any) -> Any:
        started = time.perf_counter()
        out = fn(*args)
        stages[name] = time.perf_counter() - started
        return out

    parties = timed("build parties", lambda rows: [draw.Party(*row) for row in rows], rows)
    del rows  # as a service would hold them: Party rows only
    seat_rows = [draw.Seats(s, c) for s, c in seats]
    seal = dataclasses.replace(SEAL, mechanism=mechanism)
    digest = timed("sealed hash (at the seal)", lambda: draw.sealed_hash(parties, seat_rows, seal))
    randomness = beacon.verify_round(beacon.Round(ROUND, beacon.RECORDED[ROUND]))
    source = draw.seed_source(randomness, SECRET)
    seed = timed("seed", lambda: draw.derive_seed(source=source, sealed_hash=digest))
    order = timed("order (draw_order alone)", lambda: draw.draw_order(parties, seed))
    by_ref = {p.ref: p for p in parties}
    ordered = [by_ref[ref] for ref in order]
    del by_ref, order
    capacities = dict(seats)
    fair = mechanism == draw.GROUP_RSD_FAIR
    timed("assignment (_assign alone)", lambda: draw._assign(ordered, capacities, fair=fair))
    ordered.clear()
    result = timed(
        "run_draw",
        lambda: draw.run_draw(
            parties=parties,
            seats=seat_rows,
            mechanism=mechanism,
            seal=seal,
            signature=beacon.RECORDED[ROUND],
            secret=SECRET,
        ),
    )
    with (work / "record.json").open("w", encoding="utf-8") as out:
        timed("record written", result.write_record, out)
    seats_taken = sum(capacities.values()) - sum(result.seats_left.values())
    return {
        "stages": stages,
        "draw_s": stages["run_draw"] + stages["record written"],
        "peak_mb": peak_mb(),
        "offers": len(result.offers),
        "fill_rate": seats_taken / sum(capacities.values()),
        "sealed_hash": digest,
    }


def child_baseline(work: Path) -> dict[str, Any]:
    """Random serial dictatorship for groups with `random.shuffle`: the least
    a draw of this size can cost in Python."""
    with (work / "input.pickle").open("rb") as fh:
        rows, seats = pickle.load(fh)  # noqa: S301
    started = time.perf_counter()
    order = list(rows)
    random.Random(1).shuffle(order)
    left = dict(seats)
    offers = {}
    for ref, size, choices, _tier in order:
        for session in choices:
            if left[session] >= size:
                left[session] -= size
                offers[ref] = session
                break
    return {"draw_s": time.perf_counter() - started, "peak_mb": peak_mb(), "offers": len(offers)}


# --- The parent ------------------------------------------------------------------------


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--applications", type=int, default=1_000_000)
    parser.add_argument("--seats", type=int, default=960)
    parser.add_argument("--sessions", type=int, help="default: 16, or one per 300 seats")
    parser.add_argument("--choices", type=int, default=5)
    parser.add_argument("--mechanism", choices=draw.MECHANISMS, default=draw.GROUP_RSD_FAIR)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--child", choices=["headon", "baseline"], help=argparse.SUPPRESS)
    parser.add_argument("--work", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        figures = (
            child_headon(args.work, args.mechanism)
            if args.child == "headon"
            else child_baseline(args.work)
        )
        print(json.dumps(figures))
        return
    # Only the parent times children: each child's peak memory is a figure,
    # so the children import only what they measure.
    from bench.harness import run_timed

    count = args.sessions or (16 if args.seats <= 960 else max(16, round(args.seats / 300)))
    rng = np.random.default_rng(args.seed)
    started = time.perf_counter()
    sessions = make_sessions(args.seats, count, rng)
    rows = make_applications(args.applications, sessions, args.choices, rng)
    people = sum(r[1] for r in rows)
    generated_s = time.perf_counter() - started
    python = sys.executable
    with tempfile.TemporaryDirectory(prefix="headon-bench-draw-") as tmp:
        work = Path(tmp)
        with (work / "input.pickle").open("wb") as fh:
            pickle.dump((rows, [(s, c) for s, c, _ in sessions]), fh, pickle.HIGHEST_PROTOCOL)
        del rows
        me = [python, str(Path(__file__).resolve()), "--work", str(work)]
        _, base_mb, out = run_timed([*me, "--child", "baseline"])
        baseline = json.loads(out.splitlines()[-1])
        _, headon_mb, out = run_timed([*me, "--child", "headon", "--mechanism", args.mechanism])
        headon = json.loads(out.splitlines()[-1])
        record_mb = (work / "record.json").stat().st_size / 1e6
        verify_s, verify_mb, out = run_timed(
            [python, "-I", "-S", str(VERIFIER), str(work / "record.json"), "--secret", SECRET.hex()]
        )
        if not out.strip().endswith("MATCH") or "MISMATCH" in out:
            raise SystemExit(f"the verifier did not confirm the record:\n{out}")
    stages = headon["stages"]
    print(
        f"draw bench · {args.applications:,} parties ({people:,} people) · {args.seats:,} seats"
        f" in {count} sessions · {args.choices} choices · {args.mechanism}"
        f" · {os.cpu_count()} cores, load {os.getloadavg()[0]:.1f}"
        f" · list generated in {generated_s:.0f} s"
    )
    print(f"{'stage':<34}{'seconds':>9}")
    for name, seconds in stages.items():
        print(f"{'  ' + name:<34}{seconds:>9.2f}")
    print(f"{'run':<34}{'seconds':>9}{'peak MB':>9}")
    table = [
        ("baseline: random.shuffle + RSD", baseline["draw_s"], baseline["peak_mb"]),
        ("headon draw (run_draw + record)", headon["draw_s"], headon_mb),
        ("verifier re-run (python -I -S)", verify_s, verify_mb),
    ]
    for name, seconds, mb in table:
        print(f"{name:<34}{seconds:>9.2f}{mb:>9.0f}")
    # On a shared machine the seconds move with the load; the ratio to the
    # baseline, measured in the same run, moves much less.
    ratio = headon["draw_s"] / baseline["draw_s"]
    print(f"draw / baseline: {ratio:.1f}x · verifier / draw: {verify_s / headon['draw_s']:.1f}x")
    print(
        f"record {record_mb:.0f} MB · {headon['offers']:,} offers · seats filled"
        f" {headon['fill_rate']:.1%} · target: draw < 5 s and < 2048 MB"
        f" ({'met' if headon['draw_s'] < 5 and headon_mb < 2048 else 'NOT met'})"
    )
    print(
        json.dumps(
            {
                "applications": args.applications,
                "people": people,
                "seats": args.seats,
                "sessions": count,
                "choices": args.choices,
                "mechanism": args.mechanism,
                "stages_s": {k: round(v, 3) for k, v in stages.items()},
                "draw_s": round(headon["draw_s"], 3),
                "draw_peak_mb": round(headon_mb),
                "verify_s": round(verify_s, 3),
                "verify_peak_mb": round(verify_mb),
                "baseline_s": round(baseline["draw_s"], 3),
                "baseline_peak_mb": round(base_mb),
                "draw_vs_baseline": round(ratio, 2),
                "load_average": round(os.getloadavg()[0], 2),
                "record_mb": round(record_mb, 1),
                "offers": headon["offers"],
                "fill_rate": round(headon["fill_rate"], 4),
            }
        )
    )


if __name__ == "__main__":
    main()
