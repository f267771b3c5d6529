"""Personal data canaries: ID numbers and phones put in through the real
doors (the API and the web form, a refused try and a change included),
then looked for in every log line (every logger at DEBUG, SQL with its
parameters included), every export and page that shows an application, a
backup archive, and the database itself: the raw SQLite file and every
column of every row on either database.

Decision 0004 says what is kept how: an ID number is sealed (AES-GCM) and
masked, never in clear; a companion's phone likewise; the lead's verified
phone is the application's contact (E.164), where offers are sent. The
tests assert exactly that.
"""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
import logging
import re
import subprocess
import tarfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import time_machine
from django.conf import settings
from django.contrib.sessions.backends.db import SessionStore
from django.db import connection
from django.test import Client
from django.urls import reverse

from headon import sms
from headon.accounts.models import User
from headon.ops.backup import backup_create, pg_tool
from headon.testing import make_staff
from headon.visits.identity import make_test_id_number
from headon.visits.models import Application, Offer, PartyMember
from headon.visits.services import offers
from headon.visits.services.applications import access_token
from headon.visits.services.companions import companion_confirm
from headon.visits.tests.factories import make_program, solved_pow
from headon.visits.tests.test_draws import drawn

pytestmark = pytest.mark.django_db(transaction=True)

NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)
# Canaries: numbers nothing else in the suite uses.
IDS = {
    "api lead": make_test_id_number(sequence=901),
    "api companion": make_test_id_number(sequence=902),
    "api change": make_test_id_number(sequence=903),
    "web lead": make_test_id_number(sequence=904),
    "web companion": make_test_id_number(sequence=905),
}
# One digit off a valid number: refused, and as secret as the real one.
TYPO = IDS["api companion"][:-2] + str((int(IDS["api companion"][-2]) + 1) % 10) + "X"
API_LEAD_PHONE = "+8613911110001"
API_COMPANION_PHONE = "+8613911110002"
WEB_LEAD_PHONE = "+8613911110003"
WEB_COMPANION_PHONE = "+8613911110004"
API_CHANGE_PHONE = "+8613911110005"


def national(phone: str) -> str:
    return phone.removeprefix("+86")


def spellings(value: str) -> list[str]:
    """The number as text, and as a JSON or SQL writer might spell it."""
    return [value, value.lower(), json.dumps(value)[1:-1]]


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(f"{record.name} {record.levelname} {record.getMessage()}")


@pytest.fixture
def logs() -> Iterator[Capture]:
    """Every logger at DEBUG, and every SQL statement with its parameters."""
    capture = Capture()
    root = logging.getLogger()
    old_level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    loggers = [logging.getLogger(n) for n in ("django", "django.db.backends", "axes", "headon")]
    old = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.DEBUG)
    connection.force_debug_cursor = True
    try:
        yield capture
    finally:
        connection.force_debug_cursor = False
        for lg, level in zip(loggers, old, strict=True):
            lg.setLevel(level)
        root.setLevel(old_level)
        root.removeHandler(capture)


def code_from_outbox(phone: str) -> str:
    body = next(body for to, body in reversed(sms.outbox) if to == phone)
    return re.search(r"\b(\d{6})\b", body).group(1)  # type: ignore[union-attr]


def apply_through_the_api(client: Client, slug: str, sessions: list[int]) -> None:
    base = f"/api/v1/programs/{slug}"

    def post(url: str, body: dict[str, Any], **headers: str) -> Any:
        return client.post(url, body, content_type="application/json", headers=headers)

    destination = national(API_LEAD_PHONE)
    codes = {"channel": "phone", "destination": destination}
    assert post(f"{base}/codes", codes | {"pow": solved_pow("visits-code")}).status_code == 202
    code = code_from_outbox(API_LEAD_PHONE)
    token = post(f"{base}/codes/verify", codes | {"code": code}).json()["verification_token"]
    body = {
        "verification_token": token,
        "lead": {"name": "Canary Lead", "id_number": IDS["api lead"]},
        "companions": [
            {"name": "Canary Two", "id_number": TYPO, "phone": national(API_COMPANION_PHONE)}
        ],
        "choices": sessions[:2],
        "consent": True,
        "pow": solved_pow("visits-apply"),
    }
    refused = post(f"{base}/applications", body)
    assert refused.status_code == 409, refused.content
    body["companions"][0]["id_number"] = IDS["api companion"]
    body["pow"] = solved_pow("visits-apply")
    created = post(f"{base}/applications", body)
    assert created.status_code == 201, created.content
    reference, secret = created.json()["reference"], created.json()["access_token"]
    changed = client.put(
        f"/api/v1/applications/{reference}",
        {
            "lead": {"name": "Canary Lead", "id_number": IDS["api lead"]},
            "companions": [
                {
                    "name": "Canary Two",
                    "id_number": IDS["api companion"],
                    "phone": national(API_COMPANION_PHONE),
                },
                {
                    "name": "Canary Three",
                    "id_number": IDS["api change"],
                    "phone": national(API_CHANGE_PHONE),
                },
            ],
            "choices": sessions[:1],
            "pow": solved_pow("visits-apply"),
        },
        content_type="application/json",
        headers={"X-Access-Token": secret},
    )
    assert changed.status_code == 200, changed.content


def apply_through_the_web(client: Client, slug: str, sessions: list[int]) -> None:
    response = client.post(
        reverse("visits:apply", args=[slug]),
        {
            "channel": "phone",
            "destination": national(WEB_LEAD_PHONE),
            "pow": solved_pow("visits-code"),
        },
    )
    assert response.status_code == 302
    code = code_from_outbox(WEB_LEAD_PHONE)
    client.post(reverse("visits:apply_verify", args=[slug]), {"code": code})
    form = {
        "lead_name": "Canary Web",
        "lead_id_number": IDS["web lead"],
        "companion_1_name": "Canary Web Two",
        "companion_1_phone": national(WEB_COMPANION_PHONE),
        "companion_1_id_number": TYPO,
        "choice_1": str(sessions[0]),
        "consent": "on",
        "submission_id": "canary",
        "pow": solved_pow("visits-apply"),
    }
    refused = client.post(reverse("visits:apply_form", args=[slug]), form)
    assert refused.status_code == 200  # the form again, with the error
    form |= {"companion_1_id_number": IDS["web companion"], "pow": solved_pow("visits-apply")}
    response = client.post(reverse("visits:apply_form", args=[slug]), form)
    assert response.status_code == 302, response.content


def everything_shown(staff: User, applications: list[Application]) -> dict[str, bytes]:
    """Every page, file and export that shows an application, by name."""
    client = Client()
    shown: dict[str, bytes] = {}
    for application in applications:
        program = application.program
        link = [program.slug, application.reference, access_token(application)]
        shown[f"receipt {application.reference}"] = client.get(
            reverse("visits:application", args=link)
        ).content
        shown[f"tickets {application.reference}"] = client.get(
            reverse("visits:tickets", args=link)
        ).content
        shown[f"ics {application.reference}"] = client.get(
            reverse("visits:tickets_ics", args=link)
        ).content
        shown[f"api {application.reference}"] = client.get(
            f"/api/v1/applications/{application.reference}",
            headers={"X-Access-Token": access_token(application)},
        ).content
    slug = applications[0].program.slug
    shown["draw record"] = client.get(reverse("visits:draw_record", args=[slug])).content
    client.force_login(staff)
    for name in ("report", "report_csv", "program", "draw"):
        shown[f"staff {name}"] = client.get(reverse(f"visits_staff:{name}", args=[slug])).content
    shown["admin applications"] = client.get(reverse("admin:visits_application_changelist")).content
    for application in applications:
        shown[f"admin {application.reference}"] = client.get(
            reverse("admin:visits_application_change", args=[application.pk])
        ).content
    return shown


def database_text() -> dict[str, str]:
    """Every value of every row of every table, as text, by table.column;
    session data and cache values decoded first."""
    found: dict[str, str] = {}
    with connection.cursor() as cursor:
        for table in connection.introspection.table_names(cursor):
            quoted = connection.ops.quote_name(table)
            cursor.execute(f"SELECT * FROM {quoted}")  # noqa: S608 - names from introspection
            columns = [c[0] for c in cursor.description]
            for row in cursor.fetchall():
                for column, value in zip(columns, row, strict=True):
                    text = _as_text(value)
                    if table == "django_session" and column == "session_data":
                        text += json.dumps(SessionStore().decode(text))
                    if table == "headon_cache" and column == "value":
                        text += _unbase64(text)
                    key = f"{table}.{column}"
                    found[key] = found.get(key, "") + "\n" + text
    return found


def _as_text(value: Any) -> str:
    if isinstance(value, bytes | memoryview):
        return bytes(value).decode("latin-1")
    if isinstance(value, dict | list):
        return json.dumps(value, ensure_ascii=False)
    return "" if value is None else str(value)


def _unbase64(text: str) -> str:
    try:
        return base64.b64decode(text).decode("latin-1")
    except (binascii.Error, ValueError):
        return ""


def where(value: str, places: dict[str, str]) -> set[str]:
    return {name for name, text in places.items() if any(s in text for s in spellings(value))}


@pytest.fixture
def seeded(logs: Capture) -> list[Application]:
    with time_machine.travel(NOW, tick=False):
        sms.outbox.clear()
        program = make_program(slug="canary-days", sessions=2, capacity=10)
        sessions = list(program.sessions.order_by("starts_at").values_list("pk", flat=True))
        apply_through_the_api(Client(), program.slug, sessions)
        apply_through_the_web(Client(), program.slug, sessions)
        for member in PartyMember.objects.filter(status=PartyMember.Status.WAITING):
            companion_confirm(member=member)
        drawn(program)
        for offer in Offer.objects.filter(session__program=program):
            offers.offer_confirm(offer)
    return list(Application.objects.filter(program=program).order_by("pk"))


def test_no_id_number_is_logged_shown_exported_or_stored_in_clear(
    seeded: list[Application], logs: Capture, tmp_path: Path
) -> None:
    assert len(seeded) == 2
    assert seeded[1].members.count() == 2
    assert any("INSERT" in line for line in logs.lines)  # the SQL was captured
    alice = make_staff("alice-canary", "admin", superuser=True)
    places: dict[str, str] = {"logs": "\n".join(logs.lines)}
    places |= {k: v.decode("utf-8", "replace") for k, v in everything_shown(alice, seeded).items()}
    places |= database_text()
    for label, number in [*IDS.items(), ("typo", TYPO)]:
        assert where(number, places) == set(), label
    # The shown pages did show the party, masked.
    assert "Canary Three" in places[f"receipt {seeded[0].reference}"]
    assert IDS["api change"][:3] + "*" * 11 in places[f"receipt {seeded[0].reference}"]


def test_phones_are_kept_only_where_decision_0004_says(seeded: list[Application]) -> None:
    places = database_text()
    # The lead's verified phone is the application's contact, where offers go.
    assert where(API_LEAD_PHONE, places) == {"visits_application.contact"}
    assert where(WEB_LEAD_PHONE, places) == {"visits_application.contact"}
    # A companion's phone is sealed and masked, never in clear.
    for phone in (API_COMPANION_PHONE, WEB_COMPANION_PHONE, API_CHANGE_PHONE):
        assert where(phone, places) == set()
        assert where(national(phone), places) == set()
    web = seeded[1].members.get(position=1)
    assert web.phone_masked.endswith(WEB_COMPANION_PHONE[-4:])
    assert web.phone_sealed
    assert web.id_number_sealed


def test_the_raw_sqlite_file_holds_no_clear_id_number(seeded: list[Application]) -> None:
    if connection.vendor != "sqlite":
        pytest.skip("PostgreSQL: every column is read in the tests above")
    path = Path(connection.settings_dict["NAME"])
    raw = b"".join(p.read_bytes() for p in (path, path.with_name(path.name + "-wal")) if p.exists())
    assert WEB_LEAD_PHONE.encode() in raw  # the file holds the rows we look in
    for label, number in [*IDS.items(), ("typo", TYPO)]:
        assert number.encode() not in raw, label
        assert number.encode("utf-16-le") not in raw, label


def test_a_backup_holds_no_clear_id_number(seeded: list[Application], tmp_path: Path) -> None:
    if connection.vendor != "sqlite" and pg_tool("pg_dump") is None:
        pytest.skip("no pg_dump")
    report = backup_create(
        out_dir=tmp_path, database=settings.DATABASES["default"], data_dir=settings.DATA_DIR
    )
    raw = b""
    with tarfile.open(report.path) as tar:
        for member in tar.getmembers():
            data = tar.extractfile(member).read() if member.isfile() else b""  # type: ignore[union-attr]
            if member.name.endswith(".pgdump"):
                # pg_dump's custom format is compressed: read it as SQL.
                dump = tmp_path / "db.pgdump"
                dump.write_bytes(data)
                data = subprocess.run(
                    [pg_tool("pg_restore") or "pg_restore", "--file=-", str(dump)],
                    capture_output=True,
                    check=True,
                ).stdout
            raw += data
    assert WEB_LEAD_PHONE.encode() in raw
    for label, number in [*IDS.items(), ("typo", TYPO)]:
        assert number.encode() not in raw, label


def test_control_the_search_finds_an_id_number_that_is_kept_in_clear(
    logs: Capture, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With sealing switched off, the same search finds the number in the
    database and in the logged SQL: the tests above can fail."""
    monkeypatch.setattr("headon.visits.services.applications.seal", lambda value: value)
    with time_machine.travel(NOW, tick=False):
        sms.outbox.clear()
        program = make_program(slug="control-days", sessions=2, capacity=10)
        sessions = list(program.sessions.order_by("starts_at").values_list("pk", flat=True))
        apply_through_the_web(Client(), program.slug, sessions)
    places = database_text() | {"logs": "\n".join(logs.lines)}
    assert where(IDS["web lead"], places) == {"visits_partymember.id_number_sealed", "logs"}
