"""Programs and their sessions: rules in, sessions out."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from django.db import transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from headon.accounts.models import User
from headon.accounts.services import audit_record
from headon.timezones import organiser_tz
from headon.visits import later, schedule
from headon.visits.models import Draw, Program, ScheduleExclusion, ScheduleRule, Session
from headon.visits.services.moving import session_moved
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


def _sealed_message() -> str:
    return _(
        "The application list is sealed and not drawn yet: sessions cannot change until the draw has run."
    )


MOVE_HORIZON = dt.timedelta(days=3653)


class SessionEditError(Exception):
    """Why a session cannot be changed so; the message is for the coordinator,
    the code for the API."""

    def __init__(self, message: str, code: str = "session_edit_refused") -> None:
        super().__init__(message)
        self.code = code


def session_move_check(session: Session, starts_at: dt.datetime, ends_at: dt.datetime) -> None:
    """Raise SessionEditError if `session` cannot move so (also before the
    coordinator is shown who a move would reach)."""
    if _sealed_not_drawn(session.program_id):
        raise SessionEditError(_sealed_message(), code="list_sealed")
    if session.status == Session.Status.CANCELLED:
        raise SessionEditError(_("A cancelled session cannot be moved."), code="session_cancelled")
    if ends_at <= starts_at:
        raise SessionEditError(_("The session must end after it starts."), code="ends_before_start")
    if starts_at <= timezone.now():
        raise SessionEditError(_("A session cannot be moved into the past."), code="move_into_past")
    if ends_at - timezone.now() > MOVE_HORIZON:
        # A typo of a year (20270 for 2027), and past year 9999 the tickets'
        # validity window cannot be written.
        raise SessionEditError(
            _("A session cannot be moved more than ten years ahead."), code="move_too_far"
        )
    clash = Session.objects.filter(program_id=session.program_id, starts_at=starts_at)
    if clash.exclude(pk=session.pk).exists():
        raise SessionEditError(
            _("Another session of this program starts at that time."), code="start_taken"
        )


@transaction.atomic
def session_edit(
    *,
    session: Session,
    capacity: int | None = None,
    cancel: bool = False,
    starts_at: dt.datetime | None = None,
    ends_at: dt.datetime | None = None,
    actor: User | None = None,
) -> Session:
    """Edit one session by hand; rules will not change it afterwards.
    Cancelling it cancels its offers and voids their tickets; moving it
    re-issues its tickets and tells its parties (`services.moving`)."""
    changes: dict[str, Any] = {}
    old_starts, old_ends = session.starts_at, session.ends_at
    new_starts = starts_at if starts_at is not None else old_starts
    new_ends = ends_at if ends_at is not None else old_ends
    moving = (new_starts, new_ends) != (old_starts, old_ends) and not cancel
    changing = (
        (capacity is not None and capacity != session.capacity)
        or (cancel and session.status != Session.Status.CANCELLED)
        or moving
    )
    if changing and _sealed_not_drawn(session.program_id):
        # Capacities and statuses are what the draw will run on: between the
        # seal and the run they stay as sealed (a session went from 60 to
        # 2,000 seats after sealing, and the draw used it).
        raise SessionEditError(_sealed_message(), code="list_sealed")
    if moving:
        session_move_check(session, new_starts, new_ends)
        changes["starts_at"] = [old_starts.isoformat(), new_starts.isoformat()]
        changes["ends_at"] = [old_ends.isoformat(), new_ends.isoformat()]
        session.starts_at, session.ends_at = new_starts, new_ends
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
                % {"held": held},
                code="capacity_below_bookings",
            )
        changes["capacity"] = [session.capacity, capacity]
        session.capacity = capacity
    if cancel and session.status != Session.Status.CANCELLED:
        changes["status"] = [session.status, Session.Status.CANCELLED]
        session.status = Session.Status.CANCELLED
    session.from_rule = False
    session.save()
    audit_record(action="session_edit", actor=actor, target=session, data=changes)
    if "starts_at" in changes:
        session_moved(session, old_starts, old_ends, actor=actor)
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


class LifecycleError(Exception):
    """Why a program cannot change so; the message is for the coordinator."""


def _next_year(day: dt.date) -> dt.date:
    try:
        return day.replace(year=day.year + 1)
    except ValueError:  # 29 February
        return day.replace(year=day.year + 1, day=28)


def _rule_next_year(spec: dict[str, Any]) -> dict[str, Any]:
    """The same rule a year on: weekly and dated rules by the calendar (the
    weekly one keeps its weekdays), a lunar rule by the lunar year, so the
    Lunar New Year days land on next year's festival."""
    spec = dict(spec)
    if spec.get("kind") == "weekly":
        for key in ("first", "last"):
            spec[key] = _next_year(dt.date.fromisoformat(spec[key])).isoformat()
    elif spec.get("kind") == "dated":
        spec["dates"] = [_next_year(dt.date.fromisoformat(d)).isoformat() for d in spec["dates"]]
    elif spec.get("kind") == "lunar":
        spec["year"] = int(spec["year"]) + 1
    return spec


def _year_on(moment: dt.datetime | None) -> dt.datetime | None:
    if moment is None:
        return None
    local = moment.astimezone(organiser_tz())
    day = _next_year(local.date())
    return local.replace(year=day.year, month=day.month, day=day.day)


@transaction.atomic
def program_duplicate(*, program: Program, slug: str, actor: User | None = None) -> Program:
    """A draft copy of `program` for next year: its texts and limits, what
    it asks of applicants, its rules a year on, its window a year on; no sessions (apply the rules),
    no exclusions (holidays move: add next year's), no applications."""
    if Program.objects.filter(slug=slug).exists():
        raise LifecycleError(_("A program with this slug exists already."))
    copy = Program.objects.create(
        slug=slug,
        title_en=program.title_en,
        title_zh=program.title_zh,
        description_en=program.description_en,
        description_zh=program.description_zh,
        venue=program.venue,
        status=Program.Status.DRAFT,
        applications_open_at=_year_on(program.applications_open_at),
        applications_close_at=_year_on(program.applications_close_at),
        party_size_max=program.party_size_max,
        choices_max=program.choices_max,
        id_number_required=program.id_number_required,
        minimum_age=program.minimum_age,
        ask_accessibility=program.ask_accessibility,
        ask_emergency_contact=program.ask_emergency_contact,
        # The questions asked; a removed one has no answers to keep here.
        questions=[q for q in program.questions if not q.get("removed")],
        privacy_notice_en=program.privacy_notice_en,
        privacy_notice_zh=program.privacy_notice_zh,
    )
    ScheduleRule.objects.bulk_create(
        ScheduleRule(program=copy, position=rule.position, spec=_rule_next_year(rule.spec))
        for rule in program.rules.all()
    )
    audit_record(action="program_duplicate", actor=actor, target=copy, data={"from": program.slug})
    return copy


def program_set_status(*, program: Program, status: str, actor: User | None = None) -> Program:
    """Unpublish (back to draft), archive, or restore an archived program.

    Unpublishing is refused once anyone has applied: the public page and
    every private link would vanish under them. Archiving is refused while
    a session still to come holds places: its visitors must still be let in.
    """
    if status == Program.Status.DRAFT and program.status == Program.Status.PUBLISHED:
        if program.applications.exists():
            raise LifecycleError(
                _(
                    "People have applied: the program cannot be unpublished. Archive it after the visits."
                )
            )
    elif status == Program.Status.ARCHIVED:
        if Session.objects.filter(
            program=program,
            status=Session.Status.SCHEDULED,
            ends_at__gt=timezone.now(),
            offers__status__in=["offered", "confirmed"],
        ).exists():
            raise LifecycleError(
                _("Some sessions still to come have visitors: archive the program after them.")
            )
    elif not (status == Program.Status.DRAFT and program.status == Program.Status.ARCHIVED):
        raise LifecycleError(_("This change of status is not possible."))
    before = program.status
    program.status = status
    program.save(update_fields=["status"])
    audit_record(
        action="program_status", actor=actor, target=program, data={"from": before, "to": status}
    )
    return program


def program_warnings(program: Program, now: dt.datetime | None = None) -> list[str]:
    """What a coordinator should look at before publishing: sessions in the
    past, and sessions that start before applications close (nobody could
    be drawn for them in time)."""
    if Draw.objects.filter(program=program, stage=Draw.Stage.DONE).exists():
        return []  # the visits are under way; the past is expected
    now = now or timezone.now()
    scheduled = program.sessions.filter(status=Session.Status.SCHEDULED)
    warnings = []
    past = scheduled.filter(starts_at__lt=now).count()
    if past:
        warnings.append(
            ngettext("%(n)s session is in the past.", "%(n)s sessions are in the past.", past)
            % {"n": past}
        )
    if program.applications_close_at is not None:
        early = scheduled.filter(
            starts_at__gte=now, starts_at__lt=program.applications_close_at
        ).count()
        if early:
            warnings.append(
                ngettext(
                    "%(n)s session starts before applications close.",
                    "%(n)s sessions start before applications close.",
                    early,
                )
                % {"n": early}
            )
    return warnings
