"""Shared test helpers: personas and small factories (STYLE.md rule 12)."""

from __future__ import annotations

from typing import ClassVar

from django.test import TestCase

from headon.accounts.models import User
from headon.accounts.services import staff_create

PASSWORD = "correct horse battery staple"  # the test personas' password  # nosec B105


def make_staff(username: str, *roles: str, superuser: bool = False) -> User:
    return staff_create(
        username=username, password=PASSWORD, roles=list(roles), superuser=superuser
    )


class PersonasTestCase(TestCase):
    """One staff member per role, and one with no role at all.

    alice is the admin, bob triages, carol writes, dave approves, erin
    coordinates visits, gus works the gate, and oscar is staff with no role.
    """

    alice: ClassVar[User]
    bob: ClassVar[User]
    carol: ClassVar[User]
    dave: ClassVar[User]
    erin: ClassVar[User]
    gus: ClassVar[User]
    oscar: ClassVar[User]

    @classmethod
    def setUpTestData(cls) -> None:
        cls.alice = make_staff("alice", "admin", superuser=True)
        cls.bob = make_staff("bob", "triager")
        cls.carol = make_staff("carol", "writer")
        cls.dave = make_staff("dave", "approver")
        cls.erin = make_staff("erin", "visit_coordinator")
        cls.gus = make_staff("gus", "gate_staff")
        cls.oscar = make_staff("oscar")
