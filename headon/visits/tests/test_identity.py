"""Tests for headon.visits.identity: plain pytest and hypothesis, no database."""

from __future__ import annotations

import base64
import hashlib
import hmac
import pickle
from datetime import date, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headon.visits.identity import (
    PROVINCE_CODES,
    PURPOSE_ID_SEAL,
    PURPOSE_IDENTITY_KEY,
    IdentityError,
    Sealer,
    derive_key,
    id_check_character,
    identity_key,
    make_test_id_number,
    mask_id_number,
    mask_phone,
    normalise_id_number,
    normalise_phone,
)

# Never depend on the real today (STYLE.md rule 11): every ID check gets this date.
TODAY = date(2026, 3, 1)
MASTER = b"a master secret for tests, 32+ bytes long"
HASH_KEY = derive_key(MASTER, PURPOSE_IDENTITY_KEY)
SEAL_KEY = derive_key(MASTER, PURPOSE_ID_SEAL)
PUBLISHED_SAMPLE = "11010519491231002X"  # the sample printed in GB 11643-1999 guides

FAST = settings(max_examples=150, deadline=None)


def full_width(text: str) -> str:
    """ASCII digits and letters as their full-width forms (U+FF10 and up)."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalnum() else c for c in text)


# --- Strategies -------------------------------------------------------------

valid_ids = st.builds(
    lambda province, district, birth, sequence: make_test_id_number(
        region=province + district, birth=birth, sequence=sequence
    ),
    st.sampled_from(sorted(PROVINCE_CODES)),
    st.from_regex(r"[0-9]{4}", fullmatch=True),
    st.dates(min_value=date(1900, 1, 1), max_value=TODAY),
    st.integers(min_value=0, max_value=999),
)

# Prefixes long allocated to the three carriers; every number under them is valid
# in phonenumbers' metadata, so the test is about formatting, not allocation.
MOBILE_PREFIXES = [str(p) for p in (*range(130, 140), 150, 151, 152, 153, 155, 156)] + [
    str(p) for p in (157, 158, 159, *range(180, 190))
]
cn_mobiles = st.builds(
    lambda prefix, rest: prefix + rest,
    st.sampled_from(MOBILE_PREFIXES),
    st.from_regex(r"[0-9]{8}", fullmatch=True),
)


@st.composite
def formatted_phone(draw: st.DrawFn, national: str) -> str:
    """``national`` (11 digits) as a person might type it."""
    prefix = draw(st.sampled_from(["", "+86", "+86 ", "0086", "0086 ", "86", "(+86)", "+86-"]))
    sep = draw(st.sampled_from(["", " ", "-", ".", "\u3000", " - "]))
    head = national[:3]
    if draw(st.booleans()):
        head = f"({head})"
    text = prefix + sep.join([head, national[3:7], national[7:]])
    if draw(st.booleans()):
        text = full_width(text)
    padding = draw(st.sampled_from(["", " ", "\t", "\u3000"]))
    return padding + text + padding


@st.composite
def noisy_id(draw: st.DrawFn, number: str) -> str:
    """``number`` with a lower-case x, stray spaces and dashes, some full-width characters."""
    out = []
    for char in number:
        if char == "X" and draw(st.booleans()):
            char = "x"
        if draw(st.integers(0, 3)) == 0:
            char = full_width(char)
        out.append(char)
        out.append(draw(st.sampled_from(["", "", "", " ", "-", "\u3000"])))
    return "".join(out)


# --- Phones -----------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        "13812345678",
        "+86 138-1234-5678",
        "138 1234 5678",
        "８６１３８１２３４５６７８",
        "0086 13812345678",
        "8613812345678",
        "+8613812345678",
        "(+86) 138 1234 5678",
        "+86 (138) 1234.5678",
        "１３８\u3000１２３４\u3000５６７８",
        "138－1234－5678",
        "138—1234—5678",
        "  138 1234 5678\n",
        "＋８６ １３８ １２３４ ５６７８",
    ],
)
def test_phone_formatting_variants_collapse_to_one_e164(raw):
    assert normalise_phone(raw) == "+8613812345678"


def test_it_reads_landlines_and_foreign_numbers_with_their_country_code():
    assert normalise_phone("010-6552 9988") == "+861065529988"
    assert normalise_phone("+44 7911 123456") == "+447911123456"
    assert normalise_phone("00447911123456") == "+447911123456"
    assert normalise_phone("7911 123456", default_region="GB") == "+447911123456"


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "   ",
        "abc",
        "1381234567",  # ten digits: possible, not valid
        "12345678901",  # no mobile range starts 12
        "+8613812345678901",
        "10086",  # a service short code, not a person
        "13812345678 ext 3",  # an extension would merge everyone behind a switchboard
        "1-800-FLOWERS",
        "138 1234 5678 x",
        "1" * 100,
    ],
)
def test_invalid_phones_are_rejected_with_phone_invalid(raw):
    with pytest.raises(IdentityError) as caught:
        normalise_phone(raw)
    assert caught.value.code == "phone_invalid"


@FAST
@given(cn_mobiles.flatmap(lambda n: st.tuples(st.just(n), formatted_phone(n))))
def test_any_cn_mobile_in_any_formatting_normalises_to_the_same_e164(case):
    national, raw = case
    assert normalise_phone(raw) == "+86" + national


def test_mask_phone_hides_the_middle_of_the_national_number():
    assert mask_phone("+8613812345678") == "+86 138****5678"
    assert mask_phone("+861065529988") == "+86 106***9988"
    assert mask_phone("+447911123456") == "+44 791***3456"


# --- ID numbers: checksum ---------------------------------------------------


def test_the_published_sample_id_number_is_valid():
    assert normalise_id_number(PUBLISHED_SAMPLE, today=TODAY) == PUBLISHED_SAMPLE


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),
        ("11010119900101123", "7"),
        ("44030420000229001", "4"),
        ("51010819850315666", "8"),
    ],
)
def test_check_character_matches_hand_computed_examples(first17, check):
    # Computed by hand with weights 7 9 10 5 8 4 2 1 6 3 7 9 10 5 8 4 2: for the first,
    # the weighted sum is 167, 167 % 11 = 2, and "10X98765432"[2] is "X".
    assert id_check_character(first17) == check
    assert normalise_id_number(first17 + check, today=TODAY) == first17 + check


@pytest.mark.parametrize(
    "raw",
    [
        "11010519491231002x",
        "110105 19491231 002X",
        "110105-19491231-002x",
        "１１０１０５１９４９１２３１００２Ｘ",
        "１１０１０５１９４９１２３１００２ｘ",
        " 11010519491231002X\t",
    ],
)
def test_id_formatting_variants_collapse_to_one(raw):
    assert normalise_id_number(raw, today=TODAY) == PUBLISHED_SAMPLE


@pytest.mark.parametrize("position", range(18))
def test_every_single_character_corruption_of_the_sample_is_detected(position):
    for replacement in "0123456789X":
        if replacement == PUBLISHED_SAMPLE[position]:
            continue
        corrupted = PUBLISHED_SAMPLE[:position] + replacement + PUBLISHED_SAMPLE[position + 1 :]
        with pytest.raises(IdentityError) as caught:
            normalise_id_number(corrupted, today=TODAY)
        # An X anywhere but last is a format error; any other change breaks the checksum.
        expected = "id_invalid_format" if replacement == "X" and position < 17 else None
        assert caught.value.code == (expected or "id_invalid_checksum")


@FAST
@given(valid_ids.flatmap(lambda n: st.tuples(st.just(n), noisy_id(n))))
def test_any_valid_id_survives_formatting_noise(case):
    number, raw = case
    assert normalise_id_number(number, today=TODAY) == number
    assert normalise_id_number(raw, today=TODAY) == number


@FAST
@given(valid_ids, st.integers(0, 16), st.integers(1, 9))
def test_changing_any_single_digit_of_a_valid_id_is_always_rejected(number, position, shift):
    digit = str((int(number[position]) + shift) % 10)
    corrupted = number[:position] + digit + number[position + 1 :]
    with pytest.raises(IdentityError) as caught:
        normalise_id_number(corrupted, today=TODAY)
    assert caught.value.code == "id_invalid_checksum"


@FAST
@given(valid_ids, st.sampled_from("0123456789X"))
def test_changing_the_check_character_of_a_valid_id_is_always_rejected(number, check):
    if check == number[17]:
        return
    with pytest.raises(IdentityError) as caught:
        normalise_id_number(number[:17] + check, today=TODAY)
    assert caught.value.code == "id_invalid_checksum"


@FAST
@given(valid_ids, st.integers(0, 16))
def test_swapping_two_adjacent_characters_of_a_valid_id_is_always_rejected(number, position):
    swapped = number[:position] + number[position + 1] + number[position] + number[position + 2 :]
    if swapped == number:
        return
    with pytest.raises(IdentityError):
        normalise_id_number(swapped, today=TODAY)


# --- ID numbers: format, region, date ---------------------------------------


@pytest.mark.parametrize(
    "raw",
    ["", "X", "1101051949123100", "110105194912310021X", "X1010519491231002", "11010519491231002Y"],
)
def test_malformed_ids_are_rejected_with_id_invalid_format(raw):
    with pytest.raises(IdentityError) as caught:
        normalise_id_number(raw, today=TODAY)
    assert caught.value.code == "id_invalid_format"


def test_a_15_digit_legacy_id_is_rejected_with_id_legacy():
    with pytest.raises(IdentityError) as caught:
        normalise_id_number("110105491231002", today=TODAY)
    assert caught.value.code == "id_legacy"


@pytest.mark.parametrize("province", ["00", "10", "16", "20", "24", "38", "47", "55", "66", "91"])
def test_an_unknown_province_is_rejected_even_with_a_good_checksum(province):
    number = make_test_id_number(region=province + "0101")
    with pytest.raises(IdentityError) as caught:
        normalise_id_number(number, today=TODAY)
    assert caught.value.code == "id_invalid_region"


@pytest.mark.parametrize("province", ["71", "81", "82", "83"])
def test_taiwan_and_hk_macao_taiwan_residence_permits_are_accepted(province):
    number = make_test_id_number(region=province + "0000")
    assert normalise_id_number(number, today=TODAY) == number


@pytest.mark.parametrize(
    "birth_digits",
    ["19900230", "19900229", "19901301", "19900001", "19900100", "18991231", "00000000"],
)
def test_a_birth_date_that_is_not_a_real_date_after_1900_is_rejected(birth_digits):
    first17 = "110101" + birth_digits + "123"
    with pytest.raises(IdentityError) as caught:
        normalise_id_number(first17 + id_check_character(first17), today=TODAY)
    assert caught.value.code == "id_invalid_date"


def test_a_birth_date_after_today_is_rejected_and_today_itself_is_accepted():
    tomorrow = make_test_id_number(birth=TODAY + timedelta(days=1))
    with pytest.raises(IdentityError) as caught:
        normalise_id_number(tomorrow, today=TODAY)
    assert caught.value.code == "id_invalid_date"
    born_today = make_test_id_number(birth=TODAY)
    assert normalise_id_number(born_today, today=TODAY) == born_today


def test_leap_day_births_are_valid_in_leap_years():
    number = make_test_id_number(birth=date(2000, 2, 29))
    assert normalise_id_number(number, today=TODAY) == number


def test_make_test_id_number_refuses_a_bad_region_or_sequence():
    with pytest.raises(ValueError, match="region"):
        make_test_id_number(region="1101")
    with pytest.raises(ValueError, match="sequence"):
        make_test_id_number(sequence=1000)


def test_non_ascii_digits_are_a_format_error_not_a_crash():
    arabic_indic = PUBLISHED_SAMPLE[:5] + "\u0660" + PUBLISHED_SAMPLE[6:]
    with pytest.raises(IdentityError) as caught:
        normalise_id_number(arabic_indic, today=TODAY)
    assert caught.value.code == "id_invalid_format"


@FAST
@given(st.one_of(st.text(max_size=30), st.from_regex(r"[0-9Xx \-]{14,22}", fullmatch=True)))
def test_any_text_either_normalises_to_canonical_form_or_raises_identity_error(raw):
    try:
        number = normalise_id_number(raw, today=TODAY)
    except IdentityError:
        return
    assert len(number) == 18
    assert number[:17].isascii()
    assert number[:17].isdigit()
    assert normalise_id_number(number, today=TODAY) == number


@FAST
@given(st.one_of(st.text(max_size=30), st.from_regex(r"[+0-9 ()\-]{3,20}", fullmatch=True)))
def test_any_text_either_normalises_to_e164_or_raises_phone_invalid(raw):
    code: str | None
    try:
        phone = normalise_phone(raw)
    except IdentityError as error:
        code = error.code
    else:
        code = None
        assert phone == normalise_phone(phone)
        assert identity_key("phone", phone, HASH_KEY)  # the shape identity_key expects
    assert code in {None, "phone_invalid"}


# --- Masking and leaks ------------------------------------------------------


def test_mask_id_number_keeps_first_three_and_last_four_and_the_length():
    assert mask_id_number("110105199001011234") == "110***********1234"
    assert mask_id_number(PUBLISHED_SAMPLE) == "110***********002X"
    assert mask_id_number("12345") == "*****"


def _error_texts(error: BaseException) -> str:
    """Everything a log line or traceback could show about an error and its chain."""
    texts = []
    current: BaseException | None = error
    while current is not None:
        texts += [str(current), repr(current), repr(current.args)]
        current = current.__cause__ or current.__context__
    return "\n".join(texts)


@pytest.mark.parametrize(
    "raw",
    [
        PUBLISHED_SAMPLE[:16] + "3X",  # bad checksum
        make_test_id_number(region="990101", birth=date(1990, 1, 1), sequence=456),  # region
        make_test_id_number(birth=date(2030, 6, 15), sequence=789),  # future birth
        "11010519900230" + "123" + id_check_character("11010519900230123"),  # Feb 30
        PUBLISHED_SAMPLE + "9",  # too long
        PUBLISHED_SAMPLE[:15],  # looks like a legacy number
        full_width(PUBLISHED_SAMPLE[:16] + "3x"),
    ],
)
def test_errors_never_contain_the_full_id_number(raw):
    with pytest.raises(IdentityError) as caught:
        normalise_id_number(raw, today=TODAY)
    texts = _error_texts(caught.value)
    digits = "".join(c for c in raw if c.isalnum()).upper()
    # No run of 8 characters of the number (the birth date, say) appears in a message.
    for start in range(len(digits) - 7):
        assert digits[start : start + 8] not in texts
        assert full_width(digits[start : start + 8]) not in texts


def test_an_error_keeps_its_code_through_pickling():
    error = IdentityError("id_invalid_checksum", "ID number 110***********002X fails")
    copy = pickle.loads(pickle.dumps(error))  # noqa: S301 - our own bytes
    assert (copy.code, str(copy)) == (error.code, str(error))


# --- Identity keys ----------------------------------------------------------


def test_identity_key_is_a_stable_64_hex_digest():
    key = identity_key("phone", "+8613812345678", HASH_KEY)
    assert key == identity_key("phone", "+8613812345678", HASH_KEY)
    assert len(key) == 64
    assert int(key, 16) >= 0


def test_identity_key_is_domain_separated_not_a_bare_hmac_of_the_value():
    bare = hmac.new(HASH_KEY, PUBLISHED_SAMPLE.encode(), hashlib.sha256).hexdigest()
    assert identity_key("id", PUBLISHED_SAMPLE, HASH_KEY) != bare


def test_identity_key_depends_on_the_key():
    other = derive_key(b"another master secret", PURPOSE_IDENTITY_KEY)
    assert identity_key("id", PUBLISHED_SAMPLE, HASH_KEY) != identity_key(
        "id", PUBLISHED_SAMPLE, other
    )


@pytest.mark.parametrize(
    ("kind", "value"),
    [
        ("phone", "138 1234 5678"),
        ("phone", "13812345678"),
        ("id", "11010519491231002x"),
        ("id", "110105 19491231002X"),
        ("email", "a@example.org"),
    ],
)
def test_identity_key_refuses_values_that_are_not_normalised(kind, value):
    with pytest.raises(ValueError):  # noqa: PT011 - the message is for developers
        identity_key(kind, value, HASH_KEY)


def test_identity_key_refuses_a_short_key():
    with pytest.raises(ValueError, match="16 bytes"):
        identity_key("phone", "+8613812345678", b"short")


@FAST
@given(cn_mobiles, valid_ids)
def test_identity_keys_never_collide_between_kinds(national, number):
    phone_key = identity_key("phone", "+86" + national, HASH_KEY)
    id_key = identity_key("id", number, HASH_KEY)
    assert phone_key != id_key


# --- Keys and sealing -------------------------------------------------------


def test_derived_keys_differ_per_purpose_and_are_deterministic():
    assert HASH_KEY != SEAL_KEY
    assert len(HASH_KEY) == len(SEAL_KEY) == 32
    assert derive_key(MASTER, PURPOSE_ID_SEAL) == SEAL_KEY
    assert derive_key(b"other", PURPOSE_ID_SEAL) != SEAL_KEY


def test_derive_key_refuses_an_empty_master():
    with pytest.raises(ValueError, match="empty"):
        derive_key(b"", PURPOSE_ID_SEAL)


def test_sealed_id_does_not_contain_the_plaintext_and_differs_every_time():
    sealer = Sealer(SEAL_KEY)
    first, second = sealer.seal(PUBLISHED_SAMPLE), sealer.seal(PUBLISHED_SAMPLE)
    assert first.startswith("v1:")
    assert first != second
    assert PUBLISHED_SAMPLE not in first
    assert sealer.open(first) == sealer.open(second) == PUBLISHED_SAMPLE


@FAST
@given(st.text(max_size=200))
def test_seal_open_round_trips_any_string(plaintext):
    sealer = Sealer(SEAL_KEY)
    assert sealer.open(sealer.seal(plaintext)) == plaintext


@FAST
@given(st.text(max_size=40), st.data())
def test_a_flipped_byte_in_a_sealed_token_never_opens(plaintext, data):
    sealer = Sealer(SEAL_KEY)
    token = sealer.seal(plaintext)
    raw = bytearray(base64.urlsafe_b64decode(token[3:] + "=" * (-len(token[3:]) % 4)))
    index = data.draw(st.integers(0, len(raw) - 1))
    raw[index] ^= data.draw(st.integers(1, 255))
    tampered = "v1:" + base64.urlsafe_b64encode(bytes(raw)).rstrip(b"=").decode()
    with pytest.raises(IdentityError) as caught:
        sealer.open(tampered)
    assert caught.value.code == "sealed_invalid"


@pytest.mark.parametrize(
    "token",
    ["", "v1:", "v2:AAAA", "v1:not base64!", "v1:AAAA", "v1:" + "A" * 37, "11010519491231002X"],
)
def test_garbage_tokens_are_rejected_with_sealed_invalid(token):
    with pytest.raises(IdentityError) as caught:
        Sealer(SEAL_KEY).open(token)
    assert caught.value.code == "sealed_invalid"


@FAST
@given(st.text(max_size=80))
def test_opening_any_text_raises_only_sealed_invalid(token):
    with pytest.raises(IdentityError) as caught:
        Sealer(SEAL_KEY).open("v1:" + token)
    assert caught.value.code == "sealed_invalid"


def test_a_token_with_junk_characters_inserted_does_not_open():
    sealer = Sealer(SEAL_KEY)
    token = sealer.seal(PUBLISHED_SAMPLE)
    with pytest.raises(IdentityError):
        sealer.open(token[:10] + "!" + token[10:])


def test_a_token_opens_only_under_the_context_it_was_sealed_for():
    sealer = Sealer(SEAL_KEY)
    token = sealer.seal(PUBLISHED_SAMPLE, context="application:41")
    assert sealer.open(token, context="application:41") == PUBLISHED_SAMPLE
    with pytest.raises(IdentityError):
        sealer.open(token, context="application:42")
    with pytest.raises(IdentityError):
        sealer.open(token)


def test_key_rotation_opens_old_tokens_and_seals_with_the_newest_key():
    old_key, new_key = SEAL_KEY, derive_key(b"the next master secret", PURPOSE_ID_SEAL)
    old_token = Sealer(old_key).seal(PUBLISHED_SAMPLE)
    rotated = Sealer([new_key, old_key])
    assert rotated.open(old_token) == PUBLISHED_SAMPLE

    new_token = rotated.reseal(old_token)
    assert new_token != old_token
    assert Sealer(new_key).open(new_token) == PUBLISHED_SAMPLE
    assert rotated.reseal(new_token) == new_token  # already under the newest key
    with pytest.raises(IdentityError):
        Sealer(new_key).open(old_token)  # once the old key is dropped, old tokens fail


def test_sealer_refuses_no_keys_or_keys_of_the_wrong_size():
    with pytest.raises(ValueError, match="at least one"):
        Sealer([])
    with pytest.raises(ValueError, match="32 bytes"):
        Sealer(b"sixteen byte key")


def test_sealer_repr_shows_no_key_material():
    assert repr(Sealer([SEAL_KEY, HASH_KEY])) == "<Sealer with 2 key(s)>"
