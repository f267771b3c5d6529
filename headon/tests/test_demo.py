from __future__ import annotations

import io
import os
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import Client

from headon.accounts.demo import demo_password
from headon.accounts.models import User
from headon.desk.models import Answer, Channel, DigestRevision
from headon.visits.models import Program


@pytest.mark.django_db
def test_the_demo_loads_twice_without_doubling_anything() -> None:
    out = io.StringIO()
    call_command("demo", no_serve=True, stdout=out)
    call_command("demo", no_serve=True, stdout=io.StringIO())
    assert User.objects.filter(username__startswith="demo-").count() == 6
    assert Channel.objects.count() == 6
    assert Program.objects.count() == 2  # the reference program and today's open day
    assert DigestRevision.objects.count() == 1  # yesterday's, published once
    assert Answer.objects.filter(status=Answer.Status.PUBLISHED).count() == 10
    assert demo_password() in out.getvalue()
    assert "demo-visit-coordinator" in out.getvalue()


@pytest.fixture
def lexical(settings):
    """The demo with the merge engine's lexical stages only: the same data
    in a few seconds (the test above loads it with the models)."""
    from headon.desk.services import merging

    settings.HEADON_EMBEDDER = ["none"]
    merging._embedder_state.clear()
    yield
    merging._embedder_state.clear()


@pytest.mark.django_db
def test_a_demo_account_signs_in_and_sees_its_half(lexical) -> None:
    call_command("demo", no_serve=True, stdout=io.StringIO())
    client = Client()
    response = client.post(
        "/accounts/login/", {"username": "demo-visit-coordinator", "password": demo_password()}
    )
    assert response.status_code == 302
    assert client.get("/staff/visits/").status_code == 200
    assert client.get("/staff/desk/").status_code == 403


@pytest.mark.django_db
def test_the_demo_program_reads_in_both_languages(lexical) -> None:
    call_command("demo", no_serve=True, stdout=io.StringIO())
    client = Client()
    assert "Open Factory Days 2027" in client.get("/visits/").content.decode()
    assert (
        "2027 工厂开放日" in client.get("/visits/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
    )


def test_the_demo_refuses_to_run_in_production(settings) -> None:
    from django.core.management.base import CommandError

    settings.PRODUCTION = True
    with pytest.raises(CommandError, match="HEADON_PRODUCTION"):
        call_command("demo", no_serve=True)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("bind", "expected"),
    [
        ("127.0.0.1:8101", "http://127.0.0.1:8101"),
        ("0.0.0.0:9000", "http://127.0.0.1:9000"),
        ("demo.lan:8000", "http://demo.lan:8000"),
    ],
)
def test_the_demo_links_to_the_port_it_serves_on(
    bind: str, expected: str, monkeypatch: pytest.MonkeyPatch, settings: Any
) -> None:
    """Served with --bind 127.0.0.1:8101, the text post, the PNG footer, the
    feed ids and every SMS link still pointed at :8000."""
    from headon.ops.management.commands import demo

    monkeypatch.delenv("HEADON_SITE_URL", raising=False)
    for loader in ("desk_demo", "visits_demo", "accounts_demo"):
        monkeypatch.setattr(demo, loader, mock.MagicMock())
    monkeypatch.setattr(demo, "call_command", mock.MagicMock())
    out = io.StringIO()
    call_command("demo", bind=bind, no_serve=True, stdout=out)
    site_url = settings.HEADON_SITE_URL
    assert site_url == expected
    assert os.environ["HEADON_SITE_URL"] == expected
    assert f"Sign in at {expected}/accounts/login/" in out.getvalue()
