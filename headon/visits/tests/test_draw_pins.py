"""Pinned digests of whole draw records, so that speed work on draw.py and
verify_draw.py cannot change a published order or outcome by a single byte.

The digests were taken from the code before it was optimised, and cover the
order, outcome, waitlist and seats left: headon-draw-v2 changed what is
sealed and how the seed is derived, not the shuffle or the mechanism, so
from a given seed these are still v1's, byte for byte. If one of these
fails, the shuffle or the mechanism changed: a change of procedure needs a
new algorithm version, not a new digest.
"""

import dataclasses
import hashlib
import importlib.util
import io
import json
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headon.visits import beacon
from headon.visits.draw import (
    Party,
    Seal,
    Seats,
    _assign,
    _words,
    canonical_list,
    draw_order,
    run_draw,
)

VERIFIER_PATH = Path(__file__).resolve().parents[1] / "verify_draw.py"
SESSIONS = [f"2027-02-{day:02d}.{slot}" for day in (10, 11, 12, 13) for slot in ("am", "pm")]


def _load_verifier():
    spec = importlib.util.spec_from_file_location("verify_draw_pins", VERIFIER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = _load_verifier()


def _parties(n: int) -> list[Party]:
    """Deterministic without `random`: every field comes from SHA-256 of the
    index, so the input itself cannot drift between Python versions."""
    rows = []
    for i in range(n):
        h = hashlib.sha256(i.to_bytes(4, "big")).digest()
        start, count = h[1] % len(SESSIONS), 1 + h[2] % 5
        choices = tuple(
            SESSIONS[(start + k * (1 + h[3] % 3)) % len(SESSIONS)] for k in range(count)
        )
        choices = tuple(dict.fromkeys(choices))  # no repeats, rank order kept
        # Refs of varying length and alphabet, so sorting by ref is exercised.
        ref = f"{h[4:6].hex()}-{i}" if i % 3 else f"A{i:x}"
        rows.append(Party(ref, 1 + h[0] % 4, choices, h[5] % 3))
    return rows


def _seats(capacity: int) -> list[Seats]:
    return [Seats(s, capacity + 7 * k) for k, s in enumerate(SESSIONS)]


# v1's seed for "pinned secret for headon tests" and the list hash "ab" * 32.
PINNED_SEED = bytes.fromhex("c84de7584999e95d3a3ae7825f1ecc635f82078f2c00c6ac87ffb06cf00e42d5")


def _record_digest(n: int, capacity: int, mechanism: str, tiers: bool) -> str:
    parties = _parties(n)
    result = run_draw(
        parties=parties, seats=_seats(capacity), seed=PINNED_SEED, mechanism=mechanism, tiers=tiers
    )
    decided = {
        "order": result.order,
        "outcome": {ref: result.offers.get(ref) for ref in result.order},
        "waitlist": result.waitlist,
        "seats_left": dict(sorted(result.seats_left.items())),
    }
    # The standalone verifier re-runs the same shuffle and mechanism.
    as_dicts = [
        {"ref": p.ref, "size": p.size, "choices": list(p.choices), "tier": p.tier} for p in parties
    ]
    order = verifier.draw_order(as_dicts, PINNED_SEED, tiers)
    assert order == result.order
    capacities = {s.session: s.capacity for s in _seats(capacity)}
    found = verifier.assign(order, as_dicts, capacities, mechanism == "group_rsd_fair")
    assert found == (decided["outcome"], decided["waitlist"], decided["seats_left"])
    return hashlib.sha256(json.dumps(decided).encode()).hexdigest()


# (parties, capacity per session, mechanism, tiers) -> SHA-256 of the decided
# part of the record (order, outcome, waitlist, seats left), as json.dumps wrote it
PINS = {
    (
        300,
        20,
        "group_rsd",
        False,
    ): "be87b7efa6fc942135cda138d115b3c1cc35f93efe33538a151c12929d89cbe6",
    (
        300,
        20,
        "group_rsd_fair",
        True,
    ): "3597462a82abcbd1930cb8dbd6f1fa4e993ce85bb34fa76e8d2a968bf3dbb6e7",
    (
        3000,
        120,
        "group_rsd",
        True,
    ): "9c252eff32ace26ad1f44c81552b34de4ee067c9d51f396ab06e8943a2a2be21",
    (
        3000,
        120,
        "group_rsd_fair",
        False,
    ): "000db02f6a2625385972a1db5acb65186896abef195edb8e1a2923249e100b40",
    # Above 65,536 parties `below` reads three bytes at a time.
    (
        70_000,
        2000,
        "group_rsd_fair",
        False,
    ): "e8d089f69d77e0fa9eeb18a69c55d3eed85d65645fb49576953f13ed472da690",
}

ROUND, OFFSET = 657413, 100


def _sealed(parties, seats, mechanism="group_rsd", tiers=False):
    """A sealed run on the recorded round 657413, so it has a record."""
    sealed_at = int(beacon.round_time(ROUND - OFFSET).timestamp()) - 1
    seal = Seal(mechanism, tiers, None, sealed_at, OFFSET, ROUND)
    return run_draw(
        parties=parties,
        seats=seats,
        mechanism=mechanism,
        tiers=tiers,
        seal=seal,
        signature=beacon.RECORDED[ROUND],
    )


@pytest.mark.parametrize(("case", "digest"), PINS.items(), ids=lambda v: str(v)[:40])
def test_the_record_is_byte_for_byte_the_pinned_one(case, digest):
    assert _record_digest(*case) == digest


def test_the_canonical_list_and_order_are_the_pinned_ones():
    parties = _parties(3000)
    seed = hashlib.sha256(b"pinned order").digest()
    assert (
        hashlib.sha256(canonical_list(parties)).hexdigest()
        == "7655d5bac1fadf3c126f06283ed6cabbc3ef1109c9958b0e48657458b8892950"
    )
    order = draw_order(parties, seed, tiers=True)
    assert (
        hashlib.sha256("\n".join(order).encode()).hexdigest()
        == "5900877fc7d374e12500f4ed855851a5c7f0d9238d07ed93f34a01648e53be11"
    )


@pytest.mark.parametrize("mechanism", ["group_rsd", "group_rsd_fair"])
@pytest.mark.parametrize("tiers", [False, True])
def test_the_written_record_is_the_text_of_json_dumps(mechanism, tiers):
    parties = _parties(3000)
    result = _sealed(parties, _seats(5), mechanism, tiers)
    out = io.StringIO()
    result.write_record(out)
    assert out.getvalue() == json.dumps(result.record())


def test_a_record_not_from_run_draw_is_written_by_json_dumps():
    result = _sealed(_parties(20), _seats(5))
    odd = dataclasses.replace(result, order=['quote"d', *result.order[1:]])
    out = io.StringIO()
    odd.write_record(out)
    assert out.getvalue() == json.dumps(odd.record())
    assert '"quote\\"d"' in out.getvalue()


@pytest.mark.parametrize("width", [1, 2, 3, 4, 5])
def test_words_are_the_big_endian_reads_of_below(width):
    data = hashlib.sha256(b"words").digest() * 3
    data = data[: len(data) // width * width]
    bits = 8 * width - 3
    expected = [
        int.from_bytes(data[k : k + width], "big") & ((1 << bits) - 1)
        for k in range(0, len(data), width)
    ]
    assert _words(data, width, bits) == expected


def _reference_assign(order, capacities, fair):
    """The allocation loop as first written, before it skipped full sessions."""
    left, closed, offers, waitlist = dict(capacities), set(), {}, []
    for party in order:
        for session in party.choices:
            if session in closed:
                continue
            if left[session] >= party.size:
                left[session] -= party.size
                offers[party.ref] = session
                break
            if fair:
                closed.add(session)
        else:
            waitlist.append(party.ref)
    return offers, waitlist, left, sorted(closed)


@settings(max_examples=200)
@given(
    sizes=st.lists(st.integers(1, 4), min_size=1, max_size=60),
    picks=st.lists(st.permutations(["s1", "s2", "s3"]), min_size=60, max_size=60),
    lengths=st.lists(st.integers(1, 3), min_size=60, max_size=60),
    capacities=st.lists(st.integers(0, 12), min_size=3, max_size=3),
    fair=st.booleans(),
)
def test_the_allocation_is_the_one_first_written(sizes, picks, lengths, capacities, fair):
    order = [Party(f"p{k}", size, tuple(picks[k][: lengths[k]])) for k, size in enumerate(sizes)]
    caps = dict(zip(["s1", "s2", "s3"], capacities, strict=True))
    outcome = _assign(order, caps, fair=fair)
    expected = _reference_assign(order, caps, fair)
    assert (outcome.offers, outcome.waitlist, outcome.seats_left, outcome.closed) == expected
    record_order = [p.ref for p in order]
    parties = [{"ref": p.ref, "size": p.size, "choices": list(p.choices)} for p in order]
    found = verifier.assign(record_order, parties, caps, fair)
    assert found == ({p.ref: outcome.offers.get(p.ref) for p in order}, *expected[1:3])


@pytest.mark.parametrize("n", [0, 1, 2, 255, 256, 257, 300, 65_537])
def test_the_verifier_shuffles_like_its_reference_stream(n):
    seed = hashlib.sha256(f"verifier {n}".encode()).digest()
    refs = sorted(f"r{k}" for k in range(n))
    stream, expected = verifier.HashStream(seed), list(refs)
    for i in range(n - 1, 0, -1):
        j = stream.below(i + 1)
        expected[i], expected[j] = expected[j], expected[i]
    assert verifier.draw_order([{"ref": r, "tier": 0} for r in refs], seed, False) == expected


class Seats2(int):
    """An int subclass: valid as a size, but not what the fast checks expect."""

    def __str__(self) -> str:
        return "two"


def test_a_party_the_fast_checks_do_not_expect_takes_the_careful_path():
    parties = [*_parties(50), Party("odd", Seats2(2), (SESSIONS[0],))]
    plain = [*_parties(50), Party("odd", 2, (SESSIONS[0],))]
    odd = _sealed(parties, _seats(5))
    usual = _sealed(plain, _seats(5))
    assert odd.order != usual.order  # the sealed text says "two", so the seed differs
    assert odd.sealed_hash != usual.sealed_hash
    out = io.StringIO()
    odd.write_record(out)
    assert out.getvalue() == json.dumps(odd.record())
