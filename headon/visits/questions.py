"""A program's own questions to applicants, and their ages: plain data, no
Django (decision 26).

A program keeps its questions as a JSON list (`Program.questions`), each
with a key that never changes: an answer is stored as that key and the
text or the choice's key, so editing a question's wording keeps every
answer, and a question removed by the coordinator stays in the list,
marked removed, so staff still read what it asked.
"""

from __future__ import annotations

import datetime as dt
import re
import secrets
from dataclasses import dataclass, field
from typing import Any

QUESTIONS_MAX = 5
CHOICES_MAX = 12
LABEL_MAX = 200
ANSWER_MAX = 300
TEXT = "text"
CHOICE = "choice"
KINDS = (TEXT, CHOICE)
ADULT_AGE = 18
# Nobody who visits was born before this; a year like 1800 is a typo or a probe.
OLDEST_AGE = 120

_KEY = re.compile(r"^[a-z0-9]{1,16}$")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class QuestionError(ValueError):
    """An answer refused: `code` says why, `key` names the question."""

    def __init__(self, code: str, key: str = "") -> None:
        super().__init__(code)
        self.code = code
        self.key = key


@dataclass(frozen=True)
class Choice:
    key: str
    label_en: str
    label_zh: str

    def label(self, chinese: bool) -> str:
        return (self.label_zh or self.label_en) if chinese else (self.label_en or self.label_zh)


@dataclass(frozen=True)
class Question:
    key: str
    label_en: str
    label_zh: str
    kind: str = TEXT
    required: bool = False
    choices: tuple[Choice, ...] = field(default=())
    removed: bool = False

    def label(self, chinese: bool) -> str:
        return (self.label_zh or self.label_en) if chinese else (self.label_en or self.label_zh)

    def choice(self, key: str) -> Choice | None:
        return next((c for c in self.choices if c.key == key), None)


def clean_text(value: Any, limit: int) -> str:
    """One line, without control characters, at most `limit` characters."""
    return " ".join(_CONTROL.sub(" ", str(value or "")).split())[:limit]


def _label(raw: dict[str, Any], name: str) -> str:
    value = raw.get(name, "")
    if not isinstance(value, str) or len(value) > LABEL_MAX:
        raise ValueError(f"{name} must be a string of at most {LABEL_MAX} characters")
    return value.strip()


def _key(raw: dict[str, Any]) -> str:
    key = raw.get("key")
    if not isinstance(key, str) or not _KEY.match(key):
        raise ValueError("a key is 1 to 16 lowercase letters or digits")
    return key


def parse(data: Any) -> list[Question]:
    """The questions of a program's JSON, or ValueError: the one check that
    keeps the field's shape, whoever wrote it (the form, the admin, a
    migration)."""
    if data in (None, ""):
        return []
    if not isinstance(data, list):
        raise ValueError("questions are a list")
    questions = [_parse_one(raw) for raw in data]
    if len({q.key for q in questions}) != len(questions):
        raise ValueError("each question has its own key")
    if sum(1 for q in questions if not q.removed) > QUESTIONS_MAX:
        raise ValueError(f"at most {QUESTIONS_MAX} questions")
    return questions


def _parse_one(raw: Any) -> Question:
    if not isinstance(raw, dict):
        raise ValueError("a question is an object")
    kind = raw.get("kind", TEXT)
    if kind not in KINDS:
        raise ValueError("a question's kind is text or choice")
    label_en, label_zh = _label(raw, "label_en"), _label(raw, "label_zh")
    if not (label_en and label_zh):
        raise ValueError("a question has a label in English and in Chinese")
    choices = raw.get("choices") or []
    if not isinstance(choices, list) or len(choices) > CHOICES_MAX:
        raise ValueError(f"at most {CHOICES_MAX} choices")
    parsed = tuple(
        Choice(key=_key(c), label_en=_label(c, "label_en"), label_zh=_label(c, "label_zh"))
        for c in choices
        if isinstance(c, dict)
    )
    if len(parsed) != len(choices) or len({c.key for c in parsed}) != len(parsed):
        raise ValueError("each choice is an object with its own key")
    if kind == CHOICE and len(parsed) < 2:
        raise ValueError("a choice question has at least two choices")
    return Question(
        key=_key(raw),
        label_en=label_en,
        label_zh=label_zh,
        kind=kind,
        required=bool(raw.get("required", False)),
        choices=parsed if kind == CHOICE else (),
        removed=bool(raw.get("removed", False)),
    )


def dump(questions: list[Question]) -> list[dict[str, Any]]:
    return [
        {
            "key": q.key,
            "label_en": q.label_en,
            "label_zh": q.label_zh,
            "kind": q.kind,
            "required": q.required,
            "choices": [
                {"key": c.key, "label_en": c.label_en, "label_zh": c.label_zh} for c in q.choices
            ],
            "removed": q.removed,
        }
        for q in questions
    ]


def new_key(taken: set[str]) -> str:
    while True:
        key = "q" + secrets.token_hex(3)
        if key not in taken:
            return key


def merge_choices(earlier: tuple[Choice, ...], lines: list[tuple[str, str]]) -> tuple[Choice, ...]:
    """Choices typed again by the coordinator: one that keeps its English or
    its Chinese label keeps its key (so its answers), a new one gets the
    next free key."""
    by_en = {c.label_en: c.key for c in earlier}
    by_zh = {c.label_zh: c.key for c in earlier}
    used: set[str] = set()
    numbers = [int(c.key[1:]) for c in earlier if c.key[1:].isdigit()]
    following = max(numbers, default=0) + 1
    merged = []
    for en, zh in lines:
        key = by_en.get(en) or by_zh.get(zh)
        if key is None or key in used:
            key, following = f"c{following}", following + 1
        used.add(key)
        merged.append(Choice(key=key, label_en=en, label_zh=zh))
    return tuple(merged)


def check_answers(questions: list[Question], raw: dict[str, str]) -> list[dict[str, str]]:
    """The answers to keep, as [{"q": key, "a": text}] or [{"q": key,
    "c": choice key}], in the questions' order; QuestionError for an
    unknown or removed question, a choice not offered, a text too long or a
    required question left blank."""
    asked = {q.key: q for q in questions if not q.removed}
    for key in raw:
        if key not in asked:
            raise QuestionError("answer_unknown_question", str(key)[:16])
    kept = []
    for question in asked.values():
        value = raw.get(question.key)
        value = value if isinstance(value, str) else ""
        if len(value) > ANSWER_MAX:
            raise QuestionError("answer_too_long", question.key)
        value = clean_text(value, ANSWER_MAX)
        if not value:
            if question.required:
                raise QuestionError("answer_required", question.key)
            continue
        if question.kind == CHOICE:
            if question.choice(value) is None:
                raise QuestionError("answer_not_a_choice", question.key)
            kept.append({"q": question.key, "c": value})
        else:
            kept.append({"q": question.key, "a": value})
    return kept


@dataclass(frozen=True)
class ShownAnswer:
    """An answer as staff read it: the question as it is now (or was, if
    removed) and the answer's text in the reader's language."""

    question: str
    answer: str
    removed: bool


def shown_answers(
    questions: list[Question], answers: Any, *, chinese: bool, removed_label: str
) -> list[ShownAnswer]:
    """Stored answers with their labels; an answer to a question no longer in
    the list (or a choice no longer offered) keeps its stored key."""
    by_key = {q.key: q for q in questions}
    shown = []
    for answer in answers if isinstance(answers, list) else []:
        if not isinstance(answer, dict):
            continue
        key = str(answer.get("q", ""))
        question = by_key.get(key)
        text = str(answer.get("a", ""))
        if "c" in answer:
            choice = question.choice(str(answer["c"])) if question else None
            text = choice.label(chinese) if choice else str(answer["c"])
        label = question.label(chinese) if question else key
        removed = question is None or question.removed
        shown.append(
            ShownAnswer(
                question=f"{label} ({removed_label})" if removed else label,
                answer=text,
                removed=removed,
            )
        )
    return shown


def age_on(born: dt.date, day: dt.date) -> int:
    """Whole years of age on `day` (a person born on 29 February turns a year
    older on 1 March in a common year)."""
    before_birthday = (day.month, day.day) < (born.month, born.day)
    return day.year - born.year - (1 if before_birthday else 0)


def birth_date_plausible(born: dt.date, today: dt.date) -> bool:
    return born <= today and age_on(born, today) <= OLDEST_AGE
