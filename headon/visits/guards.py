"""Rate limits on the application steps, shared by the web pages and the API.

Limits are per client address and, for codes, per destination: a script
from one address, or many addresses aiming at one phone, runs out quickly;
a family sharing one home address does not. A destination's own limit is
counted per requester, so a stranger who spends it does not lock the
owner out; a generous cap over all requesters still stops a botnet from
flooding one phone.
"""

from __future__ import annotations

from django.http import HttpRequest

from headon.antibot.ratelimit import client_ip, hit, hit_ip, ip_bucket, wait_message
from headon.visits.errors import VisitError

CODES_PER_ADDRESS = (20, 600)  # requests, seconds
CODES_PER_DESTINATION = (5, 3600)  # from one requester
CODES_PER_DESTINATION_ALL = (30, 3600)  # from everyone
VERIFY_PER_ADDRESS = (40, 600)
SUBMITS_PER_ADDRESS = (30, 600)


class RateLimitedError(VisitError):
    def __init__(self, retry_after: int) -> None:
        super().__init__("rate_limited")
        self.retry_after = retry_after

    @property
    def message(self) -> str:
        """Says how long to wait: "a little" sent people back too soon."""
        return wait_message(self.retry_after)


def _check(allowed: bool, retry_after: int) -> None:
    if not allowed:
        raise RateLimitedError(retry_after)


def code_request_allowed(request: HttpRequest, destination: str) -> None:
    limit, window = CODES_PER_ADDRESS
    result = hit_ip(request, "visits-code", limit=limit, window_seconds=window)
    _check(result.allowed, result.retry_after)
    limit, window = CODES_PER_DESTINATION
    requester = ip_bucket(client_ip(request))
    result = hit("visits-code-to", f"{destination}|{requester}", limit=limit, window_seconds=window)
    _check(result.allowed, result.retry_after)
    limit, window = CODES_PER_DESTINATION_ALL
    result = hit("visits-code-to-all", destination, limit=limit, window_seconds=window)
    _check(result.allowed, result.retry_after)


def code_verify_allowed(request: HttpRequest) -> None:
    limit, window = VERIFY_PER_ADDRESS
    result = hit_ip(request, "visits-verify", limit=limit, window_seconds=window)
    _check(result.allowed, result.retry_after)


def submit_allowed(request: HttpRequest) -> None:
    limit, window = SUBMITS_PER_ADDRESS
    result = hit_ip(request, "visits-submit", limit=limit, window_seconds=window)
    _check(result.allowed, result.retry_after)
