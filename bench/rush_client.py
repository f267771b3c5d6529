"""The rush's simulated visitors over HTTP, for bench/rush.py: an applicant
through the whole API flow, a reader of a public question page, and the bare
insert that measures the ceiling (bench/views.py). Each fills in an `Outcome`
with what it got back and how long each step took.

They share one aiohttp session and one `SmsInbox`, which follows the file the
server's FileBackend appends its messages to and hands each one-time code to
the applicant waiting for it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import random
import re
import time
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from bench.harness import Identities, StepError, encode_payload, solve_fast

PARTY_SIZES = (1, 2, 3, 4)
PARTY_WEIGHTS = (40, 30, 20, 10)
CODE_RE = re.compile(r"\b(\d{6})\b")
SMS_POLL_SECONDS = 0.002  # the code-reading delay this adds to a flow: 1 ms on average


@dataclass
class Outcome:
    ok: bool = False
    error: str = ""
    flow: float = 0.0  # seconds from the scheduled arrival to the answer to the submission
    steps: dict[str, float] = field(default_factory=dict)
    reference: str = ""
    replay_ok: bool | None = None
    replay_error: str = ""
    # The submission was sent: if no answer came, it may or may not be stored.
    submitted: bool = False
    # For a refused step: seconds from sending it to the refusal, and when the
    # refusal came, from the phase's first scheduled arrival.
    error_after: float = 0.0
    error_at: float = 0.0
    # Companions of the submitted party not (yet) confirmed.
    companions_waiting: int = 0


class SmsInbox:
    """Follows the server's SMS file and hands each code to whoever waits for it."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.offset = 0
        self.partial = b""
        self.codes: dict[str, str] = {}
        self.waiters: dict[str, asyncio.Future[str]] = {}

    def expect(self, phone: str) -> asyncio.Future[str]:
        future: asyncio.Future[str] = asyncio.get_running_loop().create_future()
        self.waiters[phone] = future
        return future

    def poll(self) -> None:
        try:
            with self.path.open("rb") as fh:
                fh.seek(self.offset)
                chunk = fh.read()
        except FileNotFoundError:
            return
        self.offset += len(chunk)
        *lines, self.partial = (self.partial + chunk).split(b"\n")
        for line in lines:
            message = json.loads(line)
            if "/join/" in message["body"]:
                continue  # a companion's invitation (with --cluster's workers), not a code
            match = CODE_RE.search(message["body"])
            waiter = self.waiters.pop(message["to"], None)
            if match and waiter is not None and not waiter.done():
                waiter.set_result(match[1])

    async def follow(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self.poll()
            await asyncio.sleep(SMS_POLL_SECONDS)


@dataclass
class Flow:
    http: aiohttp.ClientSession
    base: str
    inbox: SmsInbox
    ids: Identities
    rng: random.Random
    replay_share: float
    pages: list[str] = field(default_factory=list)  # public question pages to read

    async def call(
        self,
        step: str,
        method: str,
        path: str,
        outcome: Outcome,
        *,
        address: str,
        body: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        expect: Sequence[int] = (200,),
        parse: bool = True,
    ) -> dict[str, Any]:
        started = time.perf_counter()
        try:
            async with self.http.request(
                method,
                self.base + path,
                json=body,
                headers={"X-Forwarded-For": address, **(headers or {})},
            ) as response:
                data = await response.read()
                status = response.status
        except TimeoutError:
            raise StepError(f"{step}:timeout") from None
        except aiohttp.ClientError as exc:
            raise StepError(f"{step}:{type(exc).__name__}") from None
        outcome.steps[step] = time.perf_counter() - started
        if status not in expect:
            outcome.error_after = outcome.steps.pop(step)
            outcome.error_at = time.perf_counter()
            code = ""
            with contextlib.suppress(ValueError, AttributeError):
                code = ":" + str(json.loads(data).get("code", ""))
            raise StepError(f"{step}:{status}{code if code != ':' else ''}")
        if not parse:
            return {}
        result: dict[str, Any] = json.loads(data)
        return result

    async def pow(self, scope: str, step: str, outcome: Outcome, address: str) -> str:
        challenge = await self.call(
            step, "GET", f"/antibot/challenge/{scope}", outcome, address=address
        )
        return encode_payload(challenge, solve_fast(challenge))

    def party(self, sessions: Sequence[int]) -> dict[str, Any]:
        size = self.rng.choices(PARTY_SIZES, PARTY_WEIGHTS)[0]
        companions = []
        for n in range(1, size):
            # Every companion has a phone to confirm through; half an ID too.
            companion = {"name": f"Companion {n}", "phone": self.ids.phone("137")}
            if self.rng.random() < 0.5:
                companion["id_number"] = self.ids.id_number()
            companions.append(companion)
        choices = self.rng.sample(list(sessions), self.rng.randint(1, 3))
        return {"lead": {"name": "Lead"}, "companions": companions, "choices": choices}

    async def applicant(
        self, outcome: Outcome, slug: str, sessions: Sequence[int], arrival: float
    ) -> Outcome:
        address, phone = self.ids.address(), self.ids.phone("138")
        api = f"/api/v1/programs/{slug}"
        contact = {"channel": "phone", "destination": phone}
        try:
            pow_code = await self.pow("visits-code", "challenge1", outcome, address)
            code_future = self.inbox.expect(phone)
            await self.call(
                "codes",
                "POST",
                f"{api}/codes",
                outcome,
                address=address,
                body={**contact, "pow": pow_code},
                expect=(202,),
            )
            sms_started = time.perf_counter()
            try:
                code = await asyncio.wait_for(code_future, timeout=10)
            except TimeoutError:
                raise StepError("sms:timeout") from None
            outcome.steps["sms"] = time.perf_counter() - sms_started
            verified = await self.call(
                "verify",
                "POST",
                f"{api}/codes/verify",
                outcome,
                address=address,
                body={**contact, "code": code},
            )
            pow_apply = await self.pow("visits-apply", "challenge2", outcome, address)
            body = {
                "verification_token": verified["verification_token"],
                **self.party(sessions),
                "consent": True,
                "pow": pow_apply,
            }
            key = {"Idempotency-Key": uuid.uuid4().hex}
            outcome.submitted = True
            receipt = await self.call(
                "submit",
                "POST",
                f"{api}/applications",
                outcome,
                address=address,
                body=body,
                headers=key,
                expect=(201,),
            )
            outcome.reference = str(receipt["reference"])
            outcome.companions_waiting = len(body["companions"])
            for companion in body["companions"]:
                await self.confirm(outcome, slug, companion["phone"], outcome.reference)
                outcome.companions_waiting -= 1
            outcome.flow = time.perf_counter() - arrival
            outcome.ok = True
        except StepError as exc:
            outcome.error = exc.kind
        finally:
            self.inbox.waiters.pop(phone, None)
        if outcome.ok and self.rng.random() < self.replay_share:
            # A double click: the same submission again must return the same receipt.
            try:
                again = await self.call(
                    "replay",
                    "POST",
                    f"{api}/applications",
                    Outcome(),
                    address=address,
                    body=body,
                    headers=key,
                    expect=(200,),
                )
                outcome.replay_ok = again.get("reference") == outcome.reference
            except StepError as exc:
                outcome.replay_ok, outcome.replay_error = False, exc.kind
        return outcome

    async def confirm(self, outcome: Outcome, slug: str, phone: str, reference: str) -> None:
        """A companion, from their own phone and address, verifies it with a
        code and confirms the party (the API's way to what the SMS link
        does on the web): until then the party is waiting for them."""
        address, api = self.ids.address(), f"/api/v1/programs/{slug}"
        contact = {"channel": "phone", "destination": phone}
        try:
            pow_code = await self.pow("visits-code", "c-challenge", outcome, address)
            code_future = self.inbox.expect(phone)
            await self.call(
                "c-codes",
                "POST",
                f"{api}/codes",
                outcome,
                address=address,
                body={**contact, "pow": pow_code},
                expect=(202,),
            )
            try:
                code = await asyncio.wait_for(code_future, timeout=10)
            except TimeoutError:
                raise StepError("c-sms:timeout") from None
            verified = await self.call(
                "c-verify",
                "POST",
                f"{api}/codes/verify",
                outcome,
                address=address,
                body={**contact, "code": code},
            )
            await self.call(
                "confirm",
                "POST",
                f"{api}/companions/confirm",
                outcome,
                address=address,
                body={"verification_token": verified["verification_token"], "reference": reference},
            )
        finally:
            self.inbox.waiters.pop(phone, None)

    async def read(self, outcome: Outcome, arrival: float, paths: Sequence[str]) -> Outcome:
        """One reader opening one public question page."""
        try:
            page = self.rng.choice(paths)
            await self.call("page", "GET", page, outcome, address=self.ids.address(), parse=False)
        except StepError as exc:
            outcome.error = exc.kind
            return outcome
        outcome.flow = time.perf_counter() - arrival
        outcome.ok = True
        return outcome

    async def insert(self, outcome: Outcome, arrival: float) -> Outcome:
        try:
            async with self.http.post(self.base + "/bench/insert", data=b"ceiling") as response:
                await response.read()
                status = response.status
        except TimeoutError:
            outcome.error = "insert:timeout"
            return outcome
        except aiohttp.ClientError as exc:
            outcome.error = f"insert:{type(exc).__name__}"
            return outcome
        outcome.flow = time.perf_counter() - arrival
        outcome.ok = status == 201
        outcome.error = "" if outcome.ok else f"insert:{status}"
        return outcome
