from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q
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


class Question(models.Model):
    """The distinct question that many asks share."""

    text = models.TextField(_("question"))
    is_rumour = models.BooleanField(_("rumour"), default=False)
    # A merged question points at the one that absorbed it; undoing the
    # merge clears it again.
    merged_into = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="absorbed"
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
    # The first rejected rows: [{"line": 12, "error": "..."}].
    errors = models.JSONField(default=list)
    message = models.TextField(blank=True)
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


class Ask(models.Model):
    """One question as one person posted it on one channel. Never edited:
    `text` is kept exactly as received."""

    class Assignment(models.TextChoices):
        AUTO = "auto", _("Merged automatically")
        STAFF = "staff", _("Placed by staff")

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
    # The organiser's calendar date of posted_at: the desk works day by day.
    day = models.DateField(_("day"), db_index=True)
    likes = models.PositiveIntegerField(default=0)
    replies = models.PositiveIntegerField(default=0)
    shares = models.PositiveIntegerField(default=0)
    url = models.URLField(max_length=500, blank=True)
    match_key = models.CharField(max_length=64, db_index=True)
    question = models.ForeignKey(
        Question, null=True, blank=True, on_delete=models.SET_NULL, related_name="asks"
    )
    assigned_by = models.CharField(
        max_length=10, choices=Assignment.choices, default=Assignment.AUTO
    )
    import_run = models.ForeignKey(
        ImportRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
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


class TriageAction(models.Model):
    """A staff correction of the merging: logged, undoable, and binding on
    every later automatic run (the asks it placed are pinned)."""

    class Kind(models.TextChoices):
        MERGE = "merge", _("Merge questions")
        SPLIT = "split", _("Split asks off")
        MOVE = "move", _("Move an ask")
        FLAG = "flag", _("Flag as rumour")
        UNFLAG = "unflag", _("Clear the rumour flag")

    kind = models.CharField(max_length=10, choices=Kind.choices)
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    at = models.DateTimeField(auto_now_add=True)
    # {"asks": {ask_id: [question before, assigned_by before]}, "questions": {...}}:
    # everything undo needs to put back.
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
