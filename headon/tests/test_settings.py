from __future__ import annotations

import datetime as dt
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from headon.settings import secret_key
from headon.timezones import day_bounds


def headon_cmd(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "headon", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **(env or {})},
        timeout=120,
        check=False,
    )


def test_the_secret_key_is_generated_once_and_kept_private(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("HEADON_SECRET_KEY", raising=False)
    first = secret_key(tmp_path)
    assert len(first) >= 50
    assert secret_key(tmp_path) == first
    assert stat.S_IMODE((tmp_path / "secret_key").stat().st_mode) == 0o600


def test_the_secret_key_comes_from_the_environment_when_set(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("HEADON_SECRET_KEY", "k" * 60)
    assert secret_key(tmp_path) == "k" * 60
    assert not (tmp_path / "secret_key").exists()


@pytest.mark.django_db
@pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite pragmas")
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout_and_immediate_transactions() -> None:
    with connection.cursor() as cursor:
        assert cursor.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert cursor.execute("PRAGMA busy_timeout").fetchone()[0] == 20000
        assert cursor.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    assert settings.DATABASES["default"]["OPTIONS"]["transaction_mode"] == "IMMEDIATE"


def test_the_database_stores_utc_and_the_organiser_zone_defaults_to_shanghai() -> None:
    assert settings.USE_TZ
    assert settings.TIME_ZONE == "UTC"
    assert settings.HEADON_TIME_ZONE == "Asia/Shanghai"


def test_an_organiser_day_in_shanghai_starts_at_1600_utc_the_day_before() -> None:
    start, end = day_bounds(dt.date(2026, 11, 24))
    assert start == dt.datetime(2026, 11, 23, 16, tzinfo=dt.UTC)
    assert end == dt.datetime(2026, 11, 24, 16, tzinfo=dt.UTC)


PRODUCTION = {
    "HEADON_PRODUCTION": "1",
    "HEADON_SITE_URL": "https://answers.example.org",
    "HEADON_EMAIL_BACKEND": "django.core.mail.backends.smtp.EmailBackend",
    "HEADON_SMS_BACKEND": "myorg.sms.GatewayBackend",
}


def test_the_deploy_check_reports_nothing_in_production_mode() -> None:
    result = headon_cmd("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "no issues" in result.stdout


def test_the_deploy_check_fails_on_defaults_that_print_codes_and_links() -> None:
    """With the console backends and the loopback site URL, check --deploy
    passed: every code and private link went to the log, every link to
    127.0.0.1."""
    result = headon_cmd("check", "--deploy", env={"HEADON_PRODUCTION": "1"})
    assert result.returncode != 0
    for problem in ("ops.E101", "ops.E102", "ops.E103"):
        assert problem in result.stderr + result.stdout


def test_production_mode_sets_secure_cookies_hsts_and_the_https_redirect() -> None:
    code = (
        "from django.conf import settings as s;"
        "print(s.SESSION_COOKIE_SECURE, s.CSRF_COOKIE_SECURE, s.SECURE_HSTS_SECONDS > 0,"
        " s.SECURE_SSL_REDIRECT, s.DEBUG)"
    )
    result = headon_cmd("shell", "--no-imports", "-c", code, env={"HEADON_PRODUCTION": "1"})
    assert result.stdout.split() == ["True", "True", "True", "True", "False"], result.stderr


def test_headon_help_lists_the_operator_commands() -> None:
    result = headon_cmd("--help")
    assert result.returncode == 0
    for command in ("demo", "serve", "worker", "createadmin", "import-asks"):
        assert f"  {command} " in result.stdout


@pytest.mark.parametrize("command", ["demo", "serve", "worker", "createadmin", "import-asks"])
def test_each_operator_command_explains_itself(command: str) -> None:
    """In the spelling the operator typed (import-asks, not its module's)."""
    result = headon_cmd(command, "--help")
    assert result.returncode == 0, result.stderr
    assert "usage: headon " + command in result.stdout


@pytest.mark.django_db
def test_the_suite_runs_on_the_database_it_was_asked_for() -> None:
    expected = (
        "postgresql" if os.environ.get("DATABASE_URL", "").startswith("postgres") else "sqlite"
    )
    assert connection.vendor == expected
