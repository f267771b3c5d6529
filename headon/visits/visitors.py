"""Reads for the coordinator's list of applications and visitors, a party's
page and the per-session gate list. Selectors only: the one write (a reveal
of personal data, an export) is `services/visitors.py`, which logs it.

A party's status is derived, not stored: withdrawn, then its offer's status,
then its place on the waitlist, then "not selected" once the draw has run,
else "submitted". The filters below are the same rules as `Q` objects, so a
filtered page and a row's label always agree.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from django.core.paginator import Page, Paginator
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _

from headon.accounts.models import AuditEvent
from headon.timezones import organiser_tz
from headon.visits import identity
from headon.visits.models import (
    Application,
    Draw,
    Offer,
    PartyMember,
    PersonKey,
    Program,
    Session,
    Ticket,
    WaitlistEntry,
)
from headon.visits.questions import ADULT_AGE, ShownAnswer, shown_answers
from headon.visits.services.people import person_key

PAGE_SIZE = 50
# A search string longer than any name, reference or phone is nobody's.
QUERY_MAX = 100

STATUSES = {
    "submitted": _("Submitted"),
    "offered": _("Offered, not yet confirmed"),
    "confirmed": _("Confirmed"),
    "waitlisted": _("On the waitlist"),
    "not_selected": _("Not selected"),
    "declined": _("Declined"),
    "lapsed": _("Lapsed"),
    "cancelled": _("Session cancelled"),
    "withdrawn": _("Withdrawn"),
}


def _drawn(program: Program) -> bool:
    return Draw.objects.filter(program=program, stage=Draw.Stage.DONE).exists()


def status_filter(status: str, *, drawn: bool) -> Q:
    """The rows whose derived status is `status` (see the module's docstring)."""
    active = Q(status=Application.Status.SUBMITTED)
    has_offer = Q(offer__isnull=False)
    waiting = Q(waitlist__status=WaitlistEntry.Status.WAITING)
    if status == "withdrawn":
        return Q(status=Application.Status.WITHDRAWN)
    if status == "cancelled":
        return active & Q(offer__status=status) & ~waiting
    if status in {"offered", "confirmed", "declined", "lapsed"}:
        return active & Q(offer__status=status)
    # A party back on the waitlist after a cancellation keeps its cancelled offer.
    if status == "waitlisted":
        return active & (~has_offer | Q(offer__status=Offer.Status.CANCELLED)) & waiting
    if status == "not_selected":
        return active & ~has_offer & ~waiting if drawn else Q(pk__in=[])
    if status == "submitted":
        return active & ~has_offer & ~waiting if not drawn else Q(pk__in=[])
    return Q()


def status_of(application: Application, *, drawn: bool) -> str:
    if not application.is_active:
        return "withdrawn"
    offer = getattr(application, "offer", None)
    entry = getattr(application, "waitlist", None)
    waiting = entry is not None and entry.status == WaitlistEntry.Status.WAITING
    if offer is not None and not (waiting and offer.status == Offer.Status.CANCELLED):
        return str(offer.status)
    if waiting:
        return "waitlisted"
    return "not_selected" if drawn else "submitted"


def _search(query: str, program: Program) -> Q:
    """A reference, a phone number (matched by its keyed hash, as the
    one-person rule matches it, or as the verified contact) or part of a name."""
    text = query.strip()[:QUERY_MAX]
    if not text:
        return Q()
    found = Q(reference__iexact=text.replace(" ", "")) | Q(
        Exists(PartyMember.objects.filter(application=OuterRef("pk"), name__icontains=text))
    )
    try:
        phone = identity.normalise_phone(text)
    except identity.IdentityError:
        return found
    keyed = PersonKey.objects.filter(
        program=program, application=OuterRef("pk"), key=person_key("phone", phone)
    )
    return found | Q(contact=phone) | Q(Exists(keyed))


@dataclass(frozen=True)
class Filters:
    query: str = ""
    status: str = ""
    session_id: int | None = None

    @property
    def any(self) -> bool:
        return bool(self.query or self.status or self.session_id)


def parse_filters(params: dict[str, str], program: Program) -> Filters:
    """The list's filters from the query string; anything unknown is dropped."""
    status = params.get("status", "")
    raw_session = params.get("session", "")
    session_id = int(raw_session) if raw_session.isdigit() and len(raw_session) < 10 else None
    if session_id is not None and not program.sessions.filter(pk=session_id).exists():
        session_id = None
    return Filters(
        query=params.get("q", "").replace("\x00", "")[:QUERY_MAX],
        status=status if status in STATUSES else "",
        session_id=session_id,
    )


@dataclass(frozen=True)
class Row:
    application: Application
    status: str
    lead: PartyMember | None

    @property
    def status_label(self) -> str:
        return str(STATUSES[self.status])

    @property
    def waitlist_position(self) -> int | None:
        entry = getattr(self.application, "waitlist", None)
        return entry.position if entry is not None and self.status == "waitlisted" else None

    @property
    def session(self) -> Session | None:
        offer = getattr(self.application, "offer", None)
        return offer.session if offer is not None else None


def applications_for_staff(
    program: Program, filters: Filters, *, drawn: bool
) -> QuerySet[Application]:
    rows = Application.objects.filter(program=program)
    if filters.query:
        rows = rows.filter(_search(filters.query, program))
    if filters.status:
        rows = rows.filter(status_filter(filters.status, drawn=drawn))
    if filters.session_id:
        # After the draw, the session a party holds a place in; before, any
        # session it chose.
        rows = rows.filter(
            Q(offer__session_id=filters.session_id)
            if drawn
            else Q(choices__session_id=filters.session_id)
        ).distinct()
    if filters.status == "waitlisted":
        return rows.order_by("waitlist__position")
    return rows.order_by("created_at", "id")


def application_page(
    program: Program, filters: Filters, page: str | None
) -> tuple[Page[Application], list[Row]]:
    """One page of rows, in a fixed number of queries: the count, the page
    (with its offer, session and waitlist entry) and the leads."""
    drawn = _drawn(program)
    queryset = applications_for_staff(program, filters, drawn=drawn).select_related(
        "offer__session", "waitlist"
    )
    current = Paginator(queryset, PAGE_SIZE).get_page(page)
    applications = list(current.object_list)
    leads = {
        m.application_id: m
        for m in PartyMember.objects.filter(application__in=applications, position=0)
    }
    return current, [Row(a, status_of(a, drawn=drawn), leads.get(a.pk)) for a in applications]


@dataclass(frozen=True)
class HistoryLine:
    at: object
    action: str
    actor: str


ACTIONS = {
    "offer_confirm": _("Place confirmed"),
    "offer_decline": _("Place declined"),
    "offer_extend": _("Offer deadline extended"),
    "offer_notice_sent": _("Told of the offer"),
    "tickets_notice_sent": _("Tickets sent"),
    "cancelled_notice_sent": _("Told the session was cancelled"),
    "receipt_sent": _("Receipt sent"),
    "feedback_invited": _("Invited to give feedback"),
    "ticket_check_in_undo": _("Check-in undone"),
    "ticket_no_show": _("Marked as a no-show"),
    "ticket_check_in_lookup": _("Checked in by look-up"),
    "party_reveal": _("Personal data revealed"),
    "party_message_sent": _("Message sent"),
}


def party_history(application: Application) -> list[HistoryLine]:
    """What happened to a party, oldest first: the rows the audit log holds
    for it, its offer and its tickets, and the times the rows themselves keep."""
    targets = Q(target_type="visits.application", target_id=str(application.pk))
    offer = getattr(application, "offer", None)
    if offer is not None:
        targets |= Q(target_type="visits.offer", target_id=str(offer.pk))
    ticket_ids = [
        str(pk)
        for pk in Ticket.objects.filter(member__application=application).values_list(
            "pk", flat=True
        )
    ]
    if ticket_ids:
        targets |= Q(target_type="visits.ticket", target_id__in=ticket_ids)
    lines = [HistoryLine(application.created_at, str(_("Applied")), "")]
    if offer is not None:
        lines.append(HistoryLine(offer.offered_at, str(Offer.Source(offer.source).label), ""))
    for event in AuditEvent.objects.filter(targets).select_related("actor").order_by("at", "id"):
        label = ACTIONS.get(event.action)
        lines.append(
            HistoryLine(
                event.at,
                str(label) if label else event.action,
                event.actor.username if event.actor else "",
            )
        )
    for ticket in Ticket.objects.filter(
        member__application=application, checked_in_at__isnull=False
    ).select_related("member"):
        lines.append(
            HistoryLine(
                ticket.checked_in_at,
                str(_("%(name)s checked in") % {"name": ticket.member.name}),
                "",
            )
        )
    return sorted(lines, key=lambda line: line.at)  # type: ignore[arg-type,return-value]


@dataclass(frozen=True)
class GateLine:
    """One visitor on a session's gate list."""

    reference: str
    party_size: int
    position: int
    name: str
    phone: str
    id_number: str
    ticket_id: int
    checked_in_at: object
    no_show: bool
    # What the program asked (decision 26), the party's on each of its rows:
    # None when no date of birth was asked.
    minor: bool | None = None
    accessibility_needs: str = ""
    emergency: str = ""
    answers: tuple[str, ...] = ()


def answer_columns(program: Program) -> list[str]:
    """One column per question the program asks or asked (a removed one
    labelled so), in the reader's language."""
    chinese = (get_language() or "").startswith("zh")
    return [
        f"{q.label(chinese)} ({_('removed question')})" if q.removed else q.label(chinese)
        for q in program.question_list()
    ]


def answers_in_columns(program: Program, application: Application) -> tuple[str, ...]:
    """A party's answers under `answer_columns`, a choice by its label."""
    chinese = (get_language() or "").startswith("zh")
    by_key = {}
    for answer in application.answers if isinstance(application.answers, list) else []:
        if isinstance(answer, dict):
            by_key[str(answer.get("q", ""))] = answer
    cells = []
    for question in program.question_list():
        answer = by_key.get(question.key, {})
        if "c" in answer:
            choice = question.choice(str(answer["c"]))
            cells.append(choice.label(chinese) if choice else str(answer["c"]))
        else:
            cells.append(str(answer.get("a", "")))
    return tuple(cells)


def emergency_masked(application: Application) -> str:
    if not application.emergency_name:
        return ""
    return " · ".join(
        p for p in (application.emergency_name, application.emergency_phone_masked) if p
    )


def is_minor(member: PartyMember, day: dt.date) -> bool | None:
    age = member.age_on(day)
    return None if age is None else age < ADULT_AGE


def gate_list(session: Session) -> list[GateLine]:
    """The confirmed visitors of a session with valid tickets, by party then
    place in the party: what the gate and security print. Phones and ID
    numbers masked (security checks the last digits against the ID card),
    the emergency contact's phone too."""
    program = session.program
    day = timezone.localtime(session.starts_at, organiser_tz()).date()
    tickets = (
        Ticket.objects.filter(
            session=session, void_at__isnull=True, offer__status=Offer.Status.CONFIRMED
        )
        .select_related("member__application", "offer")
        .order_by("member__application__reference", "member__position")
    )
    return [
        GateLine(
            reference=t.member.application.reference,
            party_size=t.offer.seats,
            position=t.member.position + 1,
            name=t.member.name,
            phone=t.member.phone_masked,
            id_number=t.member.id_number_masked,
            ticket_id=t.pk,
            checked_in_at=t.checked_in_at,
            no_show=t.no_show_at is not None,
            minor=is_minor(t.member, day),
            accessibility_needs=t.member.application.accessibility_needs,
            emergency=emergency_masked(t.member.application),
            answers=answers_in_columns(program, t.member.application),
        )
        for t in tickets
    ]


@dataclass(frozen=True)
class Age:
    position: int
    age: int | None
    minor: bool | None


def party_ages(application: Application, members: list[PartyMember]) -> dict[int, Age]:
    """Each member's age on the day that counts: their place's session once
    they have one, else their earliest choice (as the rule was checked)."""
    offer = getattr(application, "offer", None)
    if offer is not None:
        starts = offer.session.starts_at
    else:
        first = application.choices.order_by("session__starts_at").select_related("session").first()
        if first is None:
            return {}
        starts = first.session.starts_at
    day = timezone.localtime(starts, organiser_tz()).date()
    return {m.position: Age(m.position, m.age_on(day), is_minor(m, day)) for m in members}


def party_answers(program: Program, application: Application) -> list[ShownAnswer]:
    return shown_answers(
        program.question_list(),
        application.answers,
        chinese=(get_language() or "").startswith("zh"),
        removed_label=str(_("removed question")),
    )
