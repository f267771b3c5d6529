"""How likely an ask is spam, and a tidy title for what the public reads.

Plain Python, no Django. `spam_score` only proposes: the triage console
shows the score and its reasons, and a person sets the ask aside (or not).
`tidy_title` is what the public lists print of a question no person has
titled: the asker's words without links, contact baits, phone numbers,
emoji runs and over-long runs, cut to a length a list can hold.

Contact baits are matched with what identifies a contact (an id, a
number, "加V"), not the bare names: "支持微信吗" and "有 QQ 音乐吗" are
questions about the car, "加V" and "微信 abc_12345" are not.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from headon.desk.merging.normalise import tidy_title as engine_title

# A link, with or without its scheme, or a bare domain on a common suffix.
# The domain starts only where no domain character precedes it and runs at
# most 250 characters: no nested repetition, so "a.a.a.…" (10,000
# characters) costs milliseconds, not the 15 s a nested pattern took.
_URL = re.compile(
    r"(?:https?://|www\.)\S+"
    r"|(?<![-a-z0-9.])[a-z0-9][-a-z0-9.]{0,250}"
    r"\.(?:com|cn|net|org|top|xyz|cc|me|io|vip|shop|info|club|site|link|ly)\b(?:/\S*)?",
    re.IGNORECASE,
)
# "加V", "加微", "+vx", "加薇": asking the reader to add a contact.
_ADD_CONTACT = re.compile(
    r"(?:(?<![参增添更追叠附])加|\+|\badd\s)\s*"
    r"(?:vx|v信|v(?![a-z])|微信?|薇信?|威信?|wx(?![a-z])|wechat|qq(?![a-z])|扣扣|群)",
    re.IGNORECASE,
)
# A WeChat or QQ name followed by an id: "微信：abc_123456", "QQ 12345678".
_CONTACT_ID = re.compile(
    r"(?:微信|薇信|威信|v信|vx|wx|wechat|weixin|qq|扣扣)\s*(?:号|群|id)?\s*[:：]?\s*"
    r"(?:[a-z][-_a-z0-9]{5,19}|\d{5,11})",
    re.IGNORECASE,
)
# A mainland mobile number (spaces or dashes allowed), or any long run of
# digits that reads as a phone number.
_PHONE = re.compile(r"(?<!\d)(?:\+?86[\s-]?)?1[3-9]\d(?:[\s-]?\d{4}){2}(?!\d)|\+\d[\d\s-]{8,}\d")
# Words that sell rather than ask.
_BAIT = re.compile(
    r"福利|私聊|私信我|兼职|日赚|刷单|免费领|代理|看片|约吗|返利|稳赚", re.IGNORECASE
)
# The same character five times or more in a row.
_REPEAT = re.compile(r"(.)\1{4,}", re.DOTALL)
# A run of one character long enough to be noise, kept at three.
_LONG_REPEAT = re.compile(r"(.)\1{3,}", re.DOTALL)
# A "word" of 30 Latin letters, digits or symbols with no space: a hash, a
# keyboard mash, a token; no question needs one in its title.
_LONG_TOKEN = re.compile(r"[!-~]{30,}")
_SPACES = re.compile(r"\s+")
_EDGES = " \t\r\n,，.。:：;；、-—_|/\\~·•*#@"

SHORT_ENOUGH = 280  # a post longer than this is rarely one question
LIKELY = 0.6  # the score from which the console proposes setting an ask aside
TITLE_WIDTH = 80  # columns: 40 Chinese characters, or 80 Latin letters

_WEIGHTS = {
    "contact": 0.7,
    "phone": 0.6,
    "link": 0.5,
    "bait": 0.35,
    "repeat": 0.3,
    "emoji": 0.25,
    "long": 0.35,
    "junk": 0.3,
    "monotone": 0.4,
}


def _is_emoji(ch: str) -> bool:
    code = ord(ch)
    return (
        0x1F000 <= code <= 0x1FAFF
        or 0x2600 <= code <= 0x27BF
        or 0x2B00 <= code <= 0x2BFF
        or code in (0xFE0F, 0x200D, 0x20E3)
    )


def _emoji_runs(text: str, minimum: int) -> list[tuple[int, int]]:
    """(start, end) of every run of at least `minimum` emoji (joiners and
    variation selectors do not count towards the length)."""
    runs: list[tuple[int, int]] = []
    start = None
    count = 0
    for i, ch in enumerate(text + "\x00"):
        if ch != "\x00" and (_is_emoji(ch) or (start is not None and ch.isspace())):
            if start is None:
                start, count = i, 0
            if _is_emoji(ch) and ord(ch) not in (0xFE0F, 0x200D, 0x20E3):
                count += 1
            continue
        if start is not None:
            end = i
            while end > start and text[end - 1].isspace():
                end -= 1
            if count >= minimum:
                runs.append((start, end))
            start = None
    return runs


@dataclass(frozen=True)
class SpamScore:
    """A score from 0 (a question) to 1 (surely spam) and why."""

    score: float
    reasons: tuple[str, ...]

    @property
    def likely(self) -> bool:
        return self.score >= LIKELY


def _junk(text: str) -> bool:
    """Mostly neither letters nor digits: symbols, emoji, punctuation."""
    meaningful = sum(1 for ch in text if ch.isalnum())
    visible = sum(1 for ch in text if not ch.isspace())
    return visible >= 8 and meaningful < visible * 0.5


def _monotone(text: str) -> bool:
    """Twenty characters or more made of a handful: "顶顶顶顶…", "asdasdasd…"."""
    visible = [ch for ch in text if not ch.isspace()]
    return len(visible) >= 20 and len(set(visible)) < len(visible) ** 0.5 / 2


def spam_score(text: str) -> SpamScore:
    """How likely `text` is spam rather than a question, with the reasons
    (codes: contact, phone, link, bait, repeat, emoji, long, junk,
    monotone)."""
    text = unicodedata.normalize("NFKC", text or "")
    found: list[str] = []
    if _ADD_CONTACT.search(text) or _CONTACT_ID.search(text):
        found.append("contact")
    if _PHONE.search(text):
        found.append("phone")
    if _URL.search(text):
        found.append("link")
    if _BAIT.search(text):
        found.append("bait")
    if _REPEAT.search(text):
        found.append("repeat")
    if _emoji_runs(text, 3):
        found.append("emoji")
    if len(text) > SHORT_ENOUGH:
        found.append("long")
    if _junk(text):
        found.append("junk")
    if _monotone(text):
        found.append("monotone")
    keep = 1.0
    for reason in found:
        keep *= 1 - _WEIGHTS[reason]
    return SpamScore(round(1 - keep, 3), tuple(found))


def _width(ch: str) -> int:
    return 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1


def _cut(text: str, width: int) -> str:
    """`text` cut to `width` columns, at a space if the cut falls in a
    Latin word, with an ellipsis when anything was cut."""
    used = 0
    for i, ch in enumerate(text):
        used += _width(ch)
        if used > width - 1:
            head = text[:i]
            space = head.rfind(" ")
            # Back up to a space only within a word's length of the cut.
            if space > 0 and i - space < 20 and ch.isascii() and ch.isalnum():
                head = head[:space]
            return head.rstrip(_EDGES) + "…"
    return text


def tidy_title(text: str, width: int = TITLE_WIDTH) -> str:
    """`text` as a public list may print it: the merge engine's title
    (links, @mentions, topics, emoji and runs of marks removed) without
    contact baits, phone numbers, bare domains, over-long tokens or control
    characters, runs of one character kept at three, cut to `width`
    columns. May be empty: nothing of the text was fit to print."""
    text = "".join(
        " " if unicodedata.category(ch) in ("Cc", "Cf", "Zl", "Zp") and ch != "\u200d" else ch
        for ch in (text or "")
    )
    for pattern in (_URL, _CONTACT_ID, _ADD_CONTACT, _PHONE, _LONG_TOKEN):
        text = pattern.sub(" ", text)
    text = engine_title(text)
    text = _LONG_REPEAT.sub(lambda m: m.group(1) * 3, text)
    text = _SPACES.sub(" ", text).strip(_EDGES)
    if not any(ch.isalnum() for ch in text):
        return ""
    return _cut(text, width)


def list_title(text: str) -> str:
    """What a public list prints for a title no person approved: the tidy
    title, or "" (the list says "a question awaiting review") when the
    words are likely spam."""
    if spam_score(text).likely:
        return ""
    return tidy_title(text)
