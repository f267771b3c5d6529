"""The proof-of-work scheme with Django's key and clock and the shared store."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Mapping

from django.conf import settings
from django.utils.crypto import salted_hmac

from headon.antibot import pow, store

REPLAY_PREFIX = "pow-used:"


def pow_key() -> bytes:
    """The HMAC key for challenges, derived from SECRET_KEY for this purpose
    alone. Rotating SECRET_KEY only voids challenges issued minutes ago."""
    return salted_hmac("headon.antibot.pow", "challenge-key").digest()


def challenge_issue(*, scope: str, max_number: int | None = None) -> pow.Challenge:
    difficulty = max_number or settings.HEADON_POW_MAX_NUMBER
    return pow.create_challenge(key=pow_key(), now=time.time(), scope=scope, max_number=difficulty)


def retry_owner(key: str, request: Mapping[str, object]) -> str:
    """Who may present one solution again: one idempotency key with one
    request body (everything but the solution). A retry of the same request
    learns nothing new; any other request under the key pays a new solution,
    so one solution cannot probe a hundred variants (a companion's number,
    say) under one key that never made anything."""
    if not key:
        return ""
    body = json.dumps(request, sort_keys=True, default=str, ensure_ascii=False)
    return f"{key}:{hashlib.sha256(body.encode()).hexdigest()[:32]}"


def first_use(challenge: str, expires: int, owner: str = "") -> bool:
    """True the first time a challenge is spent, in every process that shares
    the store (store.claim is atomic). The claim outlives the challenge's
    expiry, after which verify refuses it anyway.

    With an `owner` (an idempotency key), the same owner may present the
    solution again: a retried or double-clicked submission is one request,
    and the idempotency key, not this check, keeps it from counting twice."""
    held = store.claim(f"{REPLAY_PREFIX}{challenge}", owner=owner or "-", expires=expires + 1)
    return held is None or (bool(owner) and held == owner)


def solution_check(*, payload: object, scope: str, owner: str = "") -> pow.Verdict:
    """Verify a posted solution for `scope` and spend it (see first_use)."""
    return pow.verify(
        payload,
        key=pow_key(),
        now=time.time(),
        scope=scope,
        first_use=lambda challenge, expires: first_use(challenge, expires, owner),
    )
