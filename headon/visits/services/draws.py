"""The draw of a program, from commitment to offers and the waitlist.

1. `draw_commit` before applications close: the algorithm, the mechanism and
   the seed source are fixed and published (for an organiser secret, its
   SHA-256 now; for a beacon, which future value will be used).
2. `draw_close` after they close: the pseudonymised application list is
   hashed and the hash published.
3. `draw_run`: the seed from the revealed secret or beacon value and the
   list hash; the pure core (`headon.visits.draw`) orders and assigns; offers
   and the waitlist are written in the same transaction as the record, under
   a row lock on the draw, so a second run (concurrent, or after a kill) finds
   the first one's outcome and changes nothing.
"""

from __future__ import annotations

import datetime as dt
import re

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.visits import draw as core
from headon.visits import later
from headon.visits.models import (
    Application,
    ApplicationChoice,
    Draw,
    Offer,
    Program,
    Session,
    WaitlistEntry,
)
from headon.visits.services.companions import drop_unconfirmed
from headon.visits.services.people import seal, unseal

_HEX = re.compile(r"[0-9a-fA-F]+")


class DrawStepError(Exception):
    """A draw step that cannot be taken now, with a message for staff."""


def session_id(pk: int) -> str:
    return f"s{pk}"


def parties_for(program: Program, *, tiers: bool = False) -> list[core.Party]:
    """The application list as the draw sees it: reference, seats, choices
    (and the priority tier, when the draw uses tiers)."""
    choices = Prefetch("choices", queryset=ApplicationChoice.objects.order_by("rank"))
    return [
        core.Party(
            ref=application.reference,
            size=application.party_size,
            choices=tuple(session_id(c.session_id) for c in application.choices.all()),
            tier=application.priority_tier if tiers else 0,
        )
        for application in Application.objects.filter(
            program=program, status=Application.Status.SUBMITTED
        ).prefetch_related(choices)
        if application.choices.all()
    ]


def seats_for(program: Program) -> list[core.Seats]:
    return [
        core.Seats(session_id(s.pk), s.capacity)
        for s in program.sessions.filter(status=Session.Status.SCHEDULED).order_by("starts_at")
    ]


@transaction.atomic
def draw_commit(
    *,
    program: Program,
    source: str,
    actor: User | None,
    mechanism: str = Draw.Mechanism.FAIR,
    beacon: str = "",
    tiers: bool = False,
) -> Draw:
    """Fix how the draw will run, before applications close."""
    if Draw.objects.filter(program=program).exists():
        raise DrawStepError("This program's draw is committed already.")
    if program.applications_close_at and timezone.now() >= program.applications_close_at:
        raise DrawStepError("Commit before applications close, or the commitment proves nothing.")
    if mechanism not in Draw.Mechanism.values:
        raise DrawStepError("Unknown mechanism.")
    draw = Draw(
        program=program,
        algorithm=core.ALGORITHM_VERSION,
        mechanism=mechanism,
        tiers=tiers,
        source=source,
        committed_by=actor,
    )
    if source == Draw.Source.SECRET:
        secret = core.new_secret()
        draw.commitment = core.commitment_for_secret(secret)
        draw.secret_sealed = seal(secret.hex())
    elif source == Draw.Source.BEACON:
        beacon = beacon.strip()
        if not beacon or len(beacon) > 200:
            raise DrawStepError(
                "Name the beacon value the draw will use, e.g. a drand round after the close."
            )
        draw.beacon = beacon
    else:
        raise DrawStepError("Unknown seed source.")
    draw.save()
    audit_record(action="draw_commit", actor=actor, target=draw, data={"source": source})
    return draw


@transaction.atomic
def applications_close_now(*, program: Program, actor: User | None) -> Program:
    """End the application window early (the draw must be committed first,
    so the commitment still predates the close)."""
    if not Draw.objects.filter(program=program).exists():
        raise DrawStepError("Commit the draw before closing applications.")
    now = timezone.now()
    if program.applications_close_at is None or program.applications_close_at > now:
        program.applications_close_at = now
        program.save(update_fields=["applications_close_at"])
        audit_record(action="applications_close", actor=actor, target=program, data={})
    return program


@transaction.atomic
def draw_close(*, program: Program, actor: User | None, force: bool = False) -> Draw:
    """Seal the application list: its hash is published and the draw will
    refuse to run on any other list."""
    draw = Draw.objects.select_for_update().get(program=program)
    if draw.stage != Draw.Stage.COMMITTED:
        return draw
    if (
        not force
        and program.applications_close_at
        and timezone.now() < program.applications_close_at
    ):
        raise DrawStepError("Applications are still open.")
    # Companions who never confirmed are out of their parties before the
    # list is hashed: the draw seats the people who agreed (decision 0013).
    drop_unconfirmed(program=program)
    parties = parties_for(program, tiers=draw.tiers)
    if not parties:
        raise DrawStepError("There are no applications to draw.")
    draw.list_hash = core.list_hash(parties)
    draw.parties = len(parties)
    draw.closed_at = timezone.now()
    draw.stage = Draw.Stage.CLOSED
    draw.save()
    audit_record(action="draw_close", actor=actor, target=draw, data={"list_hash": draw.list_hash})
    return draw


def _source_bytes(draw: Draw, beacon_value: str) -> tuple[bytes, str]:
    if draw.source == Draw.Source.SECRET:
        revealed = unseal(draw.secret_sealed)
        return bytes.fromhex(revealed), revealed
    value = beacon_value.strip()
    if not value or len(value) > 200 or not _HEX.fullmatch(value) or len(value) % 2:
        raise DrawStepError("Enter the beacon value as it was published, in hex.")
    return bytes.fromhex(value), value.lower()


def offer_deadline(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(hours=settings.HEADON_OFFER_HOURS)


@transaction.atomic
def draw_run(*, program: Program, actor: User | None, beacon_value: str = "") -> Draw:
    """Run the draw once. A second call returns the first outcome."""
    draw = Draw.objects.select_for_update().get(program=program)
    if draw.stage == Draw.Stage.DONE:
        return draw
    if draw.stage != Draw.Stage.CLOSED:
        raise DrawStepError("Seal the application list first.")
    parties = parties_for(program, tiers=draw.tiers)
    if core.list_hash(parties) != draw.list_hash:
        raise DrawStepError(
            "The application list changed after it was sealed; the draw will not run on it."
        )
    source, revealed = _source_bytes(draw, beacon_value)
    seed = core.derive_seed(source=source, list_hash=draw.list_hash, algorithm=draw.algorithm)
    result = core.run_draw(
        parties=parties,
        seats=seats_for(program),
        seed=seed,
        mechanism=draw.mechanism,
        tiers=draw.tiers,
        commitment=draw.commitment or None,
    )
    now = timezone.now()
    applications = {
        a.reference: a
        for a in Application.objects.filter(
            program=program, reference__in=[p.ref for p in parties]
        ).only("id", "reference", "party_size")
    }
    deadline = offer_deadline(now)
    Offer.objects.bulk_create(
        Offer(
            application=applications[ref],
            session_id=int(session[1:]),
            seats=applications[ref].party_size,
            deadline=deadline,
            offered_at=now,
        )
        for ref, session in result.offers.items()
    )
    WaitlistEntry.objects.bulk_create(
        WaitlistEntry(application=applications[ref], program=program, position=position)
        for position, ref in enumerate(result.waitlist, start=1)
    )
    draw.seed = seed.hex()
    draw.revealed = revealed
    draw.record = result.record()
    draw.ran_at = now
    draw.ran_by = actor
    draw.stage = Draw.Stage.DONE
    draw.save()
    audit_record(
        action="draw_run",
        actor=actor,
        target=draw,
        data={"offers": len(result.offers), "waitlist": len(result.waitlist)},
    )
    later.notify_offers(program.pk)
    # Seats no drawn party could take whole go to the waitlist at once.
    later.promote_program(program.pk)
    return draw
