"""Demo staff: one account per role, sharing a password made once per data
directory, so a newcomer can sign in as each role."""

from __future__ import annotations

import secrets

from django.conf import settings

from headon.accounts.models import User
from headon.accounts.roles import ROLES
from headon.accounts.services import staff_create

DEMO_PASSWORD_FILE = "demo-password"  # noqa: S105  (a file name)  # nosec B105


def demo_password() -> str:
    path = settings.DATA_DIR / DEMO_PASSWORD_FILE
    if not path.exists():
        path.write_text(secrets.token_urlsafe(9))
        path.chmod(0o600)
    return path.read_text().strip()


def load() -> list[tuple[str, str]]:
    """Create the demo staff; return (username, role label) pairs."""
    password = demo_password()
    accounts = []
    for role in ROLES:
        username = f"demo-{role.slug.replace('_', '-')}"
        if not User.objects.filter(username=username).exists():
            staff_create(
                username=username,
                password=password,
                roles=[role.slug],
                superuser=role.slug == "admin",
            )
        accounts.append((username, str(role.label)))
    return accounts
