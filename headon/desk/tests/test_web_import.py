"""Importing from the console: triagers may (issue 16: the README said
triagers import from the page, and a triager got 403), and the page takes
the column mapping and encoding `headon import-asks` takes."""

from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.conf import settings as django_settings
from django.test import Client
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from headon.desk import jobs
from headon.desk.models import Ask, Channel, ImportRun
from headon.testing import make_staff

pytestmark = pytest.mark.django_db

# Column names no guess knows: only a mapping finds the text and the time.
EXPORT = "\n".join(
    [
        "编号,正文内容,发帖人,发布于",
        "a1,后排有座椅加热吗,user1,2026-11-24 09:15",
        "a2,Are the rear seats heated?,user2,2026-11-24 09:20",
        "a3,有热泵吗,user3,2026-11-24 10:05",
    ]
).encode("gb18030")


@pytest.fixture
def channel() -> Channel:
    return Channel.objects.create(slug="weibo", name="Weibo", kind=Channel.Kind.SOCIAL_EXPORT)


def _upload(client: Client, channel: Channel, **mapping: str) -> ImportRun:
    upload = io.BytesIO(EXPORT)
    upload.name = "weibo.csv"
    response = client.post(
        reverse("desk_staff:import_upload"),
        {"channel": channel.pk, "file": upload, "encoding": "gb18030"}
        | {f"map_{k}": v for k, v in mapping.items()},
    )
    assert response.status_code == 302
    run = ImportRun.objects.order_by("-pk").first()
    assert run is not None
    job = DBTaskResult.objects.filter(task_path="headon.desk.jobs.import_file").latest("pk")
    jobs.import_file.call(*job.args_kwargs["args"])
    run.refresh_from_db()
    return run


def test_a_triager_imports_from_the_console_with_a_column_mapping(channel: Channel) -> None:
    client = Client()
    client.force_login(make_staff("bob", "triager"))
    page = client.get(reverse("desk_staff:home"))
    assert b'name="map_text"' in page.content
    run = _upload(
        client,
        channel,
        text="正文内容",
        author="发帖人",
        posted_at="发布于",
        external_id="编号",
    )
    assert run.status == ImportRun.Status.DONE, run.message_text()
    assert run.added == 3
    assert run.mapping["text"] == "正文内容"
    assert run.encoding == "gb18030"
    assert sorted(Ask.objects.values_list("external_id", flat=True)) == ["a1", "a2", "a3"]
    assert not list((Path(django_settings.DATA_DIR) / "imports").glob("*.upload"))


def test_without_the_mapping_the_same_file_fails_with_a_reason(channel: Channel) -> None:
    """The control: the mapping is what made the file readable."""
    client = Client()
    client.force_login(make_staff("bob", "triager"))
    run = _upload(client, channel)
    assert run.status == ImportRun.Status.FAILED
    assert run.added == 0


def test_a_writer_cannot_import(channel: Channel) -> None:
    client = Client()
    client.force_login(make_staff("carol", "writer"))
    upload = io.BytesIO(EXPORT)
    upload.name = "weibo.csv"
    response = client.post(
        reverse("desk_staff:import_upload"), {"channel": channel.pk, "file": upload}
    )
    assert response.status_code == 403
    assert not ImportRun.objects.exists()
