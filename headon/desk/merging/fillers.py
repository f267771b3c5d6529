"""Remarks people append to whatever they ask: "问了客服也没说清楚" (asked
support, still unclear), "在线等" (waiting online), "pls answer".

One shared verbatim by asks of many different questions says nothing about
any of them, but compared as part of the ask it made two short asks about
different things look alike: issue 16's import put "续航到底多少公里
问了客服也没说清楚" into the answered question "冬天续航能有多少
问了客服也没说清楚", inside the auto band. The engine matches asks without
them (``MergeEngine(fillers=...)``); the ask is kept as received.

A filler is a last clause: after a question mark or comma, or after a space
between Chinese characters. It counts when asks of at least
``MIN_QUESTIONS`` questions end with it and it is rarely asked alone. Only
a remark is dropped, never a name: a clause with a digit or a one-letter
word ("Model Y", "SU7"), a single word, or fewer than three Chinese
characters stays. A question's own words asked with different remarks stay
too: their asks are under one or two questions. Only named authors count
(``MIN_AUTHORS``): the public ask form is anonymous, so a script posting
"<anything>，换电池要多少钱" under five topics cannot make the engine ignore a
real question's last clause. What this cannot tell from
a remark: a Chinese name of three characters or more that ends asks of five
questions or more ("多少钱，比亚迪海豹"); names lead in Chinese.
"""

from __future__ import annotations

import re
import unicodedata
from collections import Counter, defaultdict
from collections.abc import Hashable, Iterable

from .normalise import is_chinese, match_key

__all__ = ["MIN_AUTHORS", "MIN_QUESTIONS", "clauses", "shared_remarks", "without_fillers"]

# Not searched: on the demo's days the remarks end asks of 20 to 34
# questions, a question's own words one or two; five leaves room on a small day.
MIN_QUESTIONS = 5
# Asked on its own at most once for every ten times it ends another ask.
ALONE_SHARE = 0.1
# Distinct named authors (an import's or a partner's author key; the ask
# form's anonymous asks have none) whose asks end with it.
MIN_AUTHORS = 5

_CJK = "\u3400-\u9fff"
# Clause breaks: sentence and clause punctuation, and a space between two
# Chinese characters (Weibo comments separate clauses with spaces); a space
# beside a Latin name ("Model Y 什么时候交付") is no break.
_BREAK = re.compile(rf"[。？！?!，,；;：:、…\n]+|(?<=[{_CJK}])\s+(?=[{_CJK}])")
_CJK_CHAR = re.compile(f"[{_CJK}]")
_NAME_LIKE = re.compile(r"\d|(?:^|\s)[a-z](?:\s|$)")


def _pieces(text: str) -> list[str]:
    return [p for p in _BREAK.split(unicodedata.normalize("NFKC", text)) if p.strip()]


def clauses(text: str) -> list[str]:
    """The match keys of a text's clauses, in order, empty ones dropped."""
    return [key for key in (match_key(p) for p in _pieces(text)) if key]


def _remark_like(key: str) -> bool:
    if _NAME_LIKE.search(key):
        return False
    if is_chinese(key):
        return len(_CJK_CHAR.findall(key)) >= 3
    return len(key.split()) >= 2


def shared_remarks(
    asks: Iterable[tuple[str, Hashable | None, str]], min_questions: int = MIN_QUESTIONS
) -> frozenset[str]:
    """The fillers among asks given as (text, question or None, author key;
    "" for an anonymous ask)."""
    questions: defaultdict[str, set[Hashable]] = defaultdict(set)
    authors: defaultdict[str, set[str]] = defaultdict(set)
    ending: Counter[str] = Counter()
    alone: Counter[str] = Counter()
    for text, question, author in asks:
        keys = clauses(text)
        if len(keys) == 1:
            alone[keys[0]] += 1
        elif len(keys) > 1 and keys[-1] not in keys[:-1]:
            ending[keys[-1]] += 1
            if question is not None and author:
                questions[keys[-1]].add(question)
                authors[keys[-1]].add(author)
    return frozenset(
        key
        for key, seen in questions.items()
        if len(seen) >= min_questions
        and len(authors[key]) >= MIN_AUTHORS
        and alone[key] <= ALONE_SHARE * ending[key]
        and _remark_like(key)
    )


def without_fillers(text: str, fillers: frozenset[str]) -> str:
    """The text without the fillers that end it; as it is if nothing else is left."""
    if not fillers:
        return text
    pieces = _pieces(text)
    end = len(pieces)
    while end > 1 and match_key(pieces[end - 1]) in fillers:
        end -= 1
    return text if end == len(pieces) else " ".join(pieces[:end])
