from __future__ import annotations

import io

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
    assert Program.objects.count() == 1
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
