"""The draw of a program, from commitment to offers and the waitlist.

1. `draw_commit` before applications close: the algorithm, the mechanism,
   the tiers flag and the seed's sources are fixed and published: always a
   drand quicknet round (the first at or after the seal, plus a committed
   number of rounds), and, for an organiser secret, its SHA-256 now.
2. `draw_close` after they close: everything the draw depends on (the
   pseudonymised list, each session's id, capacity and status, mechanism,
   tiers, commitment, the seal's time and the round it names) is hashed and
   the hash published. Nobody can know the round's value yet.
3. `draw_run`, once the round has appeared: its signature is checked against
   quicknet's public key, everything sealed is hashed again and must match,
   and the pure core (`headon.visits.draw`) orders and assigns; offers and
   the waitlist are written in the same transaction as the record, under a
   row lock on the draw, so a second run (concurrent, or after a kill) finds
   the first one's outcome and changes nothing.
"""

from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.db import transaction
from django.db.models import Prefetch
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import gettext as _

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.visits import beacon, later
from headon.visits import draw as core
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
    """Every session of the program with its capacity and status: a
    cancelled one is sealed too, with no seats in the draw."""
    return [
        core.Seats(session_id(s.pk), s.capacity, s.status)
        for s in program.sessions.order_by("starts_at")
    ]


def seal_of(draw: Draw) -> core.Seal:
    """What the draw sealed besides the list, from its row."""
    if draw.closed_at is None or draw.beacon_round is None:
        raise DrawStepError(_("Seal the application list first."))
    return core.Seal(
        mechanism=draw.mechanism,
        tiers=draw.tiers,
        commitment=draw.commitment or None,
        sealed_at=int(draw.closed_at.timestamp()),
        beacon_offset=draw.beacon_offset,
        beacon_round=draw.beacon_round,
    )


@transaction.atomic
def draw_commit(
    *,
    program: Program,
    source: str,
    actor: User | None,
    mechanism: str = Draw.Mechanism.FAIR,
    tiers: bool = False,
    beacon_offset: int = 100,
) -> Draw:
    """Fix how the draw will run, before applications close."""
    if Draw.objects.filter(program=program).exists():
        raise DrawStepError(_("This program's draw is committed already."))
    if program.applications_close_at and timezone.now() >= program.applications_close_at:
        raise DrawStepError(
            _("Commit before applications close, or the commitment proves nothing.")
        )
    if mechanism not in Draw.Mechanism.values:
        raise DrawStepError(_("Unknown mechanism."))
    if not 1 <= beacon_offset <= core.MAX_BEACON_OFFSET:
        raise DrawStepError(
            _("The beacon round is 1 to %(most)s rounds after the seal.")
            % {"most": core.MAX_BEACON_OFFSET}
        )
    draw = Draw(
        program=program,
        algorithm=core.ALGORITHM_VERSION,
        mechanism=mechanism,
        tiers=tiers,
        source=source,
        beacon_offset=beacon_offset,
        committed_by=actor,
    )
    if source == Draw.Source.SECRET:
        secret = core.new_secret()
        draw.commitment = core.commitment_for_secret(secret)
        draw.secret_sealed = seal(secret.hex())
    elif source != Draw.Source.BEACON:
        raise DrawStepError(_("Unknown seed source."))
    draw.save()
    audit_record(
        action="draw_commit",
        actor=actor,
        target=draw,
        data={"source": source, "beacon_offset": beacon_offset},
    )
    return draw


@transaction.atomic
def applications_close_now(*, program: Program, actor: User | None) -> Program:
    """End the application window early (the draw must be committed first,
    so the commitment still predates the close)."""
    if not Draw.objects.filter(program=program).exists():
        raise DrawStepError(_("Commit the draw before closing applications."))
    now = timezone.now()
    if program.applications_close_at is None or program.applications_close_at > now:
        program.applications_close_at = now
        program.save(update_fields=["applications_close_at"])
        audit_record(action="applications_close", actor=actor, target=program, data={})
    return program


@transaction.atomic
def draw_close(*, program: Program, actor: User | None, force: bool = False) -> Draw:
    """Seal everything the draw depends on: its hash is published, the
    beacon round is fixed (after the seal), and the draw will refuse to run
    on anything else."""
    draw = Draw.objects.select_for_update().get(program=program)
    if draw.stage != Draw.Stage.COMMITTED:
        return draw
    if (
        not force
        and program.applications_close_at
        and timezone.now() < program.applications_close_at
    ):
        raise DrawStepError(_("Applications are still open."))
    # Companions who never confirmed are out of their parties before the
    # list is hashed: the draw seats the people who agreed (decision 16).
    drop_unconfirmed(program=program)
    parties = parties_for(program, tiers=draw.tiers)
    if not parties:
        raise DrawStepError(_("There are no applications to draw."))
    # Whole seconds, so the time in the record is the time stored here.
    sealed_at = int(timezone.now().timestamp())
    draw.closed_at = dt.datetime.fromtimestamp(sealed_at, dt.UTC)
    draw.beacon_round = beacon.first_round_at_or_after(draw.closed_at) + draw.beacon_offset
    draw.sealed_hash = core.sealed_hash(parties, seats_for(program), seal_of(draw))
    draw.parties = len(parties)
    draw.stage = Draw.Stage.CLOSED
    draw.save()
    audit_record(
        action="draw_close",
        actor=actor,
        target=draw,
        data={"sealed_hash": draw.sealed_hash, "beacon_round": draw.beacon_round},
    )
    return draw


def _round(draw: Draw, beacon_value: str) -> beacon.Round:
    """The sealed round from what staff pasted, checked against quicknet's key.
    The round comes after the seal by construction (`draw_close`)."""
    number = draw.beacon_round or 0
    try:
        found = beacon.parse_round(beacon_value, expected=number)
        beacon.verify_round(found)
    except beacon.BeaconError:
        due = beacon.round_time(number)
        if timezone.now() < due:
            raise DrawStepError(
                _(
                    "Round %(round)s is due at %(time)s; it does not exist yet. Run the draw after it."
                )
                % {"round": number, "time": date_format(timezone.localtime(due), "DATETIME_FORMAT")}
            ) from None
        raise DrawStepError(
            _(
                "This is not the signature of drand quicknet round %(round)s. Paste the"
                " signature (96 hex digits), or the JSON, from %(url)s."
            )
            % {"round": number, "url": beacon.URL + str(number)}
        ) from None
    return found


def _sealed_changes(draw: Draw, program: Program) -> core.Seal:
    """The seal, if nothing sealed has changed since; otherwise the reason."""
    sealed = seal_of(draw)
    parties = parties_for(program, tiers=draw.tiers)
    try:
        same = core.sealed_hash(parties, seats_for(program), sealed) == draw.sealed_hash
    except core.DrawError:  # e.g. a round that no longer follows from the seal
        same = False
    if not same:
        raise DrawStepError(
            _(
                "What the draw depends on (applications, sessions, capacities, mechanism or"
                " tiers) changed after it was sealed; the draw will not run on it."
            )
        )
    return sealed


def offer_deadline(now: dt.datetime) -> dt.datetime:
    return now + dt.timedelta(hours=settings.HEADON_OFFER_HOURS)


@transaction.atomic
def draw_run(*, program: Program, actor: User | None, beacon_value: str = "") -> Draw:
    """Run the draw once. A second call returns the first outcome."""
    draw = Draw.objects.select_for_update().get(program=program)
    if draw.stage == Draw.Stage.DONE:
        return draw
    if draw.stage != Draw.Stage.CLOSED:
        raise DrawStepError(_("Seal the application list first."))
    sealed = _sealed_changes(draw, program)
    found = _round(draw, beacon_value)
    secret = bytes.fromhex(unseal(draw.secret_sealed)) if draw.commitment else None
    parties = parties_for(program, tiers=draw.tiers)
    try:
        result = core.run_draw(
            parties=parties,
            seats=seats_for(program),
            mechanism=draw.mechanism,
            tiers=draw.tiers,
            seal=sealed,
            signature=found.signature,
            secret=secret,
        )
    except core.DrawError as exc:  # checked above; kept so a slip cannot draw
        raise DrawStepError(str(exc)) from None
    seed = result.seed
    revealed = secret.hex() if secret is not None else ""
    now = timezone.now()
    applications = {
        a.reference: a
        for a in Application.objects.filter(
            program=program, reference__in=[p.ref for p in parties]
        ).only("id", "reference", "party_size")
    }
    # A party must be able to answer before its session starts: a draw run
    # late gives it until the start, as a waitlist offer does.
    deadline = offer_deadline(now)
    starts = dict(Session.objects.filter(program=program).values_list("pk", "starts_at"))
    Offer.objects.bulk_create(
        Offer(
            application=applications[ref],
            session_id=int(session[1:]),
            seats=applications[ref].party_size,
            deadline=min(deadline, starts[int(session[1:])]),
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
    draw.beacon_signature = found.signature
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
