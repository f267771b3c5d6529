"""Text messages through a pluggable backend, like Django's e-mail backends.

HEADON_SMS_BACKEND names a class with `send(to, body)`. The console backend
(the default) writes each message to the log, which is where the demo's
one-time codes appear; the memory backend keeps them in `outbox` for tests.
A real gateway is one small class.
"""

from __future__ import annotations

import logging
from typing import Protocol

from django.conf import settings
from django.utils.module_loading import import_string

logger = logging.getLogger("headon.sms")


class SmsBackend(Protocol):
    def send(self, to: str, body: str) -> None: ...


class ConsoleBackend:
    def send(self, to: str, body: str) -> None:
        logger.warning("SMS to %s: %s", to, body)


outbox: list[tuple[str, str]] = []


class MemoryBackend:
    def send(self, to: str, body: str) -> None:
        outbox.append((to, body))


def send_sms(to: str, body: str) -> None:
    backend: SmsBackend = import_string(settings.HEADON_SMS_BACKEND)()
    backend.send(to, body)
