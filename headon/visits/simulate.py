"""Simulated draws: headon's lottery against the ways visits are usually drawn.

Plain data in, plain data out; no Django import (STYLE.md, "Shape" 2). Three
mechanisms share one synthetic program and population per run:

- ``individual``: the Individual Lottery of Arnosti & Bonet, "Lotteries for
  Shared Experiences" (2022): every member of a party applies alone and asks
  for seats for the whole party; applications are drawn in a uniformly random
  order and each takes its first choice with enough seats left. A party
  succeeds if any member wins. A second win for the same party is a duplicate
  and its seats are *wasted*: by the time it is found the draw is published,
  so nobody else is offered them. This is the mechanism's real cost, so
  ``fill_rate`` counts only seats that visitors use.
- ``group_rsd``: the plain group lottery, `draw.run_draw` as published.
- ``group_rsd_fair``: the same with no leapfrogging (docs/draw.md, section 5).

The two group lotteries run the real `draw.run_draw`, so the simulation
measures the code that draws, not a model of it.

The population, stated so the figures can be argued with (`APPLICANT_MODEL`,
also printed in the report): parties of 1, 2, 3 and 4 people in the shares
35/35/15/15% (about 2.1 people a party), each ranking 1-5 sessions
(15/15/20/20/30%), chosen one after another in proportion to popularity
among those not yet ranked. Sessions run two a day from 2027-02-03, three
days before the Lunar New Year (2027-02-06); a session on a holiday day
(2027-02-06 to 02-12) is three times as wanted, a Saturday twice, so the New
Year's Day Saturday six times. Every figure is a mean over runs with a 95%
confidence interval (1.96 standard errors of the per-run values); success is
reported before and after waitlist promotion.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean, stdev
from typing import Final

from headon.visits import draw

__all__ = ["MECHANISMS", "MechanismResult", "SimulationReport", "make_population", "simulate"]

INDIVIDUAL: Final = "individual"
MECHANISMS: Final = (INDIVIDUAL, draw.GROUP_RSD, draw.GROUP_RSD_FAIR)
LABELS: Final = {
    INDIVIDUAL: "individual lottery",
    draw.GROUP_RSD: "group lottery",
    draw.GROUP_RSD_FAIR: "group lottery, no leapfrogging",
}
PARTY_SIZES: Final = {1: 0.35, 2: 0.35, 3: 0.15, 4: 0.15}
CHOICE_COUNTS: Final = {1: 0.15, 2: 0.15, 3: 0.20, 4: 0.20, 5: 0.30}
APPLICANT_MODEL: Final = (
    "Applicants come in parties of 1, 2, 3 and 4 people (35%, 35%, 15%, 15%; about 2.1 people"
    " a party). Each party ranks 1 to 5 sessions (15%, 15%, 20%, 20%, 30%), picked one after"
    " another in proportion to how wanted each remaining session is. Sessions run two a day"
    " from 2027-02-03; one on a Lunar New Year holiday (2027-02-06 to 02-12) is three times as"
    " wanted, a Saturday twice, the New Year's Saturday six times. Parties and choices are"
    " drawn afresh for every run."
)
INDIVIDUAL_MEANING: Final = (
    "The *individual lottery* is the usual alternative: every member of a party enters alone,"
    " asking for seats for the whole party; entries are drawn in a uniformly random order and"
    " each takes its first choice with room for the party. A party succeeds if any member"
    " wins; a second win is a duplicate whose seats are wasted, because by then the draw is"
    " published (so it has no waitlist promotion here). The two group lotteries draw each"
    " party once, whole (docs/draw.md, section 6); after the draw, free seats go to waitlisted"
    " parties in draw order, each its first choice with room for the whole party."
)
Z95: Final = 1.96  # two-sided 95% normal quantile
FIRST_DAY: Final = dt.date(2027, 2, 3)
HOLIDAY: Final = frozenset(dt.date(2027, 2, 6) + dt.timedelta(days=d) for d in range(7))


@dataclass(frozen=True, slots=True)
class Session:
    id: str
    capacity: int
    weight: float  # relative popularity


@dataclass(frozen=True, slots=True)
class Outcome:
    """One mechanism on one population: the session each party visits
    (``None``: none), and seats taken by duplicate wins."""

    visits: dict[str, str | None]
    wasted: int = 0


@dataclass(frozen=True, slots=True)
class MechanismResult:
    """Means over runs; ``ci`` holds the 95% half-width of each figure, by
    field name (and ``success_by_size``'s as ``"size N"``, the promoted ones
    as ``"promoted size N"``)."""

    mechanism: str
    fill_rate: float  # seats used by visitors / seats, after the draw
    fill_rate_promoted: float  # the same after waitlist promotion in draw order
    success_rate: float  # parties that visit / parties
    success_rate_promoted: float  # the same after promotion
    success_by_size: dict[int, float]
    success_by_size_promoted: dict[int, float]
    gap_draw: float  # success of parties of 1 minus parties of 4, in the draw
    gap: float  # the same after promotion
    mean_rank: float  # rank of the session obtained, 1 = first choice
    wasted_seats: float  # per draw, duplicate wins (the individual lottery only)
    ci: dict[str, float]
    per_run: dict[str, tuple[float, ...]]  # each figure, run by run

    @property
    def label(self) -> str:
        return LABELS[self.mechanism]

    def pm(self, key: str, value: float, scale: float = 100.0, digits: int = 2) -> str:
        """``value ± half-width``, in percent by default."""
        return f"{scale * value:.{digits}f} ± {scale * self.ci.get(key, 0.0):.{digits}f}"


@dataclass(frozen=True, slots=True)
class SimulationReport:
    applicants: int
    parties: float  # per run, on average
    sessions: int
    capacity: int
    runs: int
    seed: int
    results: tuple[MechanismResult, ...]

    def to_markdown(self) -> str:
        """The model, three tables (figures in % with 95% intervals) and a bar
        chart of success by party size after promotion."""
        sizes = sorted(PARTY_SIZES)
        lines = [
            f"{self.applicants:,} applicants in about {self.parties:,.0f} parties,"
            f" {self.sessions} sessions of {self.capacity} seats"
            f" ({self.sessions * self.capacity:,} seats), {self.runs} runs, seed {self.seed}."
            " Figures are means over the runs ± the half-width of a 95% confidence interval"
            " (1.96 standard errors of the per-run values).",
            "",
            f"**Applicants.** {APPLICANT_MODEL}",
            "",
            INDIVIDUAL_MEANING,
            "",
            "| mechanism | seats filled % | after promotion % | seats wasted | parties served %"
            " | served after promotion % | mean rank obtained |",
            "|---|---:|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.label} | {r.pm('fill_rate', r.fill_rate)} | {r.pm('fill_rate_promoted', r.fill_rate_promoted)}"
            f" | {r.pm('wasted_seats', r.wasted_seats, 1, 1)} | {r.pm('success_rate', r.success_rate)}"
            f" | {r.pm('success_rate_promoted', r.success_rate_promoted)} | {r.mean_rank:.2f} |"
            for r in self.results
        ]
        for title, promoted in (("in the draw", False), ("after waitlist promotion", True)):
            prefix = "promoted size" if promoted else "size"
            lines += [
                "",
                f"Success rate by party size, {title} (%):",
                "",
                "| mechanism | "
                + " | ".join(f"party of {s}" for s in sizes)
                + " | 1 minus 4 (points) |",
                "|---|" + "---:|" * (len(sizes) + 1),
            ]
            for r in self.results:
                rates = r.success_by_size_promoted if promoted else r.success_by_size
                cells = " | ".join(r.pm(f"{prefix} {s}", rates[s]) for s in sizes)
                last = r.pm("gap", r.gap) if promoted else r.pm("gap_draw", r.gap_draw)
                lines.append(f"| {r.label} | {cells} | {last} |")
        lines += ["", *self._paired(), "", "```", *self._chart(sizes), "```"]
        return "\n".join(lines) + "\n"

    def _paired(self) -> list[str]:
        """The two group lotteries told apart: the difference of their gaps,
        run by run (same applicants, same seed), with its interval."""
        by = {r.mechanism: r for r in self.results}
        plain, fair = by.get(draw.GROUP_RSD), by.get(draw.GROUP_RSD_FAIR)
        if plain is None or fair is None:
            return []
        out = []
        for key, when in (("gap_draw", "in the draw"), ("gap", "after waitlist promotion")):
            diffs = [a - b for a, b in zip(plain.per_run[key], fair.per_run[key], strict=True)]
            mean, half = _mean_ci(diffs)
            out.append(
                f"Gap between parties of 1 and 4, group lottery minus no leapfrogging, {when},"
                f" paired by run: {100 * mean:.2f} ± {100 * half:.2f} points."
            )
        return [" ".join(out)]

    def _chart(self, sizes: Sequence[int]) -> list[str]:
        top = max(max(r.success_by_size.values()) for r in self.results) or 1.0
        rows = []
        for r in self.results:
            rows.append(r.label)
            for s in sizes:
                rate = r.success_by_size_promoted[s]
                rows.append(f"  party of {s} {'█' * round(40 * rate / top):<40} {rate:.2%}")
        return rows


def make_program(sessions: int, capacity: int) -> list[Session]:
    """Two sessions a day from FIRST_DAY, weighted by holiday and Saturday."""
    program = []
    for k in range(sessions):
        day = FIRST_DAY + dt.timedelta(days=k // 2)
        weight = (3.0 if day in HOLIDAY else 1.0) * (2.0 if day.weekday() == 5 else 1.0)
        program.append(Session(f"{day.isoformat()}.{('am', 'pm')[k % 2]}", capacity, weight))
    return program


def make_population(
    applicants: int, program: Sequence[Session], rng: random.Random
) -> list[draw.Party]:
    """Parties until ``applicants`` people have applied (the last party is cut
    to fit), each ranking sessions by popularity without repeats."""
    sizes, size_weights = zip(*PARTY_SIZES.items(), strict=True)
    counts, count_weights = zip(*CHOICE_COUNTS.items(), strict=True)
    parties: list[draw.Party] = []
    people = 0
    while people < applicants:
        size = min(rng.choices(sizes, size_weights)[0], applicants - people)
        wanted = min(rng.choices(counts, count_weights)[0], len(program))
        pool = list(program)
        choices = []
        for _ in range(wanted):
            pick = rng.choices(range(len(pool)), [s.weight for s in pool])[0]
            choices.append(pool.pop(pick).id)
        parties.append(draw.Party(f"p{len(parties):06d}", size, tuple(choices)))
        people += size
    return parties


def individual_lottery(
    parties: Sequence[draw.Party], capacities: Mapping[str, int], seed: bytes
) -> Outcome:
    """Every member applies alone for the whole party's seats; see the module
    docstring. The order is `draw.shuffle`, so it is as uniform as the draw's."""
    by_ref = {p.ref: p for p in parties}
    entries = sorted(p.ref for p in parties for _ in range(p.size))
    left = dict(capacities)
    visits: dict[str, str | None] = dict.fromkeys(by_ref)
    wasted = 0
    for ref in draw.shuffle(entries, seed):
        party = by_ref[ref]
        session = next((s for s in party.choices if left[s] >= party.size), None)
        if session is None:
            continue
        left[session] -= party.size
        if visits[ref] is None:
            visits[ref] = session
        else:
            wasted += party.size
    return Outcome(visits, wasted)


def group_lottery(
    parties: Sequence[draw.Party], capacities: Mapping[str, int], seed: bytes, mechanism: str
) -> tuple[Outcome, list[str]]:
    """`draw.run_draw` itself; also returns the draw order for promotion."""
    result = draw.run_draw(
        parties=parties,
        seats=[draw.Seats(s, c) for s, c in capacities.items()],
        seed=seed,
        mechanism=mechanism,
    )
    return Outcome({ref: result.offers.get(ref) for ref in result.order}), result.order


def _promote(
    outcome: Outcome,
    order: Sequence[str],
    parties: Sequence[draw.Party],
    capacities: Mapping[str, int],
) -> Outcome:
    """The visits once the waitlist is offered what is left, in draw order,
    each party its first choice with room (no closing: the draw is over)."""
    by_ref = {p.ref: p for p in parties}
    left = dict(capacities)
    visits = dict(outcome.visits)
    for ref, session in visits.items():
        if session is not None:
            left[session] -= by_ref[ref].size
    for ref in order:
        party = by_ref[ref]
        if visits[ref] is None:
            session = next((s for s in party.choices if left[s] >= party.size), None)
            if session is not None:
                left[session] -= party.size
                visits[ref] = session
    return Outcome(visits, outcome.wasted)


def _mean_ci(values: Sequence[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% confidence interval."""
    if len(values) < 2:
        return fmean(values), 0.0
    return fmean(values), Z95 * stdev(values) / len(values) ** 0.5


@dataclass
class _Tally:
    """Per-run figures of one mechanism; `result` turns them into means and
    intervals."""

    runs: dict[str, list[float]]
    ranks: list[int]

    @classmethod
    def empty(cls) -> _Tally:
        return cls({}, [])

    def _add(self, key: str, value: float) -> None:
        self.runs.setdefault(key, []).append(value)

    def add(
        self, outcome: Outcome, promoted: Outcome, parties: Sequence[draw.Party], seats: int
    ) -> None:
        for name, visits in (("", outcome.visits), ("promoted ", promoted.visits)):
            tried = dict.fromkeys(PARTY_SIZES, 0)
            won = dict.fromkeys(PARTY_SIZES, 0)
            used = 0
            for party in parties:
                tried[party.size] = tried.get(party.size, 0) + 1
                if visits[party.ref] is not None:
                    won[party.size] = won.get(party.size, 0) + 1
                    used += party.size
            for size in sorted(tried):
                self._add(f"{name}size {size}", won[size] / tried[size] if tried[size] else 0.0)
            suffix = "_promoted" if name else ""
            self._add(f"fill_rate{suffix}", used / seats if seats else 0.0)
            self._add(f"success_rate{suffix}", sum(won.values()) / len(parties))
        self._add("gap_draw", self.runs["size 1"][-1] - self.runs["size 4"][-1])
        self._add("gap", self.runs["promoted size 1"][-1] - self.runs["promoted size 4"][-1])
        self._add("wasted_seats", outcome.wasted)
        self.ranks += [
            party.choices.index(session) + 1
            for party in parties
            if (session := outcome.visits[party.ref]) is not None
        ]

    def result(self, mechanism: str) -> MechanismResult:
        means, ci = {}, {}
        for key, values in self.runs.items():
            means[key], ci[key] = _mean_ci(values)
        sizes = sorted(int(key.split()[-1]) for key in self.runs if key.startswith("size "))
        return MechanismResult(
            mechanism=mechanism,
            fill_rate=means["fill_rate"],
            fill_rate_promoted=means["fill_rate_promoted"],
            success_rate=means["success_rate"],
            success_rate_promoted=means["success_rate_promoted"],
            success_by_size={s: means[f"size {s}"] for s in sizes},
            success_by_size_promoted={s: means[f"promoted size {s}"] for s in sizes},
            gap_draw=means["gap_draw"],
            gap=means["gap"],
            mean_rank=fmean(self.ranks) if self.ranks else 0.0,
            wasted_seats=means["wasted_seats"],
            ci=ci,
            per_run={key: tuple(values) for key, values in self.runs.items()},
        )


def compare(
    population: Sequence[Sequence[draw.Party]], capacities: Mapping[str, int], *, seed: int
) -> tuple[MechanismResult, ...]:
    """Every mechanism on every population (one per run), with the same
    random seed per run for all three, so differences are the mechanism's."""
    tallies = {m: _Tally.empty() for m in MECHANISMS}
    seats = sum(capacities.values())
    for run, parties in enumerate(population):
        run_seed = hashlib.sha256(f"headon-simulation:{seed}:{run}".encode()).digest()
        outcome = individual_lottery(parties, capacities, run_seed)
        tallies[INDIVIDUAL].add(outcome, outcome, parties, seats)  # duplicates are not re-offered
        for mechanism in (draw.GROUP_RSD, draw.GROUP_RSD_FAIR):
            outcome, order = group_lottery(parties, capacities, run_seed, mechanism)
            promoted = _promote(outcome, order, parties, capacities)
            tallies[mechanism].add(outcome, promoted, parties, seats)
    return tuple(tallies[m].result(m) for m in MECHANISMS)


def simulate(
    *,
    applicants: int = 30_000,
    sessions: int = 16,
    capacity: int = 60,
    runs: int = 200,
    seed: int = 1,
) -> SimulationReport:
    """The three mechanisms on ``runs`` populations of ``applicants`` people,
    the reference program by default (16 sessions of 60 seats). Deterministic
    for a given ``seed``."""
    if applicants < 1 or sessions < 1 or capacity < 0 or runs < 1:
        raise ValueError("Need at least one applicant, session and run, and capacity >= 0.")
    program = make_program(sessions, capacity)
    rng = random.Random(seed)  # noqa: S311 - a reproducible population, not a secret  # nosec B311
    population = [make_population(applicants, program, rng) for _ in range(runs)]
    results = compare(population, {s.id: s.capacity for s in program}, seed=seed)
    return SimulationReport(
        applicants=applicants,
        parties=fmean(len(p) for p in population),
        sessions=sessions,
        capacity=capacity,
        runs=runs,
        seed=seed,
        results=results,
    )
