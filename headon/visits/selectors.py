from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db.models import Count, Q, QuerySet, Sum
from django.shortcuts import get_object_or_404

from headon.visits.models import Application, ApplicationChoice, Draw, Offer, Program, Session


def published_programs() -> QuerySet[Program]:
    return Program.objects.filter(status=Program.Status.PUBLISHED).order_by("-created_at")


def programs_for_staff() -> QuerySet[Program]:
    return Program.objects.exclude(status=Program.Status.ARCHIVED).order_by("-created_at")


def public_program(slug: str) -> Program:
    return get_object_or_404(published_programs(), slug=slug)


def open_sessions(program: Program) -> QuerySet[Session]:
    return program.sessions.filter(status=Session.Status.SCHEDULED).order_by("starts_at")


@dataclass(frozen=True)
class SessionDemand:
    session: Session
    first_choice_people: int
    all_choice_people: int
    first_choice_parties: int

    @property
    def oversubscription(self) -> float:
        """People who put this session first, per seat."""
        return self.first_choice_people / self.session.capacity if self.session.capacity else 0.0


@dataclass(frozen=True)
class ProgramDemand:
    applications: int
    people: int
    withdrawn: int
    seats: int
    sessions: list[SessionDemand]

    @property
    def oversubscription(self) -> float:
        return self.people / self.seats if self.seats else 0.0


def program_demand(program: Program) -> ProgramDemand:
    """Live totals for staff. Three queries, whatever the number of sessions."""
    active = Q(application__status=Application.Status.SUBMITTED)
    per_session: dict[int, Any] = {
        row["session"]: row
        for row in ApplicationChoice.objects.filter(active, application__program=program)
        .values("session")
        .annotate(
            first_people=Sum("application__party_size", filter=Q(rank=1)),
            all_people=Sum("application__party_size"),
            first_parties=Count("id", filter=Q(rank=1)),
        )
    }
    totals = Application.objects.filter(program=program).aggregate(
        applications=Count("id", filter=Q(status=Application.Status.SUBMITTED)),
        people=Sum("party_size", filter=Q(status=Application.Status.SUBMITTED)),
        withdrawn=Count("id", filter=Q(status=Application.Status.WITHDRAWN)),
    )
    sessions = list(open_sessions(program))
    return ProgramDemand(
        applications=totals["applications"] or 0,
        people=totals["people"] or 0,
        withdrawn=totals["withdrawn"] or 0,
        seats=sum(s.capacity for s in sessions),
        sessions=[
            SessionDemand(
                session=s,
                first_choice_people=per_session.get(s.pk, {}).get("first_people") or 0,
                all_choice_people=per_session.get(s.pk, {}).get("all_people") or 0,
                first_choice_parties=per_session.get(s.pk, {}).get("first_parties") or 0,
            )
            for s in sessions
        ],
    )


def session_holders(session: Session) -> dict[str, int]:
    """The parties holding places in `session` (offered or confirmed), and
    their seats: who a cancellation would reach."""
    row = Offer.objects.filter(
        session=session, status__in=[Offer.Status.OFFERED, Offer.Status.CONFIRMED]
    ).aggregate(parties=Count("pk"), seats=Sum("seats"))
    return {"parties": row["parties"] or 0, "seats": row["seats"] or 0}


def applied_under_key(program: Program, idempotency_key: str) -> bool:
    """Whether an application was made with this idempotency key."""
    return Application.objects.filter(program=program, idempotency_key=idempotency_key).exists()


@dataclass(frozen=True)
class PendingOffers:
    count: int
    seats: int
    soonest: list[Offer]  # the first few by deadline


def pending_offers(program: Program, *, shown: int = 20) -> PendingOffers:
    """Offers waiting for the party's confirmation, soonest deadline first:
    two queries (the totals, the first `shown`)."""
    waiting = Offer.objects.filter(session__program=program, status=Offer.Status.OFFERED)
    totals = waiting.aggregate(n=Count("pk"), seats=Sum("seats"))
    return PendingOffers(
        count=totals["n"] or 0,
        seats=totals["seats"] or 0,
        soonest=list(
            waiting.select_related("application", "session").order_by("deadline", "pk")[:shown]
        ),
    )


def draw_events(since: dt.datetime, until: dt.datetime) -> list[dict[str, Any]]:
    """The draw commitments made and the application lists sealed in the
    window (since, until], as plain data for the desk's nightly digest
    (docs/draw.md, "A time nobody controls"): only programs whose draw page
    is public (not drafts), oldest first. Read-only; the digest freezes what
    this returns in its snapshot."""
    public = (
        Draw.objects.exclude(program__status=Program.Status.DRAFT)
        .select_related("program")
        .only(
            "commitment",
            "beacon_offset",
            "beacon_round",
            "committed_at",
            "sealed_hash",
            "closed_at",
            "program__slug",
            "program__title_en",
            "program__title_zh",
        )
    )
    events: list[dict[str, Any]] = []
    for draw in public.filter(
        Q(committed_at__gt=since, committed_at__lte=until)
        | Q(closed_at__gt=since, closed_at__lte=until)
    ):
        common = {
            "program": {"en": draw.program.title_en, "zh": draw.program.title_zh},
            "slug": draw.program.slug,
            "beacon_offset": draw.beacon_offset,
        }
        if since < draw.committed_at <= until:
            events.append(
                common
                | {
                    "kind": "committed",
                    "at": draw.committed_at,
                    "hash": draw.commitment or None,
                    "beacon_round": None,
                }
            )
        if draw.closed_at and draw.sealed_hash and since < draw.closed_at <= until:
            events.append(
                common
                | {
                    "kind": "sealed",
                    "at": draw.closed_at,
                    "hash": draw.sealed_hash,
                    "beacon_round": draw.beacon_round,
                }
            )
    events.sort(key=lambda e: (e["at"], e["kind"] == "sealed", e["slug"]))
    return events
