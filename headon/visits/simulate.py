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

The population, stated so the figures can be argued with: parties of 1, 2, 3
and 4 people in the shares 35/35/15/15% (about 2.1 people a party), each
ranking 1-5 sessions (15/15/20/20/30%), chosen one after another in
proportion to popularity among those not yet ranked. Sessions run two a day
from 2027-02-03, three days before the Lunar New Year (2027-02-06); a session
on a holiday day (2027-02-06 to 02-12) is three times as wanted, a Saturday
twice, so the New Year's Day Saturday six times.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import random
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from statistics import fmean
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
    mechanism: str
    fill_rate: float  # seats used by visitors / seats, after the draw
    fill_rate_promoted: float  # the same after waitlist promotion in draw order
    success_rate: float  # parties that visit / parties
    success_by_size: dict[int, float]
    mean_rank: float  # rank of the session obtained, 1 = first choice
    wasted_seats: float  # per draw, duplicate wins (the individual lottery only)

    @property
    def label(self) -> str:
        return LABELS[self.mechanism]


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
        """Two tables and a bar chart of success by party size."""
        sizes = sorted(PARTY_SIZES)
        lines = [
            f"{self.applicants:,} applicants in about {self.parties:,.0f} parties,"
            f" {self.sessions} sessions of {self.capacity} seats"
            f" ({self.sessions * self.capacity:,} seats), {self.runs} runs, seed {self.seed}.",
            "",
            "| mechanism | seats filled | after promotion | seats wasted | parties served"
            " | mean rank obtained |",
            "|---|---:|---:|---:|---:|---:|",
        ]
        lines += [
            f"| {r.label} | {r.fill_rate:.1%} | {r.fill_rate_promoted:.1%} | {r.wasted_seats:.1f}"
            f" | {r.success_rate:.2%} | {r.mean_rank:.2f} |"
            for r in self.results
        ]
        lines += [
            "",
            "Success rate by party size:",
            "",
            "| mechanism | " + " | ".join(f"party of {s}" for s in sizes) + " | 4 vs 1 |",
            "|---|" + "---:|" * (len(sizes) + 1),
        ]
        for r in self.results:
            ratio = r.success_by_size[4] / r.success_by_size[1] if r.success_by_size[1] else 0
            cells = " | ".join(f"{r.success_by_size[s]:.2%}" for s in sizes)
            lines.append(f"| {r.label} | {cells} | {ratio:.2f} |")
        lines += ["", "```", *self._chart(sizes), "```"]
        return "\n".join(lines) + "\n"

    def _chart(self, sizes: Sequence[int]) -> list[str]:
        top = max(max(r.success_by_size.values()) for r in self.results) or 1.0
        rows = []
        for r in self.results:
            rows.append(r.label)
            for s in sizes:
                rate = r.success_by_size[s]
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


def _promoted_seats(
    outcome: Outcome,
    order: Sequence[str],
    parties: Sequence[draw.Party],
    capacities: Mapping[str, int],
) -> int:
    """Seats used once the waitlist is offered what is left, in draw order,
    each party its first choice with room (no closing: the draw is over)."""
    by_ref = {p.ref: p for p in parties}
    left = dict(capacities)
    used = 0
    for ref, session in outcome.visits.items():
        if session is not None:
            left[session] -= by_ref[ref].size
            used += by_ref[ref].size
    for ref in order:
        party = by_ref[ref]
        if outcome.visits[ref] is None:
            session = next((s for s in party.choices if left[s] >= party.size), None)
            if session is not None:
                left[session] -= party.size
                used += party.size
    return used


@dataclass
class _Tally:
    fill: list[float]
    promoted: list[float]
    served: list[float]
    wasted: list[float]
    ranks: list[int]
    won: dict[int, int]
    tried: dict[int, int]

    @classmethod
    def empty(cls) -> _Tally:
        return cls([], [], [], [], [], dict.fromkeys(PARTY_SIZES, 0), dict.fromkeys(PARTY_SIZES, 0))

    def add(
        self, outcome: Outcome, parties: Sequence[draw.Party], seats: int, promoted: int
    ) -> None:
        used = 0
        for party in parties:
            session = outcome.visits[party.ref]
            self.tried[party.size] = self.tried.get(party.size, 0) + 1
            if session is not None:
                used += party.size
                self.won[party.size] = self.won.get(party.size, 0) + 1
                self.ranks.append(party.choices.index(session) + 1)
        self.fill.append(used / seats if seats else 0.0)
        self.promoted.append(promoted / seats if seats else 0.0)
        self.served.append(sum(v is not None for v in outcome.visits.values()) / len(parties))
        self.wasted.append(outcome.wasted)

    def result(self, mechanism: str) -> MechanismResult:
        return MechanismResult(
            mechanism=mechanism,
            fill_rate=fmean(self.fill),
            fill_rate_promoted=fmean(self.promoted),
            success_rate=fmean(self.served),
            success_by_size={
                s: self.won.get(s, 0) / n if (n := self.tried.get(s, 0)) else 0.0
                for s in sorted(PARTY_SIZES.keys() | self.tried.keys())
            },
            mean_rank=fmean(self.ranks) if self.ranks else 0.0,
            wasted_seats=fmean(self.wasted),
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
        used = sum(p.size for p in parties if outcome.visits[p.ref] is not None)
        tallies[INDIVIDUAL].add(outcome, parties, seats, used)  # duplicates are not re-offered
        for mechanism in (draw.GROUP_RSD, draw.GROUP_RSD_FAIR):
            outcome, order = group_lottery(parties, capacities, run_seed, mechanism)
            promoted = _promoted_seats(outcome, order, parties, capacities)
            tallies[mechanism].add(outcome, parties, seats, promoted)
    return tuple(tallies[m].result(m) for m in MECHANISMS)


def simulate(
    *,
    applicants: int = 30_000,
    sessions: int = 16,
    capacity: int = 60,
    runs: int = 20,
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
