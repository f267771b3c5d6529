"""Ranking the day's questions, and saying why each one ranks where it does.

No Django here: the desk passes in per-question figures for one day and the
weights (a setting), and gets back an order with the parts of each score
and the facts an explanation needs ("asked by 1,204 people on 3 channels,
5,310 likes, rising since 18:00"). Distinct people count most; engagement is
on a log scale so one viral comment cannot outrank a thousand askers.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Weights:
    people: float = 1.0
    engagement: float = 0.35
    velocity: float = 0.5
    recency: float = 0.2
    rumour: float = 0.5

    @classmethod
    def from_mapping(cls, values: dict[str, float]) -> Weights:
        """Weights from a settings mapping; unknown names are an error."""
        unknown = set(values) - set(cls.__dataclass_fields__)
        if unknown:
            raise ValueError(f"Unknown ranking weights: {', '.join(sorted(unknown))}")
        return cls(**{name: float(value) for name, value in values.items()})


@dataclass(frozen=True)
class QuestionDay:
    """One question's figures for one day. `hourly` counts its asks in each
    hour of the organiser's day so far (index 0 is 00:00-01:00)."""

    question_id: int
    people: int
    asks: int
    channels: int
    likes: int
    replies: int
    shares: int
    hourly: Sequence[int]
    is_rumour: bool = False


@dataclass(frozen=True)
class Ranked:
    question_id: int
    score: float
    parts: dict[str, float]
    rising_since: int | None  # the hour the rise began, if it is rising
    growth: float  # asks per hour since then over before (1.0: flat)
    figures: QuestionDay = field(repr=False)


def rising(
    hourly: Sequence[int], *, min_recent: int = 5, factor: float = 2.0
) -> tuple[int | None, float]:
    """(hour the rise began, growth) if the question is asked at least
    `factor` times as often, every hour since some hour, as it was on average
    before it.

    The rise starts at the earliest such hour: "rising since 18:00", not
    "since 23:00", when it has been climbing all evening. The baseline is at
    least one ask an hour, so a handful of asks is never a rise."""
    now = len(hourly)
    for start in range(1, now):
        recent = hourly[start:]
        if sum(recent) < min_recent:
            break  # later starts have even fewer asks
        baseline = max(sum(hourly[:start]) / start, 1.0)
        if min(recent) >= factor * baseline:
            return start, (sum(recent) / len(recent)) / baseline
    return None, 1.0


def _recency(hourly: Sequence[int]) -> float:
    """1.0 if asked in the last hour, falling off over six hours."""
    for age, count in enumerate(reversed(hourly)):
        if count:
            return math.exp(-age / 6)
    return 0.0


def score(day: QuestionDay, weights: Weights) -> Ranked:
    since, growth = rising(day.hourly)
    engagement = day.likes + 2 * day.replies + 3 * day.shares
    parts = {
        "people": weights.people * math.log1p(day.people) * 10,
        "engagement": weights.engagement * math.log1p(engagement) * 10,
        "velocity": weights.velocity * math.log2(max(growth, 1.0)) * 10,
        "recency": weights.recency * _recency(day.hourly) * 10,
        "rumour": weights.rumour * 10 if day.is_rumour else 0.0,
    }
    return Ranked(day.question_id, round(sum(parts.values()), 4), parts, since, growth, day)


def rank(days: Iterable[QuestionDay], weights: Weights | None = None) -> list[Ranked]:
    """Best first; ties go to more people, then to the older question."""
    chosen = weights or Weights()
    ranked = [score(day, chosen) for day in days]
    ranked.sort(key=lambda r: (-r.score, -r.figures.people, r.question_id))
    return ranked
