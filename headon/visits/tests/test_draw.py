"""Tests for the pure-Python draw and its standalone verifier (no database)."""

import hashlib
import importlib.util
import itertools
import json
import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headon.visits import beacon
from headon.visits.draw import (
    DrawError,
    DrawResult,
    HashStream,
    Party,
    Seal,
    Seats,
    _assign,
    canonical_list,
    commitment_for_secret,
    derive_seed,
    draw_order,
    run_draw,
    sealed_text,
    seed_source,
    shuffle,
)

VERIFIER_PATH = Path(__file__).resolve().parents[1] / "verify_draw.py"
SECRET = bytes(range(32))
SEED = hashlib.sha256(b"headon test vector").digest()
SEATS = (Seats("s1", 10), Seats("s2", 8), Seats("s3", 5))


def _load_verifier():
    spec = importlib.util.spec_from_file_location("verify_draw", VERIFIER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = _load_verifier()


def seed_for(i: int) -> bytes:
    return hashlib.sha256(f"seed {i}".encode()).digest()


def sample_parties(n: int = 20) -> list[Party]:
    rankings = [("s1", "s2"), ("s2", "s3", "s1"), ("s3",), ("s1", "s3")]
    return [Party(f"p{i:03d}", 1 + i % 4, rankings[i % 4]) for i in range(n)]


def draw(parties=None, mechanism="group_rsd", seed=SEED, **kwargs) -> DrawResult:
    parties = sample_parties() if parties is None else parties
    return run_draw(parties=parties, seats=SEATS, seed=seed, mechanism=mechanism, **kwargs)


# A published quicknet round (never made up), and a seal a second before the
# round OFFSET rounds earlier: the seal names exactly this round.
ROUND, OFFSET = 657413, 100
SIGNATURE = beacon.RECORDED[ROUND]
SEALED_AT = int(beacon.round_time(ROUND - OFFSET).timestamp()) - 1


def seal(mechanism="group_rsd_fair", tiers=False, commitment=None, **changes) -> Seal:
    values = {"sealed_at": SEALED_AT, "beacon_offset": OFFSET, "beacon_round": ROUND}
    values.update(changes)
    return Seal(mechanism, tiers, commitment, **values)


def sealed_draw(parties=None, mechanism="group_rsd_fair", tiers=False, secret=SECRET, seats=SEATS):
    """A real draw: sealed, seeded from the recorded round (and the secret)."""
    commitment = commitment_for_secret(secret) if secret is not None else None
    return run_draw(
        parties=sample_parties() if parties is None else parties,
        seats=seats,
        mechanism=mechanism,
        tiers=tiers,
        seal=seal(mechanism, tiers, commitment),
        signature=SIGNATURE,
        secret=secret,
    )


def sessions_reached(party: Party, offer: str | None) -> tuple[str, ...]:
    """The choices a party tried: all of them if waitlisted, else up to its offer."""
    if offer is None:
        return party.choices
    return party.choices[: party.choices.index(offer) + 1]


# --- Published inputs, seed and commitment ----------------------------------


def test_the_canonical_list_is_sorted_by_ref_one_line_per_party():
    parties = [Party("b", 2, ("s1", "s2"), 1), Party("a", 1, ("s1",))]
    assert canonical_list(parties) == b"a|1|s1|0\nb|2|s1,s2|1\n"
    assert canonical_list(parties) == canonical_list(reversed(parties))


def test_the_canonical_list_refuses_names_that_would_break_its_format():
    with pytest.raises(DrawError, match="session id"):
        canonical_list([Party("a", 1, ("s1,s2",))])
    with pytest.raises(DrawError, match="party reference"):
        canonical_list([Party("a\nb", 1, ("s1",))])


def test_the_seed_is_sha256_of_the_documented_concatenation():
    sh = "9d188b5d496cd059b0c7c89b7a0775539c57e827fe9791cdb79a9bf0fe2bc8b7"
    material = b"headon-draw-seed\x00headon-draw-v2\x00" + SECRET + b"\x00" + sh.encode()
    assert derive_seed(source=SECRET, sealed_hash=sh) == hashlib.sha256(material).digest()


def test_the_source_is_the_round_then_the_secret_never_the_secret_alone():
    randomness = beacon.Round(ROUND, SIGNATURE).randomness
    assert randomness == hashlib.sha256(bytes.fromhex(SIGNATURE)).digest()
    assert seed_source(randomness) == randomness
    assert seed_source(randomness, SECRET) == randomness + SECRET
    with pytest.raises(DrawError, match="exactly 32 bytes"):
        seed_source(SECRET[:16])  # a secret is no beacon
    with pytest.raises(DrawError, match="at least 16 bytes"):
        seed_source(randomness, b"4byt")


def test_the_seed_changes_with_every_input():
    sh, other = "0" * 64, "1" * 64
    seeds = {
        derive_seed(source=SECRET, sealed_hash=sh),
        derive_seed(source=SECRET, sealed_hash=other),
        derive_seed(source=SECRET + b"\x00", sealed_hash=sh),
        derive_seed(source=SECRET, sealed_hash=sh, algorithm="headon-draw-v3"),
    }
    assert len(seeds) == 4


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"source": b"", "sealed_hash": "0" * 64}, "non-empty"),
        ({"source": SECRET, "sealed_hash": "0" * 63}, "64 lowercase hex"),
        ({"source": SECRET, "sealed_hash": "A" * 64}, "64 lowercase hex"),
        ({"source": SECRET, "sealed_hash": "0" * 64, "algorithm": "v1\x00x"}, "algorithm"),
    ],
)
def test_it_rejects_bad_seed_inputs(kwargs, message):
    with pytest.raises(DrawError, match=message):
        derive_seed(**kwargs)


def test_the_sealed_text_holds_everything_the_draw_depends_on():
    parties = [Party("b", 2, ("s1", "s2"), 1), Party("a", 1, ("s1",))]
    seats = [Seats("s2", 4, "cancelled"), Seats("s1", 3)]
    text = sealed_text(parties, seats, seal("group_rsd_fair", True, "ab" * 32))
    assert text == (
        b"headon-draw-v2\nmechanism|group_rsd_fair\ntiers|on\ncommitment|" + b"ab" * 32 + b"\n"
        b"sealed_at|%d\nbeacon|drand-quicknet|100|657413\n"
        % SEALED_AT
        + b"sessions|2\ns1|3|scheduled\ns2|4|cancelled\nparties|2\na|1|s1|0\nb|2|s1,s2|1\n"
    )
    # Each of them changes the hash: capacity, status, mechanism, tiers, commitment.
    variants = [
        sealed_text(
            parties,
            [Seats("s2", 4, "cancelled"), Seats("s1", 4)],
            seal("group_rsd_fair", True, "ab" * 32),
        ),
        sealed_text(
            parties, [Seats("s2", 4), Seats("s1", 3)], seal("group_rsd_fair", True, "ab" * 32)
        ),
        sealed_text(parties, seats, seal("group_rsd", True, "ab" * 32)),
        sealed_text(parties, seats, seal("group_rsd_fair", False, "ab" * 32)),
        sealed_text(parties, seats, seal("group_rsd_fair", True, None)),
    ]
    assert len({text, *variants}) == 6


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"beacon_round": ROUND - 1}, "must be 657413"),
        ({"beacon_round": ROUND + 1}, "must be 657413"),
        ({"beacon_offset": 0, "beacon_round": ROUND - OFFSET}, "offset"),
        ({"sealed_at": 1}, "genesis"),
    ],
)
def test_the_seal_names_the_round_after_it_and_no_other(changes, message):
    with pytest.raises(DrawError, match=message):
        sealed_text(sample_parties(), SEATS, seal(**changes))


def test_the_commitment_is_the_sha256_of_the_secret_and_needs_16_bytes():
    assert commitment_for_secret(SECRET) == hashlib.sha256(SECRET).hexdigest()
    with pytest.raises(DrawError, match="at least 16 bytes"):
        commitment_for_secret(b"short")


# --- The byte stream and uniform integers -----------------------------------


def test_the_stream_is_sha256_in_counter_mode_read_across_blocks():
    stream = HashStream(SEED)
    first = hashlib.sha256(SEED + (0).to_bytes(8, "big")).digest()
    second = hashlib.sha256(SEED + (1).to_bytes(8, "big")).digest()
    assert stream.read(30) == first[:30]
    assert stream.read(4) == first[30:] + second[:2]
    assert stream.read(30) == second[2:]


class ScriptedStream(HashStream):
    """A stream that returns chosen bytes, to steer `below` into rejections."""

    def __init__(self, data: bytes) -> None:
        super().__init__(SEED)
        self.data = data
        self.widths: list[int] = []

    def read(self, n: int) -> bytes:
        self.widths.append(n)
        out, self.data = self.data[:n], self.data[n:]
        return out


def test_below_rejects_out_of_range_values_instead_of_taking_a_modulo():
    # n = 3: two low bits of one byte. 0xFF -> 3 is out of range, so it draws
    # again; a modulo would have mapped it to 0 and made 0 twice as likely.
    stream = ScriptedStream(bytes([0xFF, 0xFB, 0x06]))
    assert stream.below(3) == 2
    assert stream.widths == [1, 1, 1]


def test_below_reads_just_enough_bytes_and_nothing_for_one():
    stream = ScriptedStream(bytes([0x01, 0x00, 0x01, 0xFF, 0xFF]))
    assert stream.below(1) == 0
    assert stream.widths == []
    assert stream.below(256) == 1  # 8 bits: one byte
    assert stream.below(257) == 1  # 9 bits: two bytes, low 9 bits of 0x0001
    assert stream.widths == [1, 2]


def test_below_is_uniform_for_a_range_that_is_not_a_power_of_two():
    stream = HashStream(SEED)
    counts = Counter(stream.below(3) for _ in range(30_000))
    chi_square = sum((counts[k] - 10_000) ** 2 / 10_000 for k in range(3))
    assert set(counts) == {0, 1, 2}
    assert chi_square < 13.8  # 2 degrees of freedom, p = 0.001


def test_below_refuses_an_empty_range():
    with pytest.raises(DrawError, match="below 0"):
        HashStream(SEED).below(0)


# --- The shuffle -------------------------------------------------------------


def test_the_shuffle_matches_the_published_test_vector():
    # Also in docs/draw.md, for anyone writing their own verifier.
    refs = [f"r{i}" for i in range(10)]
    assert shuffle(refs, SEED) == ["r7", "r4", "r0", "r6", "r9", "r2", "r5", "r1", "r3", "r8"]


@given(
    st.lists(st.text("abc", min_size=1, max_size=4), max_size=40),
    st.binary(min_size=32, max_size=32),
)
def test_the_shuffle_is_a_permutation(items, seed):
    assert sorted(shuffle(items, seed)) == sorted(items)


def test_the_shuffle_gives_every_order_of_four_about_equally_often():
    items = ["a", "b", "c", "d"]
    counts = Counter(tuple(shuffle(items, seed_for(i))) for i in range(2400))
    assert set(counts) == set(itertools.permutations(items))
    chi_square = sum((c - 100) ** 2 / 100 for c in counts.values())
    assert chi_square < 49.7  # 23 degrees of freedom, p = 0.001


def test_the_draw_order_does_not_depend_on_input_order():
    parties = sample_parties()
    assert draw_order(parties, SEED) == draw_order(list(reversed(parties)), SEED)
    assert draw_order(parties, SEED) != draw_order(parties, seed_for(1))


# --- The mechanism -----------------------------------------------------------

party_strategy = st.builds(
    Party,
    ref=st.text("abcdefgh", min_size=1, max_size=6),
    size=st.integers(1, 5),
    choices=st.lists(st.sampled_from(["s1", "s2", "s3"]), min_size=1, max_size=3, unique=True).map(
        tuple
    ),
    tier=st.integers(0, 2),
)
parties_strategy = st.lists(party_strategy, min_size=1, max_size=40, unique_by=lambda p: p.ref)
draw_inputs = {
    "parties": parties_strategy,
    "seed": st.binary(min_size=32, max_size=32),
    "mechanism": st.sampled_from(["group_rsd", "group_rsd_fair"]),
    "tiers": st.booleans(),
}


@settings(max_examples=150)
@given(**draw_inputs)
def test_the_allocation_keeps_every_promise(parties, seed, mechanism, tiers):
    result = draw(parties, mechanism, seed, tiers=tiers)
    by_ref = {p.ref: p for p in parties}
    capacities = {s.session: s.capacity for s in SEATS}
    # Each party is either offered one session it chose, or waitlisted.
    assert sorted(result.order) == sorted(by_ref)
    assert set(result.offers).isdisjoint(result.waitlist)
    assert set(result.offers) | set(result.waitlist) == set(by_ref)
    assert all(result.offers[ref] in by_ref[ref].choices for ref in result.offers)
    # Parties are whole: a session's seats taken are the sum of whole party sizes.
    for session, capacity in capacities.items():
        taken = sum(by_ref[r].size for r, s in result.offers.items() if s == session)
        assert taken <= capacity
        assert result.seats_left[session] == capacity - taken
    # The waitlist is the unserved parties in draw order.
    assert result.waitlist == [ref for ref in result.order if ref not in result.offers]


@settings(max_examples=100)
@given(**draw_inputs)
def test_a_party_only_misses_a_better_choice_that_could_not_take_it(
    parties, seed, mechanism, tiers
):
    result = draw(parties, mechanism, seed, tiers=tiers)
    for party in parties:
        offer = result.offers.get(party.ref)
        for session in sessions_reached(party, offer):
            if session != offer:  # seats only go down, so it cannot fit at the end either
                assert result.seats_left[session] < party.size or session in result.closed


@settings(max_examples=100)
@given(**draw_inputs)
def test_tiers_go_first_when_on_and_are_ignored_when_off(parties, seed, mechanism, tiers):
    result = draw(parties, mechanism, seed, tiers=tiers)
    untiered = draw_order(parties, seed)
    if not tiers:
        assert result.order == untiered
        return
    tier_of = {p.ref: p.tier for p in parties}
    assert [tier_of[r] for r in result.order] == sorted(tier_of.values())
    for tier in set(tier_of.values()):  # random order inside a tier
        assert [r for r in result.order if tier_of[r] == tier] == [
            r for r in untiered if tier_of[r] == tier
        ]


@settings(max_examples=150)
@given(parties=parties_strategy, seed=st.binary(min_size=32, max_size=32))
def test_the_fair_mechanism_lets_no_party_leapfrog_one_that_was_turned_away(parties, seed):
    result = draw(parties, "group_rsd_fair", seed)
    by_ref = {p.ref: p for p in parties}
    turned_away_at: dict[str, int] = {}  # session -> first position it turned a party away
    for position, ref in enumerate(result.order):
        offer = result.offers.get(ref)
        for session in sessions_reached(by_ref[ref], offer):
            if session != offer:
                turned_away_at.setdefault(session, position)
    for position, ref in enumerate(result.order):
        offer = result.offers.get(ref)
        if offer is not None:
            assert position < turned_away_at.get(offer, len(result.order))


def test_the_plain_mechanism_lets_small_parties_leapfrog_and_the_fair_one_does_not():
    big, small = Party("big", 4, ("s1",)), Party("small", 1, ("s1",))
    opener = Party("opener", 3, ("s1",))
    order = [opener, big, small]  # 3 of 5 seats gone; 4 do not fit, 1 does
    plain = _assign(order, {"s1": 5}, fair=False)
    fair = _assign(order, {"s1": 5}, fair=True)
    assert plain.offers == {"opener": "s1", "small": "s1"}
    assert fair.offers == {"opener": "s1"}
    assert fair.waitlist == ["big", "small"]
    assert fair.seats_left == {"s1": 2}
    assert fair.closed == ["s1"]


def test_the_fair_mechanism_narrows_the_gap_between_party_sizes():
    # One session of 12 seats, ten parties of one and ten of four, 300 fixed
    # seeds. Measured: plain 40% vs 20% success, every seat filled; fair 25% vs
    # 20%, 1.5 seats left on average (never more than the largest party - 1).
    parties = [Party(f"one{i}", 1, ("s1",)) for i in range(10)]
    parties += [Party(f"four{i}", 4, ("s1",)) for i in range(10)]

    def run(mechanism: str) -> tuple[float, list[int]]:
        wins: Counter[str] = Counter()
        left = []
        for i in range(300):
            result = run_draw(
                parties=parties, seats=[Seats("s1", 12)], seed=seed_for(i), mechanism=mechanism
            )
            wins.update(ref.rstrip("0123456789") for ref in result.offers)
            left.append(result.seats_left["s1"])
        return (wins["one"] - wins["four"]) / 3000, left

    (plain_gap, plain_left), (fair_gap, fair_left) = run("group_rsd"), run("group_rsd_fair")
    assert plain_gap > 0.15
    assert abs(fair_gap) < plain_gap / 3
    assert set(plain_left) == {0}
    assert max(fair_left) <= 3


def test_the_same_inputs_give_the_same_record():
    parties = sample_parties()
    first = sealed_draw(parties).record()
    second = sealed_draw(list(reversed(parties))).record()
    assert first == second
    assert json.loads(json.dumps(first)) == first
    assert first["beacon"]["round"] == ROUND
    assert first["secret"] == SECRET.hex()


def test_only_a_sealed_draw_has_a_record():
    with pytest.raises(DrawError, match="Only a sealed draw"):
        draw().record()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"signature": beacon.RECORDED[9683710]}, "not the signature of quicknet round 657413"),
        ({"signature": "00" * 48}, "not a point"),
        ({"signature": None}, "Not a quicknet round"),
        ({"secret": None}, "goes with a commitment"),
        ({"secret": bytes(32)}, "not the one committed"),
        ({"mechanism": "group_rsd"}, "mechanism and tiers flag it sealed"),
        ({"tiers": True}, "mechanism and tiers flag it sealed"),
        ({"seed": SEED}, "does not derive"),
    ],
)
def test_a_sealed_draw_refuses_any_source_but_the_round_and_the_committed_secret(kwargs, message):
    arguments: dict[str, Any] = {
        "parties": sample_parties(),
        "seats": SEATS,
        "mechanism": "group_rsd_fair",
        "seal": seal(commitment=commitment_for_secret(SECRET)),
        "signature": SIGNATURE,
        "secret": SECRET,
    }
    arguments.update(kwargs)
    with pytest.raises(DrawError, match=message):
        run_draw(**arguments)


# --- Hostile input -------------------------------------------------------------


@pytest.mark.parametrize(
    ("parties", "seats", "message"),
    [
        ([], SEATS, "at least one party"),
        (sample_parties(), [], "at least one session"),
        ([Party("a", 1, ("s1",)), Party("a", 2, ("s2",))], SEATS, "a appears twice"),
        ([Party("a", 0, ("s1",))], SEATS, "at least one seat"),
        ([Party("a", -2, ("s1",))], SEATS, "at least one seat"),
        ([Party("a", True, ("s1",))], SEATS, "at least one seat"),
        ([Party("a", 1, ())], SEATS, "at least one session"),
        ([Party("a", 1, ("s1", "s1"))], SEATS, "same session twice"),
        ([Party("a", 1, ("s9",))], SEATS, "unknown session .s9."),
        ([Party("a", 1, ("s1",), -1)], SEATS, "tier"),
        ([Party("a|b", 1, ("s1",))], SEATS, "party reference"),
        ([Party("", 1, ("s1",))], SEATS, "party reference"),
        ([Party("x" * 65, 1, ("s1",))], SEATS, "at most 64"),
        ([Party("a", 1, ("s1,s2",))], SEATS, "unknown session 's1,s2'"),
        ([Party("a", 1, ("s1",))], [Seats("s1", 1), Seats("s1", 2)], "s1 appears twice"),
        ([Party("a", 1, ("s1",))], [Seats("s1", -1)], "capacity"),
        ([Party("a", 1, ("s1",))], [Seats("s1", 1, "full")], "status"),
        (["a"], SEATS, "Expected a Party"),
    ],
)
def test_it_rejects_hostile_input_with_a_clear_message(parties, seats, message):
    with pytest.raises(DrawError, match=message):
        run_draw(parties=parties, seats=seats, seed=SEED, mechanism="group_rsd")


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"mechanism": "lottery"}, "Unknown mechanism"),
        ({"algorithm_version": "headon-draw-v0"}, "not 'headon-draw-v0'"),
        ({"seed": b"short"}, "32 bytes"),
        ({"seed": None}, "needs its seal"),
    ],
)
def test_it_rejects_bad_draw_settings(kwargs, message):
    arguments: dict[str, Any] = {"parties": sample_parties(), "seats": SEATS, "seed": SEED}
    arguments["mechanism"] = "group_rsd"
    arguments.update(kwargs)
    with pytest.raises(DrawError, match=message):
        run_draw(**arguments)


# --- The standalone verifier -------------------------------------------------------


def genuine_record(mechanism="group_rsd_fair", tiers=False, secret=SECRET) -> dict[str, Any]:
    record: dict[str, Any] = json.loads(
        json.dumps(sealed_draw(mechanism=mechanism, tiers=tiers, secret=secret).record())
    )
    return record


def run_verifier(tmp_path, record, *args: str) -> int:
    path = tmp_path / "record.json"
    path.write_text(json.dumps(record))
    return int(verifier.main([str(path), *args]))


def checks_of(record, secret=None) -> dict[str, bool]:
    checks, _notes = verifier.verify(record, secret)
    return dict(checks)


@pytest.mark.parametrize("mechanism", ["group_rsd", "group_rsd_fair"])
@pytest.mark.parametrize("secret", [SECRET, None])
def test_the_verifier_confirms_a_genuine_record(tmp_path, capsys, mechanism, secret):
    record = genuine_record(mechanism, tiers=True, secret=secret)
    assert run_verifier(tmp_path, record, "--require-signature") == 0
    out = capsys.readouterr().out
    assert out.strip().endswith("MATCH")
    assert "round 657413's signature is quicknet's (py_arkworks_bls12381)" in out


def _swap_first_two(record):
    record["order"][:2] = record["order"][1::-1]


def _move_an_offer(record):
    winner = next(ref for ref, session in record["outcome"].items() if session)
    record["outcome"][winner] = None


def _grow_a_party(record):
    record["parties"][0]["size"] += 1


def _forge_a_ref(record):
    # Keeps the canonical bytes of two parties but makes them one ref.
    first, second = record["parties"][:2]
    first["ref"] = f"{first['ref']}|{first['size']}|{','.join(first['choices'])}|0\n{second['ref']}"
    first["size"], first["choices"] = second["size"], second["choices"]
    del record["parties"][1]


def _add_a_seat(record):
    record["sessions"][0]["capacity"] += 1


def _cancel_a_session(record):
    record["sessions"][0]["status"] = "cancelled"


def _flip_the_mechanism(record):
    record["mechanism"] = "group_rsd"


def _turn_tiers_on(record):
    record["tiers"] = True


def _drop_from_waitlist(record):
    record["waitlist"].pop()


def _an_earlier_round(record):
    record["beacon"]["round"] -= 1


def _another_rounds_signature(record):
    record["beacon"]["signature"] = beacon.RECORDED[9683710]


def _beacon_value_00(record):
    record["beacon"]["signature"] = "00"


def _no_round(record):
    del record["beacon"]["round"]


def _move_the_seal_after_the_round(record):
    record["sealed_at"] += OFFSET * 3 + 5


def _a_short_secret(record):
    record["secret"] = "deadbeef"
    record["commitment"] = hashlib.sha256(bytes.fromhex("deadbeef")).hexdigest()


def _no_commitment_but_a_secret(record):
    record["commitment"] = None


def _twenty_one_choices(record):
    names = [f"x{i}" for i in range(21)]
    record["sessions"] += [{"id": n, "capacity": 0, "status": "scheduled"} for n in names]
    record["sessions"].sort(key=lambda s: s["id"])
    record["parties"][0]["choices"] = names


def _a_negative_tier(record):
    record["parties"][0]["tier"] = -1


def _unsorted_parties(record):
    record["parties"][:2] = record["parties"][1::-1]


def _unsorted_sessions(record):
    record["sessions"][:2] = record["sessions"][1::-1]


@pytest.mark.parametrize(
    "tamper",
    [
        _swap_first_two,
        _move_an_offer,
        _grow_a_party,
        _forge_a_ref,
        _add_a_seat,
        _cancel_a_session,
        _flip_the_mechanism,
        _turn_tiers_on,
        _drop_from_waitlist,
        _an_earlier_round,
        _another_rounds_signature,
        _beacon_value_00,
        _no_round,
        _move_the_seal_after_the_round,
        _a_short_secret,
        _no_commitment_but_a_secret,
        _twenty_one_choices,
        _a_negative_tier,
        _unsorted_parties,
        _unsorted_sessions,
    ],
)
def test_the_verifier_rejects_a_tampered_record(tmp_path, capsys, tamper):
    record = genuine_record()
    tamper(record)
    assert run_verifier(tmp_path, record) == 1
    assert capsys.readouterr().out.strip().endswith("MISMATCH")


def test_a_consistent_rerun_with_the_mechanism_flipped_fails():
    """Re-running the draw with the other mechanism gives a record whose order
    and outcome agree with each other: only the sealed hash tells."""
    record = genuine_record()
    flipped = sealed_draw(mechanism="group_rsd").record()
    flipped["sealed_hash"], flipped["seed"] = record["sealed_hash"], record["seed"]
    checks = checks_of(json.loads(json.dumps(flipped)))
    assert not checks["sealed hash matches (compare it with the one published at the seal)"]


def test_the_verifier_refuses_a_secret_for_a_record_without_a_commitment(tmp_path, capsys):
    record = genuine_record(secret=None)
    assert run_verifier(tmp_path, record) == 0
    assert run_verifier(tmp_path, record, "--secret", SECRET.hex()) == 1
    assert "committed to none" in capsys.readouterr().out


def test_the_verifier_rejects_a_wrong_secret(tmp_path):
    record = genuine_record()
    assert run_verifier(tmp_path, record, "--secret", SECRET.hex()) == 0
    assert run_verifier(tmp_path, record, "--secret", bytes(reversed(SECRET)).hex()) == 1


def test_the_verifier_rejects_a_seed_that_does_not_derive_from_the_seal(tmp_path):
    record = genuine_record()
    other = derive_seed(source=SECRET, sealed_hash="0" * 64)
    # Re-run the draw on the substituted seed: order and outcome agree with it...
    rerun = draw(sample_parties(), "group_rsd_fair", other)
    record["seed"], record["order"] = other.hex(), rerun.order
    record["outcome"] = {ref: rerun.offers.get(ref) for ref in rerun.order}
    record["waitlist"], record["seats_left"] = rerun.waitlist, rerun.seats_left
    # ...but it cannot come from the round, the secret and the seal.
    assert run_verifier(tmp_path, record) == 1


def test_without_a_bls_library_the_verifier_says_what_it_did_not_check(tmp_path, capsys):
    record = genuine_record()
    checks, notes = verifier.verify(record, None, bls=False)
    assert all(passed for _, passed in checks)
    assert "657413's BLS signature not checked" in notes[0]
    assert f"https://api.drand.sh/{beacon.CHAIN_HASH}/public/657413" in notes[0]


def test_the_verifier_fails_cleanly_on_a_malformed_record(tmp_path, capsys):
    (tmp_path / "record.json").write_text("{not json")
    assert verifier.main([str(tmp_path / "record.json")]) == 1
    assert run_verifier(tmp_path, {"parties": []}) == 1
    assert run_verifier(tmp_path, [1, 2]) == 1
    assert "cannot check" in capsys.readouterr().out


@settings(max_examples=60)
@given(**draw_inputs)
def test_the_verifier_agrees_with_the_draw_on_any_input(parties, seed, mechanism, tiers):
    secret = seed if seed[0] % 2 else None  # with and without an organiser secret
    record = sealed_draw(parties, mechanism, tiers, secret).record()
    checks, _notes = verifier.verify(json.loads(json.dumps(record)), None)
    assert all(passed for _, passed in checks), [c for c in checks if not c[1]]


def test_the_verifier_runs_with_the_standard_library_alone(tmp_path):
    path = tmp_path / "record.json"
    path.write_text(json.dumps(genuine_record()))
    # -I -S: no site-packages, so neither headon nor Django can be imported.
    command = [sys.executable, "-I", "-S", str(VERIFIER_PATH), str(path)]
    ok = subprocess.run([*command, "--secret", SECRET.hex()], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stdout + ok.stderr
    assert "note: round 657413's BLS signature not checked" in ok.stdout
    strict = subprocess.run([*command, "--require-signature"], capture_output=True, text=True)
    assert strict.returncode == 1
    bad = subprocess.run([*command, "--secret", "00" * 32], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "FAIL the secret given is the record's" in bad.stdout


# --- docs/draw.md is enough to write a verifier -------------------------------------

DOC = Path(__file__).resolve().parents[3] / "docs" / "draw.md"


def _doc_blocks(language: str) -> list[str]:
    text = DOC.read_text(encoding="utf-8")
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_docs_record_verifies_and_its_sealed_text_is_what_is_hashed(tmp_path, capsys):
    (record_text,) = _doc_blocks("json")
    record = json.loads(record_text)
    sealed = next(b for b in _doc_blocks("") if b.startswith("headon-draw-v2\nmechanism|group"))
    assert hashlib.sha256(sealed.encode("ascii")).hexdigest() == record["sealed_hash"]
    assert run_verifier(tmp_path, record, "--require-signature") == 0
    # The doc's record is the one the code makes from the inputs it lists.
    parties = [
        Party(p["ref"], p["size"], tuple(p["choices"]), p["tier"]) for p in record["parties"]
    ]
    seats = [Seats(s["id"], s["capacity"], s["status"]) for s in record["sessions"]]
    for mechanism in ("group_rsd_fair", "group_rsd"):
        result = run_draw(
            parties=parties,
            seats=seats,
            mechanism=mechanism,
            tiers=True,
            seal=seal(mechanism, True, record["commitment"]),
            signature=record["beacon"]["signature"],
            secret=bytes.fromhex(record["secret"]),
        )
        text = DOC.read_text(encoding="utf-8")
        if mechanism == "group_rsd_fair":
            assert result.record() == record
        else:
            assert f"the sealed hash is\n`{result.sealed_hash}`" in text
            assert f"`{result.seed.hex()}`, the order\n`{', '.join(result.order)}`" in text


def test_the_docs_publish_the_verifiers_sha256_and_the_beacon_vectors():
    text = DOC.read_text(encoding="utf-8")
    assert hashlib.sha256(VERIFIER_PATH.read_bytes()).hexdigest() in text
    for number, signature in beacon.RECORDED.items():
        assert signature in text
        assert beacon.Round(number, signature).randomness.hex() in text
    assert beacon.PUBLIC_KEY in text
    assert "`1694775603` (2023-09-15 11:00:03 UTC)" in text
    assert int(beacon.round_time(657413).timestamp()) == 1694775603
