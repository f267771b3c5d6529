from __future__ import annotations

from typing import Any

from django.contrib.auth.models import Group
from django.db import models, transaction
from django.http import HttpRequest

from headon.accounts.models import AuditEvent, User
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
