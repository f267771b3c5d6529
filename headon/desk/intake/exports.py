"""Read exports of social-media comments (CSV or JSON Lines) into plain rows.

No Django here: bytes in, `ParsedRow` or `RowError` out, one per record, with
the line number a person can find in the file. A bad row never stops the
file; a file that cannot be read at all raises `ExportError`.
"""

from __future__ import annotations

import codecs
import csv
import datetime as dt
import hashlib
import io
import json
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import IO, Any
from zoneinfo import ZoneInfo

FIELDS = ("text", "author", "posted_at", "likes", "replies", "shares", "url", "external_id")
MAX_TEXT = 10_000
MAX_FIELD = 1_000_000  # bytes in one CSV field before the row is refused
SNIFF_BYTES = 1 << 16

# Header names seen in real exports, lower-cased; the first match wins.
GUESSES: dict[str, tuple[str, ...]] = {
    "text": (
        "text",
        "content",
        "comment",
        "body",
        "message",
        "内容",
        "评论",
        "评论内容",
        "正文",
        "微博正文",
    ),
    "author": (
        "author",
        "user",
        "username",
        "screen_name",
        "nickname",
        "用户",
        "用户名",
        "昵称",
        "作者",
    ),
    "posted_at": (
        "posted_at",
        "created_at",
        "time",
        "date",
        "timestamp",
        "发布时间",
        "时间",
        "评论时间",
    ),
    "likes": ("likes", "like_count", "attitudes_count", "点赞", "点赞数"),
    "replies": ("replies", "reply_count", "comments_count", "回复", "回复数", "评论数"),
    "shares": ("shares", "share_count", "reposts_count", "retweets", "转发", "转发数"),
    "url": ("url", "link", "permalink", "链接"),
    "external_id": ("external_id", "id", "mid", "comment_id", "post_id", "编号"),
}


def gettext_noop(message: str) -> str:
    """Marks a message for the translation catalogue (makemessages finds it by
    this name) without importing Django: it is translated where it is shown,
    in the reader's language, by ``params`` filled into the translation."""
    return message


class ExportError(ValueError):
    """The file as a whole cannot be read (no text column, not CSV, ...).

    ``template`` is the English message with %(name)s places for ``params``,
    a msgid of the catalogue; ``str()`` is the English text.
    """

    def __init__(self, template: str, **params: Any) -> None:
        self.template, self.params = template, params
        super().__init__(template % params if params else template)


@dataclass(frozen=True)
class ParsedRow:
    line: int
    external_id: str
    text: str
    author: str
    posted_at: dt.datetime
    likes: int
    replies: int
    shares: int
    url: str


@dataclass(frozen=True)
class RowError:
    """A row that was not imported: ``error`` is an English template with
    %(name)s places for ``params`` (a msgid of the catalogue)."""

    line: int
    error: str
    params: dict[str, Any] = field(default_factory=dict)

    @property
    def message(self) -> str:
        return self.error % self.params if self.params else self.error


def detect_encoding(head: bytes) -> str:
    """UTF-8 (with or without BOM) if the bytes are UTF-8, else GB18030,
    which every byte sequence of GBK and GB2312 decodes as."""
    if head.startswith(codecs.BOM_UTF8):
        return "utf-8-sig"
    decoder = codecs.getincrementaldecoder("utf-8")()
    try:
        decoder.decode(head, final=False)  # a cut multi-byte character at the end is fine
    except UnicodeDecodeError:
        return "gb18030"
    return "utf-8"


def guess_mapping(header: list[str]) -> dict[str, str]:
    """Which column holds which field, from the header's names."""
    lowered = {name.strip().lower(): name for name in header}
    mapping = {}
    for target, names in GUESSES.items():
        for name in names:
            if name in lowered:
                mapping[target] = lowered[name]
                break
    return mapping


# surrogateescape turns each byte the encoding could not read into one of
# these; a JSON file can hold any surrogate, and NUL too. Neither can be
# stored (UTF-8 has no surrogates; PostgreSQL's text no NUL), so a row
# holding one in a field that is kept is refused (tests/test_import_fuzz.py).
_UNDECODABLE = re.compile("[\x00\ud800-\udfff]")


def _shown(value: object, limit: int = 30) -> str:
    """`value` fit for a message that is stored: unreadable characters replaced."""
    return _UNDECODABLE.sub("\ufffd", str(value)[:limit])


_CJK_DATETIME = re.compile(
    r"^(\d{4})年(\d{1,2})月(\d{1,2})日\s*(?:(\d{1,2})[:：时](\d{1,2})(?:[:：分](\d{1,2})秒?)?)?$"
)


def parse_datetime(raw: Any, tz: ZoneInfo) -> dt.datetime:
    """ISO 8601, "2026-11-24 18:30[:05]", "2026/11/24 18:30", "2026年11月24日 18:30"
    or Unix seconds/milliseconds. A time without a zone is the organiser's."""
    if isinstance(raw, bool):
        raise ValueError("not a date")
    if isinstance(raw, int | float) or (
        isinstance(raw, str) and re.fullmatch(r"\d{9,13}(\.\d+)?", raw.strip())
    ):
        seconds = float(raw)
        if seconds > 1e11:  # milliseconds
            seconds /= 1000
        return dt.datetime.fromtimestamp(seconds, tz=dt.UTC)
    if not isinstance(raw, str) or not raw.strip():
        raise ValueError("no date")
    text = raw.strip()
    if match := _CJK_DATETIME.match(text):
        y, mo, d, h, mi, s = (int(g) if g else 0 for g in match.groups())
        value = dt.datetime(y, mo, d, h, mi, s)  # noqa: DTZ001  (made aware below)
    else:
        text = text.replace("/", "-").replace("Z", "+00:00")
        value = dt.datetime.fromisoformat(text)
    if value.tzinfo is None:
        value = value.replace(tzinfo=tz)
    if not 2000 <= value.year <= 2100:
        raise ValueError("year out of range")
    return value


def parse_count(raw: Any) -> int:
    """Engagement counts as exports write them: 1204, "1,204", "1.2万", "3.4k"."""
    if raw is None or raw == "":
        return 0
    if isinstance(raw, str) and raw.isascii() and raw.isdigit() and len(raw) < 10:
        return int(raw)  # the common case, without the suffix handling
    if isinstance(raw, bool):
        raise ValueError("not a count")
    if isinstance(raw, int):
        value = raw
    else:
        text = str(raw).strip().replace(",", "").lower()
        factor = 1
        for suffix, multiplier in (
            ("万", 10_000),
            ("w", 10_000),
            ("k", 1_000),
            ("亿", 100_000_000),
        ):
            if text.endswith(suffix):
                text, factor = text[: -len(suffix)], multiplier
                break
        value = round(float(text) * factor)
    if not 0 <= value < 2**31:
        raise ValueError("count out of range")
    return int(value)


def _clean_url(raw: Any) -> str:
    url = str(raw or "").strip()
    return url if re.fullmatch(r"https?://\S{1,490}", url) and not _UNDECODABLE.search(url) else ""


def _row(
    line: int, record: Mapping[str, Any], mapping: Mapping[str, str], tz: ZoneInfo
) -> ParsedRow | RowError:
    def get(field: str) -> Any:
        column = mapping.get(field)
        return record.get(column) if column is not None else None

    text = get("text")
    if not isinstance(text, str) or not text.strip():
        return RowError(line, gettext_noop("no text"))
    if _UNDECODABLE.search(text):
        return RowError(
            line, gettext_noop("the text holds bytes that are not valid in the file's encoding")
        )
    if len(text) > MAX_TEXT:
        return RowError(
            line, gettext_noop("text longer than %(limit)s characters"), {"limit": MAX_TEXT}
        )
    try:
        posted_at = parse_datetime(get("posted_at"), tz)
    except (ValueError, OverflowError, OSError):
        return RowError(
            line,
            gettext_noop("cannot read the time %(value)s"),
            {"value": repr(str(get("posted_at"))[:40])},
        )
    counts = []
    for name, error in (
        ("likes", gettext_noop("the likes count %(value)s is not a whole number of 0 or more")),
        ("replies", gettext_noop("the replies count %(value)s is not a whole number of 0 or more")),
        ("shares", gettext_noop("the shares count %(value)s is not a whole number of 0 or more")),
    ):
        try:
            counts.append(parse_count(get(name)))
        except (ValueError, OverflowError):
            return RowError(line, error, {"value": repr(str(get(name))[:40])})
    likes, replies, shares = counts
    author = str(get("author") or "").strip()[:200]
    external_id = str(get("external_id") or "").strip()[:200]
    for error, value in (
        (gettext_noop("the author holds bytes that are not valid in the file's encoding"), author),
        (gettext_noop("the id holds bytes that are not valid in the file's encoding"), external_id),
    ):
        if _UNDECODABLE.search(value):
            return RowError(line, error)
    if not external_id:
        # No id in the export: the same post in a re-import hashes the same.
        digest = hashlib.sha256(
            f"{author}\x1f{posted_at.isoformat()}\x1f{text}".encode()
        ).hexdigest()
        external_id = "h:" + digest[:40]
    return ParsedRow(
        line, external_id, text, author, posted_at, likes, replies, shares, _clean_url(get("url"))
    )


def _text_stream(stream: IO[bytes], encoding: str | None) -> tuple[io.TextIOWrapper[Any], str]:
    buffered: Any = stream if isinstance(stream, io.BufferedReader) else io.BufferedReader(stream)
    if encoding:
        codecs.lookup(encoding)  # LookupError for an unknown name, before anything is read
    chosen = encoding or detect_encoding(buffered.peek(SNIFF_BYTES)[:SNIFF_BYTES])
    # surrogateescape: a bad byte marks its row instead of failing the file.
    return io.TextIOWrapper(buffered, encoding=chosen, errors="surrogateescape", newline=""), chosen


def read_csv(
    stream: IO[bytes],
    *,
    tz: ZoneInfo,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
) -> tuple[str, dict[str, str], Iterator[ParsedRow | RowError]]:
    """(encoding, mapping, rows) of a CSV export with a header row."""
    text, chosen = _text_stream(stream, encoding)
    csv.field_size_limit(MAX_FIELD)
    reader = csv.reader(text)
    try:
        header = next(reader)
    except StopIteration:
        raise ExportError(gettext_noop("The file is empty.")) from None
    except csv.Error as exc:
        raise ExportError(
            gettext_noop("The header row cannot be read: %(detail)s"), detail=_shown(exc, 200)
        ) from None
    used = dict(mapping) if mapping else guess_mapping(header)
    if used.get("text") not in header:
        raise ExportError(
            gettext_noop("No text column: give a mapping for 'text' (columns: %(columns)s)."),
            columns=", ".join(_shown(h) for h in header[:20]),
        )

    def rows() -> Iterator[ParsedRow | RowError]:
        while True:
            try:
                values = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                yield RowError(
                    reader.line_num, gettext_noop("broken CSV: %(detail)s"), {"detail": str(exc)}
                )
                continue
            if not any(v.strip() for v in values):
                continue
            if len(values) != len(header):
                yield RowError(
                    reader.line_num,
                    gettext_noop("%(count)s columns where the header has %(expected)s"),
                    {"count": len(values), "expected": len(header)},
                )
                continue
            yield _row(reader.line_num, dict(zip(header, values, strict=True)), used, tz)

    return chosen, used, rows()


def read_jsonl(
    stream: IO[bytes],
    *,
    tz: ZoneInfo,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
) -> tuple[str, dict[str, str], Iterator[ParsedRow | RowError]]:
    """(encoding, mapping, rows) of a JSON Lines export: one object a line."""
    text, chosen = _text_stream(stream, encoding)
    used = dict(mapping) if mapping else {}

    def rows() -> Iterator[ParsedRow | RowError]:
        nonlocal used
        for number, line in enumerate(text, start=1):
            if not line.strip():
                continue
            if len(line) > MAX_FIELD:
                yield RowError(number, gettext_noop("line too long"))
                continue
            try:
                record = json.loads(line)
            except ValueError:
                yield RowError(number, gettext_noop("not valid JSON"))
                continue
            except RecursionError:
                # A line of "[[[[…" fits MAX_FIELD and takes the parser down.
                yield RowError(number, gettext_noop("nested too deeply"))
                continue
            if not isinstance(record, dict):
                yield RowError(number, gettext_noop("not a JSON object"))
                continue
            if not used:
                used = guess_mapping([str(k) for k in record])
            yield _row(number, record, used, tz)

    return chosen, used, rows()


def read_export(
    stream: IO[bytes],
    *,
    name: str,
    tz: ZoneInfo,
    mapping: Mapping[str, str] | None = None,
    encoding: str | None = None,
) -> tuple[str, dict[str, str], Iterator[ParsedRow | RowError]]:
    """Read a CSV or JSON Lines export, told apart by the file name."""
    lower = name.lower()
    if lower.endswith((".jsonl", ".ndjson", ".json")):
        return read_jsonl(stream, tz=tz, mapping=mapping, encoding=encoding)
    return read_csv(stream, tz=tz, mapping=mapping, encoding=encoding)
