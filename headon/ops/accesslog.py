"""gunicorn's access log without private links' tokens: every atom (the
request line, the path, the referrer, headers and environ) is redacted with
headon.logs.redact before it is formatted. `headon serve` names this class
as gunicorn's logger_class."""

from __future__ import annotations

from typing import Any

from gunicorn.glogging import Logger

from headon.logs import redact


class RedactingLogger(Logger):  # type: ignore[misc]
    def atoms(self, resp: Any, req: Any, environ: Any, request_time: Any) -> dict[str, Any]:
        atoms: dict[str, Any] = super().atoms(resp, req, environ, request_time)
        # Every atom a format could name: the request line, the path, the
        # referrer, and the raw headers and environ ({raw_uri}e, ...).
        for key, value in atoms.items():
            if isinstance(value, str):
                atoms[key] = redact(value)
        return atoms
