from __future__ import annotations

import datetime as dt
import time

import pytest
import time_machine
from django.conf import settings
from django.test import override_settings

from headon.antibot import pow, store
from headon.antibot.services import pow_key
from headon.antibot.views import CHALLENGES_PER_MINUTE

# Rate limits count in fixed windows: a test that crossed a minute boundary
# under load counted in two windows and saw no refusal (CI failed once).
MID_MINUTE = dt.datetime(2026, 12, 3, 12, 0, 20, tzinfo=dt.UTC)

pytestmark = [pytest.mark.urls("headon.antibot.tests.urls"), pytest.mark.django_db]


@pytest.fixture(autouse=True)
def _empty_store(db):
    store.clear()
    yield
    store.clear()


def test_the_challenge_is_signed_json_in_altchas_shape(client):
    response = client.get("/antibot/challenge/apply")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/json"
    data = response.json()
    assert set(data) == {"algorithm", "challenge", "maxnumber", "salt", "signature"}
    assert data["maxnumber"] == settings.HEADON_POW_MAX_NUMBER
    assert "&scope=apply&" in data["salt"]
    # Solve a copy made easy, to show the signature is made with the site's key.
    number = 7
    easy = {**data, "challenge": pow._sha256_hex(data["salt"] + str(number))}
    easy["signature"] = pow._sign(pow_key(), easy["challenge"])
    payload = pow.encode_payload(easy, number)
    assert pow.verify(payload, key=pow_key(), now=time.time(), scope="apply").ok


def test_each_request_gets_a_new_challenge(client):
    first = client.get("/antibot/challenge/apply").json()
    second = client.get("/antibot/challenge/apply").json()
    assert first["challenge"] != second["challenge"]


def test_the_challenge_is_never_cached(client):
    response = client.get("/antibot/challenge/otp")
    assert "no-store" in response["Cache-Control"]
    assert "private" in response["Cache-Control"]


def test_the_challenge_is_only_for_get(client):
    assert client.post("/antibot/challenge/apply").status_code == 405


def test_an_uppercase_scope_is_not_found(client):
    assert client.get("/antibot/challenge/Apply").status_code == 404


@time_machine.travel(MID_MINUTE, tick=False)
def test_one_address_gets_a_limited_number_of_challenges(client):
    for _ in range(CHALLENGES_PER_MINUTE):
        assert client.get("/antibot/challenge/apply").status_code == 200
    refused = client.get("/antibot/challenge/apply")
    assert refused.status_code == 429
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert "no-store" in refused["Cache-Control"]
    other = client.get("/antibot/challenge/apply", REMOTE_ADDR="198.51.100.2")
    assert other.status_code == 200


@time_machine.travel(MID_MINUTE, tick=False)
@override_settings(HEADON_PROXY_COUNT=1)
def test_behind_a_proxy_the_limit_is_per_forwarded_address(client):
    for _ in range(CHALLENGES_PER_MINUTE):
        client.get("/antibot/challenge/apply", headers={"X-Forwarded-For": "203.0.113.1"})
    refused = client.get("/antibot/challenge/apply", headers={"X-Forwarded-For": "203.0.113.1"})
    assert refused.status_code == 429
    other = client.get("/antibot/challenge/apply", headers={"X-Forwarded-For": "203.0.113.2"})
    assert other.status_code == 200
