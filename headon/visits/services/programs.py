"""Programs and their sessions: rules in, sessions out."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils.translation import gettext as _

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.timezones import organiser_tz
from headon.visits import later, schedule
from headon.visits.models import Draw, Program, ScheduleExclusion, ScheduleRule, Session
from headon.visits.services.offers import offers_cancel, seats_held
from headon.visits.services.rehoming import rehome


@dataclass(frozen=True)
class SessionPlan:
    """What applying the rules would do to the program's sessions."""

    slots: list[Any]  # schedule.Slot, in start order
    excluded: list[Any]  # schedule.ExcludedSlot: what the exclusions removed, and why
    to_create: list[Any]
    to_cancel: list[Session]  # generated earlier, gone from the rules, with choices
    to_delete: list[Session]  # generated earlier, gone from the rules, unused
    kept_manual: list[Session]  # edited by hand: the rules leave them alone
    unmatched: list[Any]  # schedule.Exclusion that removes no slot of the rules

    def matches(self, row: ScheduleExclusion) -> bool:
        """Whether a stored exclusion removes a slot the rules make."""
        return (row.date, row.start) not in {(e.date, e.start) for e in self.unmatched}


def program_rules(program: Program) -> tuple[list[Any], list[Any]]:
    rules = [schedule.rule_from_dict(row.spec) for row in program.rules.all()]
    exclusions = [
        schedule.Exclusion(date=row.date, start=row.start, reason=row.reason)
        for row in program.exclusions.all()
    ]
    return rules, exclusions


def session_plan(program: Program) -> SessionPlan:
    """Compare the sessions the rules generate with the ones stored."""
    rules, exclusions = program_rules(program)
    found = schedule.preview(rules, exclusions, organiser_tz())
    slots = list(found.slots)
    existing = {s.starts_at: s for s in program.sessions.all()}
    wanted = {slot.starts_at for slot in slots}
    to_create = [slot for slot in slots if slot.starts_at not in existing]
    gone = [s for start, s in existing.items() if start not in wanted and s.from_rule]
    used = set(
        Session.objects.filter(pk__in=[s.pk for s in gone], choices__isnull=False).values_list(
            "pk", flat=True
        )
    )
    return SessionPlan(
        slots=slots,
        excluded=list(found.excluded),
        to_create=to_create,
        to_cancel=[s for s in gone if s.pk in used and s.status != Session.Status.CANCELLED],
        to_delete=[s for s in gone if s.pk not in used],
        kept_manual=[s for s in existing.values() if not s.from_rule],
        unmatched=list(found.unused_exclusions),
    )


@transaction.atomic
def sessions_apply_rules(*, program: Program, actor: User | None = None) -> SessionPlan:
    """Create the sessions the rules generate; remove generated sessions the
    rules no longer produce (cancelled instead if someone chose them).
    Sessions edited by hand are never touched."""
    Program.objects.select_for_update().get(pk=program.pk)
    if _sealed_not_drawn(program.pk):
        raise schedule.ScheduleError(
            _(
                "The application list is sealed and not drawn yet: sessions cannot change until the draw has run."
            )
        )
    plan = session_plan(program)
    Session.objects.bulk_create(
        Session(
            program=program,
            starts_at=slot.starts_at,
            ends_at=slot.ends_at,
            capacity=slot.capacity,
            label_en=slot.label,
            label_zh=slot.label,
        )
        for slot in plan.to_create
    )
    Session.objects.filter(pk__in=[s.pk for s in plan.to_delete]).delete()
    Session.objects.filter(pk__in=[s.pk for s in plan.to_cancel]).update(
        status=Session.Status.CANCELLED
    )
    for session in plan.to_cancel:
        rehome(offers_cancel(session, actor=actor), actor=actor)
    audit_record(
        action="sessions_apply_rules",
        actor=actor,
        target=program,
        data={
            "created": len(plan.to_create),
            "deleted": len(plan.to_delete),
            "cancelled": len(plan.to_cancel),
        },
    )
    return plan


def rule_add(*, program: Program, spec: dict[str, Any], actor: User | None = None) -> ScheduleRule:
    """Store a rule after checking it (schedule.ScheduleError on bad input)."""
    rule = schedule.rule_from_dict(spec)
    position = program.rules.count()
    row = ScheduleRule.objects.create(
        program=program, spec=schedule.rule_to_dict(rule), position=position
    )
    audit_record(action="rule_add", actor=actor, target=program, data={"rule": row.spec})
    return row


def rule_remove(*, rule: ScheduleRule, actor: User | None = None) -> None:
    audit_record(action="rule_remove", actor=actor, target=rule.program, data={"rule": rule.spec})
    rule.delete()


class ExclusionError(Exception):
    """Why an exclusion is not added; the message is for the coordinator."""


def exclusion_add(
    *, program: Program, date: Any, start: Any = None, reason: str = "", actor: User | None = None
) -> ScheduleExclusion:
    """Exclude a date, or one session's start on it, from the rules."""
    if ScheduleExclusion.objects.filter(program=program, date=date, start=start).exists():
        raise ExclusionError(_("That date and time are excluded already."))
    row = ScheduleExclusion.objects.create(
        program=program, date=date, start=start, reason=reason[:120]
    )
    audit_record(
        action="exclusion_add",
        actor=actor,
        target=program,
        data={
            "date": date.isoformat(),
            "start": start.isoformat() if start else None,
            "reason": reason,
        },
    )
    return row


def exclusion_remove(*, exclusion: ScheduleExclusion, actor: User | None = None) -> None:
    """Take an exclusion back: the rules make its sessions again (once applied)."""
    audit_record(
        action="exclusion_remove",
        actor=actor,
        target=exclusion.program,
        data={
            "date": exclusion.date.isoformat(),
            "start": exclusion.start.isoformat() if exclusion.start else None,
            "reason": exclusion.reason,
        },
    )
    exclusion.delete()


def _sealed_not_drawn(program_id: int) -> bool:
    return Draw.objects.filter(program_id=program_id, stage=Draw.Stage.CLOSED).exists()


class SessionEditError(Exception):
    """Why a session cannot be changed so; the message is for the coordinator."""


@transaction.atomic
def session_edit(
    *,
    session: Session,
    capacity: int | None = None,
    cancel: bool = False,
    actor: User | None = None,
) -> Session:
    """Edit one session by hand; rules will not change it afterwards.
    Cancelling it cancels its offers and voids their tickets."""
    changes: dict[str, Any] = {}
    changing = (capacity is not None and capacity != session.capacity) or (
        cancel and session.status != Session.Status.CANCELLED
    )
    if changing and _sealed_not_drawn(session.program_id):
        # Capacities and statuses are what the draw will run on: between the
        # seal and the run they stay as sealed (a session went from 60 to
        # 2,000 seats after sealing, and the draw used it).
        raise SessionEditError(
            _(
                "The application list is sealed and not drawn yet: sessions cannot change until the draw has run."
            )
        )
    if capacity is not None and capacity != session.capacity:
        held = seats_held([session.pk]).get(session.pk, 0)
        if capacity < held and not cancel:
            # A report of 147% full is the visible end of a silent overbooking.
            raise SessionEditError(
                _(
                    "%(held)s seats of this session are offered or confirmed; "
                    "its capacity cannot go below that. Cancel the session, or "
                    "wait for parties to decline."
                )
                % {"held": held}
            )
        changes["capacity"] = [session.capacity, capacity]
        session.capacity = capacity
    if cancel and session.status != Session.Status.CANCELLED:
        changes["status"] = [session.status, Session.Status.CANCELLED]
        session.status = Session.Status.CANCELLED
    session.from_rule = False
    session.save()
    audit_record(action="session_edit", actor=actor, target=session, data=changes)
    if "status" in changes:
        # Each party is offered its next choice with seats, or waits again.
        rehome(offers_cancel(session, actor=actor), actor=actor)
    elif "capacity" in changes and changes["capacity"][1] > changes["capacity"][0]:
        # New seats go to the waitlist at once, in draw order (after commit).
        later.promote_program(session.program_id)
    return session


def program_publish(*, program: Program, actor: User | None = None) -> Program:
    program.status = Program.Status.PUBLISHED
    program.save(update_fields=["status"])
    audit_record(action="program_publish", actor=actor, target=program)
    return program
