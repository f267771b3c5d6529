"""Pinned digests of whole draw records, so that speed work on draw.py and
verify_draw.py cannot change a published order or outcome by a single byte.

The digests were taken from the code before it was optimised. If one of these
fails, the draw is no longer headon-draw-v1: a change of procedure needs a new
algorithm version, not a new digest.
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

from headon.visits.draw import (
    Party,
    Seats,
    _assign,
    _words,
    canonical_list,
    derive_seed,
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


def _record_digest(n: int, capacity: int, mechanism: str, tiers: bool) -> str:
    parties = _parties(n)
    seed = derive_seed(source=b"pinned secret for headon tests", list_hash="ab" * 32)
    record = run_draw(
        parties=parties, seats=_seats(capacity), seed=seed, mechanism=mechanism, tiers=tiers
    ).record()
    assert all(passed for _, passed in verifier.verify(record, None))
    return hashlib.sha256(json.dumps(record).encode()).hexdigest()


# (parties, capacity per session, mechanism, tiers) -> SHA-256 of json.dumps(record)
PINS = {
    (
        300,
        20,
        "group_rsd",
        False,
    ): "43778af7a0d19b4049889d3fcb9967a36da4e708679fabaf8528c6deedfa3750",
    (
        300,
        20,
        "group_rsd_fair",
        True,
    ): "0c7a19a085a482a51684a32bf84f6eb7a203d599122ec40d4bf8fd8a9ab950fa",
    (
        3000,
        120,
        "group_rsd",
        True,
    ): "7b84158a224cfc3807b64b7b3a400e57b5a895bef6d3d7f9820b0807cbd5f6f8",
    (
        3000,
        120,
        "group_rsd_fair",
        False,
    ): "7f1ff545f33a1856aeccd5595124f90f817b63adc28d2f5caf85a885d3570279",
    # Above 65,536 parties `below` reads three bytes at a time.
    (
        70_000,
        2000,
        "group_rsd_fair",
        False,
    ): "c309b2b2804786166a893e9414a531e5332d3cc99f6c30a8eba590f25ec4d1e3",
}


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
    result = run_draw(
        parties=parties, seats=_seats(5), seed=b"s" * 32, mechanism=mechanism, tiers=tiers
    )
    out = io.StringIO()
    result.write_record(out)
    assert out.getvalue() == json.dumps(result.record())


def test_a_record_not_from_run_draw_is_written_by_json_dumps():
    result = run_draw(parties=_parties(20), seats=_seats(5), seed=b"s" * 32, mechanism="group_rsd")
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
    odd = run_draw(parties=parties, seats=_seats(5), seed=b"s" * 32, mechanism="group_rsd")
    usual = run_draw(parties=plain, seats=_seats(5), seed=b"s" * 32, mechanism="group_rsd")
    assert odd.order == usual.order
    assert odd.list_hash != usual.list_hash  # the canonical list says "two", as it always did
    out = io.StringIO()
    odd.write_record(out)
    assert out.getvalue() == json.dumps(odd.record())
