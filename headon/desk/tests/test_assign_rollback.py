"""The merge engine cached per day must not outlive a rolled-back
transaction: it would place the next ask in a question that is not there."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import IntegrityError, transaction

from headon.desk.merging.normalise import exact_key
from headon.desk.models import Ask, Channel, Question
from headon.desk.services import merging

pytestmark = pytest.mark.django_db(transaction=True)

DAY = dt.date(2026, 11, 24)
AT = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)


class RollbackError(Exception):
    pass


@pytest.fixture(autouse=True)
def lexical(settings: Any) -> Iterator[None]:
    settings.HEADON_EMBEDDER = ["none"]
    merging._engines.clear()
    yield
    merging._engines.clear()


def add(channel: Channel, n: int, text: str) -> Ask:
    return Ask.objects.create(
        channel=channel,
        external_id=str(n),
        text=text,
        posted_at=AT,
        day=DAY,
        match_key=exact_key(text),
    )


def assign_then_roll_back() -> Channel:
    channel = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
    add(channel, 1, "When do deliveries start?")
    with pytest.raises(RollbackError), transaction.atomic():
        assert merging.assign_unassigned(DAY) == 1
        raise RollbackError
    assert not Question.objects.exists()
    add(channel, 2, "When do deliveries start?")
    return channel


def test_control_an_engine_kept_at_once_breaks_the_next_assignment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The harness catches the bug: keep the engine without waiting for
    the commit (as before), and the next assignment names a question the
    rollback took away."""
    monkeypatch.setattr("django.db.transaction.on_commit", lambda callback: callback())
    assign_then_roll_back()
    monkeypatch.undo()
    with pytest.raises(IntegrityError):
        merging.assign_unassigned(DAY)


def test_an_assignment_rolled_back_leaves_no_engine_naming_its_questions() -> None:
    assign_then_roll_back()
    assert merging.assign_unassigned(DAY) == 2  # committed: no missing question
    questions = set(Ask.objects.values_list("question_id", flat=True))
    assert len(questions) == 1
    assert Question.objects.filter(pk__in=questions).count() == 1
    assert DAY in merging._engines  # kept once its transaction committed
