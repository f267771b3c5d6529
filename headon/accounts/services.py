from __future__ import annotations

import hashlib
import secrets
from typing import Any

from django.contrib.auth.models import Group
from django.db import models, transaction
from django.http import HttpRequest
from django.utils import timezone

from headon.accounts.models import ApiToken, AuditEvent, User
from headon.accounts.roles import ROLES_BY_SLUG
from headon.antibot.ratelimit import client_ip


def _client_ip(request: HttpRequest | None) -> str | None:
    # The address every limit uses: behind HEADON_PROXY_COUNT proxies, the
    # one the nearest proxy saw, never one the client wrote itself.
    return (client_ip(request) or None) if request is not None else None


def audit_record(
    *,
    action: str,
    actor: User | None = None,
    target: models.Model | None = None,
    data: dict[str, Any] | None = None,
    request: HttpRequest | None = None,
) -> AuditEvent:
    """Add one line to the audit log."""
    return AuditEvent.objects.create(
        action=action,
        actor=actor if actor is not None and actor.pk else None,
        target_type=target._meta.label_lower if target is not None else "",
        target_id=str(target.pk) if target is not None else "",
        data=data or {},
        ip_address=_client_ip(request),
    )


@transaction.atomic
def staff_create(
    *,
    username: str,
    password: str,
    email: str = "",
    roles: list[str],
    superuser: bool = False,
    created_by: User | None = None,
) -> User:
    """Create a staff member holding the given roles (see roles.ROLES)."""
    unknown = [slug for slug in roles if slug not in ROLES_BY_SLUG]
    if unknown:
        raise ValueError(f"Unknown roles: {', '.join(unknown)}")
    user = User(username=username, email=email, is_staff=True, is_superuser=superuser)
    user.set_password(password)
    user.full_clean(exclude=["password"])
    user.save()
    user.groups.set(Group.objects.filter(name__in=roles))
    audit_record(
        action="staff_create",
        actor=created_by,
        target=user,
        data={"roles": sorted(roles), "superuser": superuser},
    )
    return user


# Keys carry their kind, so a leaked one is recognised in a log or a scan.
API_KEY_PREFIX = "hdn_"


def _key_hash(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def api_token_create(*, user: User, name: str, created_by: User | None = None) -> str:
    """Make an API key for `user` and return it: the only time it is seen."""
    key = API_KEY_PREFIX + secrets.token_urlsafe(32)
    token = ApiToken.objects.create(user=user, name=name, key_hash=_key_hash(key))
    audit_record(action="api_token_create", actor=created_by, target=token, data={"user": user.pk})
    return key


def api_token_revoke(*, token: ApiToken, revoked_by: User | None = None) -> None:
    ApiToken.objects.filter(pk=token.pk, revoked_at=None).update(revoked_at=timezone.now())
    audit_record(action="api_token_revoke", actor=revoked_by, target=token)


def api_token_user(key: str) -> User | None:
    """The active staff member whose unrevoked key this is, or None."""
    if not key.startswith(API_KEY_PREFIX) or len(key) > 200:
        return None
    token = (
        ApiToken.objects.select_related("user")
        .filter(key_hash=_key_hash(key), revoked_at=None, user__is_active=True)
        .first()
    )
    return token.user if token is not None else None
