from __future__ import annotations

import datetime as dt

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format
from django.utils.translation import get_language, override
from django.utils.translation import gettext_lazy as _

from headon.timezones import organiser_tz
from headon.visits import questions as question_rules


def _in_chinese() -> bool:
    return (get_language() or "").startswith("zh")


class Program(models.Model):
    """A set of visit sessions that the public applies for."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        PUBLISHED = "published", _("Published")
        ARCHIVED = "archived", _("Archived")

    slug = models.SlugField(_("slug"), max_length=60, unique=True)
    title_en = models.CharField(_("title (English)"), max_length=200)
    title_zh = models.CharField(_("title (Chinese)"), max_length=200)
    description_en = models.TextField(_("description (English)"), blank=True)
    description_zh = models.TextField(_("description (Chinese)"), blank=True)
    venue = models.CharField(_("venue"), max_length=200, blank=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.DRAFT
    )
    applications_open_at = models.DateTimeField(_("applications open"), null=True, blank=True)
    applications_close_at = models.DateTimeField(_("applications close"), null=True, blank=True)
    party_size_max = models.PositiveSmallIntegerField(
        _("largest party"), default=4, help_text=_("The lead applicant and their companions.")
    )
    choices_max = models.PositiveSmallIntegerField(_("ranked choices allowed"), default=3)
    # Every person (lead and companions) gives an ID number as well as a
    # phone; the phone, verified, is what identifies them either way.
    id_number_required = models.BooleanField(_("ask every person for an ID number"), default=False)
    # What the form asks beyond names and phones (decision 26): each
    # question appears only on the programs that ask it.
    ask_accessibility = models.BooleanField(_("ask about accessibility needs"), default=False)
    minimum_age = models.PositiveSmallIntegerField(
        _("minimum age"),
        null=True,
        blank=True,
        help_text=_(
            "When set, every person gives a date of birth; anyone under 18 comes with an adult, "
            "and the lead is an adult."
        ),
    )
    ask_emergency_contact = models.BooleanField(_("ask for an emergency contact"), default=False)
    # The program's own questions (headon.visits.questions, checked by
    # `questions.parse`): a removed one stays, marked, for its answers.
    questions = models.JSONField(_("questions"), default=list, blank=True)
    privacy_notice_en = models.TextField(_("privacy notice (English)"), blank=True)
    privacy_notice_zh = models.TextField(_("privacy notice (Chinese)"), blank=True)
    # When the retention job erased the applicants' personal data
    # (HEADON_RETENTION_DAYS after the last session); figures stay.
    personal_data_erased_at = models.DateTimeField(null=True, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("program")
        verbose_name_plural = _("programs")
        ordering = ["-created_at"]
        # The visit program's rights, held by the role groups (accounts.roles).
        permissions = [
            ("view_visits", _("Can open the visit program")),
            ("coordinate_visits", _("Can run programs, draws and reports")),
            ("check_in_visitors", _("Can check visitors in at the gate")),
            ("reveal_personal_data", _("Can reveal applicants' phone and ID numbers")),
        ]
        constraints = [
            models.CheckConstraint(
                condition=Q(party_size_max__gte=1) & Q(party_size_max__lte=20),
                name="program_party_size_in_range",
            ),
            models.CheckConstraint(
                condition=Q(choices_max__gte=1) & Q(choices_max__lte=10),
                name="program_choices_in_range",
            ),
            models.CheckConstraint(
                condition=Q(minimum_age__isnull=True)
                | (Q(minimum_age__gte=1) & Q(minimum_age__lte=99)),
                name="program_minimum_age_in_range",
            ),
            models.CheckConstraint(
                condition=Q(applications_open_at__isnull=True)
                | Q(applications_close_at__isnull=True)
                | Q(applications_close_at__gt=models.F("applications_open_at")),
                name="program_window_closes_after_it_opens",
            ),
        ]

    def __str__(self) -> str:
        return self.title_en

    @property
    def title(self) -> str:
        """The title in the active language."""
        return self.title_zh if _in_chinese() else self.title_en

    @property
    def description(self) -> str:
        if _in_chinese():
            return self.description_zh or self.description_en
        return self.description_en or self.description_zh

    @property
    def privacy_notice(self) -> str:
        if _in_chinese():
            return self.privacy_notice_zh or self.privacy_notice_en
        return self.privacy_notice_en or self.privacy_notice_zh

    def clean(self) -> None:
        # The admin and any ModelForm: a malformed list would break every
        # page that reads the questions.
        try:
            question_rules.parse(self.questions)
        except ValueError as exc:
            raise ValidationError({"questions": str(exc)}) from exc

    @property
    def asks_birth_dates(self) -> bool:
        return self.minimum_age is not None

    def question_list(self) -> list[question_rules.Question]:
        return question_rules.parse(self.questions)

    def asked_questions(self) -> list[question_rules.Question]:
        return [q for q in self.question_list() if not q.removed]

    def window_state(self, now: dt.datetime | None = None) -> str:
        """ "unset", "not_open", "open" or "closed" at `now`."""
        now = now or timezone.now()
        if self.applications_open_at is None or self.applications_close_at is None:
            return "unset"
        if now < self.applications_open_at:
            return "not_open"
        if now >= self.applications_close_at:
            return "closed"
        return "open"

    def is_accepting(self, now: dt.datetime | None = None) -> bool:
        return self.status == self.Status.PUBLISHED and self.window_state(now) == "open"


class ScheduleRule(models.Model):
    """One rule that generates sessions: weekly, dated or lunar. `spec` is
    the JSON form of a rule in `headon.visits.schedule`."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="rules")
    position = models.PositiveSmallIntegerField(_("position"), default=0)
    spec = models.JSONField(_("rule"))
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("schedule rule")
        verbose_name_plural = _("schedule rules")
        ordering = ["position", "id"]

    def __str__(self) -> str:
        return f"{self.program_id}:{self.spec.get('kind', '?')}"


class ScheduleExclusion(models.Model):
    """A day (or one slot of a day) on which no session is held."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="exclusions")
    date = models.DateField(_("date"))
    start = models.TimeField(_("only the slot starting at"), null=True, blank=True)
    reason = models.CharField(_("reason"), max_length=120, blank=True)

    class Meta:
        verbose_name = _("exclusion")
        verbose_name_plural = _("exclusions")
        ordering = ["date", "start"]

    def __str__(self) -> str:
        return f"{self.date} {self.reason}"


def session_when(starts_at: dt.datetime, ends_at: dt.datetime) -> str:
    """Weekday, date, start and end in the organiser's zone and the active
    language (also a session's old time, in the notice that it moved)."""
    start = timezone.localtime(starts_at, organiser_tz())
    end = timezone.localtime(ends_at, organiser_tz())
    day = f"{date_format(start, 'D')} {date_format(start, 'DATE_FORMAT')}"
    return f"{day} {start:%H:%M}–{end:%H:%M}"


class Session(models.Model):
    """One visit at one time, with a number of seats."""

    class Status(models.TextChoices):
        SCHEDULED = "scheduled", _("Scheduled")
        CANCELLED = "cancelled", _("Cancelled")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="sessions")
    starts_at = models.DateTimeField(_("starts at"))
    ends_at = models.DateTimeField(_("ends at"))
    capacity = models.PositiveIntegerField(_("seats"))
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SCHEDULED
    )
    label_en = models.CharField(_("label (English)"), max_length=120, blank=True)
    label_zh = models.CharField(_("label (Chinese)"), max_length=120, blank=True)
    from_rule = models.BooleanField(_("generated from rules"), default=True)

    class Meta:
        verbose_name = _("session")
        verbose_name_plural = _("sessions")
        ordering = ["starts_at"]
        constraints = [
            models.UniqueConstraint(fields=["program", "starts_at"], name="session_one_per_start"),
            models.CheckConstraint(
                condition=Q(ends_at__gt=models.F("starts_at")), name="session_ends_after_start"
            ),
            models.CheckConstraint(condition=Q(capacity__gte=1), name="session_has_seats"),
        ]

    def __str__(self) -> str:
        return f"{self.program_id} {self.starts_at:%Y-%m-%d %H:%M}"

    @property
    def label(self) -> str:
        return (
            (self.label_zh or self.label_en) if _in_chinese() else (self.label_en or self.label_zh)
        )

    @property
    def when(self) -> str:
        """Weekday, date, start and end in the organiser's zone and the
        reader's language: several sessions share a label, never a start."""
        return session_when(self.starts_at, self.ends_at)

    @property
    def full_label(self) -> str:
        """When it is, then its label if it has one."""
        return f"{self.when} · {self.label}" if self.label else self.when

    @property
    def labels(self) -> str:
        """Its label in both languages, the reader's first ("Lunar New Year
        / 春节"); one when the other is empty or the same."""
        first, second = (
            (self.label_zh, self.label_en) if _in_chinese() else (self.label_en, self.label_zh)
        )
        return " / ".join(dict.fromkeys(t.strip() for t in (first, second) if t.strip()))

    @property
    def both_label(self) -> str:
        """When it is, then its label in both languages: for a place that
        shows one plain text (an <option>). The weekday, date and times are
        said once, in the reader's language: they carry the same digits in
        either, and a second copy doubles an option a phone cuts short."""
        return f"{self.when} · {self.labels}" if self.labels else self.when

    def full_label_in(self, language: str) -> str:
        """`full_label` as a reader of `language` ("en", "zh-hans") reads it:
        an export's English and Chinese columns."""
        with override(language):
            return self.full_label

    @property
    def is_open(self) -> bool:
        return self.status == self.Status.SCHEDULED


class Application(models.Model):
    """One party's request: a lead applicant, named companions and ranked
    session choices. Never deleted by the applicant: withdrawing keeps the
    row and frees the people in it."""

    class Status(models.TextChoices):
        SUBMITTED = "submitted", _("Submitted")
        WITHDRAWN = "withdrawn", _("Withdrawn")

    class ContactKind(models.TextChoices):
        PHONE = "phone", _("Phone")
        EMAIL = "email", _("E-mail")

    program = models.ForeignKey(Program, on_delete=models.PROTECT, related_name="applications")
    reference = models.CharField(_("reference"), max_length=12, unique=True)
    status = models.CharField(
        _("status"), max_length=20, choices=Status.choices, default=Status.SUBMITTED
    )
    contact_kind = models.CharField(
        _("verified contact"), max_length=10, choices=ContactKind.choices
    )
    # The verified phone (E.164) or e-mail address the receipt and offers go to.
    contact = models.CharField(_("contact"), max_length=254)
    language = models.CharField(_("language"), max_length=10, default="en")
    party_size = models.PositiveSmallIntegerField(_("party size"))
    # Drawn first when the draw runs with priority tiers (lower first; e.g.
    # 0 for owners, 1 for everyone else). Set by a coordinator; ignored
    # unless the draw was committed with tiers.
    priority_tier = models.PositiveSmallIntegerField(_("priority tier"), default=0)
    # The private link's token is derived from the reference and this
    # version (see services.applications.access_token); bumping the version
    # revokes every link sent so far.
    access_version = models.PositiveSmallIntegerField(default=1)
    # A retried submission carries the same key and finds this row instead of
    # making a second one (unique per program, see constraints).
    idempotency_key = models.CharField(max_length=80, blank=True, default="")
    request_fingerprint = models.CharField(max_length=64, blank=True)
    consented_at = models.DateTimeField(_("privacy notice accepted"))
    # Asked only when the program asks (decision 26); the phone kept sealed
    # and masked like the party's.
    accessibility_needs = models.TextField(_("accessibility needs"), max_length=500, blank=True)
    emergency_name = models.CharField(_("emergency contact"), max_length=100, blank=True)
    emergency_phone_masked = models.CharField(max_length=32, blank=True)
    emergency_phone_sealed = models.TextField(blank=True)
    # [{"q": question key, "a": text} or {"q": key, "c": choice key}]
    answers = models.JSONField(_("answers"), default=list, blank=True)
    created_at = models.DateTimeField(_("submitted at"), auto_now_add=True, db_index=True)
    updated_at = models.DateTimeField(_("changed at"), auto_now=True)

    class Meta:
        verbose_name = _("application")
        verbose_name_plural = _("applications")
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["program", "idempotency_key"],
                condition=~Q(idempotency_key=""),
                name="application_idempotency_key_once_per_program",
            ),
            models.CheckConstraint(
                condition=Q(party_size__gte=1), name="application_party_not_empty"
            ),
        ]

    def __str__(self) -> str:
        return self.reference

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.SUBMITTED


class ApplicationChoice(models.Model):
    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="choices")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="choices")
    rank = models.PositiveSmallIntegerField(_("rank"))

    class Meta:
        ordering = ["application", "rank"]
        constraints = [
            models.UniqueConstraint(fields=["application", "rank"], name="choice_rank_once"),
            models.UniqueConstraint(fields=["application", "session"], name="choice_session_once"),
            models.CheckConstraint(condition=Q(rank__gte=1), name="choice_rank_from_one"),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}#{self.rank}"


class PartyMember(models.Model):
    """A person in an application: the lead (position 0) or a companion.
    Phone numbers and ID numbers are kept only masked and sealed here; the
    matching happens on `PersonKey`.

    A companion is WAITING until they confirm through their own phone
    (services.companions): until then their person keys are inactive, so
    naming someone claims nobody. One who declines, leaves or misses the
    deadline is deleted from the party, which is then one smaller."""

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed")
        WAITING = "waiting", _("Waiting for them to confirm")

    application = models.ForeignKey(Application, on_delete=models.CASCADE, related_name="members")
    position = models.PositiveSmallIntegerField(_("position"))
    name = models.CharField(_("name"), max_length=100)
    phone_masked = models.CharField(max_length=32, blank=True)
    phone_sealed = models.TextField(blank=True)
    id_number_masked = models.CharField(max_length=18, blank=True)
    id_number_sealed = models.TextField(blank=True)
    # Asked when the program has a minimum age (decision 26).
    birth_date = models.DateField(_("date of birth"), null=True, blank=True)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.CONFIRMED)
    invited_at = models.DateTimeField(null=True, blank=True)
    invites_sent = models.PositiveSmallIntegerField(default=0)
    confirmed_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["application", "position"]
        constraints = [
            models.UniqueConstraint(
                fields=["application", "position"], name="member_position_once"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.application_id}/{self.position}"

    @property
    def is_lead(self) -> bool:
        return self.position == 0

    @property
    def is_waiting(self) -> bool:
        return self.status == self.Status.WAITING

    def age_on(self, day: dt.date) -> int | None:
        return question_rules.age_on(self.birth_date, day) if self.birth_date else None


class PersonKey(models.Model):
    """A keyed hash of one person's phone in one application (rows written
    before issue 17 may hold an ID number's). Active once the person
    verified that phone: the lead at once, a companion when they confirm.
    The partial unique index is the rule "one person, one
    application per program": it holds under any concurrency, on SQLite and
    PostgreSQL alike, and a withdrawn application releases its people."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    application = models.ForeignKey(
        Application, on_delete=models.CASCADE, related_name="person_keys"
    )
    member = models.ForeignKey(PartyMember, on_delete=models.CASCADE, related_name="keys")
    key = models.CharField(max_length=64)
    active = models.BooleanField(default=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["program", "key"],
                condition=Q(active=True),
                name="person_in_one_active_application_per_program",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.program_id}:{self.key[:8]}"


class VerificationCode(models.Model):
    """A one-time code sent to a phone or e-mail address to prove the
    applicant holds it. Only hashes are stored."""

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="+")
    channel = models.CharField(max_length=10, choices=Application.ContactKind.choices)
    destination_hash = models.CharField(max_length=64, db_index=True)
    code_hash = models.CharField(max_length=64)
    created_at = models.DateTimeField(auto_now_add=True)
    expires_at = models.DateTimeField()
    attempts = models.PositiveSmallIntegerField(default=0)
    verified_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return f"{self.channel}:{self.destination_hash[:8]}"

    def is_usable(self, now: dt.datetime) -> bool:
        return self.verified_at is None and now < self.expires_at and self.attempts < 5


class Draw(models.Model):
    """The program's lottery: committed to before applications close, sealed
    (everything it depends on hashed) after they close, then run once from a
    drand quicknet round that appears after the seal, combined with the
    organiser secret when one was committed. Its record is public;
    `verify_draw.py` re-runs it."""

    class Source(models.TextChoices):
        # Both include the beacon round: a secret alone could be known before
        # the seal, by the organiser, who could then shape the list.
        SECRET = "secret", _("A public beacon round after the seal, with an organiser secret")
        BEACON = "beacon", _("A public beacon round after the seal")

    class Mechanism(models.TextChoices):
        FAIR = "group_rsd_fair", _("Group lottery with the fairness correction")
        PLAIN = "group_rsd", _("Plain group lottery")

    class Stage(models.TextChoices):
        COMMITTED = "committed", _("Committed")
        CLOSED = "closed", _("Application list sealed")
        DONE = "done", _("Drawn")

    program = models.OneToOneField(Program, on_delete=models.PROTECT, related_name="draw")
    algorithm = models.CharField(max_length=40)
    mechanism = models.CharField(
        _("mechanism"), max_length=20, choices=Mechanism.choices, default=Mechanism.FAIR
    )
    tiers = models.BooleanField(_("priority tiers"), default=False)
    source = models.CharField(_("seed source"), max_length=10, choices=Source.choices)
    # SECRET: SHA-256 of the secret, published at once; the secret itself is
    # sealed here until the draw reveals it.
    commitment = models.CharField(max_length=64, blank=True)
    secret_sealed = models.TextField(blank=True)
    # The beacon: the first drand quicknet round at or after the seal, plus
    # this many (committed); the round is fixed at the seal, its signature
    # entered at the run.
    beacon_offset = models.PositiveIntegerField(_("beacon rounds after the seal"), default=100)
    beacon_round = models.PositiveBigIntegerField(null=True, blank=True)
    beacon_signature = models.CharField(max_length=96, blank=True)
    stage = models.CharField(max_length=10, choices=Stage.choices, default=Stage.COMMITTED)
    committed_at = models.DateTimeField(auto_now_add=True)
    committed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    # SHA-256 of everything the draw depends on (docs/draw.md, section 2).
    sealed_hash = models.CharField(max_length=64, blank=True)
    parties = models.PositiveIntegerField(default=0)
    closed_at = models.DateTimeField(null=True, blank=True)  # the seal, whole seconds
    revealed = models.CharField(max_length=200, blank=True)  # the secret (hex), once drawn
    seed = models.CharField(max_length=64, blank=True)
    record = models.JSONField(null=True, blank=True)
    ran_at = models.DateTimeField(null=True, blank=True)
    ran_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        verbose_name = _("draw")
        verbose_name_plural = _("draws")

    def __str__(self) -> str:
        return f"draw {self.program_id} {self.stage}"


class Offer(models.Model):
    """A place for a whole party in one session: from the draw, or from the
    waitlist when a place frees. One per application (unique)."""

    class Status(models.TextChoices):
        OFFERED = "offered", _("Waiting for confirmation")
        CONFIRMED = "confirmed", _("Confirmed")
        DECLINED = "declined", _("Declined")
        LAPSED = "lapsed", _("Lapsed")
        CANCELLED = "cancelled", _("Session cancelled")

    class Source(models.TextChoices):
        DRAW = "draw", _("Drawn")
        WAITLIST = "waitlist", _("From the waitlist")
        MOVED = "moved", _("Moved from a cancelled session")

    application = models.OneToOneField(Application, on_delete=models.PROTECT, related_name="offer")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="offers")
    seats = models.PositiveSmallIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.OFFERED)
    source = models.CharField(max_length=10, choices=Source.choices, default=Source.DRAW)
    offered_at = models.DateTimeField(default=timezone.now)
    deadline = models.DateTimeField()
    responded_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("offer")
        verbose_name_plural = _("offers")
        indexes = [models.Index(fields=["session", "status"])]

    def __str__(self) -> str:
        return f"{self.application_id}→{self.session_id} {self.status}"

    @property
    def holds_seats(self) -> bool:
        return self.status in (self.Status.OFFERED, self.Status.CONFIRMED)


class WaitlistEntry(models.Model):
    """A party the draw did not place, in draw order."""

    class Status(models.TextChoices):
        WAITING = "waiting", _("Waiting")
        OFFERED = "offered", _("Offered a place")
        LEFT = "left", _("Left the waitlist")

    application = models.OneToOneField(
        Application, on_delete=models.PROTECT, related_name="waitlist"
    )
    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="waitlist")
    position = models.PositiveIntegerField()
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.WAITING)

    class Meta:
        ordering = ["program", "position"]
        constraints = [
            models.UniqueConstraint(fields=["program", "position"], name="waitlist_position_once"),
        ]

    def __str__(self) -> str:
        return f"{self.program_id}#{self.position}"


class Ticket(models.Model):
    """One visitor's ticket: a signed code (headon.visits.tickets) that the
    gate verifies offline and checks in once."""

    offer = models.ForeignKey(Offer, on_delete=models.CASCADE, related_name="tickets")
    member = models.OneToOneField(PartyMember, on_delete=models.CASCADE, related_name="ticket")
    session = models.ForeignKey(Session, on_delete=models.PROTECT, related_name="tickets")
    code = models.CharField(max_length=200, unique=True)
    issued_at = models.DateTimeField(auto_now_add=True)
    void_at = models.DateTimeField(null=True, blank=True)
    checked_in_at = models.DateTimeField(null=True, blank=True)
    checked_in_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    gate = models.CharField(max_length=40, blank=True)
    # Marked by the gate or a coordinator once the session is over and the
    # visitor never came; a check-in clears nothing, so both cannot be set.
    no_show_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("ticket")
        verbose_name_plural = _("tickets")
        indexes = [models.Index(fields=["session", "checked_in_at"])]

    def __str__(self) -> str:
        return f"ticket {self.pk}"


class Feedback(models.Model):
    """What a visitor who came thought of it; a question written here is
    also an ask in the desk (channel "visit feedback")."""

    ticket = models.OneToOneField(Ticket, on_delete=models.CASCADE, related_name="feedback")
    session = models.ForeignKey(Session, on_delete=models.CASCADE, related_name="feedback")
    rating = models.PositiveSmallIntegerField(_("overall"))
    rating_guide = models.PositiveSmallIntegerField(_("the guide"), null=True, blank=True)
    comment = models.TextField(_("comments"), blank=True)
    question = models.TextField(_("a question for us"), blank=True)
    language = models.CharField(max_length=10, default="en")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("feedback")
        verbose_name_plural = _("feedback")
        constraints = [
            models.CheckConstraint(
                condition=Q(rating__gte=1) & Q(rating__lte=5), name="feedback_rating_1_to_5"
            ),
        ]

    def __str__(self) -> str:
        return f"feedback {self.ticket_id}"


class Message(models.Model):
    """A message a coordinator sends to a group of parties: a session's
    confirmed visitors, the waitlist, or those the draw did not place. The
    recipients are fixed when it is written (the count the preview showed);
    the worker sends it to each once (an audit row per party)."""

    class Audience(models.TextChoices):
        CONFIRMED = "confirmed", _("The confirmed visitors of a session")
        WAITLIST = "waitlist", _("The waitlist")
        NOT_SELECTED = "not_selected", _("Those not selected")

    program = models.ForeignKey(Program, on_delete=models.CASCADE, related_name="messages")
    audience = models.CharField(_("to"), max_length=20, choices=Audience.choices)
    session = models.ForeignKey(
        Session, null=True, blank=True, on_delete=models.PROTECT, related_name="messages"
    )
    subject_en = models.CharField(_("subject (English)"), max_length=120)
    subject_zh = models.CharField(_("subject (Chinese)"), max_length=120)
    body_en = models.TextField(_("message (English)"), max_length=500)
    body_zh = models.TextField(_("message (Chinese)"), max_length=500)
    recipients = models.JSONField(default=list)  # application ids
    sent = models.PositiveIntegerField(default=0)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("message")
        verbose_name_plural = _("messages")
        ordering = ["-created_at", "-id"]

    def __str__(self) -> str:
        return f"message {self.pk} {self.audience}"


class ReplacedTicketCode(models.Model):
    """A ticket's code before its session moved: the ticket was signed
    again for the new time, and the gate names this code's fate instead of
    calling it unknown."""

    ticket = models.ForeignKey(Ticket, on_delete=models.CASCADE, related_name="replaced_codes")
    code = models.CharField(max_length=200, unique=True)
    replaced_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("replaced ticket code")
        verbose_name_plural = _("replaced ticket codes")

    def __str__(self) -> str:
        return f"replaced code of ticket {self.ticket_id}"
