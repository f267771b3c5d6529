"""The digest laid out: where every line and box of the image goes.

`lay_out_digest` reads a snapshot section by section (the band, the
correction, coverage, the answer and rumour cards, the open questions, the
footer) and returns a `Page`: draw operations at absolute positions and
the page's height. Nothing is drawn here; `paint` turns the operations into
pixels. Every field of the snapshot is treated as untrusted: a missing,
malformed or hostile value lays out as nothing, zero or cleaned text.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from headon.desk.digest.image.fonts import BOLD, MAX_BODY, MAX_LINE, clean
from headon.desk.digest.image.markdown import markdown_blocks
from headon.desk.digest.image.page import (
    ACCENT,
    AMBER,
    BAND,
    BAND_META,
    BIG,
    BODY,
    CARD,
    FOOTER,
    INSET,
    LABEL,
    MARGIN,
    META,
    PAD,
    QUESTION,
    RANK,
    RULE,
    SECTION,
    SITE,
    SMALL,
    TITLE,
    VERDICT_COLOURS,
    BoxOp,
    Page,
    Style,
)


@dataclass(frozen=True)
class ImageLabels:
    """The fixed strings drawn on the image; English by default.

    Placeholders, filled with str.format (a template that does not format is
    drawn as it is):
    - title: {date}; revision: {n}; published: {time}
    - coverage_line: {asks}, {asks_covered}, {asks_late}, {asks_open},
      {questions}, {questions_covered}, {questions_late}, {questions_open}
    - asked_by, channels, open_heading, open_more: {n}
    - footer: {url}
    The *_one variants are used when {n} is 1 (English needs them, Chinese
    can repeat the general form).
    """

    title: str = "Answers for {date}"
    revision: str = "Revision {n}"
    published: str = "Published {time}"
    correction: str = "Correction"
    coverage: str = "Coverage"
    coverage_line: str = (
        "{asks_covered} of {asks} questions asked today are answered, "
        "covering {questions_covered} of {questions} topics."
    )
    answers_heading: str = "Today's answers"
    asked_by: str = "asked by {n} people"
    asked_by_one: str = "asked by 1 person"
    channels: str = "{n} channels"
    channels_one: str = "1 channel"
    rumours_heading: str = "Rumours cleared"
    verdict: str = "Verdict"
    verdict_false: str = "False"
    verdict_misleading: str = "Misleading"
    verdict_true: str = "True"
    verdict_unproven: str = "Unproven"
    evidence: str = "Evidence"
    open_heading: str = "Still being worked on ({n})"
    open_more: str = "and {n} more"
    footer: str = "Every answer in full: {url}"


# ---------------------------------------------------------- reading the snapshot


def _fmt(template: str, **values: object) -> str:
    try:
        return template.format(**values)
    except (KeyError, IndexError, ValueError, AttributeError):
        return template


def _int(value: object) -> int:
    """A count from the snapshot; anything that is not one counts as 0."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return 0
    try:
        return max(0, int(value))
    except (ValueError, OverflowError):
        return 0


def _pick(value: object, language: str) -> str:
    """A bilingual field in `language`, else in the other language."""
    if isinstance(value, str):
        return value
    if not isinstance(value, Mapping):
        return ""
    order = [language, "zh" if language == "en" else "en", *value]
    for key in order:
        text = value.get(key)
        if isinstance(text, str) and text.strip():
            return text
    return ""


def _number(n: int) -> str:
    return f"{n:,}"


def _counted(n: int, many: str, one: str) -> str:
    return one if n == 1 else _fmt(many, n=_number(n))


def _when(value: object) -> str:
    if not isinstance(value, str):
        return ""
    try:
        moment = dt.datetime.fromisoformat(value)
    except ValueError:
        return clean(value, 40)
    zone = moment.strftime("%z")
    zone = f" {zone[:3]}:{zone[3:]}" if zone else ""
    return moment.strftime("%Y-%m-%d %H:%M") + zone


# ----------------------------------------------------------------- the sections


class _Sheet:
    """One snapshot being laid out: what every section reads, the page they
    all write to, and the pieces they share (cards, headings, counts)."""

    def __init__(
        self, snapshot: Mapping[str, Any], language: str, labels: ImageLabels, width: int
    ) -> None:
        self.s, self.language, self.labels = snapshot, language, labels
        self.width = width
        self.inner = width - 2 * MARGIN - 2 * PAD  # the text width inside a card
        site = snapshot.get("site")
        self.site: Mapping[str, Any] = site if isinstance(site, Mapping) else {}
        self.out = Page()

    def pick(self, value: object, limit: int = MAX_LINE) -> str:
        return clean(_pick(value, self.language), limit)

    def items(self, key: str) -> list[Any]:
        value = self.s.get(key)
        return list(value) if isinstance(value, list | tuple) else []

    def card(self) -> BoxOp:
        box = self.out.box(MARGIN, self.width - MARGIN, CARD, 20)
        self.out.y += PAD - 6
        return box

    def end_card(self, box: BoxOp) -> None:
        self.out.y += PAD - 6
        box.bottom = self.out.y
        self.out.y += 28

    def heading(self, text: str) -> None:
        self.out.y += 20
        self.out.text(clean(text), SECTION, MARGIN + 4, self.width - 2 * MARGIN)
        self.out.y += 16

    def asked(self, item: Mapping[str, Any]) -> list[str]:
        people = _int(item.get("asked_by"))
        if not people:
            return []
        return [_counted(people, self.labels.asked_by, self.labels.asked_by_one)]


def lay_out_digest(
    snapshot: Mapping[str, Any], *, language: str, labels: ImageLabels, width: int
) -> Page:
    """Lay out one snapshot, `width` pixels wide, its fields read in `language`."""
    sheet = _Sheet(snapshot, language, labels, width)
    _header(sheet)
    _correction(sheet)
    _coverage(sheet)
    _answers(sheet)
    _open_questions(sheet)
    _footer(sheet)
    return sheet.out


# The band at the top, the correction note and the coverage card.


def _header(sheet: _Sheet) -> None:
    out = sheet.out
    band = out.box(0, sheet.width, BAND)
    out.y += 56
    x, width = MARGIN + 8, sheet.width - 2 * MARGIN - 16
    name = sheet.pick(sheet.site.get("name"))
    if name:
        out.text(name, SITE, x, width)
        out.y += 4
    date = clean(sheet.s.get("date"), 40)
    out.text(_fmt(sheet.labels.title, date=date), TITLE, x, width)
    meta = _header_meta(sheet)
    if meta:
        out.y += 8
        out.text(clean(" · ".join(meta)), BAND_META, x, width)
    out.y += 48
    band.bottom = out.y
    out.y += MARGIN


def _header_meta(sheet: _Sheet) -> list[str]:
    """When it was published, and which revision it is if not the first."""
    meta: list[str] = []
    published = _when(sheet.s.get("published_at"))
    if published:
        meta.append(_fmt(sheet.labels.published, time=published))
    revision = _int(sheet.s.get("revision"))
    if revision > 1:
        meta.append(_fmt(sheet.labels.revision, n=revision))
    return meta


def _correction(sheet: _Sheet) -> None:
    note = clean(sheet.s.get("note"), MAX_BODY, lines=True)
    if not note.strip():
        return
    out = sheet.out
    box = sheet.card()
    bar = out.box(MARGIN, MARGIN + 8, AMBER)
    out.text(
        sheet.labels.correction,
        Style(LABEL.size, BOLD, AMBER, LABEL.leading),
        MARGIN + PAD,
        sheet.inner,
    )
    out.y += 4
    out.text(note, SMALL, MARGIN + PAD, sheet.inner)
    sheet.end_card(box)
    bar.top, bar.bottom = box.top + 20, box.bottom - 20


_COVERAGE_FIGURES = (
    "asks",
    "asks_covered",
    "asks_late",
    "asks_open",
    "questions",
    "questions_covered",
    "questions_late",
    "questions_open",
)


def _coverage(sheet: _Sheet) -> None:
    figures = sheet.s.get("coverage")
    if not isinstance(figures, Mapping):
        return
    out = sheet.out
    x = MARGIN + PAD
    box = sheet.card()
    out.text(sheet.labels.coverage, LABEL, x, sheet.inner)
    ratio = _share(figures.get("share"))
    # Floor, so a day with one unanswered question never shows 100%.
    out.text(f"{math.floor(ratio * 100 + 1e-9)}%", BIG, x - 4, sheet.inner)
    _coverage_bar(sheet, x, ratio)
    values = {name: _number(_int(figures.get(name))) for name in _COVERAGE_FIGURES}
    out.text(clean(_fmt(sheet.labels.coverage_line, **values)), SMALL, x, sheet.inner)
    sheet.end_card(box)


def _share(value: object) -> float:
    """The covered share as a ratio from 0 to 1; anything else counts as 0."""
    ratio = float(value) if isinstance(value, int | float) and math.isfinite(value) else 0.0
    return min(max(ratio, 0.0), 1.0)


def _coverage_bar(sheet: _Sheet, x: int, ratio: float) -> None:
    out = sheet.out
    track = out.box(x, x + sheet.inner, RULE, 6)
    bar_end = x + max(12, round(sheet.inner * ratio))
    fill = out.box(x, bar_end, ACCENT, 6)
    out.y += 12
    track.bottom = fill.bottom = out.y
    out.y += 20


# The answer and rumour cards.


def _answers(sheet: _Sheet) -> None:
    answers = [a for a in sheet.items("answers") if isinstance(a, Mapping)]
    plain = [a for a in answers if not isinstance(a.get("rumour"), Mapping)]
    rumours = [a for a in answers if isinstance(a.get("rumour"), Mapping)]
    if plain:
        sheet.heading(sheet.labels.answers_heading)
        for index, answer in enumerate(plain):
            _answer(sheet, answer, index)
    if rumours:
        sheet.heading(sheet.labels.rumours_heading)
        for index, answer in enumerate(rumours):
            _answer(sheet, answer, index, rumour=answer["rumour"])


def _answer(
    sheet: _Sheet, answer: Mapping[str, Any], index: int, rumour: Mapping[str, Any] | None = None
) -> None:
    out = sheet.out
    box = sheet.card()
    x = MARGIN + PAD
    if rumour is not None:
        column = _claim(sheet, answer, rumour, x)
    else:
        column = _ranked_question(sheet, answer, index, x)
    out.y += 6
    meta = _answer_meta(sheet, answer)
    if meta:
        out.text(" · ".join(meta), META, x + column, sheet.inner - column)
    out.y += 18
    out.rule(x, x + sheet.inner)
    out.y += 22
    _body(sheet, _pick(answer.get("body"), sheet.language), x, sheet.inner)
    if rumour is not None:
        _evidence(sheet, rumour, x)
    sheet.end_card(box)


def _claim(sheet: _Sheet, answer: Mapping[str, Any], rumour: Mapping[str, Any], x: int) -> int:
    """A rumour's verdict and claim; returns the indent of what follows (none:
    rumours have no rank)."""
    _verdict(sheet, rumour, x)
    claim = sheet.pick(rumour.get("claim"))
    sheet.out.text(
        f"“{claim}”" if claim else sheet.pick(answer.get("question")),
        QUESTION,
        x,
        sheet.inner,
    )
    return 0


def _ranked_question(sheet: _Sheet, answer: Mapping[str, Any], index: int, x: int) -> int:
    """An answer's rank and question; returns the width of the rank's column,
    which what follows is indented by."""
    out = sheet.out
    rank = _int(answer.get("rank")) or index + 1
    label = str(rank)
    column = max(round(out.width(label, RANK)) + 20, 56)
    out.line(label, RANK, x, out.y)
    out.text(sheet.pick(answer.get("question")), QUESTION, x + column, sheet.inner - column)
    return column


def _answer_meta(sheet: _Sheet, answer: Mapping[str, Any]) -> list[str]:
    """How many asked, on how many channels, and up to six tags."""
    meta = sheet.asked(answer)
    channels = _int(answer.get("channels"))
    if channels:
        meta.append(_counted(channels, sheet.labels.channels, sheet.labels.channels_one))
    tags = answer.get("tags")
    if isinstance(tags, list | tuple):
        meta.extend(tag for tag in (sheet.pick(tag, 40) for tag in tags[:6]) if tag.strip())
    return meta


def _verdict(sheet: _Sheet, rumour: Mapping[str, Any], x: int) -> None:
    out = sheet.out
    labels = sheet.labels
    verdict = str(rumour.get("verdict") or "unproven")
    name = getattr(labels, f"verdict_{verdict}", None) if verdict in VERDICT_COLOURS else None
    text = clean(f"{labels.verdict} · {name or verdict}", 80)
    colour = VERDICT_COLOURS.get(verdict, VERDICT_COLOURS["unproven"])
    style = Style(24, BOLD, (255, 255, 255), 1.5)
    pill = out.box(x, x + min(round(out.width(text, style)) + 36, sheet.inner), colour, 22)
    out.y += 4
    out.line(text, style, x + 18, out.y - 2)
    out.y += 36
    pill.bottom = out.y
    out.y += 18


def _evidence(sheet: _Sheet, rumour: Mapping[str, Any], x: int) -> None:
    text = _pick(rumour.get("evidence"), sheet.language)
    if not clean(text).strip():
        return
    out = sheet.out
    out.y += 10
    inset = out.box(x, x + sheet.inner, INSET, 12)
    out.y += 20
    out.text(sheet.labels.evidence, LABEL, x + 24, sheet.inner - 48)
    _body(sheet, text, x + 24, sheet.inner - 48, SMALL)
    out.y += 12
    inset.bottom = out.y


def _body(sheet: _Sheet, markdown: str, x: int, width: int, style: Style = BODY) -> None:
    out = sheet.out
    first = True
    for block in markdown_blocks(markdown[:MAX_BODY]):
        text = clean(block.text, MAX_BODY, lines=True)
        if not text.strip():
            continue
        if not first:
            out.y += 10
        first = False
        face = Style(style.size, BOLD, style.colour, style.leading) if block.bold else style
        indent = min(block.depth, 4) * 36
        if block.marker:
            # Bullets hang in the indent; numbers hang a little further out.
            out.line(
                clean(block.marker, 8),
                face,
                x + indent - 30 + (0 if block.marker in "•◦" else -6),
                out.y,
            )
        out.text(text, face, x + indent, width - indent)


# The open questions and the footer.


def _open_questions(sheet: _Sheet) -> None:
    items = [item for item in sheet.items("open") if isinstance(item, Mapping)]
    count = _int(sheet.s.get("open_count")) or len(items)
    if not count:
        return
    out = sheet.out
    sheet.heading(_fmt(sheet.labels.open_heading, n=_number(count)))
    box = sheet.card()
    x = MARGIN + PAD
    shown = _open_items(sheet, items, x)
    if count > shown:
        if shown:
            out.y += 14
        out.text(
            clean(_fmt(sheet.labels.open_more, n=_number(count - shown))), META, x, sheet.inner
        )
    sheet.end_card(box)


def _open_items(sheet: _Sheet, items: list[Mapping[str, Any]], x: int) -> int:
    """The open questions as a bulleted list; returns how many were drawn."""
    out = sheet.out
    shown = 0
    for item in items:
        question = clean(item.get("question"))
        if not question.strip():
            continue
        if shown:
            out.y += 14
        shown += 1
        out.line("•", SMALL, x, out.y)
        out.text(question, SMALL, x + 30, sheet.inner - 30)
        for asked in sheet.asked(item):
            out.text(asked, META, x + 30, sheet.inner - 30)
    return shown


def _footer(sheet: _Sheet) -> None:
    out = sheet.out
    url = clean(sheet.site.get("url"), 200)
    out.y += 8
    out.rule(MARGIN, sheet.width - MARGIN)
    out.y += 24
    if url:
        out.text(
            clean(_fmt(sheet.labels.footer, url=url)),
            FOOTER,
            MARGIN + 4,
            sheet.width - 2 * MARGIN,
        )
    out.y += MARGIN
