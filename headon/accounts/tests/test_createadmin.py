from __future__ import annotations

import io

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from headon.accounts.models import User

pytestmark = pytest.mark.django_db


def test_it_creates_a_superuser_holding_the_admin_role(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long and unusual passphrase\n"))
    call_command("createadmin", username="root", password_stdin=True, stdout=io.StringIO())
    user = User.objects.get(username="root")
    assert user.is_superuser
    assert user.is_staff
    assert list(user.groups.values_list("name", flat=True)) == ["admin"]
    assert user.check_password("a long and unusual passphrase")


def test_it_refuses_a_weak_password(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("password\n"))
    with pytest.raises(CommandError, match="Password refused"):
        call_command("createadmin", username="root", password_stdin=True)
    assert not User.objects.exists()


def test_it_refuses_a_second_admin_with_the_same_name(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO("a long and unusual passphrase\n"))
    call_command("createadmin", username="root", password_stdin=True, stdout=io.StringIO())
    with pytest.raises(CommandError, match="exists already"):
        call_command("createadmin", username="root", password_stdin=True)


def test_it_says_how_to_give_a_password_without_a_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    monkeypatch.delenv("HEADON_ADMIN_PASSWORD", raising=False)
    with pytest.raises(CommandError, match="--password-stdin"):
        call_command("createadmin", username="root")
