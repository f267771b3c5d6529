"""Turn an ask's text into the key used to match it against other asks.

The key is for matching only: the ask itself is kept as received. Every step
removes a difference that does not change the question: width and compatibility
forms (NFKC), traditional versus simplified characters, case, links, @mentions,
Weibo #topics#, emoji and punctuation.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata
from functools import cache
from pathlib import Path

import opencc  # type: ignore[import-untyped]

__all__ = ["exact_key", "is_chinese", "match_key", "tidy_title", "to_simplified"]

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
# Weibo repost chains ("//@name:") and mentions; a Chinese nickname ends at a space,
# a colon or punctuation, an English one at anything that is not a word character.
_MENTION = re.compile(r"(?://)?@[\w\-\u4e00-\u9fff]+:?")
# A Weibo topic is "#topic#" and may contain spaces; it names a campaign, not the question.
_TOPIC = re.compile(r"#[^#\n]{1,40}#")
# Weibo and WeChat emoticons are short bracketed words: [doge], [哈哈], [微笑].
_EMOTICON = re.compile(r"\[[\w\u4e00-\u9fff]{1,8}\]")
_EMOJI = re.compile(
    "["
    "\U0001f000-\U0001faff"  # pictographs, emoticons, transport, symbols and pictographs
    "\u2600-\u27bf"  # miscellaneous symbols and dingbats
    "\u2b00-\u2bff"  # arrows and stars (⭐)
    "\ufe0e\ufe0f\u200d\u20e3"  # variation selectors, zero-width joiner, keycap
    "\U000e0020-\U000e007f"  # tag characters used in flag sequences
    "]+"
)
_SPACE = re.compile(r"\s+")


@cache
def _t2s_table() -> dict[int, str]:
    """OpenCC's traditional-to-simplified character table, as a
    str.translate table: one lookup per character, no phrase segmentation.
    The phrase table only chooses between simplified forms of a few
    ambiguous characters, which matching does not need; translating
    character by character is some twenty times faster, and imports run
    every ask through it."""
    path = Path(opencc.__file__).parent / "dictionary" / "TSCharacters.txt"
    table: dict[int, str] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        source, _, targets = line.partition("\t")
        if len(source) == 1 and targets:
            table[ord(source)] = targets.split()[0]
    return table


def to_simplified(text: str) -> str:
    """Convert traditional Chinese characters to simplified ones."""
    if text.isascii():
        return text
    return text.translate(_t2s_table())


def _strip_symbols(text: str) -> str:
    # Punctuation and symbols become spaces so "价格?" and "价格！" share a key,
    # while "a.b" does not glue into "ab".
    return "".join(" " if unicodedata.category(ch)[0] in "PSC" else ch for ch in text)


def _drop_noise(text: str) -> str:
    """Links, @mentions, Weibo topics and emoticons, and emoji become spaces."""
    for pattern in (_URL, _MENTION, _TOPIC, _EMOTICON, _EMOJI):
        text = pattern.sub(" ", text)
    return text


def match_key(text: str) -> str:
    """Return the normalised form of ``text`` that asks are matched on."""
    key = _drop_noise(unicodedata.normalize("NFKC", text))
    key = to_simplified(key)
    key = _strip_symbols(key).casefold()
    return _SPACE.sub(" ", key).strip()


# "? ??", "？？", "!!!" and the like: a run of question or exclamation marks.
_MARKS = re.compile(r"\s*([?!？！])[\s?!？！]*")


def tidy_title(text: str) -> str:
    """An ask's text as a question's title: as written (case, script, words),
    without links, @mentions, Weibo topics and emoticons, emoji, or a run of
    question marks; "" if nothing is left."""
    title = _SPACE.sub(" ", _drop_noise(text)).strip()
    title = _MARKS.sub(lambda m: m.group(1) + " ", title).strip()
    # No space is left before a mark, nor after a Chinese one.
    return re.sub(r"([？！]) ", r"\1", title)


def exact_key(text: str) -> str:
    """Return a short hash of the match key: equal for exact duplicates."""
    return hashlib.blake2b(match_key(text).encode("utf-8"), digest_size=16).hexdigest()


def is_chinese(key: str) -> bool:
    """Whether a match key is written mostly in Chinese characters.

    A third is enough: "model y 什么时候交付" is a Chinese question about a
    car with a Latin name.
    """
    cjk = sum(1 for ch in key if "\u3400" <= ch <= "\u9fff")
    return cjk > 0 and cjk * 3 >= len(key)
