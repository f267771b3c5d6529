"""Links that leave the site (posts, feeds, messages) must be absolute; they
are built from HEADON_SITE_URL, never from a request's Host header."""

from __future__ import annotations

from django.conf import settings


def absolute(path: str) -> str:
    return f"{settings.HEADON_SITE_URL}{path}"
