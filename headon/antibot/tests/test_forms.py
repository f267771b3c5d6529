from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django import forms
from django.utils.functional import Promise

from headon.antibot import pow, store
from headon.antibot.forms import ProofOfWorkField
from headon.antibot.services import challenge_issue

pytestmark = [pytest.mark.urls("headon.antibot.tests.urls"), pytest.mark.django_db]

NOW = datetime(2026, 11, 24, 9, 0, 0, tzinfo=UTC)


class ApplyForm(forms.Form):
    name = forms.CharField()
    pow = ProofOfWorkField(scope="apply")


@pytest.fixture(autouse=True)
def _empty_store(db):
    store.clear()
    yield
    store.clear()


def _solution(scope: str = "apply") -> str:
    challenge = challenge_issue(scope=scope, max_number=300).as_dict()
    number = pow.solve(challenge)
    assert number is not None
    return pow.encode_payload(challenge, number)


def _form(payload: str | None) -> ApplyForm:
    data = {"name": "Li Wei"} if payload is None else {"name": "Li Wei", "pow": payload}
    return ApplyForm(data)


@time_machine.travel(NOW, tick=False)
def test_a_solved_challenge_passes():
    form = _form(_solution())
    assert form.is_valid(), form.errors


@time_machine.travel(NOW, tick=False)
def test_a_replayed_solution_is_refused():
    payload = _solution()
    assert _form(payload).is_valid()
    replayed = _form(payload)
    assert not replayed.is_valid()
    assert replayed.errors["pow"] == [
        "The check that you are not a bot failed. Please send the form again."
    ]


@time_machine.travel(NOW, tick=False)
def test_a_missing_solution_asks_for_javascript():
    form = _form(None)
    assert not form.is_valid()
    assert "needs JavaScript" in form.errors["pow"][0]
    assert form.has_error("pow", "required")


def test_an_expired_solution_is_refused_as_expired():
    with time_machine.travel(NOW, tick=False) as traveller:
        payload = _solution()
        traveller.shift(timedelta(seconds=pow.DEFAULT_TTL + 1))
        form = _form(payload)
        assert not form.is_valid()
        assert form.has_error("pow", "expired")


@time_machine.travel(NOW, tick=False)
def test_a_solution_for_another_form_is_refused():
    form = _form(_solution(scope="otp"))
    assert not form.is_valid()
    assert form.has_error("pow", "invalid")


@time_machine.travel(NOW, tick=False)
def test_garbage_is_refused_not_raised():
    for payload in ["x", "e30=", "A" * 100_000]:
        form = _form(payload)
        assert not form.is_valid()
        assert form.has_error("pow", "invalid")


def test_the_widget_points_pow_js_at_the_challenge_and_renders_no_value():
    html = str(_form("a-spent-solution")["pow"])
    assert 'type="hidden"' in html
    assert 'data-pow-url="/antibot/challenge/apply"' in html
    assert "a-spent-solution" not in html


def test_the_messages_are_translated_when_shown_not_when_defined():
    field = ApplyForm().fields["pow"]
    for message in field.error_messages.values():
        assert isinstance(message, Promise)


def test_a_scope_must_be_a_lowercase_slug():
    with pytest.raises(ValueError, match="scope"):
        ProofOfWorkField(scope="Apply")
