"""Who a visit applicant is: normalised phones and ID numbers, keyed hashes, sealed IDs.

The rule this module serves: one person, one application per program. A person —
lead or companion — is identified by a phone number or a mainland resident ID
number, and formatting variants of either are the same person.

Plain Python with no Django import: strings and bytes in, strings out. Keys are
passed in; :func:`derive_key` splits one master secret into independent sub-keys
(:data:`PURPOSE_IDENTITY_KEY` for the hash, :data:`PURPOSE_ID_SEAL` for
encryption) so that knowing one tells nothing about the other.

ID numbers are sensitive: they are stored sealed (:class:`Sealer`), matched by
:func:`identity_key`, displayed through :func:`mask_id_number`, and never appear
in an error message — not even a rejected one, which is usually one typo away
from the real number.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import unicodedata
from collections.abc import Sequence
from datetime import date, datetime, timedelta, timezone
from typing import Final, Literal

import phonenumbers
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.hkdf import HKDF

__all__ = [
    "ID_CHECKSUM_INVALID",
    "ID_DATE_INVALID",
    "ID_FORMAT_INVALID",
    "ID_LEGACY",
    "ID_REGION_INVALID",
    "PHONE_INVALID",
    "PROVINCE_CODES",
    "PURPOSE_IDENTITY_KEY",
    "PURPOSE_ID_SEAL",
    "SEALED_INVALID",
    "IdentityError",
    "IdentityKind",
    "Sealer",
    "derive_key",
    "id_check_character",
    "identity_key",
    "make_test_id_number",
    "mask_id_number",
    "mask_phone",
    "normalise_id_number",
    "normalise_phone",
    "sms_reachable",
]

IdentityKind = Literal["phone", "id"]

# Error codes: stable, machine-readable; the Django layer maps each to a
# translated message. The English text on the exception is for developers.
PHONE_INVALID: Final = "phone_invalid"
ID_FORMAT_INVALID: Final = "id_invalid_format"
ID_LEGACY: Final = "id_legacy"
ID_CHECKSUM_INVALID: Final = "id_invalid_checksum"
ID_REGION_INVALID: Final = "id_invalid_region"
ID_DATE_INVALID: Final = "id_invalid_date"
SEALED_INVALID: Final = "sealed_invalid"

PURPOSE_IDENTITY_KEY: Final = "visits.identity-key"
PURPOSE_ID_SEAL: Final = "visits.id-seal"


class IdentityError(ValueError):
    """A phone number, ID number or sealed token that cannot be accepted.

    ``code`` is one of the module's ``*_INVALID`` / ``ID_LEGACY`` constants.
    The message never contains a full ID number.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code

    def __repr__(self) -> str:
        return f"IdentityError(code={self.code!r}, message={str(self)!r})"

    def __reduce__(self) -> tuple[type[IdentityError], tuple[str, str]]:
        # Errors may cross a process boundary (a job's result); keep the code.
        return (type(self), (self.code, str(self)))


# --- Phones -----------------------------------------------------------------

# After NFKC, what a person may type around the digits of a phone number. Letters
# are refused: phonenumbers would read "ext. 12" as an extension (dropped from
# E.164, so a switchboard would become one person for everyone behind it) and
# "FLOWERS" as vanity digits, and neither is how a visitor gives their number.
_PHONE_PUNCTUATION: Final = frozenset(" +()./[]")
_MAX_PHONE_INPUT: Final = 64


def normalise_phone(raw: str, default_region: str = "CN") -> str:
    """Return ``raw`` as an E.164 string (``"+8613812345678"``) or raise IdentityError.

    Accepts full-width characters, spaces (also the ideographic space), dashes,
    dots, slashes and brackets, and the ways people prefix the mainland country
    code: ``+86``, ``0086``, ``86``, ``(+86)``. A number without a country code is
    read in ``default_region``. Numbers that phonenumbers deems invalid (not only
    impossible) are refused with code ``phone_invalid``; so is any letter,
    including an extension.
    """
    text = unicodedata.normalize("NFKC", raw).strip()
    if not text or len(text) > _MAX_PHONE_INPUT:
        raise IdentityError(PHONE_INVALID, "phone number is empty or too long")
    for char in text:
        if not (
            char.isdigit()
            or char.isspace()
            or char in _PHONE_PUNCTUATION
            or unicodedata.category(char) == "Pd"
        ):
            raise IdentityError(PHONE_INVALID, "phone number contains a letter or symbol")
    try:
        number = phonenumbers.parse(text, default_region)
    except phonenumbers.NumberParseException:
        raise IdentityError(PHONE_INVALID, "phone number cannot be parsed") from None
    if not phonenumbers.is_valid_number(number):
        raise IdentityError(PHONE_INVALID, "phone number is not a valid number")
    return phonenumbers.format_number(number, phonenumbers.PhoneNumberFormat.E164)


PHONE_NOT_MOBILE: Final = "phone_not_mobile"
PHONE_REGION: Final = "phone_region"
# What an SMS can reach and costs the sender what any text costs: numbers
# for mobiles. Landlines cannot read a code; premium-rate, shared-cost and
# other numbers are how SMS pumping makes a site pay an attacker.
_SMS_TYPES: Final = frozenset(
    {phonenumbers.PhoneNumberType.MOBILE, phonenumbers.PhoneNumberType.FIXED_LINE_OR_MOBILE}
)


def sms_reachable(e164: str, regions: frozenset[str]) -> None:
    """Raise IdentityError unless ``e164`` (from :func:`normalise_phone`) is
    a mobile number in one of ``regions`` (ISO 3166 codes, e.g. ``{"CN"}``):
    codes and links go by SMS only where the site means to send them."""
    number = phonenumbers.parse(e164, None)
    if phonenumbers.region_code_for_number(number) not in regions:
        raise IdentityError(PHONE_REGION, "SMS is not sent to this country")
    if phonenumbers.number_type(number) not in _SMS_TYPES:
        raise IdentityError(PHONE_NOT_MOBILE, "not a mobile number")


def mask_phone(e164: str) -> str:
    """Show a normalised phone with its middle hidden: ``"+86 138****5678"``.

    Keeps the country code, the first three and the last four digits of the
    national number (only the last two when it is shorter than eight digits).
    """
    try:
        number = phonenumbers.parse(e164, None)
    except phonenumbers.NumberParseException:
        raise ValueError("mask_phone expects an E.164 number") from None
    national = phonenumbers.national_significant_number(number)
    if len(national) >= 8:
        hidden = national[:3] + "*" * (len(national) - 7) + national[-4:]
    else:
        hidden = "*" * (len(national) - 2) + national[-2:]
    return f"+{number.country_code} {hidden}"


# --- ID numbers -------------------------------------------------------------

# First two digits of a resident ID number: the province-level division of the
# household registration (GB/T 2260). 71 is Taiwan as listed in GB/T 2260;
# 81, 82 and 83 are the residence permits for Hong Kong, Macao and Taiwan
# residents (2018), which have the same 18-character format and checksum.
# Deliberately absent: the 2023 foreigners' permanent residence card (leading
# 9), which is not a resident ID.
PROVINCE_CODES: Final = frozenset(
    {
        "11", "12", "13", "14", "15",  # Beijing, Tianjin, Hebei, Shanxi, Inner Mongolia
        "21", "22", "23",  # Liaoning, Jilin, Heilongjiang
        "31", "32", "33", "34", "35", "36", "37",  # Shanghai … Shandong
        "41", "42", "43", "44", "45", "46",  # Henan … Hainan
        "50", "51", "52", "53", "54",  # Chongqing, Sichuan, Guizhou, Yunnan, Tibet
        "61", "62", "63", "64", "65",  # Shaanxi, Gansu, Qinghai, Ningxia, Xinjiang
        "71", "81", "82", "83",  # Taiwan; HK, Macao, Taiwan residence permits
    }
)  # fmt: skip

# ISO 7064 MOD 11-2: weight of position i is 2**(17 - i) mod 11; the remainder of
# the weighted sum selects the check character.
_ID_WEIGHTS: Final = tuple(pow(2, 17 - i, 11) for i in range(17))
_ID_CHECK_CHARS: Final = "10X98765432"
_ID_SHAPE: Final = re.compile(r"[0-9]{17}[0-9X]")
_ID_SEPARATORS: Final = re.compile(r"[\s\-]+")
_EARLIEST_BIRTH: Final = date(1900, 1, 1)
# Dates on the card are Beijing dates; China has kept UTC+8 without DST since 1991.
_BEIJING: Final = timezone(timedelta(hours=8))


def id_check_character(first17: str) -> str:
    """The ISO 7064 MOD 11-2 check character ("0"-"9" or "X") for 17 digits."""
    if len(first17) != 17 or not first17.isascii() or not first17.isdigit():
        raise ValueError("id_check_character expects 17 ASCII digits")
    total = sum(int(digit) * weight for digit, weight in zip(first17, _ID_WEIGHTS, strict=True))
    return _ID_CHECK_CHARS[total % 11]


def normalise_id_number(raw: str, *, today: date | None = None) -> str:
    """Return a mainland resident ID number in canonical form, or raise IdentityError.

    Canonical form is 18 ASCII characters: 17 digits and a check character, with
    an upper-case ``X``. Input may use full-width characters, a lower-case ``x``,
    spaces and dashes. Checks, in this order, each with its error code:

    - ``id_legacy``: a 15-digit first-generation number. These cards stopped
      being valid on 1 January 2013 and carry no check digit, so a typo could
      silently become another person; the applicant is asked for the 18-digit
      number instead of headon guessing the century.
    - ``id_invalid_format``: anything but 17 digits and a check character.
    - ``id_invalid_checksum``: the ISO 7064 MOD 11-2 check fails. It catches every
      single-character mistake and every swap of two adjacent characters, so it
      runs before the checks below to report a typo as a typo.
    - ``id_invalid_region``: the first two digits are not in :data:`PROVINCE_CODES`.
    - ``id_invalid_date``: the birth date (characters 7-14) is not a calendar
      date, is before 1900, or is after ``today`` (default: today in Beijing).
    """
    text = _ID_SEPARATORS.sub("", unicodedata.normalize("NFKC", raw)).upper()
    if len(text) == 15 and text.isascii() and text.isdigit():
        raise IdentityError(ID_LEGACY, "15-digit ID numbers are no longer accepted")
    if not _ID_SHAPE.fullmatch(text):
        raise IdentityError(ID_FORMAT_INVALID, "ID number must be 17 digits and a check character")
    masked = mask_id_number(text)
    if id_check_character(text[:17]) != text[17]:
        raise IdentityError(ID_CHECKSUM_INVALID, f"ID number {masked} fails its checksum")
    if text[:2] not in PROVINCE_CODES:
        raise IdentityError(ID_REGION_INVALID, f"ID number {masked} has an unknown region")
    try:
        birth = date(int(text[6:10]), int(text[10:12]), int(text[12:14]))
    except ValueError:
        raise IdentityError(ID_DATE_INVALID, f"ID number {masked} has no such birth date") from None
    if today is None:
        today = datetime.now(_BEIJING).date()
    if not _EARLIEST_BIRTH <= birth <= today:
        raise IdentityError(ID_DATE_INVALID, f"ID number {masked} has an impossible birth date")
    return text


def mask_id_number(number: str) -> str:
    """Show an ID number as ``"110***********1234"``: first 3 and last 4 kept, same length.

    Meant for canonical 18-character numbers; anything shorter than 10
    characters is starred out entirely, so a fragment never shows most of itself.
    """
    if len(number) < 10:
        return "*" * len(number)
    return number[:3] + "*" * (len(number) - 7) + number[-4:]


def make_test_id_number(
    *, region: str = "110101", birth: date = date(1990, 1, 1), sequence: int = 123
) -> str:
    """Build an 18-character ID number with a correct check character, for tests and demos.

    ``region`` (6 digits) and ``birth`` are not validated against the rules of
    :func:`normalise_id_number`, so tests can build numbers with a good checksum
    and a bad region or date. ``sequence`` is 0-999 (odd for men, even for women).
    """
    if len(region) != 6 or not region.isascii() or not region.isdigit():
        raise ValueError("region must be 6 ASCII digits")
    if not 0 <= sequence <= 999:
        raise ValueError("sequence must be between 0 and 999")
    first17 = f"{region}{birth:%Y%m%d}{sequence:03d}"
    return first17 + id_check_character(first17)


# --- Keys, hashes and sealing -----------------------------------------------

_IDENTITY_KEY_SHAPES: Final[dict[str, re.Pattern[str]]] = {
    "phone": re.compile(r"\+[1-9][0-9]{1,14}"),
    "id": _ID_SHAPE,
}
_IDENTITY_KEY_DOMAIN: Final = b"headon.visits.identity.v1"


def derive_key(master: bytes, purpose: str, *, length: int = 32) -> bytes:
    """Derive an independent sub-key for ``purpose`` from a master secret (HKDF-SHA256).

    Different purposes give unrelated keys, so the identity-hash key and the
    sealing key can both come from one configured secret.
    """
    if not master:
        raise ValueError("master secret must not be empty")
    hkdf = HKDF(
        algorithm=hashes.SHA256(),
        length=length,
        salt=None,
        info=b"headon:" + purpose.encode(),
    )
    return hkdf.derive(master)


def identity_key(kind: IdentityKind, normalised: str, key: bytes) -> str:
    """The keyed hash (HMAC-SHA256, 64 hex characters) that stands for one person.

    This is what the database stores under a unique constraint. The kind and a
    version label are framed into the message, so a phone and an ID number can
    never share a key. ``normalised`` must come from :func:`normalise_phone` or
    :func:`normalise_id_number`; a value that does not have that shape raises
    ValueError rather than hashing to a key no variant would ever match.

    The key must not rotate: every stored hash depends on it.
    """
    shape = _IDENTITY_KEY_SHAPES.get(kind)
    if shape is None:
        raise ValueError(f"unknown identity kind {kind!r}")
    if not shape.fullmatch(normalised):
        raise ValueError(f"identity_key expects a normalised {kind}")
    if len(key) < 16:
        raise ValueError("identity key must be at least 16 bytes")
    message = b"\x00".join([_IDENTITY_KEY_DOMAIN, kind.encode(), normalised.encode()])
    return hmac.new(key, message, hashlib.sha256).hexdigest()


class Sealer:
    """Authenticated encryption (AES-GCM) for ID numbers at rest.

    A token is ``"v1:"`` followed by unpadded URL-safe base64 of a 12-byte random
    nonce and the ciphertext with its tag. ``context`` (optional, on both seal and
    open) is bound as associated data: a token sealed for one row's context does
    not open under another's, so tokens cannot be swapped between rows.

    Key rotation: pass several keys, newest first. :meth:`seal` uses the first;
    :meth:`open` tries each in turn; :meth:`reseal` re-encrypts a token under the
    first key, for a migration that retires the old ones.
    """

    VERSION: Final = "v1"
    _NONCE_BYTES: Final = 12
    _TAG_BYTES: Final = 16

    def __init__(self, keys: bytes | Sequence[bytes]) -> None:
        key_list = [keys] if isinstance(keys, bytes) else list(keys)
        if not key_list:
            raise ValueError("Sealer needs at least one key")
        if any(len(key) != 32 for key in key_list):
            raise ValueError("Sealer keys must be 32 bytes (AES-256)")
        self._ciphers = [AESGCM(key) for key in key_list]

    def __repr__(self) -> str:
        return f"<Sealer with {len(self._ciphers)} key(s)>"

    def seal(self, plaintext: str, *, context: str = "") -> str:
        """Encrypt ``plaintext`` under the newest key; a fresh nonce every call."""
        nonce = os.urandom(self._NONCE_BYTES)
        sealed = self._ciphers[0].encrypt(nonce, plaintext.encode(), self._aad(context))
        return f"{self.VERSION}:{_b64(nonce + sealed)}"

    def open(self, token: str, *, context: str = "") -> str:
        """Decrypt a token from :meth:`seal`; IdentityError ``sealed_invalid`` if it was altered."""
        return self._open(token, context)[0]

    def reseal(self, token: str, *, context: str = "") -> str:
        """Return ``token`` unchanged if it uses the newest key, else sealed anew under it."""
        plaintext, index = self._open(token, context)
        return token if index == 0 else self.seal(plaintext, context=context)

    def _open(self, token: str, context: str) -> tuple[str, int]:
        version, _, body = token.partition(":")
        if version != self.VERSION:
            raise IdentityError(SEALED_INVALID, "sealed token has an unknown version")
        try:
            raw = base64.urlsafe_b64decode(body + "=" * (-len(body) % 4))
        except (binascii.Error, ValueError):
            raise IdentityError(SEALED_INVALID, "sealed token is not base64") from None
        # b64decode skips characters outside the alphabet and ignores stray low
        # bits; only the one canonical spelling of a token may open.
        if _b64(raw) != body:
            raise IdentityError(SEALED_INVALID, "sealed token is not canonical base64")
        if len(raw) < self._NONCE_BYTES + self._TAG_BYTES:
            raise IdentityError(SEALED_INVALID, "sealed token is too short")
        nonce, sealed = raw[: self._NONCE_BYTES], raw[self._NONCE_BYTES :]
        for index, cipher in enumerate(self._ciphers):
            try:
                plaintext = cipher.decrypt(nonce, sealed, self._aad(context))
            except InvalidTag:
                continue
            return plaintext.decode(), index
        raise IdentityError(SEALED_INVALID, "sealed token fails authentication")

    def _aad(self, context: str) -> bytes:
        return b"headon.visits.sealed.v1\x00" + context.encode()


def _b64(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")
