"""Links that leave the site (posts, feeds, messages) must be absolute; they
are built from HEADON_SITE_URL, never from a request's Host header."""

from __future__ import annotations

from urllib.parse import urlsplit

from django.conf import settings


def absolute(path: str) -> str:
    return f"{settings.HEADON_SITE_URL}{path}"


def site_host() -> str:
    """The site's own host name, for ids that must not change with the Host
    header a request happened to carry (calendar UIDs)."""
    return urlsplit(settings.HEADON_SITE_URL).netloc
