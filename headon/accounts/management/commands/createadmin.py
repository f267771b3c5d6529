from __future__ import annotations

import getpass
import os
import sys
from typing import Any

from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from headon.accounts.models import User
from headon.accounts.roles import ADMIN
from headon.accounts.services import staff_create


class Command(BaseCommand):
    help = "Create an admin: a staff member with every role and the Django admin."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--username", default="admin", help="login name (default: admin)")
        parser.add_argument("--email", default="", help="e-mail address")
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="read the password from standard input instead of asking for it "
            "(the environment variable HEADON_ADMIN_PASSWORD works too)",
        )

    def handle(
        self, *args: Any, username: str, email: str, password_stdin: bool, **options: Any
    ) -> None:
        if User.objects.filter(username=username).exists():
            raise CommandError(f"A staff member called {username!r} exists already.")
        password = self._password(password_stdin)
        try:
            validate_password(password, User(username=username, email=email))
        except ValidationError as exc:
            raise CommandError("Password refused: " + " ".join(exc.messages)) from exc
        try:
            staff_create(
                username=username,
                password=password,
                email=email,
                roles=[ADMIN.slug],
                superuser=True,
            )
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        self.stdout.write(
            self.style.SUCCESS(f"Admin {username!r} created. Sign in at /accounts/login/.")
        )

    def _password(self, from_stdin: bool) -> str:
        if from_stdin:
            return sys.stdin.readline().rstrip("\n")
        if env := os.environ.get("HEADON_ADMIN_PASSWORD"):
            return env
        if not sys.stdin.isatty():
            raise CommandError("No terminal to ask for a password: use --password-stdin.")
        first = getpass.getpass("Password: ")
        if first != getpass.getpass("Password (again): "):
            raise CommandError("The two passwords differ.")
        return first
