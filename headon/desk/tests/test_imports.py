from __future__ import annotations

import io
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import translation
from django_tasks_db.models import DBTaskResult

from headon.desk.models import Ask, Channel, ImportRun
from headon.desk.services.imports import import_file

pytestmark = pytest.mark.django_db

ROWS = "\n".join(
    ["mid,评论内容,昵称,评论时间,点赞数"]
    + [
        f"{n},第{n}个问题：交付什么时候开始？,user{n % 7},2026-11-24 {8 + n % 12:02d}:15,{n}"
        for n in range(1, 51)
    ]
    + ["51,,ghost,2026-11-24 10:00,0", "52,Range?,amy,not a time,0"]
)


@pytest.fixture
def channel() -> Channel:
    return Channel.objects.create(slug="weibo", name="Weibo", kind=Channel.Kind.SOCIAL_EXPORT)


@pytest.fixture
def export(tmp_path: Path) -> Path:
    path = tmp_path / "weibo.csv"
    path.write_bytes(ROWS.encode("gb18030"))
    return path


def test_an_export_lands_with_its_bad_rows_reported(channel: Channel, export: Path) -> None:
    run = import_file(channel=channel, path=export)
    assert (run.status, run.rows, run.added, run.duplicates, run.rejected) == ("done", 52, 50, 0, 2)
    assert [e["line"] for e in run.errors] == [52, 53]
    assert run.encoding == "gb18030"
    ask = Ask.objects.get(external_id="7")
    assert ask.text == "第7个问题：交付什么时候开始？"
    assert ask.day.isoformat() == "2026-11-24"
    assert ask.author_key
    assert "user0" not in ask.author_key


def test_reimporting_the_same_file_adds_nothing_twice(channel: Channel, export: Path) -> None:
    import_file(channel=channel, path=export)
    again = import_file(channel=channel, path=export)
    assert (again.added, again.duplicates) == (0, 50)
    assert Ask.objects.count() == 50


def test_a_file_that_cannot_be_read_fails_with_a_reason(channel: Channel, tmp_path: Path) -> None:
    path = tmp_path / "x.csv"
    path.write_text("a,b\n1,2\n")
    run = import_file(channel=channel, path=path)
    assert run.status == ImportRun.Status.FAILED
    assert "No text column" in run.message


def test_the_command_prints_a_summary_and_refuses_unknown_channels(
    channel: Channel, export: Path
) -> None:
    out = io.StringIO()
    call_command("import_asks", str(export), channel="weibo", no_progress=True, stdout=out)
    assert "50 asks added, 0 already there, 2 rejected" in out.getvalue()
    assert "line 53: cannot read the time" in out.getvalue()
    with pytest.raises(CommandError, match="No channel"):
        call_command("import_asks", str(export), channel="nope")
    with pytest.raises(CommandError, match="FIELD=COLUMN"):
        call_command("import_asks", str(export), channel="weibo", map=["bogus"])


def test_row_problems_and_a_failed_file_read_in_the_readers_language(
    channel: Channel, export: Path, tmp_path: Path
) -> None:
    run = import_file(channel=channel, path=export)
    with translation.override("en"):
        assert run.error_rows() == [(52, "no text"), (53, "cannot read the time 'not a time'")]
    with translation.override("zh-hans"):
        assert run.error_rows() == [(52, "没有正文"), (53, "无法识别时间 'not a time'")]
    headless = tmp_path / "headless.csv"
    headless.write_text("who,when\namy,2026-11-24\n", encoding="utf-8")
    failed = import_file(channel=channel, path=headless)
    assert failed.status == "failed"
    with translation.override("en"):
        assert failed.message_text().startswith("No text column: give a mapping for 'text'")
        assert "who, when" in failed.message_text()
    with translation.override("zh-hans"):
        assert failed.message_text().startswith("没有正文列")
        assert "who, when" in failed.message_text()


def test_a_problem_stored_before_templates_is_shown_as_it_was(channel: Channel) -> None:
    run = ImportRun.objects.create(
        channel=channel,
        file_name="old.csv",
        errors=[{"line": 3, "error": "cannot read the time 'yesterday'"}],
        message="The file is empty.",
    )
    with translation.override("zh-hans"):
        assert run.error_rows() == [(3, "cannot read the time 'yesterday'")]
        assert run.message_text() == "文件是空的。"


def test_the_command_line_import_queues_merging_as_the_page_does(
    channel: Channel, export: Path
) -> None:
    """Imported from the shell, the asks stayed "not yet merged": no job."""
    out = io.StringIO()
    call_command("import_asks", str(export), channel="weibo", no_progress=True, stdout=out)
    queued = DBTaskResult.objects.filter(task_path="headon.desk.jobs.assign_day")
    assert [job.args_kwargs["args"] for job in queued] == [["2026-11-24"]]
    assert "Merging queued for 1 day;" in out.getvalue()


def test_the_command_names_itself_as_the_operator_types_it() -> None:
    from headon.desk.management.commands.import_asks import Command

    usage = Command().create_parser("headon", "import_asks").format_usage()
    assert usage.startswith("usage: headon import-asks ")
