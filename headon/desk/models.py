from __future__ import annotations

import datetime as dt
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import Q
from django.utils import timezone
from django.utils.translation import gettext, ngettext
from django.utils.translation import gettext_lazy as _


class Channel(models.Model):
    """A place the public asks from: an export of a social account, the ask
    form, a webhook, visit feedback. Every ask arrives through one channel."""

    class Kind(models.TextChoices):
        SOCIAL_EXPORT = "social_export", _("Social media export")
        FORM = "form", _("Ask form")
        WEBHOOK = "webhook", _("Webhook")
        FEEDBACK = "feedback", _("Visit feedback")

    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name = models.CharField(_("name"), max_length=100)
    kind = models.CharField(_("kind"), max_length=20, choices=Kind.choices)
    is_active = models.BooleanField(_("active"), default=True)
    # SHA-256 of the webhook token; the token itself is shown once.
    token_hash = models.CharField(max_length=64, blank=True)
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("channel")
        verbose_name_plural = _("channels")
        ordering = ["name"]
        # The answer desk's rights, held by the role groups (accounts.roles).
        permissions = [
            ("view_desk", _("Can open the answer desk")),
            ("triage_questions", _("Can merge, split, flag and rank questions")),
            ("draft_answers", _("Can draft answers")),
            ("approve_answers", _("Can approve answers")),
            ("publish_digest", _("Can publish the night's digest")),
            ("manage_channels", _("Can manage intake channels")),
        ]

    def __str__(self) -> str:
        return self.name


class SetAside(models.TextChoices):
    """Why staff took an ask or a question off the public lists. A set-aside
    ask stays in the coverage ledger, counted under its reason, so the
    figures still add up; setting aside is logged and undoable."""

    SPAM = "spam", _("Spam")
    ABUSE = "abuse", _("Abuse")
    PERSONAL = "personal", _("Personal data")
    NOT_A_QUESTION = "not_question", _("Not a question")


class Question(models.Model):
    """The distinct question that many asks share."""

    text = models.TextField(_("question"))
    # The title a person approved for the public lists; blank until then,
    # and the lists print a tidied `text` (desk.spam.tidy_title) instead.
    title = models.CharField(_("public title"), max_length=200, blank=True, default="")
    is_rumour = models.BooleanField(_("rumour"), default=False)
    # A merged question points at the one that absorbed it; undoing the
    # merge clears it again.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="absorbed"
    )
    # The answer that covers this question's asks. Several questions can
    # share one answer (staff link a question to an answer already there).
    answer = models.ForeignKey(
        "Answer", null=True, blank=True, on_delete=models.SET_NULL, related_name="questions"
    )
    # A link proposed by one person, waiting for a second (an approver) to
    # confirm it: until then the question is not covered (four eyes, as for
    # approving an answer). Confirming moves it to `answer`.
    proposed_answer = models.ForeignKey(
        "Answer", null=True, blank=True, on_delete=models.SET_NULL, related_name="proposed_for"
    )
    proposed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    proposed_at = models.DateTimeField(null=True, blank=True)
    # When the question's answer first became public for it: set when the
    # answer is published, or when the question is linked to an answer
    # already public. The coverage ledger compares it with each day's cut-off.
    covered_at = models.DateTimeField(_("covered at"), null=True, blank=True, db_index=True)
    # Blank unless staff set it aside (see SetAside). A database default,
    # since the import inserts asks with plain SQL naming its own columns.
    set_aside = models.CharField(
        _("set aside"), max_length=12, choices=SetAside.choices, blank=True, db_default=""
    )
    set_aside_at = models.DateTimeField(null=True, blank=True)
    set_aside_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(_("created at"), auto_now_add=True)

    class Meta:
        verbose_name = _("question")
        verbose_name_plural = _("questions")
        ordering = ["-created_at"]

    def __str__(self) -> str:
        return self.text[:80]


class ImportRun(models.Model):
    """One file of asks brought in, with what became of each row."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        DONE = "done", _("Done")
        FAILED = "failed", _("Failed")

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="imports")
    file_name = models.CharField(_("file"), max_length=255)
    file_sha256 = models.CharField(max_length=64)
    encoding = models.CharField(_("encoding"), max_length=20, blank=True)
    mapping = models.JSONField(_("column mapping"), default=dict)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    rows = models.PositiveIntegerField(_("rows read"), default=0)
    added = models.PositiveIntegerField(_("asks added"), default=0)
    duplicates = models.PositiveIntegerField(_("already there"), default=0)
    rejected = models.PositiveIntegerField(_("rows rejected"), default=0)
    # The first rejected rows: [{"line": 12, "error": "...", "params": {...}}]; an
    # error and the message are English templates, translated where shown.
    errors = models.JSONField(default=list)
    message = models.TextField(blank=True)
    message_params = models.JSONField(default=dict)
    started_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("import")
        verbose_name_plural = _("imports")
        ordering = ["-started_at"]

    def __str__(self) -> str:
        return f"{self.channel_id}:{self.file_name}"

    def message_text(self) -> str:
        """Why the file failed, in the reader's language."""
        return translated(self.message, self.message_params)

    def error_rows(self) -> list[tuple[int, str]]:
        """(line, problem) of the rejected rows kept, in the reader's language."""
        return [(e["line"], translated(e["error"], e.get("params"))) for e in self.errors]


def translated(template: str, params: dict[str, Any] | None) -> str:
    """A stored English template in the active language, its places filled.
    A template stored before params existed is already filled: shown as is."""
    if not params:
        return gettext(template)
    try:
        return gettext(template) % params
    except (KeyError, ValueError, TypeError):  # a translation that lost a place
        return template % params


class Ask(models.Model):
    """One question as one person posted it on one channel. Never edited:
    `text` is kept exactly as received."""

    class Assignment(models.TextChoices):
        AUTO = "auto", _("Merged automatically")
        STAFF = "staff", _("Placed by staff")

    class Placement(models.TextChoices):
        """How the ask came to be in its question, and so how far to trust
        it: the first four by the merge engine, the last two by a person
        (and so pinned: see `assigned_by`)."""

        NEW = "new", _("A question of its own")
        EXACT = "exact", _("Exact duplicate")
        NEAR = "near", _("Near duplicate")
        MEANING = "meaning", _("Same meaning")
        ACCEPTED = "accepted", _("Suggested and accepted")
        STAFF = "staff", _("Placed by hand")

    channel = models.ForeignKey(Channel, on_delete=models.PROTECT, related_name="asks")
    # The channel's own id for the post; re-importing the same export finds
    # it and adds nothing (unique with the channel, see constraints).
    external_id = models.CharField(max_length=200)
    text = models.TextField(_("text"))
    author = models.CharField(_("author"), max_length=200, blank=True)
    # Keyed hash of channel + author: counts distinct people without
    # comparing handles in clear.
    author_key = models.CharField(max_length=64, blank=True)
    posted_at = models.DateTimeField(_("posted at"), db_index=True)
    # The organiser's calendar date of posted_at: the desk works day by day
    # (indexed with the question, see Meta: that index serves both).
    day = models.DateField(_("day"))
    likes = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    shares = models.PositiveIntegerField(default=0)
    url = models.URLField(max_length=500, blank=True)
    # Matched in the merge engine's memory, never looked up in the database,
    # so not indexed: a million-ask import pays for every index it updates.
    match_key = models.CharField(max_length=64)
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="asks"
    )
    assigned_by = models.CharField(
        max_length=10, choices=Assignment.choices, default=Assignment.AUTO
    )
    # How it was placed (blank: placed before the desk recorded it), and for
    # a placement by meaning the engine's score (docs/decisions: placement).
    # A database default too: the import's raw INSERT (services/imports.py)
    # names its columns and leaves this one out.
    placement = models.CharField(
        _("placement"),
        max_length=10,
        choices=Placement.choices,
        blank=True,
        default="",
        db_default="",
    )
    placement_score = models.FloatField(null=True, blank=True)
    # A doubtful placement waiting in the review queue: the ask stays in its
    # own question until a person accepts the move into this one.
    suggested = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="suggested_asks"
    )
    suggested_score = models.FloatField(null=True, blank=True)
    import_run = models.ForeignKey(
        ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # Blank unless staff set it aside (see SetAside). A database default,
    # since the import inserts asks with plain SQL naming its own columns.
    set_aside = models.CharField(
        _("set aside"), max_length=12, choices=SetAside.choices, blank=True, db_default=""
    )
    set_aside_at = models.DateTimeField(null=True, blank=True)
    set_aside_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    received_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        verbose_name = _("ask")
        verbose_name_plural = _("asks")
        ordering = ["posted_at", "id"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "external_id"], name="ask_once_per_channel"),
            models.CheckConstraint(condition=~Q(external_id=""), name="ask_has_external_id"),
        ]
        indexes = [models.Index(fields=["day", "question"])]

    def __str__(self) -> str:
        return self.text[:80]

    def placement_text(self) -> str:
        """How the ask was placed, in the reader's language."""
        if not self.placement:
            return str(self.get_assigned_by_display())
        label = str(self.get_placement_display())
        if self.placement == self.Placement.MEANING and self.placement_score is not None:
            return gettext("%(how)s (score %(score).2f)") % {
                "how": label,
                "score": self.placement_score,
            }
        return label


class TriageAction(models.Model):
    """A staff correction of the merging: logged, undoable, and binding on
    every later automatic run (the asks it placed are pinned)."""

    class Kind(models.TextChoices):
        MERGE = "merge", _("Merge questions")
        SPLIT = "split", _("Split asks off")
        MOVE = "move", _("Move an ask")
        FLAG = "flag", _("Flag as rumour")
        UNFLAG = "unflag", _("Clear the rumour flag")
        SET_ASIDE = "set_aside", _("Set aside")
        RESTORE = "restore", _("Put back on the lists")
        RETITLE = "retitle", _("Approve a public title")
        ACCEPT = "accept", _("Accept suggested placements")
        REFUSE = "refuse", _("Refuse suggested placements")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    # {"asks": {ask_id: [question before, assigned_by before]}, "questions": {...}}:
    # everything undo needs to put back. Accepting and refusing suggestions
    # also keep {"placements": {ask_id: [placement, score, suggested, its score]}};
    # a refusal's "refused" {ask_id: question id} is a lock (merging.locks_for).
    before = models.JSONField(default=dict)
    summary = models.JSONField(default=dict)
    undone_at = models.DateTimeField(null=True, blank=True)
    undone_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.kind} {self.at:%Y-%m-%d %H:%M}"

    def sentence(self) -> str:
        """What was done, as a sentence in the reader's language."""
        s = {k: v for k, v in self.summary.items() if isinstance(v, int)}
        n = s.get("asks", 0)
        if self.kind == self.Kind.MERGE:
            return ngettext(
                "Merged question #%(source)s into #%(target)s (%(asks)s ask).",
                "Merged question #%(source)s into #%(target)s (%(asks)s asks).",
                n,
            ) % {"asks": n, "source": s.get("source"), "target": s.get("target")}
        if self.kind == self.Kind.SPLIT:
            return ngettext(
                "Split %(asks)s ask off into a new question, #%(question)s.",
                "Split %(asks)s asks off into a new question, #%(question)s.",
                n,
            ) % {"asks": n, "question": s.get("question")}
        if self.kind == self.Kind.MOVE:
            return gettext("Moved ask #%(ask)s to question #%(target)s.") % s
        if self.kind == self.Kind.FLAG:
            return gettext("Flagged question #%(question)s as a rumour.") % s
        if self.kind in (self.Kind.SET_ASIDE, self.Kind.RESTORE):
            return self._aside_sentence(s)
        if self.kind == self.Kind.RETITLE:
            return gettext("Approved a public title for question #%(question)s.") % s
        if self.kind == self.Kind.ACCEPT:
            return ngettext(
                "Accepted %(asks)s suggested ask into question #%(target)s.",
                "Accepted %(asks)s suggested asks into question #%(target)s.",
                n,
            ) % {"asks": n, "target": s.get("target")}
        if self.kind == self.Kind.REFUSE:
            return ngettext(
                "Refused %(asks)s suggested ask for question #%(target)s.",
                "Refused %(asks)s suggested asks for question #%(target)s.",
                n,
            ) % {"asks": n, "target": s.get("target")}
        return gettext("Cleared the rumour flag of question #%(question)s.") % s

    def _aside_sentence(self, s: dict[str, int]) -> str:
        n = s.get("asks", 0)
        reason = SetAside(self.summary["reason"]).label if self.summary.get("reason") else ""
        if self.kind == self.Kind.RESTORE:
            if s.get("question"):
                return ngettext(
                    "Put question #%(question)s back on the lists (%(asks)s ask).",
                    "Put question #%(question)s back on the lists (%(asks)s asks).",
                    n,
                ) % {"question": s["question"], "asks": n}
            return ngettext(
                "Put %(asks)s ask back on the lists.", "Put %(asks)s asks back on the lists.", n
            ) % {"asks": n}
        if s.get("question"):
            return ngettext(
                "Set question #%(question)s aside as %(reason)s (%(asks)s ask).",
                "Set question #%(question)s aside as %(reason)s (%(asks)s asks).",
                n,
            ) % {"question": s["question"], "asks": n, "reason": reason}
        return ngettext(
            "Set %(asks)s ask aside as %(reason)s.", "Set %(asks)s asks aside as %(reason)s.", n
        ) % {"asks": n, "reason": reason}


class Tag(models.Model):
    slug = models.SlugField(_("slug"), max_length=50, unique=True)
    name_en = models.CharField(_("name (English)"), max_length=60)
    name_zh = models.CharField(_("name (Chinese)"), max_length=60)

    class Meta:
        verbose_name = _("tag")
        verbose_name_plural = _("tags")
        ordering = ["slug"]

    def __str__(self) -> str:
        return self.name_en or self.slug


class Answer(models.Model):
    """The organisation's reply to a question, in both languages.

    The fields here are the working copy, which moves draft → in review →
    approved; `published` holds the copy the public sees, replaced only by
    publishing again (a correction, with its note). Editing a published
    answer therefore never changes what is public until it is approved and
    published again."""

    class Status(models.TextChoices):
        DRAFT = "draft", _("Draft")
        REVIEW = "review", _("In review")
        APPROVED = "approved", _("Approved")
        PUBLISHED = "published", _("Published")

    class Verdict(models.TextChoices):
        FALSE = "false", _("False")
        MISLEADING = "misleading", _("Misleading")
        UNPROVEN = "unproven", _("Unproven")
        TRUE = "true", _("True")

    question_en = models.CharField(_("question (English)"), max_length=300, blank=True)
    question_zh = models.CharField(_("question (Chinese)"), max_length=300, blank=True)
    body_en = models.TextField(_("answer (English)"), blank=True)
    body_zh = models.TextField(_("answer (Chinese)"), blank=True)
    # A clarification answers a rumour: the claim, the verdict, the evidence.
    is_clarification = models.BooleanField(_("clarification of a rumour"), default=False)
    claim_en = models.TextField(_("claim (English)"), blank=True)
    claim_zh = models.TextField(_("claim (Chinese)"), blank=True)
    verdict = models.CharField(_("verdict"), max_length=12, choices=Verdict.choices, blank=True)
    evidence_en = models.TextField(_("evidence (English)"), blank=True)
    evidence_zh = models.TextField(_("evidence (Chinese)"), blank=True)
    tags = models.ManyToManyField(Tag, blank=True, related_name="answers", verbose_name=_("tags"))
    status = models.CharField(
        _("status"), max_length=10, choices=Status.choices, default=Status.DRAFT
    )
    # Bumped by every change of the working copy; a form posts the version it
    # edited, so two people editing at once cannot overwrite each other.
    version = models.PositiveIntegerField(default=1)
    published = models.JSONField(_("published copy"), null=True, blank=True)
    first_published_at = models.DateTimeField(null=True, blank=True, db_index=True)
    published_at = models.DateTimeField(null=True, blank=True)
    # Distinct people who asked any question this answer covers; refreshed
    # on publication and linking so the public page needs no count.
    asked_by = models.PositiveIntegerField(default=0)
    helpful = models.PositiveIntegerField(default=0)
    related = models.JSONField(default=list, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name = _("answer")
        verbose_name_plural = _("answers")
        ordering = ["-updated_at"]
        constraints = [
            models.CheckConstraint(
                condition=Q(first_published_at__isnull=True) | Q(published__isnull=False),
                name="answer_published_has_copy",
            ),
        ]

    def __str__(self) -> str:
        return (self.question_en or self.question_zh)[:80]

    @property
    def is_public(self) -> bool:
        return self.published is not None


class AnswerRevision(models.Model):
    """One step in an answer's history: what it said and who moved it."""

    class Kind(models.TextChoices):
        CREATE = "create", _("Written")
        EDIT = "edit", _("Edited")
        SUBMIT = "submit", _("Sent for review")
        RETURN = "return", _("Returned to the writer")
        APPROVE = "approve", _("Approved")
        PUBLISH = "publish", _("Published")
        CORRECT = "correct", _("Correction published")

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="revisions")
    version = models.PositiveIntegerField()
    kind = models.CharField(max_length=10, choices=Kind.choices)
    status = models.CharField(max_length=10, choices=Answer.Status.choices)
    content = models.JSONField()
    note = models.TextField(blank=True)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-at", "-id"]

    def __str__(self) -> str:
        return f"{self.answer_id} v{self.version} {self.kind}"


class AnswerTerm(models.Model):
    """The search index of public answers: one row per term of an answer,
    terms from `desk.search.terms` (words, and character pairs for Chinese),
    so the same SQL searches Chinese and English on SQLite and PostgreSQL."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="+")
    term = models.CharField(max_length=40)
    weight = models.PositiveSmallIntegerField(default=1)

    class Meta:
        indexes = [models.Index(fields=["term", "answer"])]
        constraints = [
            models.UniqueConstraint(fields=["answer", "term"], name="answer_term_once"),
        ]

    def __str__(self) -> str:
        return self.term


class AnswerVector(models.Model):
    """The semantic half of search: the sentence vectors of a public answer's
    texts (its questions in both languages and the questions people asked
    that are linked to it), float32 rows of `dim`, written when it is
    published (`services.answer_vectors`), never computed per query. A
    rewrite is a new row, so a new id tells every process its cache is old."""

    answer = models.OneToOneField(Answer, on_delete=models.CASCADE, related_name="+")
    embedder = models.CharField(max_length=60)
    dim = models.PositiveIntegerField()
    data = models.BinaryField()

    def __str__(self) -> str:
        return f"{self.answer_id} {self.embedder}"


class HelpfulVote(models.Model):
    """One "helpful" per person and answer: the voter is a keyed hash of a
    long-lived cookie; addresses are rate-limited separately."""

    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="votes")
    voter_key = models.CharField(max_length=64)
    at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["answer", "voter_key"], name="helpful_once"),
        ]

    def __str__(self) -> str:
        return f"{self.answer_id}"


class Digest(models.Model):
    """The answers published for one date. Its content lives in revisions:
    publishing again with nothing changed adds none; a correction adds one."""

    date = models.DateField(_("date"), unique=True)
    revision = models.PositiveIntegerField(default=0)
    first_published_at = models.DateTimeField(null=True, blank=True)
    published_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        verbose_name = _("digest")
        verbose_name_plural = _("digests")
        ordering = ["-date"]

    def __str__(self) -> str:
        return self.date.isoformat()


class DigestRevision(models.Model):
    digest = models.ForeignKey(Digest, on_delete=models.CASCADE, related_name="revisions")
    number = models.PositiveIntegerField()
    # The digest as published (format "headon-digest/1", docs/digest.md):
    # every page, feed and file of this revision is rendered from it.
    snapshot = models.JSONField()
    content_hash = models.CharField(max_length=64)
    note = models.TextField(blank=True)
    published_at = models.DateTimeField()
    published_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta:
        ordering = ["-number"]
        constraints = [
            models.UniqueConstraint(fields=["digest", "number"], name="digest_revision_once"),
        ]

    def __str__(self) -> str:
        return f"{self.digest_id} r{self.number}"


class DigestImage(models.Model):
    """A revision's long PNG, drawn once per language and kept in the
    database so every web process serves the same bytes."""

    revision = models.ForeignKey(DigestRevision, on_delete=models.CASCADE, related_name="images")
    language = models.CharField(max_length=5)
    png = models.BinaryField()
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["revision", "language"], name="digest_image_once"),
        ]

    def __str__(self) -> str:
        return f"{self.revision_id} {self.language}"


class LearnedTransform(models.Model):
    """A transform of the sentence vectors learned from the desk's own
    confirmed nights (merging/learn.py), with the history it was fitted on.
    The latest one for the running embedder is used by live assignment and
    re-clusters; with none, the engine compares the model's vectors as is."""

    # The embedder whose vectors it transforms: another model's vectors
    # have another meaning, and the transform is not used with them.
    embedder = models.CharField(max_length=40)
    data = models.BinaryField()
    first_day = models.DateField()
    last_day = models.DateField()
    nights = models.PositiveIntegerField()
    questions = models.PositiveIntegerField()
    asks = models.PositiveIntegerField()
    pairs = models.PositiveIntegerField(default=0)
    # The bands stored with the transform were chosen on held-out wordings
    # of the history; pairwise precision and recall of auto merges there.
    held_out = models.PositiveIntegerField(default=0)
    precision = models.FloatField(null=True, blank=True)
    recall = models.FloatField(null=True, blank=True)
    # SHA-256 of the labelled history: a refit on the same history adds nothing.
    history_hash = models.CharField(max_length=64)
    fitted_at = models.DateTimeField()

    class Meta:
        ordering = ["-fitted_at", "-id"]
        indexes = [models.Index(fields=["embedder", "-fitted_at"])]

    def __str__(self) -> str:
        return f"{self.embedder} {self.fitted_at:%Y-%m-%d %H:%M}"


class AnsweredCheck(models.Model):
    """When a day's "Already answered?" list was last worked out by the
    worker (services/answered.py), and whether a check waits to run. The
    digest page reads the stored list; it never loads the sentence model."""

    # A check queued or started this long ago and not done is taken for
    # lost (its job failed, the queue was cleared): it may be asked again.
    LOST_AFTER = dt.timedelta(minutes=30)

    day = models.DateField(unique=True)
    # Set when a check is asked for and the job queued; cleared when a job
    # starts on it. A second request while it is set queues nothing.
    queued_at = models.DateTimeField(null=True, blank=True)
    started_at = models.DateTimeField(null=True, blank=True)
    checked_at = models.DateTimeField(null=True, blank=True)

    def __str__(self) -> str:
        return f"{self.day} {self.checked_at or '-'}"

    def is_checking(self, now: dt.datetime | None = None) -> bool:
        """A check is queued, or running since the last result was stored,
        and not lost."""
        since = (now or timezone.now()) - self.LOST_AFTER
        if self.queued_at is not None and self.queued_at >= since:
            return True
        return (
            self.started_at is not None
            and self.started_at >= since
            and (self.checked_at is None or self.started_at > self.checked_at)
        )


class AnsweredLookalike(models.Model):
    """An open question of a day that looked answered by a published answer
    when the day was last checked; the day's rows are replaced together."""

    class By(models.TextChoices):
        ENGINE = "engine", _("the merge engine")
        SEARCH = "search", _("the search")

    day = models.DateField()
    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="+")
    score = models.FloatField()
    # The engine's auto band: it would merge the two on its own.
    sure = models.BooleanField(default=False)
    by = models.CharField(max_length=6, choices=By.choices, default=By.ENGINE)
    computed_at = models.DateTimeField()

    class Meta:
        ordering = ["day", "-score", "question_id"]
        constraints = [
            # One set of rows per day, whatever runs at once: a second
            # insert of a question for the day fails rather than doubling it.
            models.UniqueConstraint(fields=["day", "question"], name="one_lookalike_per_question")
        ]

    def __str__(self) -> str:
        return f"{self.day} q{self.question_id} a{self.answer_id} {self.score:.3f}"


class LinkRefusal(models.Model):
    """A person refused a proposed link of a question to an answer (or its
    proposer withdrew it): the "Already answered?" list never proposes the
    pair again. It belongs to the question's id: a question merged into
    another, or the new one of a split, does not inherit it."""

    question = models.ForeignKey(Question, on_delete=models.CASCADE, related_name="+")
    answer = models.ForeignKey(Answer, on_delete=models.CASCADE, related_name="+")
    refused_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    refused_at = models.DateTimeField()

    class Meta:
        constraints = [
            # The list's check reads a day's refusals by question: this index.
            models.UniqueConstraint(fields=["question", "answer"], name="one_refusal_per_link")
        ]

    def __str__(self) -> str:
        return f"q{self.question_id} not a{self.answer_id}"
