"""Tests for the pure-Python tickets, their QR codes and the standalone verifier."""

import base64
import hashlib
import importlib.util
import io
import json
import re
import shutil
import string
import subprocess
import sys
import xml.etree.ElementTree as ET
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
import segno
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image

from headon.visits import tickets
from headon.visits.tickets import (
    CODE_LENGTH,
    DOMAIN,
    TicketClaims,
    TicketError,
    format_code,
    key_id_for,
    normalise_typed_code,
    private_key_from_bytes,
    private_key_to_bytes,
    public_key_from_pem,
    public_key_pem,
    public_keys_by_id,
    qr_png,
    qr_svg,
    sign_ticket,
    verify_ticket,
)

VISITS = Path(__file__).resolve().parents[1]
VERIFIER_PATH = VISITS / "verify_ticket.py"
NODE = shutil.which("node")
JSQR_PATH = VISITS.parent / "static" / "headon" / "vendor" / "jsqr-1.4.0" / "jsQR.js"

# Fixed keys, so codes are the same on every run (Ed25519 is deterministic).
KEY = private_key_from_bytes(bytes(range(32)))
OLD_KEY = private_key_from_bytes(bytes(range(32, 64)))
KEYS = public_keys_by_id([KEY.public_key()])
OPEN_DAY = datetime(2026, 5, 1, 8, 30, tzinfo=UTC)
CLAIMS = TicketClaims(
    program_id=7,
    session_id=41,
    ticket_id=1234,
    visitor=2,
    valid_from=OPEN_DAY,
    valid_until=OPEN_DAY + timedelta(hours=4),
)
CODE = sign_ticket(CLAIMS, KEY)
ALPHABET = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
LAST_MINUTE = (datetime(9999, 12, 31, 23, 59, tzinfo=UTC) - tickets._EPOCH) // timedelta(minutes=1)


def _load_verifier():
    spec = importlib.util.spec_from_file_location("verify_ticket", VERIFIER_PATH)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


verifier = _load_verifier()


def _reason(code, keys=KEYS):
    with pytest.raises(TicketError) as caught:
        verify_ticket(code, keys)
    return caught.value.code


def _signed(payload, key=KEY):
    return tickets._b32encode(payload + key.sign(DOMAIN + payload))


# --- Round trip and format -------------------------------------------------------


def test_a_signed_code_verifies_to_the_same_claims():
    assert verify_ticket(CODE, KEYS) == CLAIMS


def test_the_code_is_144_canonical_base32_characters_and_signing_is_deterministic():
    assert len(CODE) == CODE_LENGTH == 144
    assert set(CODE) <= set(ALPHABET)
    assert sign_ticket(CLAIMS, KEY) == CODE


def test_the_verified_window_comes_back_in_utc():
    beijing = timezone(timedelta(hours=8))
    claims = TicketClaims(1, 2, 3, 0, OPEN_DAY.astimezone(beijing), OPEN_DAY.astimezone(beijing))
    verified = verify_ticket(sign_ticket(claims, KEY), KEYS)
    assert verified == claims
    assert verified.valid_from.utcoffset() == timedelta(0)


def test_the_format_is_the_documented_layout():
    data = tickets._b32decode(CODE)
    payload, signature = data[:26], data[26:]
    assert (
        payload
        == bytes.fromhex(
            "01"  # version
            + hashlib.sha256(tickets._raw_public(KEY.public_key())).hexdigest()[:8]  # key id
            + "00000007"
            + "00000029"
            + "000004d2"
            + "02"  # program, session, ticket, visitor
            + f"{(OPEN_DAY - tickets._EPOCH) // timedelta(minutes=1):08x}"
            + f"{(OPEN_DAY + timedelta(hours=4) - tickets._EPOCH) // timedelta(minutes=1):08x}"
        )
    )
    KEY.public_key().verify(signature, b"headon-ticket-v1\x00" + payload)


@settings(max_examples=200)
@given(
    ids=st.tuples(*[st.integers(0, 2**32 - 1)] * 3),
    visitor=st.integers(0, 255),
    start=st.integers(0, LAST_MINUTE),
    length=st.integers(0, 60 * 24 * 366),
)
def test_any_valid_claims_round_trip(ids, visitor, start, length):
    start_at = tickets._EPOCH + timedelta(minutes=start)
    end_at = tickets._EPOCH + timedelta(minutes=min(start + length, LAST_MINUTE))
    program, session, ticket = ids
    claims = TicketClaims(program, session, ticket, visitor, start_at, end_at)
    code = sign_ticket(claims, KEY)
    assert len(code) == CODE_LENGTH
    assert verify_ticket(code, KEYS) == claims
    assert verify_ticket(format_code(code).lower(), KEYS) == claims


# --- Tampering -------------------------------------------------------------------


def test_every_single_bit_flip_of_the_ticket_is_rejected():
    data = tickets._b32decode(CODE)
    reasons = set()
    for bit in range(len(data) * 8):
        flipped = bytearray(data)
        flipped[bit // 8] ^= 0x80 >> (bit % 8)
        reason = _reason(tickets._b32encode(bytes(flipped)))
        expected = "wrong_version" if bit < 8 else "unknown_key" if bit < 40 else "bad_signature"
        assert reason == expected, bit
        reasons.add(reason)
    assert reasons == {"wrong_version", "unknown_key", "bad_signature"}


def test_every_single_character_substitution_is_rejected():
    for position, original in enumerate(CODE):
        for char in ALPHABET.replace(original, ""):
            with pytest.raises(TicketError):
                verify_ticket(CODE[:position] + char + CODE[position + 1 :], KEYS)


def test_padding_bits_must_be_zero_so_no_second_code_decodes_to_the_same_ticket():
    # 88 bytes take 141 characters with one spare bit; a v1 code has none,
    # but the decoder must stay canonical for any length.
    encoded = tickets._b32encode(bytes(range(88)))
    assert tickets._b32decode(encoded) == bytes(range(88))
    odd = encoded[:-1] + ALPHABET[ALPHABET.index(encoded[-1]) | 1]
    with pytest.raises(tickets.MalformedTicketError):
        tickets._b32decode(odd)


def test_a_ticket_signed_over_the_payload_without_the_domain_prefix_is_rejected():
    payload = tickets._b32decode(CODE)[:26]
    forged = tickets._b32encode(payload + KEY.sign(payload))
    assert _reason(forged) == "bad_signature"


# --- What people type ------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        pytest.param(CODE.lower(), id="lower case"),
        pytest.param(format_code(CODE), id="grouped with hyphens"),
        pytest.param(" ".join(format_code(CODE).split("-")), id="grouped with spaces"),
        pytest.param(f"  {format_code(CODE).lower()}\n", id="surrounding whitespace"),
        pytest.param(CODE.replace("0", "O"), id="O for zero"),
        pytest.param(CODE.replace("0", "o"), id="o for zero"),
        pytest.param(CODE.replace("1", "I"), id="I for one"),
        pytest.param(CODE.replace("1", "l"), id="l for one"),
        pytest.param(CODE.replace("1", "L"), id="L for one"),
        pytest.param(
            "".join(chr(ord(c) + 0xFEE0) for c in format_code(CODE)), id="full-width input method"
        ),
        pytest.param(format_code(CODE).replace("-", "\u2014"), id="em dashes"),
    ],
)
def test_typed_variants_of_a_code_are_accepted(typed):
    assert typed != CODE
    assert verify_ticket(typed, KEYS) == CLAIMS


def test_the_example_code_has_the_characters_the_confusion_tests_need():
    assert "0" in CODE
    assert "1" in CODE


def test_normalise_reads_o_as_zero_and_i_or_l_as_one_in_any_case():
    assert normalise_typed_code(" o-O i-I l-L\u3000ｚ ") == "001111Z"
    assert normalise_typed_code("U*é") == "U*É"  # left for the decoder to report


def test_format_code_groups_by_four_and_normalise_undoes_it():
    grouped = format_code(CODE)
    assert re.fullmatch(r"[0-9A-Z]{4}(-[0-9A-Z]{4}){35}", grouped)
    assert normalise_typed_code(grouped) == CODE


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param("", id="empty"),
        pytest.param("  - -  ", id="only separators"),
        pytest.param(CODE[:-1], id="one character short"),
        pytest.param(CODE[:100], id="truncated"),
        pytest.param(CODE[:8], id="badly truncated"),
        pytest.param(CODE + "0", id="one character long"),
        pytest.param(CODE + CODE, id="doubled"),
        pytest.param("Z" * 10_000, id="huge"),
        pytest.param(format_code(CODE) + " " * 5_000, id="huge with spaces"),
        pytest.param(CODE[:-1] + "U", id="U is not in the alphabet"),
        pytest.param(CODE[:-1] + "é", id="non-ASCII letter"),
        pytest.param("门票" + CODE[2:], id="Chinese"),
        pytest.param(CODE[:-1] + "\x00", id="NUL"),
        pytest.param("https://example.com/t/" + CODE, id="a URL"),
        pytest.param("hello world", id="garbage"),
    ],
)
def test_bad_input_is_reported_as_malformed(bad):
    assert _reason(bad) == "malformed"


@pytest.mark.parametrize("bad", [None, CODE.encode(), 42, ["A"]])
def test_a_code_that_is_not_a_string_is_malformed(bad):
    assert _reason(bad) == "malformed"


@settings(max_examples=300)
@given(text=st.text(max_size=300) | st.text(alphabet=ALPHABET + "-oil ", max_size=300))
def test_arbitrary_text_only_ever_raises_a_ticket_error(text):
    with pytest.raises(TicketError) as caught:
        verify_ticket(text, KEYS)
    assert caught.value.code in {"malformed", "wrong_version", "unknown_key", "bad_signature"}


def test_a_code_of_another_format_version_is_reported_as_such():
    payload = bytearray(tickets._b32decode(CODE)[:26])
    payload[0] = 2
    assert _reason(_signed(bytes(payload))) == "wrong_version"


def test_a_signed_ticket_with_an_impossible_window_is_malformed_not_a_crash():
    payload = bytearray(tickets._b32decode(CODE)[:26])
    payload[18:26] = (2**32 - 1).to_bytes(4, "big") * 2  # after the year 9999
    assert _reason(_signed(bytes(payload))) == "malformed"


# --- Keys ------------------------------------------------------------------------


def test_a_ticket_from_an_unknown_key_is_rejected():
    assert _reason(sign_ticket(CLAIMS, OLD_KEY)) == "unknown_key"
    assert _reason(CODE, {}) == "unknown_key"


def test_the_signature_is_checked_against_the_key_not_just_its_id():
    impostor = {key_id_for(KEY.public_key()): OLD_KEY.public_key()}
    assert _reason(CODE, impostor) == "bad_signature"


def test_keys_rotate_old_tickets_verify_while_the_old_key_is_published():
    old_code = sign_ticket(CLAIMS, OLD_KEY)
    both = public_keys_by_id([KEY.public_key(), OLD_KEY.public_key()])
    assert verify_ticket(old_code, both) == CLAIMS
    assert verify_ticket(CODE, both) == CLAIMS
    assert old_code != CODE
    assert _reason(old_code, KEYS) == "unknown_key"


def test_key_ids_are_the_first_four_bytes_of_the_public_key_hash():
    raw = tickets._raw_public(KEY.public_key())
    assert key_id_for(KEY.public_key()) == int(hashlib.sha256(raw).hexdigest()[:8], 16)
    assert key_id_for(KEY.public_key()) != key_id_for(OLD_KEY.public_key())


def test_private_keys_round_trip_through_raw_bytes():
    key = tickets.generate_key()
    raw = private_key_to_bytes(key)
    assert len(raw) == 32
    assert private_key_to_bytes(private_key_from_bytes(raw)) == raw
    with pytest.raises(ValueError, match="32 raw bytes"):
        private_key_from_bytes(raw[:31])


def test_the_published_pem_key_verifies_tickets():
    pem = public_key_pem(KEY.public_key())
    assert pem.startswith("-----BEGIN PUBLIC KEY-----\n")
    published = public_key_from_pem(pem)
    assert verify_ticket(CODE, public_keys_by_id([published])) == CLAIMS
    assert public_key_from_pem(pem.encode()) is not None


def test_a_pem_that_is_not_an_ed25519_public_key_is_refused():
    from cryptography.hazmat.primitives import serialization

    ec_pem = (
        ec.generate_private_key(ec.SECP256R1())
        .public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    )
    with pytest.raises(ValueError, match="Ed25519"):
        public_key_from_pem(ec_pem)
    with pytest.raises(ValueError, match="PEM"):
        public_key_from_pem("not a key")


# --- Claims ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"program_id": -1}, "program_id"),
        ({"session_id": 2**32}, "session_id"),
        ({"ticket_id": True}, "ticket_id"),
        ({"visitor": 256}, "visitor"),
        ({"valid_from": datetime(2026, 5, 1, 8, 30)}, "aware"),  # noqa: DTZ001
        ({"valid_from": OPEN_DAY + timedelta(seconds=30)}, "whole minute"),
        ({"valid_until": OPEN_DAY - timedelta(minutes=1)}, "before valid_from"),
        ({"valid_from": datetime(1969, 12, 31, tzinfo=UTC)}, "outside"),
    ],
)
def test_claims_that_could_not_round_trip_are_refused_before_signing(changes, message):
    fields = {f: getattr(CLAIMS, f) for f in CLAIMS.__dataclass_fields__} | changes
    with pytest.raises(ValueError, match=message) as caught:
        TicketClaims(**fields)
    assert not isinstance(caught.value, TicketError)


def test_valid_at_includes_both_ends_of_the_window():
    assert CLAIMS.valid_at(OPEN_DAY)
    assert CLAIMS.valid_at(OPEN_DAY + timedelta(hours=4))
    assert not CLAIMS.valid_at(OPEN_DAY - timedelta(seconds=1))
    assert not CLAIMS.valid_at(OPEN_DAY + timedelta(hours=4, seconds=1))
    with pytest.raises(ValueError, match="aware"):
        CLAIMS.valid_at(datetime(2026, 5, 1, 9))  # noqa: DTZ001


# --- QR codes --------------------------------------------------------------------


def _svg_matrix(svg):
    """The module matrix drawn by qr_svg, read back from its path."""
    root = ET.fromstring(svg)
    size = int(root.get("viewBox", "").split()[2])
    dark = [[False] * size for _ in range(size)]
    paths = root.findall("{http://www.w3.org/2000/svg}path")
    assert [p.get("fill") for p in paths] == ["#fff", "#000"]
    assert paths[0].get("d") == f"M0 0h{size}v{size}h-{size}z"
    d = paths[1].get("d", "")
    runs = re.findall(r"M(\d+) (\d+)h(\d+)v1h-(\d+)z", d)
    assert "".join(f"M{x} {y}h{n}v1h-{m}z" for x, y, n, m in runs) == d
    for x, y, n, m in runs:
        assert n == m
        for column in range(int(x), int(x) + int(n)):
            assert not dark[int(y)][column], "a module drawn twice"
            dark[int(y)][column] = True
    return dark


def test_the_qr_svg_has_no_style_script_or_event_handler():
    svg = qr_svg(CODE)
    root = ET.fromstring(svg)
    for element in root.iter():
        tag = element.tag.rsplit("}", 1)[-1]
        assert tag in {"svg", "path"}, tag
        for name in element.attrib:
            assert name != "style"
            assert not name.lower().startswith("on")
    assert "<style" not in svg
    assert "script" not in svg.lower()
    assert not svg.startswith("<?xml")
    assert root.get("role") == "img"
    assert root.get("aria-label") == "Ticket QR code"


def test_the_qr_svg_label_is_escaped():
    svg = qr_svg(CODE, label='门票 "><script>alert(1)</script>')
    root = ET.fromstring(svg)
    assert root.get("aria-label") == '门票 "><script>alert(1)</script>'
    assert [e.tag.rsplit("}", 1)[-1] for e in root.iter()] == ["svg", "path", "path"]


def test_the_qr_svg_draws_exactly_segnos_matrix_inside_a_quiet_zone():
    expected = segno.make_qr(CODE, error="m", boost_error=False)
    assert (expected.version, expected.error, expected.mode) == (6, "M", "alphanumeric")
    drawn = _svg_matrix(qr_svg(CODE, scale=5))
    border = tickets.QR_BORDER
    assert len(drawn) == 41 + 2 * border
    inner = [row[border:-border] for row in drawn[border:-border]]
    assert inner == [[bool(m) for m in row] for row in expected.matrix]
    assert (
        sum(map(sum, drawn))
        == sum(map(sum, inner))
        == sum(sum(map(bool, r)) for r in expected.matrix)
    )
    root = ET.fromstring(qr_svg(CODE, scale=5))
    assert root.get("width") == root.get("height") == str(49 * 5)


def test_the_qr_of_a_typed_code_is_the_qr_of_the_canonical_code():
    assert qr_svg(format_code(CODE).lower()) == qr_svg(CODE)


def _rgba(dark, scale=4):
    """Black-on-white RGBA pixels of a module matrix, as a camera frame would be."""
    rows = []
    for row in dark:
        line = b"".join(b"\x00\x00\x00\xff" * scale if m else b"\xff" * 4 * scale for m in row)
        rows.extend([line] * scale)
    return len(dark) * scale, b"".join(rows)


def _jsqr(width, height, pixels):
    script = (
        "const jsQR = require(process.argv[1]);"
        "const input = JSON.parse(require('fs').readFileSync(0, 'utf8'));"
        "const data = new Uint8ClampedArray(Buffer.from(input.pixels, 'base64'));"
        "const found = jsQR(data, input.width, input.height, {inversionAttempts: 'dontInvert'});"
        "process.stdout.write(JSON.stringify(found && found.data));"
    )
    payload = {"width": width, "height": height, "pixels": base64.b64encode(pixels).decode()}
    result = subprocess.run(
        [NODE or "node", "-e", script, str(JSQR_PATH)],
        input=json.dumps(payload),
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return json.loads(result.stdout)


needs_node = pytest.mark.skipif(NODE is None, reason="needs Node.js")


@needs_node
def test_the_vendored_gate_decoder_reads_the_svg_back_to_the_code():
    size, pixels = _rgba(_svg_matrix(qr_svg(CODE)))
    assert _jsqr(size, size, pixels) == CODE


@needs_node
def test_the_vendored_gate_decoder_reads_the_png_back_to_the_code():
    image = Image.open(io.BytesIO(qr_png(CODE)))
    assert image.format == "PNG"
    rgba = image.convert("RGBA")
    assert rgba.getpixel((0, 0)) == (255, 255, 255, 255)  # a white quiet zone, not transparent
    assert _jsqr(rgba.width, rgba.height, rgba.tobytes()) == CODE


@needs_node
def test_the_decoder_harness_can_fail():
    # The control for the two tests above: a damaged symbol does not decode.
    dark = _svg_matrix(qr_svg(CODE))
    for row in dark[4:12]:  # wipe the top-left finder pattern
        row[4:12] = [False] * 8
    size, pixels = _rgba(dark)
    assert _jsqr(size, size, pixels) is None


# --- The standalone verifier -----------------------------------------------------


def test_the_standalone_verifier_agrees_on_valid_and_rejected_codes():
    keys = {key_id_for(KEY.public_key()): KEY.public_key()}
    claims = verifier.verify(format_code(CODE).lower().replace("0", "o"), keys)
    assert claims["key_id"] == f"{key_id_for(KEY.public_key()):08x}"
    assert (claims["program_id"], claims["session_id"], claims["ticket_id"]) == (7, 41, 1234)
    assert claims["visitor"] == 2
    assert datetime.fromisoformat(claims["valid_from"]) == CLAIMS.valid_from
    assert datetime.fromisoformat(claims["valid_until"]) == CLAIMS.valid_until
    version_2 = bytearray(tickets._b32decode(CODE)[:26])
    version_2[0] = 2
    bad_signature = CODE[:-1] + ("A" if CODE[-1] != "A" else "B")
    for bad in [
        "",
        CODE[:-4],
        "hello",
        sign_ticket(CLAIMS, OLD_KEY),
        _signed(bytes(version_2)),
        bad_signature,
    ]:
        with pytest.raises(verifier.InvalidTicketError) as caught:
            verifier.verify(bad, keys)
        assert str(caught.value) == _reason(bad), bad


def test_the_standalone_verifier_runs_with_the_published_pem(tmp_path):
    key_file = tmp_path / "tickets.pem"
    key_file.write_text(public_key_pem(KEY.public_key()))
    old_file = tmp_path / "old.pem"
    old_file.write_text(public_key_pem(OLD_KEY.public_key()))
    command = [sys.executable, str(VERIFIER_PATH), "--key", str(old_file), "--key", str(key_file)]
    ok = subprocess.run([*command, *format_code(CODE).split("-")], capture_output=True, text=True)
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["ticket_id"] == 1234
    bad = subprocess.run([*command, CODE[:-1] + "U"], capture_output=True, text=True)
    assert bad.returncode == 1
    assert "malformed" in bad.stderr


def test_a_fresh_key_signs_tickets_only_it_verifies():
    key = Ed25519PrivateKey.generate()
    code = sign_ticket(CLAIMS, key)
    assert verify_ticket(code, public_keys_by_id([key.public_key()])) == CLAIMS
    assert _reason(code) == "unknown_key"
    assert set(string.ascii_uppercase + string.digits) >= set(code)
