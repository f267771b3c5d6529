from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from headon.accounts.models import ApiToken, User
from headon.accounts.services import api_token_create, api_token_revoke


class Command(BaseCommand):
    help = "Make, list or revoke a staff member's API key (it acts with their roles)."

    def add_arguments(self, parser: CommandParser) -> None:
        actions = parser.add_subparsers(dest="action", required=True)
        create = actions.add_parser("create", help="make a key and print it, once")
        create.add_argument("username")
        create.add_argument("--name", default="API", help="what the key is for")
        actions.add_parser("list", help="list the keys (never the keys themselves)")
        revoke = actions.add_parser("revoke", help="stop a key working")
        revoke.add_argument("id", type=int)

    def handle(self, *args: Any, action: str, **options: Any) -> None:
        if action == "create":
            user = User.objects.filter(username=options["username"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active staff member called {options['username']!r}.")
            self.stdout.write(api_token_create(user=user, name=options["name"]))
        elif action == "list":
            for token in ApiToken.objects.select_related("user").order_by("pk"):
                state = f"revoked {token.revoked_at:%Y-%m-%d}" if token.revoked_at else "active"
                self.stdout.write(f"{token.pk}\t{token.user.username}\t{token.name}\t{state}")
        else:
            found = ApiToken.objects.filter(pk=options["id"]).first()
            if found is None:
                raise CommandError(f"No API key {options['id']}.")
            api_token_revoke(token=found)
            self.stdout.write(f"API key {found.pk} revoked.")
