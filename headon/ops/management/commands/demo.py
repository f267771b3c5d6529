from __future__ import annotations

import os
import sys
from typing import Any

from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction

from headon.accounts import demo as accounts_demo
from headon.desk import demo as desk_demo
from headon.visits import demo as visits_demo


def site_url_for(bind: str) -> str:
    """The address the demo's links (posts, feeds, messages) should carry
    when it serves on `bind`: a wildcard address is reached as loopback."""
    host, _sep, port = bind.rpartition(":")
    if host in ("", "0.0.0.0", "[::]", "::"):  # noqa: S104  # nosec B104  (read, not bound)
        host = "127.0.0.1"
    return f"http://{host}:{port}"


class Command(BaseCommand):
    help = "Migrate, load a bilingual demo (safe to rerun), then serve it with a job worker."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--bind", default="127.0.0.1:8000", help="address:port (default: %(default)s)"
        )
        parser.add_argument("--no-serve", action="store_true", help="load the demo and stop")

    def handle(self, *args: Any, bind: str, no_serve: bool, **options: Any) -> None:
        if settings.PRODUCTION:
            raise CommandError("Refusing to load demo accounts with HEADON_PRODUCTION set.")
        if "HEADON_SITE_URL" not in os.environ:
            # The links the demo writes out must reach the port it serves on;
            # the worker inherits the environment, gunicorn these settings.
            os.environ["HEADON_SITE_URL"] = settings.HEADON_SITE_URL = site_url_for(bind)
        call_command("migrate", interactive=False, verbosity=0)
        with transaction.atomic():
            desk_demo.load()
            program = visits_demo.load()
            today = visits_demo.load_today()
            accounts = accounts_demo.load()
            desk_demo.load_after_accounts()
        password = accounts_demo.demo_password()
        self.stdout.write(self.style.SUCCESS("The demo is loaded."))
        self.stdout.write(f"  Data directory: {settings.DATA_DIR}")
        self.stdout.write(
            f"  Sign in at {settings.HEADON_SITE_URL}/accounts/login/ with password {password!r} as:"
        )
        for username, role in accounts:
            self.stdout.write(f"    {username:<26} {role}")
        if waiting := visits_demo.waiting_party_link(program):
            self.stdout.write(
                f"  A party waiting for a companion to confirm: {settings.HEADON_SITE_URL}{waiting}"
            )
        self.stdout.write(
            "  One-time codes for applicants are printed below, as lines that start with "
            "'SMS to' (the console SMS backend; e-mails are printed too)."
        )
        self.stdout.write(
            f"  Today's open day, with confirmed visitors: {settings.HEADON_SITE_URL}"
            f"/staff/visits/{today.slug}/ (its gate: /staff/visits/gate/)"
        )
        self.stdout.write(f"  One of its visitors' tickets: {visits_demo.ticket_link(today)}")
        if not no_serve:
            serve_afresh(bind)


def serve_afresh(bind: str) -> None:
    """Serve from a fresh process image: loading the demo started the
    sentence model's thread pools in this one, and web workers forked from
    it aborted on Ctrl-C ("terminate called after throwing an instance of
    'std::system_error'", "Worker was sent SIGABRT!"). The environment,
    HEADON_SITE_URL included, carries over."""
    sys.stdout.flush()
    sys.stderr.flush()
    argv = [sys.executable, "-m", "headon", "serve", "--bind", bind, "--with-worker"]
    os.execv(sys.executable, argv)  # our own argv, no shell  # noqa: S606  # nosec B606
