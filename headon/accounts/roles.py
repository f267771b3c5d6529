"""Staff roles: one group each, holding only the permissions the role needs.

The role groups are rebuilt from ROLES after every migrate, so a permission
added in code reaches the group on the next deploy. Permissions granted by
hand to a role group are removed then; give extra rights to a person instead.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django.apps import AppConfig
from django.contrib.auth.models import Group, Permission
from django.db.models import Q
from django.utils.functional import Promise
from django.utils.translation import gettext_lazy as _


@dataclass(frozen=True)
class Role:
    slug: str
    label: Promise
    permissions: tuple[str, ...]  # "app_label.codename"


TRIAGER = Role(
    "triager",
    _("Triager"),
    ("desk.view_desk", "desk.triage_questions"),
)
WRITER = Role(
    "writer",
    _("Writer"),
    ("desk.view_desk", "desk.draft_answers"),
)
APPROVER = Role(
    "approver",
    _("Approver"),
    ("desk.view_desk", "desk.draft_answers", "desk.approve_answers", "desk.publish_digest"),
)
VISIT_COORDINATOR = Role(
    "visit_coordinator",
    _("Visit coordinator"),
    (
        "visits.view_visits",
        "visits.coordinate_visits",
        "visits.check_in_visitors",
        "visits.reveal_personal_data",
    ),
)
GATE_STAFF = Role(
    "gate_staff",
    _("Gate staff"),
    ("visits.check_in_visitors",),
)
ADMIN = Role(
    "admin",
    _("Admin"),
    TRIAGER.permissions
    + WRITER.permissions
    + APPROVER.permissions
    + VISIT_COORDINATOR.permissions
    + ("desk.manage_channels", "accounts.view_audit_log", "accounts.view_user"),
)

ROLES: tuple[Role, ...] = (TRIAGER, WRITER, APPROVER, VISIT_COORDINATOR, GATE_STAFF, ADMIN)
ROLES_BY_SLUG = {role.slug: role for role in ROLES}


def _permissions(names: tuple[str, ...]) -> list[Permission]:
    query = Q()
    for name in set(names):
        app_label, codename = name.split(".", 1)
        query |= Q(content_type__app_label=app_label, codename=codename)
    found = list(Permission.objects.filter(query).select_related("content_type"))
    missing = set(names) - {f"{p.content_type.app_label}.{p.codename}" for p in found}
    if missing:
        raise LookupError(f"Role permissions not found: {sorted(missing)}")
    return found


def sync_role_groups() -> None:
    """Make one group per role hold exactly the role's permissions."""
    for role in ROLES:
        group, _created = Group.objects.get_or_create(name=role.slug)
        group.permissions.set(_permissions(role.permissions))


def sync_role_groups_after_migrate(sender: AppConfig, **kwargs: Any) -> None:
    sync_role_groups()
