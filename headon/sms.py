"""Text messages through a pluggable backend, like Django's e-mail backends.

HEADON_SMS_BACKEND names a class with `send(to, body)`. The console backend
(the default) writes each message to the log, which is where the demo's
one-time codes appear; the memory backend keeps them in `outbox` for tests;
the file backend appends them to a file (the load benchmark, bench/rush.py,
reads codes from it). A real gateway is one small class.
"""

from __future__ import annotations

import json
import logging
import os
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


class FileBackend:
    """One JSON line per message, appended to the file HEADON_SMS_FILE.

    Each message is a single write() to a descriptor opened with O_APPEND,
    so lines from several gunicorn workers never interleave (POSIX appends
    are atomic for regular files) and a reader tailing the file sees whole
    lines as soon as they are written: there is no user-space buffer.
    """

    def send(self, to: str, body: str) -> None:
        line = json.dumps({"to": to, "body": body}, ensure_ascii=False) + "\n"
        fd = os.open(os.environ["HEADON_SMS_FILE"], os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        try:
            os.write(fd, line.encode())
        finally:
            os.close(fd)


def send_sms(to: str, body: str) -> None:
    backend: SmsBackend = import_string(settings.HEADON_SMS_BACKEND)()
    backend.send(to, body)
