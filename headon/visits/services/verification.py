"""One-time codes that prove an applicant holds a phone or e-mail address."""

from __future__ import annotations

import datetime as dt
import hmac
import secrets
from dataclasses import dataclass

from django.conf import settings
from django.core import signing
from django.core.exceptions import ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F
from django.utils import timezone
from django.utils.crypto import salted_hmac
from django.utils.translation import gettext as _

from headon.sms import send_sms
from headon.visits import identity
from headon.visits.errors import VisitError
from headon.visits.models import Application, Program, VerificationCode

CODE_LIFETIME = dt.timedelta(minutes=10)
# A verified contact stays good for one sitting: long enough to fill in the
# form on a slow phone, short enough that a leaked token soon expires.
VERIFIED_LIFETIME = dt.timedelta(hours=2)
MAX_ATTEMPTS = 5
SIGNING_SALT = "headon.visits.verified-contact"


@dataclass(frozen=True)
class VerifiedContact:
    program_id: int
    channel: str  # Application.ContactKind
    destination: str  # E.164 phone or lower-cased e-mail


def normalise_destination(channel: str, raw: str) -> str:
    raw = (raw or "").strip()
    if channel == Application.ContactKind.PHONE:
        try:
            phone = identity.normalise_phone(raw)
        except identity.IdentityError as exc:
            raise VisitError("phone_invalid", field="destination") from exc
        try:
            identity.sms_reachable(phone, settings.HEADON_SMS_REGIONS)
        except identity.IdentityError as exc:
            raise VisitError(exc.code, field="destination") from exc
        return phone
    if channel == Application.ContactKind.EMAIL:
        try:
            validate_email(raw)
        except ValidationError as exc:
            raise VisitError("email_invalid", field="destination") from exc
        # All lower case: the one-person rule and the limits compare
        # addresses, and every mail service in use ignores the local part's
        # case, so "Ann@" and "ann@" are one inbox and one person.
        return raw.lower()
    raise VisitError("contact_not_verified", field="channel")


def _hash(*parts: str) -> str:
    return salted_hmac("headon.visits.code", "\x1f".join(parts), algorithm="sha256").hexdigest()


def code_request(*, program: Program, channel: str, destination: str) -> VerificationCode:
    """Send a fresh six-digit code to `destination` (already normalised)."""
    code = f"{secrets.randbelow(1_000_000):06d}"
    now = timezone.now()
    row = VerificationCode.objects.create(
        program=program,
        channel=channel,
        destination_hash=_hash(str(program.pk), channel, destination),
        code_hash=_hash("code", destination, code),
        expires_at=now + CODE_LIFETIME,
    )
    body = _("%(code)s is your code for %(program)s. It expires in 10 minutes.") % {
        "code": code,
        "program": program.title,
    }
    if channel == Application.ContactKind.PHONE:
        send_sms(destination, body)
    else:
        send_mail(program.title, body, settings.DEFAULT_FROM_EMAIL, [destination])
    return row


def code_verify(*, program: Program, channel: str, destination: str, code: str) -> str:
    """Check `code`; return a signed token that names the verified contact."""
    now = timezone.now()
    code = "".join(ch for ch in (code or "") if ch.isdigit())[:6]
    error = None
    with transaction.atomic():
        row = (
            VerificationCode.objects.select_for_update()
            .filter(destination_hash=_hash(str(program.pk), channel, destination))
            .order_by("-created_at")
            .first()
        )
        if row is None or not row.is_usable(now):
            error = "code_expired"
        elif not hmac.compare_digest(row.code_hash, _hash("code", destination, code)):
            # Counted even though the request fails: five wrong guesses
            # burn the code.
            VerificationCode.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1)
            error = "code_wrong"
        else:
            row.verified_at = now
            row.save(update_fields=["verified_at"])
    if error:
        raise VisitError(error, field="code")
    return signing.dumps(
        {"p": program.pk, "c": channel, "d": destination}, salt=SIGNING_SALT, compress=True
    )


def verified_contact(token: str, *, program: Program) -> VerifiedContact:
    """The contact a token from `code_verify` proves, or VisitError."""
    try:
        data = signing.loads(token or "", salt=SIGNING_SALT, max_age=VERIFIED_LIFETIME)
    except signing.BadSignature as exc:
        raise VisitError("contact_not_verified") from exc
    if not isinstance(data, dict) or data.get("p") != program.pk:
        raise VisitError("contact_not_verified")
    return VerifiedContact(
        program_id=program.pk, channel=str(data["c"]), destination=str(data["d"])
    )
