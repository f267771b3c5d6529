"""The export reader: encodings, mappings, broken rows, hostile input."""

from __future__ import annotations

import codecs
import datetime as dt
import io
import json
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from headon.desk.intake.exports import (
    ExportError,
    ParsedRow,
    RowError,
    detect_encoding,
    parse_count,
    parse_datetime,
    read_export,
)

TZ = ZoneInfo("Asia/Shanghai")
CSV = "编号,内容,用户,发布时间,点赞\n1,交付什么时候开始？,小王,2026-11-24 18:30,1.2万\n2,Is the range really 700 km?,amy,2026-11-24T10:00:00Z,3\n"


def read(data: bytes, name: str = "x.csv", **kwargs) -> tuple[str, list[ParsedRow | RowError]]:
    encoding, _mapping, rows = read_export(io.BytesIO(data), name=name, tz=TZ, **kwargs)
    return encoding, list(rows)


@pytest.mark.parametrize(
    ("data", "encoding"),
    [
        (CSV.encode("utf-8"), "utf-8"),
        (codecs.BOM_UTF8 + CSV.encode("utf-8"), "utf-8-sig"),
        (CSV.encode("gb18030"), "gb18030"),
    ],
)
def test_utf8_with_or_without_bom_and_gb18030_read_the_same(data: bytes, encoding: str) -> None:
    found, rows = read(data)
    assert found == encoding
    assert [r.text for r in rows if isinstance(r, ParsedRow)] == [
        "交付什么时候开始？",
        "Is the range really 700 km?",
    ]


def test_chinese_headers_are_mapped_and_values_parsed() -> None:
    _enc, rows = read(CSV.encode())
    first = rows[0]
    assert isinstance(first, ParsedRow)
    assert (first.external_id, first.author, first.likes, first.line) == ("1", "小王", 12000, 2)
    assert first.posted_at == dt.datetime(2026, 11, 24, 10, 30, tzinfo=dt.UTC)


def test_a_bad_row_is_reported_with_its_line_and_good_rows_are_kept() -> None:
    data = (
        CSV
        + "3,,nobody,2026-11-24 10:00,0\n4,Price?,bob,yesterday,0\n5,Colours?,c,2026-11-24 11:00,lots\n6,Warranty?,d,2026-11-24 12:00,5\n"
    )
    _enc, rows = read(data.encode())
    errors = [(r.line, r.message) for r in rows if isinstance(r, RowError)]
    assert errors == [
        (4, "no text"),
        (5, "cannot read the time 'yesterday'"),
        (6, "the likes count 'lots' is not a whole number of 0 or more"),
    ]
    assert [r.external_id for r in rows if isinstance(r, ParsedRow)] == ["1", "2", "6"]


def test_nul_bytes_broken_quoting_and_wrong_column_counts_are_row_errors() -> None:
    data = b'id,text,posted_at\n1,"ok",2026-11-24 10:00\n2,"bad\x00",2026-11-24 10:00\n3,"unclosed,2026-11-24\n'
    _enc, rows = read(data)
    assert isinstance(rows[0], ParsedRow)
    assert all(isinstance(r, RowError) for r in rows[1:])


def test_a_byte_invalid_in_utf8_marks_only_its_row() -> None:
    data = (
        "id,text,posted_at\n1,好,2026-11-24 10:00\n".encode() + b"2,\xff\xfe bad,2026-11-24 10:00\n"
    )
    _enc, rows = read(data, encoding="utf-8")
    assert isinstance(rows[0], ParsedRow)
    assert isinstance(rows[1], RowError)


def test_an_explicit_mapping_wins_and_a_missing_text_column_stops_the_file() -> None:
    data = b"a,b,c\nx,Hello?,2026-11-24 10:00\n"
    _enc, rows = read(data, mapping={"external_id": "a", "text": "b", "posted_at": "c"})
    assert isinstance(rows[0], ParsedRow)
    with pytest.raises(ExportError, match="No text column"):
        read(data)


def test_json_lines_with_bad_lines_among_good() -> None:
    lines = [
        json.dumps({"id": "a", "text": "续航多少？", "created_at": 1764000000}),
        "{not json",
        "[1, 2]",
        json.dumps(
            {"id": "b", "text": "When do deliveries start?", "created_at": "2026-11-24 09:00"}
        ),
    ]
    _enc, rows = read("\n".join(lines).encode(), name="x.jsonl")
    assert [type(r).__name__ for r in rows] == ["ParsedRow", "RowError", "RowError", "ParsedRow"]
    assert [r.line for r in rows] == [1, 2, 3, 4]


def test_rows_without_an_id_get_a_stable_one() -> None:
    data = b"text,posted_at,author\nHello?,2026-11-24 10:00,amy\n"
    first = read(data)[1][0]
    second = read(data)[1][0]
    assert isinstance(first, ParsedRow)
    assert isinstance(second, ParsedRow)
    assert first.external_id == second.external_id
    assert first.external_id.startswith("h:")


def test_counts_and_dates_in_the_shapes_exports_use() -> None:
    assert [parse_count(v) for v in ("", "1,204", "1.2万", "3k", 7)] == [0, 1204, 12000, 3000, 7]
    assert parse_datetime("2026年11月24日 18:30", TZ) == dt.datetime(
        2026, 11, 24, 18, 30, tzinfo=TZ
    )
    assert parse_datetime("1764000000000", TZ) == parse_datetime(1764000000, TZ)
    for bad in ("-5", "1e400", True):
        with pytest.raises((ValueError, OverflowError)):
            parse_count(bad)


def test_utf8_detection_tolerates_a_character_cut_at_the_sniff_boundary() -> None:
    assert detect_encoding("交付".encode()[:-1]) == "utf-8"


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=2000))
def test_any_bytes_read_as_rows_or_a_clear_file_error_never_a_crash(data: bytes) -> None:
    for name in ("x.csv", "x.jsonl"):
        try:
            _enc, rows = read(b"id,text,posted_at\n" + data if name == "x.csv" else data, name=name)
        except ExportError:
            continue
        assert all(isinstance(r, ParsedRow | RowError) for r in rows)
