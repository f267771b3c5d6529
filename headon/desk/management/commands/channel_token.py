from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError, CommandParser

from headon.desk.intake.sources import channel_token_issue
from headon.desk.models import Channel


class Command(BaseCommand):
    help = "Issue a new webhook token for a channel (the old one stops working); printed once."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel", help="slug of a webhook channel")

    def handle(self, *args: Any, channel: str, **options: Any) -> None:
        found = Channel.objects.filter(slug=channel, kind=Channel.Kind.WEBHOOK).first()
        if found is None:
            webhooks = ", ".join(
                Channel.objects.filter(kind=Channel.Kind.WEBHOOK).values_list("slug", flat=True)
            )
            raise CommandError(
                f"No webhook channel {channel!r}. Webhook channels: {webhooks or 'none'}"
            )
        self.stdout.write(channel_token_issue(found))
