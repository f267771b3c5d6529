"""Search terms for Chinese and English text, with no word segmenter.

Chinese is written without spaces, so instead of guessing words the text is
indexed as overlapping character pairs ("电池保修" → 电池, 池保, 保修): a query's
pairs meet the answer's pairs whatever the segmentation would have been, the
way CJK bigram indexes in Lucene and PostgreSQL's pg_bigm work. Latin text is
split into words, folded, lightly stemmed and stripped of the commonest
stopwords. Both go through the merge engine's normalisation first, so
traditional characters, full-width letters and emoji make no difference.
"""

from __future__ import annotations

import re
from collections import Counter
from itertools import pairwise

from headon.desk.merging.normalise import match_key

__all__ = ["MAX_TERM", "terms"]

MAX_TERM = 40

_HAN_RANGES = "\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff"
# A Chinese run, or a run of other letters and digits: "2024年春节" is 2024 + 年春节.
_CHUNK = re.compile(rf"[{_HAN_RANGES}]+|[^\W_{_HAN_RANGES}]+", re.UNICODE)
# "what's", "don't": the clitic goes, the word stays.
_CLITIC = re.compile(r"['’](?:s|t|re|ve|ll|d|m)\b", re.IGNORECASE)
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")

# The commonest English function words: they match everything and say nothing.
_STOP = frozenset(
    [
        "a",
        "an",
        "and",
        "are",
        "as",
        "at",
        "be",
        "by",
        "can",
        "do",
        "does",
        "for",
        "from",
        "has",
        "have",
        "how",
        "i",
        "if",
        "in",
        "is",
        "it",
        "its",
        "me",
        "my",
        "no",
        "not",
        "of",
        "on",
        "or",
        "our",
        "so",
        "that",
        "the",
        "their",
        "there",
        "they",
        "this",
        "to",
        "was",
        "we",
        "what",
        "when",
        "where",
        "which",
        "who",
        "why",
        "will",
        "with",
        "would",
        "you",
        "your",
    ]
)
# Chinese particles that make a pair with anything ("的电", "吗?").
_HAN_STOP = frozenset("的了吗呢吧啊么")


def _stem(word: str) -> str:
    # Enough folding for questions: "batteries"/"battery", "charging"/"charge".
    if len(word) > 4 and word.endswith("ies"):
        return word[:-3] + "y"
    if len(word) > 5 and word.endswith("ing"):
        return word[:-3]
    if len(word) > 4 and word.endswith("ed"):
        return word[:-2]
    if len(word) > 3 and word.endswith("s") and not word.endswith("ss"):
        return word[:-1]
    return word


def terms(text: str) -> Counter[str]:
    """The terms of `text` with how often each occurs."""
    found: Counter[str] = Counter()
    for chunk in _CHUNK.findall(match_key(_CLITIC.sub("", text))):
        if _HAN.match(chunk):
            chars = [c for c in chunk if c not in _HAN_STOP]
            if len(chars) == 1:
                found[chars[0]] += 1
            found.update(a + b for a, b in pairwise(chars))
        elif chunk not in _STOP and (len(chunk) > 1 or chunk.isdigit()):
            found[_stem(chunk)[:MAX_TERM]] += 1
    return found
