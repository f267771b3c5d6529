from __future__ import annotations

from typing import Any

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import ValidationError
from ninja.openapi.schema import OpenAPISchema

import headon
from headon.desk.api import NO_NUL, SOME_TEXT
from headon.desk.api import router as desk_router
from headon.visits.api import router as visits_router
from headon.visits.staff_api import router as visits_staff_router

# The answers every operation can give whatever its own code says: the
# framework's own refusals. Without them in the schema a client (and
# schemathesis) meets status codes the contract never mentioned.
PROBLEM = {
    "type": "object",
    "title": "Problem",
    "required": ["detail"],
    "properties": {
        "detail": {"type": "string", "description": "What went wrong, as a sentence."},
        "errors": {
            "type": "array",
            "items": {"type": "object"},
            "description": "For 422: each invalid field, as pydantic reports it.",
        },
    },
}
FRAMEWORK_ANSWERS = {
    "400": "The body is not JSON, or not the JSON object expected.",
    "401": "The credentials are missing or wrong.",
    "404": "Nothing is here, or the access token does not match.",
    "422": "A field is missing or invalid: `detail` says which.",
}


class HeadonAPI(NinjaAPI):
    def get_openapi_schema(
        self, *, path_prefix: str | None = None, path_params: dict[str, Any] | None = None
    ) -> OpenAPISchema:
        schema = super().get_openapi_schema(path_prefix=path_prefix, path_params=path_params)
        schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = PROBLEM
        for operations in schema.get("paths", {}).values():
            for operation in operations.values():
                _framework_answers(operation)
        return schema


def _framework_answers(operation: dict[str, Any]) -> None:
    """Add the refusals an operation can meet before its own code runs:
    400 and 422 where it takes input, 404 where the path names something,
    401 where it needs credentials."""
    parameters = operation.get("parameters", [])
    codes = []
    if parameters or "requestBody" in operation:
        codes += ["422"]
    if "requestBody" in operation:
        codes += ["400"]
    if any(p.get("in") == "path" for p in parameters):
        codes += ["404"]
    if operation.get("security"):
        codes += ["401"]
    responses = operation.setdefault("responses", {})
    for code in codes:
        responses.setdefault(
            code,
            {
                "description": FRAMEWORK_ANSWERS[code],
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/Problem"}}
                },
            },
        )


api = HeadonAPI(
    title="headon API",
    version="1",
    description="Asks in, answers and visit programs out. Errors are JSON with a `detail`.",
    urls_namespace="api",
)


class Health(Schema):
    status: str
    version: str


@api.exception_handler(ValidationError)
def invalid_request(request: HttpRequest, exc: ValidationError) -> HttpResponse:
    """422 with `detail` a sentence, as every other error here, and the
    field-by-field `errors` beside it (ninja's default puts the list in
    `detail`, which the documented error schema does not allow)."""
    problems = []
    for error in exc.errors:
        where = ".".join(str(part) for part in error.get("loc", ()))
        message = error.get("msg", "invalid")
        pattern = (error.get("ctx") or {}).get("pattern")
        if pattern == NO_NUL:
            message = "holds a NUL character, which cannot be stored"
        elif pattern == SOME_TEXT:
            message = "is empty or holds a NUL character"
        problems.append(f"{where}: {message}")
    detail = "Invalid request: " + "; ".join(problems[:5]) if problems else "Invalid request."
    return api.create_response(request, {"detail": detail, "errors": exc.errors}, status=422)


api.add_router("/", visits_router)
api.add_router("/", visits_staff_router)
api.add_router("/", desk_router)


@api.get("/health", response=Health, tags=["meta"], summary="Is the API up")
def health(request: HttpRequest) -> Health:
    return Health(status="ok", version=headon.__version__)
