"""The JSON API fuzzed from its own OpenAPI schema, in-process (schemathesis
over WSGI): whatever it is sent, no 500, and every documented response
matches the schema. A published program and a channel token exist, so
generated calls reach the code behind the lookups too."""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from django.core.wsgi import get_wsgi_application
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis.checks import not_a_server_error, response_schema_conformance
from schemathesis.generation import GenerationMode

from headon.desk.intake.sources import channel_token_issue
from headon.desk.models import Channel
from headon.visits.services.applications import access_token
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import make_application

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def api_schema(db: Any) -> tuple[Any, dict[str, str]]:
    program = make_program(slug="open-days")
    application = make_application(program, 1, 2, list(program.sessions.all()))
    channel = Channel.objects.create(slug="dealer", name="Dealer", kind="webhook")
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", get_wsgi_application())
    # Calls carry a real channel token, so the webhook's own checks run.
    schema.config.headers = {"Authorization": f"Bearer {channel_token_issue(channel)}"}
    known = {
        "slug": program.slug,
        "reference": application.reference,
        "token": access_token(application),
    }
    return schema, known


def _strategies(operation: Any, known: dict[str, str]) -> list[Any]:
    """Random input, and input that names what exists, so the fuzzing
    reaches the code behind the lookups; valid and invalid data alike."""
    names = {p.name for p in operation.path_parameters}
    real = {name: known[name] for name in names if name in known}
    headers = {"X-Access-Token": known["token"]} if "reference" in names else None
    strategies = []
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):
        strategies.append((mode, operation.as_strategy(generation_mode=mode)))
        if real:
            strategies.append(
                (
                    mode,
                    operation.as_strategy(
                        generation_mode=mode, path_parameters=real, headers=headers
                    ),
                )
            )
    return strategies


def test_the_api_never_fails_and_keeps_to_its_schema(
    api_schema: tuple[Any, dict[str, str]],
) -> None:
    schema, known = api_schema
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    for operation in operations:
        for mode, strategy in _strategies(operation, known):

            @given(case=strategy)
            @settings(
                max_examples=25,
                deadline=None,
                database=None,
                suppress_health_check=list(HealthCheck),
            )
            def call(case: Any) -> None:
                case.call_and_validate(checks=[not_a_server_error, response_schema_conformance])

            try:
                call()
            except Unsatisfiable:
                # Nothing to make invalid (no parameters, no body).
                assert mode == GenerationMode.NEGATIVE, operation.label
