"""What a question is called: the words most of its asks share, never a
spam row's while a better wording exists.

A question the engine makes takes its title from its asks. On a real day
the first ask of a new question is sometimes a contact bait ("加V看福利
http://…"), and the asks that joined it later are real questions: the
question must not stay titled after the bait (issue 16). `spam_like` is a
small heuristic of our own (links, contact baits, phone numbers, runs of one
character, over-long posts); headon.desk.spam's score replaces it when it
lands on main.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence

from headon.desk.merging.normalise import match_key, tidy_title

_LINK = re.compile(r"(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|cn|net|top|xyz|cc|vip)\b", re.I)
_CONTACT = re.compile(
    r"(?:加|\+)\s*(?:v(?![a-z])|vx|v信|微信?|薇|wx(?![a-z])|qq|群)"
    r"|(?:微信|vx|wx|qq)\s*(?:号)?\s*[:：]?\s*(?:[a-z][-_a-z0-9]{5,}|\d{5,})",
    re.I,
)
_PHONE = re.compile(r"(?<!\d)1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)")
_BAIT = re.compile(r"福利|私聊|兼职|日赚|刷单|免费领|返利")
_RUN = re.compile(r"(.)\1{5,}", re.S)
LONG = 280  # characters: a post longer than this is rarely one question


def spam_like(text: str) -> bool:
    """Whether an ask reads as spam or junk rather than a question."""
    points = 0
    points += 2 if _CONTACT.search(text) else 0
    points += 2 if _PHONE.search(text) else 0
    points += 1 if _LINK.search(text) else 0
    points += 1 if _BAIT.search(text) else 0
    points += 1 if _RUN.search(text) else 0
    points += 1 if len(text) > LONG else 0
    points += 1 if not tidy_title(text) else 0  # nothing left but emoji and marks
    return points >= 2


def title_of(text: str) -> str:
    """An ask's words as a title: noise dropped, at most 500 characters."""
    return (tidy_title(text) or text.strip())[:500]


def representative(texts: Sequence[str]) -> str:
    """A question's title: the most asked wording (by match key, so emoji
    and mentions do not split it), in its shortest tidy spelling, taken
    from the asks that do not read as spam, and have words beyond emoji,
    while there are any."""
    candidates = (
        [t for t in texts if not spam_like(t) and tidy_title(t)]
        or [t for t in texts if not spam_like(t)]
        or list(texts)
    )
    keys = Counter(match_key(t) for t in candidates)
    best = keys.most_common(1)[0][0]
    return min((title_of(t) for t in candidates if match_key(t) == best), key=len)
