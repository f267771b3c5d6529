from __future__ import annotations

from django.db import models
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
