from __future__ import annotations

from django.db import models
from django.utils.translation import get_language
from django.utils.translation import gettext_lazy as _


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
        ]

    def __str__(self) -> str:
        return self.title_en

    @property
    def title(self) -> str:
        """The title in the active language."""
        return self.title_zh if (get_language() or "").startswith("zh") else self.title_en

    @property
    def description(self) -> str:
        if (get_language() or "").startswith("zh"):
            return self.description_zh or self.description_en
        return self.description_en or self.description_zh
