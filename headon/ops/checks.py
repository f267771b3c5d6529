"""Deploy checks (`headon check --deploy`): defaults that are right for the
demo and wrong for the public. Each would pass Django's own checks and
quietly print every one-time code and private link into a log, or send
visitors links to the server's own loopback address."""

from __future__ import annotations

import ipaddress
from typing import Any
from urllib.parse import urlsplit

from django.conf import settings
from django.core.checks import Error, Tags, Warning, register

PRINTING_EMAIL = (
    "django.core.mail.backends.console.EmailBackend",
    "django.core.mail.backends.locmem.EmailBackend",
    "django.core.mail.backends.filebased.EmailBackend",
    "django.core.mail.backends.dummy.EmailBackend",
)
PRINTING_SMS = ("headon.sms.ConsoleBackend", "headon.sms.MemoryBackend", "headon.sms.FileBackend")


def _is_loopback(host: str) -> bool:
    if host in ("localhost", ""):
        return True
    try:
        return ipaddress.ip_address(host).is_loopback or ipaddress.ip_address(host).is_unspecified
    except ValueError:
        return host.endswith(".localhost")


@register(Tags.security, deploy=True)
def check_messages_and_links(app_configs: Any = None, **kwargs: Any) -> list[Any]:
    problems: list[Any] = []
    if settings.EMAIL_BACKEND in PRINTING_EMAIL:
        problems.append(
            Error(
                f"HEADON_EMAIL_BACKEND is {settings.EMAIL_BACKEND}: e-mails, with their "
                "one-time codes and private links, are not sent but kept or printed to the log.",
                hint="Set HEADON_EMAIL_BACKEND to a real backend, e.g. "
                "django.core.mail.backends.smtp.EmailBackend (docs/production.md).",
                id="ops.E101",
            )
        )
    if settings.HEADON_SMS_BACKEND in PRINTING_SMS:
        problems.append(
            Error(
                f"HEADON_SMS_BACKEND is {settings.HEADON_SMS_BACKEND}: text messages, with "
                "their one-time codes and private links, are not sent but printed or kept.",
                hint="Set HEADON_SMS_BACKEND to your gateway's backend class (docs/production.md).",
                id="ops.E102",
            )
        )
    url = urlsplit(settings.HEADON_SITE_URL)
    if _is_loopback(url.hostname or ""):
        problems.append(
            Error(
                f"HEADON_SITE_URL is {settings.HEADON_SITE_URL}: every link in messages, "
                "posts, feeds and images would point at the server itself.",
                hint="Set HEADON_SITE_URL to the public address, e.g. https://answers.example.org.",
                id="ops.E103",
            )
        )
    elif url.scheme != "https":
        problems.append(
            Warning(
                f"HEADON_SITE_URL is {settings.HEADON_SITE_URL}: links are not HTTPS.",
                hint="Serve the site over TLS and give its https:// address.",
                id="ops.W104",
            )
        )
    return problems
