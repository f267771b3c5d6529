"""What a question is called: the words most of its asks share, never a
spam row's while a better wording exists.

A question the engine makes takes its title from its asks. On a real day
the first ask of a new question is sometimes a contact bait ("加V看福利
http://…"), and the asks that joined it later are real questions: the
question must not stay titled after the bait (issue 16). Whether an ask
reads as spam is headon.desk.spam's score, the one the console proposes
set-asides with.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from headon.desk.merging.normalise import match_key, tidy_title
from headon.desk.spam import spam_score


def spam_like(text: str) -> bool:
    """Whether an ask reads as spam or junk rather than a question."""
    return spam_score(text).likely


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
