from __future__ import annotations

import pytest

from headon.antibot import store
from headon.antibot.models import Claim, Counter

pytestmark = pytest.mark.django_db


def test_a_count_adds_one_per_hit_and_names_are_counted_apart():
    assert [store.count("a", expires=2e9) for _ in range(3)] == [1, 2, 3]
    assert store.count("b", expires=2e9) == 1


def test_a_claim_is_won_once_and_then_names_its_owner():
    assert store.claim("challenge", owner="first", expires=2e9) is None
    assert store.claim("challenge", owner="second", expires=2e9) == "first"
    assert Claim.objects.get().owner == "first"


def test_purge_drops_only_what_has_expired():
    store.count("old", expires=100.0)
    store.count("live", expires=300.0)
    store.claim("old", owner="x", expires=100.0)
    assert store.purge(now=200.0) == 2
    assert list(Counter.objects.values_list("name", flat=True)) == ["live"]
    assert not Claim.objects.exists()
