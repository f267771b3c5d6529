"""The pure scheme: no Django, no database, small difficulties."""

from __future__ import annotations

import base64
import json
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from headon.antibot import pow
from headon.antibot.pow import Refusal

KEY = b"k" * 32
NOW = 1_795_000_000  # 2026-11-17, a fixed instant
SMALL = 500


def _issue(scope: str = "apply", now: float = NOW, ttl: int = 600) -> dict[str, Any]:
    return pow.create_challenge(key=KEY, now=now, scope=scope, max_number=SMALL, ttl=ttl).as_dict()


def _solved(scope: str = "apply", **kwargs) -> tuple[dict[str, Any], int]:
    challenge = _issue(scope, **kwargs)
    number = pow.solve(challenge)
    assert number is not None
    return challenge, number


def _payload(fields: object) -> str:
    return base64.b64encode(json.dumps(fields).encode()).decode()


def test_a_solved_challenge_verifies():
    challenge, number = _solved()
    verdict = pow.verify(pow.encode_payload(challenge, number), key=KEY, now=NOW, scope="apply")
    assert verdict.ok
    assert verdict.challenge == challenge["challenge"]
    assert verdict.expires == NOW + 600


def test_the_challenge_has_altchas_shape():
    challenge = _issue()
    assert set(challenge) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert challenge["algorithm"] == "SHA-256"
    assert challenge["maxnumber"] == SMALL
    assert challenge["salt"].endswith(f"?expires={NOW + 600}&scope=apply&")


def test_it_refuses_a_signature_made_with_another_key():
    challenge, number = _solved()
    verdict = pow.verify(
        pow.encode_payload(challenge, number), key=b"x" * 32, now=NOW, scope="apply"
    )
    assert verdict.refusal == Refusal.BAD_SIGNATURE


def test_it_refuses_an_expired_challenge():
    challenge, number = _solved()
    payload = pow.encode_payload(challenge, number)
    assert pow.verify(payload, key=KEY, now=NOW + 600, scope="apply").ok
    late = pow.verify(payload, key=KEY, now=NOW + 601, scope="apply")
    assert late.refusal == Refusal.EXPIRED


def test_it_refuses_a_solution_for_another_form():
    challenge, number = _solved(scope="ask")
    verdict = pow.verify(pow.encode_payload(challenge, number), key=KEY, now=NOW, scope="apply")
    assert verdict.refusal == Refusal.WRONG_SCOPE


def test_it_refuses_a_wrong_number():
    challenge, number = _solved()
    payload = pow.encode_payload(challenge, (number + 1) % (SMALL + 1))
    assert pow.verify(payload, key=KEY, now=NOW, scope="apply").refusal == Refusal.WRONG_SOLUTION


def test_it_refuses_a_salt_with_a_later_expiry():
    challenge, number = _solved()
    forged = {**challenge, "salt": challenge["salt"].replace("expires=", "expires=9")}
    payload = pow.encode_payload(forged, number)
    assert pow.verify(payload, key=KEY, now=NOW, scope="apply").refusal == Refusal.WRONG_SOLUTION


def test_it_refuses_digits_of_the_number_moved_into_the_salt():
    # Without the salt's trailing "&", "...&" + "123" could be re-cut as
    # "...&1" + "23" (or, were expires last, into a later expiry).
    challenge = _issue()
    number = 123
    challenge["challenge"] = pow._sha256_hex(challenge["salt"] + str(number))
    challenge["signature"] = pow._sign(KEY, challenge["challenge"])
    recut = {**challenge, "salt": challenge["salt"] + "1"}
    payload = pow.encode_payload(recut, 23)
    assert pow.verify(payload, key=KEY, now=NOW, scope="apply").refusal == Refusal.MALFORMED
    assert pow.verify(pow.encode_payload(challenge, number), key=KEY, now=NOW, scope="apply").ok


def test_it_asks_first_use_only_for_a_valid_solution_and_refuses_a_replay():
    seen: list[str] = []

    def first_use(challenge: str, expires: int) -> bool:
        assert expires == NOW + 600
        seen.append(challenge)
        return seen.count(challenge) == 1

    challenge, number = _solved()
    payload = pow.encode_payload(challenge, number)
    assert pow.verify(payload, key=KEY, now=NOW, scope="apply", first_use=first_use).ok
    again = pow.verify(payload, key=KEY, now=NOW, scope="apply", first_use=first_use)
    assert again.refusal == Refusal.REPLAYED
    wrong = pow.encode_payload(challenge, (number + 1) % (SMALL + 1))
    pow.verify(wrong, key=KEY, now=NOW, scope="apply", first_use=first_use)
    assert seen == [challenge["challenge"]] * 2


def test_it_refuses_payloads_of_the_wrong_shape():
    challenge, number = _solved()
    good = json.loads(base64.b64decode(pow.encode_payload(challenge, number)))
    bad_payloads = [
        "",
        "not base64!",
        "A" * (pow.MAX_PAYLOAD_LENGTH + 4),
        base64.b64encode(b"\xff\xfe").decode(),
        base64.b64encode(b"{").decode(),
        _payload([good]),
        _payload({**good, "number": True}),
        _payload({**good, "number": "42"}),
        _payload({**good, "number": -1}),
        _payload({**good, "number": 1.0}),
        _payload({**good, "number": 10**12}),
        _payload({**good, "salt": None}),
        _payload({**good, "algorithm": "SHA-1"}),
        _payload({**good, "challenge": good["challenge"].upper()}),
        base64.b64encode(b'{"number": ' + b"9" * 600 + b"}").decode(),
        base64.b64encode(b"[" * 700 + b"]" * 700).decode()[: pow.MAX_PAYLOAD_LENGTH],
        None,
        42,
        b"bytes",
    ]
    for payload in bad_payloads:
        assert pow.verify(payload, key=KEY, now=NOW, scope="apply").refusal == Refusal.MALFORMED


@pytest.mark.parametrize("scope", ["Apply", "a b", "x" * 33, "é", "apply&scope=ask"])
def test_the_scope_is_checked_when_the_challenge_is_made(scope):
    with pytest.raises(ValueError, match="scope"):
        pow.create_challenge(key=KEY, now=NOW, scope=scope)


@given(st.text(max_size=2000))
def test_any_text_is_refused_cleanly(payload):
    assert not pow.verify(payload, key=KEY, now=NOW, scope="apply")


@given(st.binary(max_size=900))
def test_any_base64_bytes_are_refused_cleanly(data):
    payload = base64.b64encode(data).decode()
    assert not pow.verify(payload, key=KEY, now=NOW, scope="apply")


_json = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=80),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=6)
    ),
    max_leaves=20,
)
_fields = st.fixed_dictionaries(
    {},
    optional=dict.fromkeys(("algorithm", "challenge", "number", "salt", "signature"), _json),
)


@given(_fields)
def test_any_json_fields_are_refused_cleanly(fields):
    assert not pow.verify(_payload(fields), key=KEY, now=NOW, scope="apply")
