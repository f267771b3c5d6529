"""What may reach a log: no stack trace for a client's mistake, and never a
private link's token (the access log, Django's request warnings)."""

from __future__ import annotations

import logging
import re

# The secret part of a private link: an application's access token, a
# feedback token. Whoever reads the log could otherwise use the link.
PRIVATE = re.compile(r"(/a/[^/\s?]+/|/feedback/\d+/|/join/\d+/)[^/\s?]+")


def redact(text: str) -> str:
    """`text` with every private link's token replaced by "…"."""
    return PRIVATE.sub(r"\1…", text)


class NoTracebackBelow500(logging.Filter):
    """A refused request (403, 404) is the client's doing: one line, not a
    stack trace that looks like a crash. Server errors keep theirs."""

    def filter(self, record: logging.LogRecord) -> bool:
        if getattr(record, "status_code", 500) < 500:
            record.exc_info = None
            record.exc_text = None
        return True


class RedactPrivateLinks(logging.Filter):
    """Django's "Not Found: /visits/…/a/REF/TOKEN/" warnings print the path."""

    def filter(self, record: logging.LogRecord) -> bool:
        if isinstance(record.args, tuple):
            record.args = tuple(redact(a) if isinstance(a, str) else a for a in record.args)
        record.msg = redact(str(record.msg))
        return True
