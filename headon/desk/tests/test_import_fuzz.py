"""Hostile export files through the whole import (reader, service, database)
and once through the staff upload page: wrong encodings, BOMs, NUL bytes,
lone surrogates, huge fields, broken quoting, formulas. Each file is
imported with a report or refused with a reason: no exception escapes, no
run is left "running", nothing unreadable reaches the database, and no file
takes long. test_exports.py fuzzes the reader alone."""

from __future__ import annotations

import codecs
import csv
import io
import json
import time
from pathlib import Path
from typing import Literal

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from headon.desk import jobs
from headon.desk.intake.sources import channel_token_issue
from headon.desk.models import Ask, Channel, ImportRun
from headon.desk.services.imports import import_file
from headon.testing import make_staff

pytestmark = pytest.mark.django_db

FORMULAS = ["=cmd|' /C calc'!A0", "+1+1", "-2+3", "@SUM(A1)", '=HYPERLINK("http://x")']
NASTY = [
    "\x00",
    "\ufeff",
    "\u202e",
    '"',
    '""',
    "\r",
    "\n",
    "\r\n",
    ",",
    "\t",
    "\udcff",
    "\ud800",
    "\\",
    "{{ x }}",
    "<script>",
]
ENCODINGS = ["utf-8", "utf-8-sig", "gb18030", "utf-16", "latin-1", "cp1252", "big5", "shift_jis"]
# A slow file is a hang in waiting: the biggest file here is a few MB.
SECONDS = 20

cell = st.one_of(
    st.text(max_size=40),
    st.sampled_from(FORMULAS + NASTY),
    st.lists(st.sampled_from([*NASTY, "a", "好", "1"]), max_size=8).map("".join),
    st.sampled_from(["2026-11-24 10:00", "1764000000", "not a time", "", "9" * 30]),
)
row = st.fixed_dictionaries(
    {
        "id": cell,
        "text": cell,
        "author": cell,
        "posted_at": cell,
        "likes": cell,
        "url": st.one_of(cell, st.sampled_from(["http://x.org/\x00", "https://a/\udcff"])),
    }
)


def encode(text: str, encoding: str) -> bytes:
    return text.encode(
        encoding, errors="surrogatepass" if encoding.startswith("utf") else "replace"
    )


@st.composite
def export_files(draw: st.DrawFn) -> tuple[str, bytes]:
    rows = draw(st.lists(row, max_size=6))
    kind = draw(st.sampled_from(["csv", "csv", "jsonl", "raw"]))
    encoding = draw(st.sampled_from(ENCODINGS))
    if kind == "csv":
        out = io.StringIO()
        quoting: Literal[0, 1, 3] = draw(
            st.sampled_from([csv.QUOTE_MINIMAL, csv.QUOTE_ALL, csv.QUOTE_NONE])
        )
        writer = csv.writer(out, quoting=quoting, escapechar="\\")
        writer.writerow(["id", "text", "author", "posted_at", "likes", "url"])
        for r in rows:
            writer.writerow(r.values())
        data = encode(out.getvalue(), encoding)
    elif kind == "jsonl":
        lines = [json.dumps(r, ensure_ascii=draw(st.booleans())) for r in rows]
        data = encode("\n".join(lines), encoding)
    else:
        data = b"id,text,author,posted_at\n" + draw(st.binary(max_size=300))
    if draw(st.booleans()):  # broken: a byte cut out or put in
        at = draw(st.integers(0, len(data)))
        data = data[:at] + draw(st.binary(max_size=2)) + data[at + 1 :]
    if draw(st.booleans()):
        data = draw(st.sampled_from([codecs.BOM_UTF8, codecs.BOM_UTF16_LE, b""])) + data
    return ("x.jsonl" if kind == "jsonl" else "x.csv"), data


@pytest.fixture
def channel() -> Channel:
    return Channel.objects.create(slug="weibo", name="Weibo", kind=Channel.Kind.SOCIAL_EXPORT)


def assert_reported(run: ImportRun) -> None:
    """The run ended, and says what became of every row it read."""
    assert run.status in (ImportRun.Status.DONE, ImportRun.Status.FAILED)
    assert run.finished_at is not None
    if run.status == ImportRun.Status.FAILED:
        assert run.message
    assert run.rows == run.added + run.duplicates + run.rejected
    assert all(isinstance(e["line"], int) and e["error"] for e in run.errors)
    for text, author, external_id, url in Ask.objects.filter(import_run=run).values_list(
        "text", "author", "external_id", "url"
    ):
        assert text.strip()
        for value in (text, author, external_id, url):
            assert "\x00" not in value
            value.encode("utf-8")  # no lone surrogate


@settings(
    max_examples=150,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(export_files())
@example(("x.csv", b"id,text,author\n1,hi,\x00bob\n"))
@example(("x.csv", b"id,text,author,url\n1,hi,\xff\xfe,http://x/\xff\n"))
@example(("x.csv", b"id,text\n\x00,hi\n\xff,ho\n"))
@example(("x.jsonl", b'{"id": "\\u0000", "text": "hi", "author": "\\ud800"}\n'))
@example(("x.csv", b'id,text\n1,"never closed\n2,next\n'))
@example(("x.csv", b"\x00\x00\x00\x00"))
@example(("x.csv", codecs.BOM_UTF16_LE + "id,text\n1,好\n".encode("utf-16-le")))
def test_every_file_imports_or_is_refused_with_a_report(
    channel: Channel, tmp_path: Path, file: tuple[str, bytes]
) -> None:
    name, data = file
    path = tmp_path / name
    path.write_bytes(data)
    started = time.monotonic()
    run = import_file(channel=channel, path=path, name=name)
    assert time.monotonic() - started < SECONDS
    run.refresh_from_db()
    assert_reported(run)


@pytest.mark.parametrize("encoding", ["utf-8", "no-such-codec", "utf-16", "ascii"])
def test_a_named_encoding_that_does_not_fit_fails_the_file_or_marks_rows(
    channel: Channel, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "x.csv"
    path.write_bytes("id,text\n1,交付什么时候开始？\n".encode("gb18030"))
    run = import_file(channel=channel, path=path, encoding=encoding)
    assert_reported(run)


def test_huge_fields_and_lines_are_row_errors(channel: Channel, tmp_path: Path) -> None:
    huge = "长" * 1_100_000
    path = tmp_path / "x.csv"
    at = "2026-11-24 10:00"
    path.write_text(
        f"id,text,author,posted_at\n1,{huge},a,{at}\n2,ok?,{huge},{at}\n"
        f"3,{'x' * 20_000},b,{at}\n4,fine?,c,{at}\n"
    )
    run = import_file(channel=channel, path=path)
    assert_reported(run)
    assert run.status == ImportRun.Status.DONE
    assert run.rejected >= 2
    assert Ask.objects.filter(import_run=run, external_id="4").exists()
    lines = tmp_path / "x.jsonl"
    lines.write_text(
        json.dumps({"id": "1", "text": huge, "created_at": at})
        + "\n"
        + json.dumps({"id": "2", "text": "ok?", "created_at": at})
    )
    run = import_file(channel=channel, path=lines)
    assert_reported(run)
    assert (run.added, run.rejected) == (1, 1)


def test_formulas_are_kept_as_text_not_refused(channel: Channel, tmp_path: Path) -> None:
    """An ask is kept as received; formulas are neutralised where a CSV is
    written (visits/reports.py), not here."""
    out = io.StringIO()
    writer = csv.writer(out)
    writer.writerow(["id", "text", "posted_at"])
    for n, formula in enumerate(FORMULAS):
        writer.writerow([n, formula, "2026-11-24 10:00"])
    path = tmp_path / "x.csv"
    path.write_text(out.getvalue())
    run = import_file(channel=channel, path=path)
    assert_reported(run)
    assert sorted(Ask.objects.values_list("text", flat=True)) == sorted(FORMULAS)


def test_a_hostile_upload_through_the_staff_page_ends_in_a_report(
    channel: Channel, tmp_path: Path
) -> None:
    client = Client()
    client.force_login(make_staff("alice", "admin", superuser=True))
    data = (
        codecs.BOM_UTF8
        + b"id,text,author,posted_at\n"
        + b"1,\"=cmd|' /C calc'!A0\",\x00x,2026-11-24 10:00\n"
        + b"2,\xff\xfe,y,2026-11-24 10:00\n"
        + b"5,ok?,z,2026-11-24 10:00\n"
        + b'3,"open,z,2026-11-24 10:00\n4,ok?,z,2026-11-24 10:00\n'
    )
    upload = io.BytesIO(data)
    upload.name = "<script>alert(1)</script>.csv"
    response = client.post(
        reverse("desk_staff:import_upload"), {"channel": channel.pk, "file": upload}
    )
    assert response.status_code == 302
    run = ImportRun.objects.get()
    job = DBTaskResult.objects.get(task_path="headon.desk.jobs.import_file")
    jobs.import_file.call(*job.args_kwargs["args"])
    run.refresh_from_db()
    assert_reported(run)
    assert not list((Path(django_settings.DATA_DIR) / "imports").glob("*.upload"))
    assert run.added == 1  # line 4; 1 has a NUL, 2 bad bytes, 3 opens a quote to the end
    page = client.get(response["Location"])
    assert page.status_code == 200
    assert b"<script>alert" not in page.content


@pytest.mark.parametrize("field", ["text", "author", "external_id", "url"])
def test_a_nul_in_any_field_of_a_webhook_ask_is_refused_not_a_500(field: str) -> None:
    """PostgreSQL's text holds no NUL: the author's used to fail the insert."""
    hook = Channel.objects.create(slug="dealers", name="Dealers", kind=Channel.Kind.WEBHOOK)
    response = Client().post(
        "/api/v1/asks",
        {"text": "Range?", field: "http://x.org/a\x00b"},
        content_type="application/json",
        headers={"Authorization": f"Bearer {channel_token_issue(hook)}"},
    )
    assert response.status_code == 422
    assert "NUL" in response.json()["detail"]
    assert not Ask.objects.exists()
