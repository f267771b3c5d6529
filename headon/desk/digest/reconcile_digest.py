"""Recount a published headon digest: python3 reconcile_digest.py DIGEST.json|URL

Standard library only, Python 3.9 or later: read it before you trust it.
Given the JSON of one date's digest (format "headon-digest/2", a file or
its URL, e.g. https://example.org/answers/2026-11-24/r1.json), it recomputes
every figure of the coverage ledger from the per-question rows the JSON
carries, checks each row against the rules of docs/digest.md, and checks the
answers and the public lists against the rows. It prints what it checked
and exits 0 when everything reconciles, 1 otherwise.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import urllib.request
from typing import Any

FORMAT = "headon-digest/2"
STATES = ("covered", "late", "open", "set_aside")
REASONS = ("spam", "abuse", "personal", "not_question")
FIGURES = (
    "asks",
    "asks_by_cutoff",
    "asks_after_cutoff",
    "asks_covered",
    "asks_late",
    "asks_open",
    "asks_set_aside",
    "asks_set_aside_by_reason",
    "asks_unassigned",
    "questions",
    "questions_covered",
    "questions_late",
    "questions_open",
    "questions_set_aside",
    "questions_set_aside_by_reason",
)
LIMIT = 256 * 1024 * 1024


class Report:
    def __init__(self) -> None:
        self.problems: list[str] = []
        self.checked = 0

    def check(self, ok: bool, problem: str) -> None:
        self.checked += 1
        if not ok:
            self.problems.append(problem)


def load(source: str) -> Any:
    if source.startswith(("http://", "https://")):
        # Only http(s) reaches urlopen: a path is opened as a file below.
        request = urllib.request.Request(source, headers={"Accept": "application/json"})  # noqa: S310
        with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310  # nosec B310 (http(s) only)
            raw = response.read(LIMIT + 1)
    else:
        with open(source, "rb") as handle:
            raw = handle.read(LIMIT + 1)
    if len(raw) > LIMIT:
        raise ValueError("the file is larger than 256 MB")
    return json.loads(raw.decode("utf-8"))


def instant(value: Any, name: str, offset: Any, report: Report) -> Any:
    """An ISO 8601 time with the digest's offset, or None if not one."""
    try:
        parsed = dt.datetime.fromisoformat(value)
    except (TypeError, ValueError):
        report.check(False, f"{name}: {value!r} is not an ISO 8601 time")
        return None
    report.check(parsed.utcoffset() is not None, f"{name}: {value!r} has no offset")
    if offset is not None and parsed.utcoffset() is not None:
        report.check(
            parsed.utcoffset() == offset, f"{name}: {value!r} is not in the organiser's offset"
        )
    return parsed


def count(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def set_aside(item: dict[str, Any], name: str, report: Report) -> int:
    aside = item.get("asks_set_aside")
    if not isinstance(aside, dict):
        report.check(False, f"{name}: asks_set_aside is not an object")
        return 0
    for reason, n in aside.items():
        report.check(reason in REASONS, f"{name}: unknown set-aside reason {reason!r}")
        report.check(count(n) and n > 0, f"{name}: set-aside count {n!r} for {reason!r}")
    return sum(n for n in aside.values() if count(n))


def check_counts(item: dict[str, Any], name: str, report: Report) -> bool:
    fields = ("asks", "asks_by_cutoff", "asks_after_cutoff")
    ok = all(count(item.get(f)) for f in fields)
    report.check(ok, f"{name}: asks, asks_by_cutoff, asks_after_cutoff must be counts")
    if ok:
        report.check(
            item["asks"] == item["asks_by_cutoff"] + item["asks_after_cutoff"],
            f"{name}: asks {item['asks']} is not asks_by_cutoff + asks_after_cutoff",
        )
    return ok


def check_row(row: dict[str, Any], ctx: dict[str, Any], report: Report) -> None:
    name = f"question {row.get('id')!r}"
    report.check(isinstance(row.get("id"), int), f"{name}: id is not a number")
    if not check_counts(row, name, report):
        return
    aside = set_aside(row, name, report)
    report.check(aside <= row["asks"], f"{name}: more asks set aside than asks")
    counted = row["asks"] - aside
    state = row.get("state")
    report.check(state in STATES, f"{name}: unknown state {state!r}")
    for field in ("people", "channels"):
        value: Any = row.get(field)
        report.check(count(value), f"{name}: {field} is not a count")
        if count(value):
            report.check(value <= counted, f"{name}: {field} {value} exceeds its counted asks")
            report.check(
                (value > 0) == (counted > 0), f"{name}: {field} {value} with {counted} asks"
            )
    at = None
    if row.get("state_at") is not None:
        at = instant(row["state_at"], f"{name}: state_at", ctx["offset"], report)
    reason = row.get("set_aside_reason")
    if state == "set_aside":
        report.check(reason in REASONS, f"{name}: set aside with reason {reason!r}")
        report.check(aside == row["asks"], f"{name}: set aside but {counted} asks still counted")
        report.check(row.get("title") is None, f"{name}: a set-aside question shows its title")
    else:
        report.check(reason is None, f"{name}: set_aside_reason {reason!r} in state {state!r}")
    if state in ("covered", "late"):
        report.check(isinstance(row.get("answer_id"), int), f"{name}: {state} with no answer_id")
        report.check(at is not None, f"{name}: {state} with no state_at")
        if at is not None and ctx["cutoff"] is not None:
            by_cutoff = at <= ctx["cutoff"]
            report.check(
                by_cutoff == (state == "covered"),
                f"{name}: state_at {row['state_at']} does not make it {state}",
            )
    else:
        report.check(row.get("answer_id") is None, f"{name}: answer_id in state {state!r}")
    if state == "open":
        report.check(row.get("state_at") is None, f"{name}: open with a state_at")
        see = row.get("see_answer_id")
        report.check(see is None or isinstance(see, int), f"{name}: see_answer_id {see!r}")
    else:
        report.check(row.get("see_answer_id") is None, f"{name}: see_answer_id in state {state!r}")
    if at is not None and ctx["published"] is not None:
        report.check(at <= ctx["published"], f"{name}: state_at is after the revision")


def recount(rows: list[dict[str, Any]], loose: dict[str, Any]) -> dict[str, Any]:
    """Every figure of `coverage`, as docs/digest.md defines it."""
    by_reason = dict.fromkeys(REASONS, 0)
    for item in [*rows, loose]:
        for reason, n in item["asks_set_aside"].items():
            by_reason[reason] = by_reason.get(reason, 0) + n

    def counted(item: dict[str, Any]) -> int:
        return int(item["asks"]) - int(sum(item["asks_set_aside"].values()))

    def in_state(state: str) -> list[dict[str, Any]]:
        return [r for r in rows if r["state"] == state]

    q_aside = dict.fromkeys(REASONS, 0)
    for row in in_state("set_aside"):
        q_aside[row["set_aside_reason"]] = q_aside.get(row["set_aside_reason"], 0) + 1
    return {
        "asks": sum(r["asks"] for r in rows) + loose["asks"],
        "asks_by_cutoff": sum(r["asks_by_cutoff"] for r in rows) + loose["asks_by_cutoff"],
        "asks_after_cutoff": sum(r["asks_after_cutoff"] for r in rows) + loose["asks_after_cutoff"],
        "asks_covered": sum(counted(r) for r in in_state("covered")),
        "asks_late": sum(counted(r) for r in in_state("late")),
        "asks_open": sum(counted(r) for r in in_state("open")) + counted(loose),
        "asks_set_aside": sum(by_reason.values()),
        "asks_set_aside_by_reason": by_reason,
        "asks_unassigned": loose["asks"],
        "questions": len(rows),
        "questions_covered": len(in_state("covered")),
        "questions_late": len(in_state("late")),
        "questions_open": len(in_state("open")),
        "questions_set_aside": len(in_state("set_aside")),
        "questions_set_aside_by_reason": q_aside,
    }


def check_answers(digest: dict[str, Any], rows: list[dict[str, Any]], report: Report) -> None:
    covering: dict[int, list[dict[str, Any]]] = {}
    for row in rows:
        if row["state"] in ("covered", "late"):
            covering.setdefault(row["answer_id"], []).append(row)
    answers = digest.get("answers")
    if not isinstance(answers, list):
        report.check(False, "answers is not a list")
        return
    seen = set()
    for entry in answers:
        pk = entry.get("answer_id")
        name = f"answer {pk!r}"
        report.check(pk not in seen, f"{name}: listed twice")
        seen.add(pk)
        found = covering.get(pk, [])
        report.check(bool(found), f"{name}: listed, but no question of the ledger is covered by it")
        report.check(
            sorted(entry.get("question_ids") or []) == sorted(r["id"] for r in found),
            f"{name}: question_ids are not the questions it covers",
        )
        expected = {
            "asks": sum(r["asks"] - sum(r["asks_set_aside"].values()) for r in found),
            "asked_by": sum(r["people"] for r in found),
            "channels": max((r["channels"] for r in found), default=0),
            "late": bool(found) and all(r["state"] == "late" for r in found),
        }
        for field, value in expected.items():
            report.check(
                entry.get(field) == value,
                f"{name}: {field} is {entry.get(field)!r}, the rows give {value!r}",
            )
    missing = sorted(set(covering) - seen)
    report.check(not missing, f"answers covering questions are not listed: {missing}")
    order = [(-e.get("asked_by", 0), -e.get("asks", 0), e.get("answer_id", 0)) for e in answers]
    report.check(order == sorted(order), "answers are not ordered by asked_by, asks, answer_id")
    for rumour in (False, True):
        ranks = [e.get("rank") for e in answers if bool(e.get("rumour")) is rumour]
        report.check(ranks == list(range(1, len(ranks) + 1)), "answers are not ranked 1, 2, 3…")


def check_draws(digest: dict[str, Any], ctx: dict[str, Any], report: Report) -> None:
    """`draws`, when present (revisions before it have none): each draw
    committed or sealed since the previous night's cut-off, in time order."""
    events = digest.get("draws", [])
    if not isinstance(events, list) or not all(isinstance(e, dict) for e in events):
        report.check(False, "draws is not a list of objects")
        return
    times = []
    for n, event in enumerate(events):
        name = f"draws[{n}]"
        kind = event.get("kind")
        report.check(kind in ("committed", "sealed"), f"{name}: unknown kind {kind!r}")
        digest_hash = event.get("hash")
        hex_hash = (
            isinstance(digest_hash, str)
            and len(digest_hash) == 64
            and all(c in "0123456789abcdef" for c in digest_hash)
        )
        report.check(
            hex_hash or (kind == "committed" and digest_hash is None),
            f"{name}: hash {digest_hash!r} is not a SHA-256",
        )
        offset_ok = isinstance(event.get("beacon_offset"), int) and event["beacon_offset"] >= 1
        report.check(offset_ok, f"{name}: no beacon_offset")
        beacon_round = event.get("beacon_round")
        report.check(
            (isinstance(beacon_round, int) and beacon_round > 0)
            if kind == "sealed"
            else beacon_round is None,
            f"{name}: beacon_round {beacon_round!r} for a {kind} draw",
        )
        at = instant(event.get("at"), f"{name}: at", ctx["offset"], report)
        if at is None:
            continue
        times.append(at)
        if ctx["cutoff"] is not None:
            report.check(at <= ctx["cutoff"], f"{name}: at is after the cut-off")
            report.check(
                at > ctx["cutoff"] - dt.timedelta(hours=25),
                f"{name}: at is before the previous night's cut-off",
            )
        if ctx["published"] is not None:
            report.check(at <= ctx["published"], f"{name}: at is after published_at")
    report.check(times == sorted(times), "draws are not in time order")


def check_lists(digest: dict[str, Any], rows: list[dict[str, Any]], report: Report) -> None:
    open_rows = [r for r in rows if r["state"] == "open" and r["people"] > 0]
    worked_on = [
        {"id": r["id"], "question": r["title"], "asked_by": r["people"]}
        for r in open_rows
        if r.get("see_answer_id") is None
    ]
    report.check(
        digest.get("open") == worked_on,
        "open (still being worked on) is not the open rows with no answer to point to",
    )
    report.check(digest.get("open_count") == len(worked_on), "open_count is not len(open)")
    already = [
        (r["id"], r["title"], r["people"], r["see_answer_id"])
        for r in open_rows
        if r.get("see_answer_id") is not None
    ]
    listed = [
        (a.get("id"), a.get("question"), a.get("asked_by"), a.get("answer_id"))
        for a in digest.get("answered_already", [])
    ]
    report.check(listed == already, "answered_already is not the open rows with an answer")
    order = [(-r["people"], -r["asks"], r["id"]) for r in rows]
    report.check(order == sorted(order), "ledger rows are not ordered by people, asks, id")


def reconcile(digest: Any, report: Report) -> dict[str, Any]:
    """Check `digest`; return the recomputed figures (empty if unreadable)."""
    try:
        return _reconcile(digest, report)
    except (AttributeError, KeyError, TypeError, ValueError) as exc:
        # A shape the rules do not expect: malformed, so not reconciled.
        report.check(False, f"malformed digest ({type(exc).__name__}: {exc})")
        return {}


def _reconcile(digest: Any, report: Report) -> dict[str, Any]:
    if not isinstance(digest, dict) or digest.get("format") != FORMAT:
        report.check(False, f"not a {FORMAT} digest")
        return {}
    cutoff = instant(digest.get("cutoff"), "cutoff", None, report)
    offset = cutoff.utcoffset() if cutoff is not None else None
    published = instant(digest.get("published_at"), "published_at", offset, report)
    if cutoff is not None:
        report.check(cutoff.date().isoformat() == digest.get("date"), "cutoff is not on date")
    ledger = digest.get("ledger")
    if not isinstance(ledger, dict) or not isinstance(ledger.get("questions"), list):
        report.check(False, "ledger.questions is missing")
        return {}
    rows = ledger["questions"]
    loose = ledger.get("unassigned")
    if not isinstance(loose, dict) or not check_counts(loose, "unassigned", report):
        report.check(False, "ledger.unassigned is missing")
        return {}
    set_aside(loose, "unassigned", report)
    ctx = {"cutoff": cutoff, "offset": offset, "published": published}
    if not all(isinstance(r, dict) for r in rows):
        report.check(False, "ledger.questions holds something other than objects")
        return {}
    ids = [r.get("id") for r in rows]
    report.check(len(ids) == len(set(ids)), "a question is in the ledger twice")
    for row in rows:
        check_row(row, ctx, report)
    if report.problems:
        return {}  # the sums below would only repeat what is wrong
    if published is not None and cutoff is not None and published <= cutoff:
        after = sum(r["asks_after_cutoff"] for r in rows) + loose["asks_after_cutoff"]
        report.check(after == 0, f"{after} asks posted after the cut-off in a revision before it")
    for entry in digest.get("answers", []):
        if entry.get("first_published_at"):
            instant(entry["first_published_at"], "first_published_at", offset, report)
        for correction in entry.get("corrections", []):
            instant(correction.get("at"), "a correction's at", offset, report)
    figures = recount(rows, loose)
    published_figures = digest.get("coverage") or {}
    for name in FIGURES:
        report.check(
            published_figures.get(name) == figures[name],
            f"coverage.{name} is {published_figures.get(name)!r}; recounted {figures[name]!r}",
        )
    share = figures["asks_covered"] / figures["asks"] if figures["asks"] else 1.0
    figures["share"] = share
    given = published_figures.get("share")
    report.check(
        isinstance(given, (int, float)) and abs(given - share) <= 0.00005 + 1e-9,
        f"coverage.share is {given!r}; recounted {share:.6f}",
    )
    check_answers(digest, rows, report)
    check_lists(digest, rows, report)
    check_draws(digest, ctx, report)
    return figures


def say(line: str) -> None:
    sys.stdout.write(line + "\n")


def main(argv: list[str]) -> int:
    if len(argv) != 1 or argv[0] in ("-h", "--help"):
        sys.stderr.write((__doc__ or "").strip().splitlines()[0] + "\n")
        return 1
    report = Report()
    try:
        digest = load(argv[0])
    except (OSError, ValueError) as exc:
        say(f"DOES NOT RECONCILE: cannot read {argv[0]}: {exc}")
        return 1
    figures = reconcile(digest, report)
    if isinstance(digest, dict):
        say(f"digest {digest.get('date')} revision {digest.get('revision')}")
    for name, value in figures.items():
        say(f"  {name}: {value if name != 'share' else round(value, 4)}")
    if report.problems:
        for problem in report.problems:
            say(f"  MISMATCH {problem}")
        say(f"DOES NOT RECONCILE: {len(report.problems)} of {report.checked} checks failed")
        return 1
    say(f"RECONCILED: {report.checked} checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
