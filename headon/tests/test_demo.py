from __future__ import annotations

import io
import os
import re
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any
from unittest import mock

import pytest
from django.core.management import call_command
from django.test import Client, TestCase, override_settings

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
    assert (
        Program.objects.count() == 3
    )  # the open 2027 program, summer 2024's drawn, today's open day
    assert DigestRevision.objects.count() == 1  # yesterday's, published once
    assert Answer.objects.filter(status=Answer.Status.PUBLISHED).count() == 10
    assert demo_password() in out.getvalue()
    assert "demo-visit-coordinator" in out.getvalue()


def assert_the_summer_is_history() -> None:
    """Summer 2024 ended: its parties confirmed in 2024 and hold tickets,
    and nobody is asked today to confirm a visit two years ago."""
    from headon.sms import outbox
    from headon.visits import jobs
    from headon.visits.models import Offer, Ticket

    summer = Offer.objects.filter(session__program__slug="open-factory-days-2024")
    assert summer.count() > 40
    assert set(summer.values_list("status", flat=True)) == {Offer.Status.CONFIRMED}
    for offer in summer.select_related("session"):
        assert offer.offered_at.year == 2024
        assert offer.deadline <= offer.session.starts_at
    assert Ticket.objects.filter(offer__in=summer).count() == sum(o.seats for o in summer)
    outbox.clear()
    for pk in summer.values_list("pk", flat=True):
        jobs.notify_offer.call(pk)
    assert outbox == []


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


@pytest.mark.django_db
def test_the_demo_serves_from_a_fresh_process(monkeypatch: pytest.MonkeyPatch) -> None:
    """Web workers forked from the process that loaded the demo (and the
    sentence model's threads) aborted on Ctrl-C; the demo now serves from a
    new process image, on the address it was given."""

    from headon.ops.management.commands import demo

    for loader in ("desk_demo", "visits_demo", "accounts_demo"):
        monkeypatch.setattr(demo, loader, mock.MagicMock())
    commands = mock.MagicMock()
    monkeypatch.setattr(demo, "call_command", commands)
    execv = mock.MagicMock()
    monkeypatch.setattr(os, "execv", execv)
    call_command("demo", bind="127.0.0.1:8101", stdout=io.StringIO())
    execv.assert_called_once_with(
        sys.executable,
        [sys.executable, "-m", "headon", "serve", "--bind", "127.0.0.1:8101", "--with-worker"],
    )
    assert all(c.args[0] != "serve" for c in commands.call_args_list)


@override_settings(HEADON_EMBEDDER=["none"])
class LoadedDemoTests(TestCase):
    """What the loaded demo shows. The demo is loaded once for the class
    (each test rolls its own changes back), with the merge engine's
    lexical stages only: the same data in a few seconds (the test above
    loads it with the models). Loaded for each test, as it was, the four
    cost three times the CPU."""

    @classmethod
    def setUpClass(cls) -> None:
        from headon.desk.services import merging

        merging._embedder_state.clear()
        cls.addClassCleanup(merging._embedder_state.clear)
        super().setUpClass()

    @classmethod
    def setUpTestData(cls) -> None:
        call_command("demo", no_serve=True, stdout=io.StringIO())

    def test_a_demo_account_signs_in_and_sees_its_half(self) -> None:
        client = Client()
        response = client.post(
            "/accounts/login/",
            {"username": "demo-visit-coordinator", "password": demo_password()},
        )
        assert response.status_code == 302
        assert client.get("/staff/visits/").status_code == 200
        assert client.get("/staff/desk/").status_code == 403

    def test_the_demo_program_reads_in_both_languages(self) -> None:
        client = Client()
        assert "Open Factory Days 2027" in client.get("/visits/").content.decode()
        chinese = client.get("/visits/", HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
        assert "2027 工厂开放日" in chinese

    def test_the_demos_draw_verifies_with_the_published_verifier_alone(self) -> None:
        """A stranger downloads the record and the verifier and runs it: on the
        standard library alone it checks everything but the round's BLS
        signature (and says so); with py_arkworks_bls12381, that too."""
        client = Client()
        assert_the_summer_is_history()
        record = client.get("/visits/open-factory-days-2024/draw/record.json")
        assert record.status_code == 200
        with tempfile.TemporaryDirectory() as directory:
            tmp_path = Path(directory)
            (tmp_path / "record.json").write_bytes(record.content)
            verifier = client.get("/visits/draw/verify_draw.py").content
            (tmp_path / "verify_draw.py").write_bytes(verifier)
            bare = [sys.executable, "-I", "-S", "verify_draw.py", "record.json"]
            run = subprocess.run(bare, cwd=tmp_path, capture_output=True, text=True, check=False)
            assert run.returncode == 0, run.stdout + run.stderr
            assert "round 9683710's BLS signature not checked" in run.stdout
            full = [sys.executable, "verify_draw.py", "record.json", "--require-signature"]
            run = subprocess.run(full, cwd=tmp_path, capture_output=True, text=True, check=False)
            assert run.returncode == 0, run.stdout + run.stderr
            assert "round 9683710's signature is quicknet's" in run.stdout

    def test_the_demo_day_lists_questions_that_look_answered_in_both_languages(self) -> None:
        """The demo stores today's list as the worker would: the digest page
        shows it at once, in English and in Chinese, with no worker running."""
        from headon.desk.models import AnsweredLookalike
        from headon.timezones import organiser_today

        today = organiser_today()
        rows = AnsweredLookalike.objects.filter(day=today)
        assert rows.exists()
        client = Client()
        client.force_login(User.objects.get(username="demo-approver"))
        url = f"/staff/desk/digest/{today.isoformat()}/"
        english = client.get(url, HTTP_ACCEPT_LANGUAGE="en").content.decode()
        chinese = client.get(url, HTTP_ACCEPT_LANGUAGE="zh-CN").content.decode()
        listed = re.search(r"Already answered\? \((\d+)\)", english)
        assert listed is not None
        assert int(listed.group(1)) >= 1
        listed = re.search(r"似乎已有回答？（(\d+)）", chinese)
        assert listed is not None
        assert int(listed.group(1)) >= 1
        assert "Link to this answer" in english
