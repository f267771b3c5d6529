from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from ninja import NinjaAPI, Schema
from ninja.errors import ValidationError

import headon
from headon.desk.api import router as desk_router
from headon.visits.api import router as visits_router

api = NinjaAPI(
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
        problems.append(f"{where}: {error.get('msg', 'invalid')}")
    detail = "Invalid request: " + "; ".join(problems[:5]) if problems else "Invalid request."
    return api.create_response(request, {"detail": detail, "errors": exc.errors}, status=422)


api.add_router("/", visits_router)
api.add_router("/", desk_router)


@api.get("/health", response=Health, tags=["meta"], summary="Is the API up")
def health(request: HttpRequest) -> Health:
    return Health(status="ok", version=headon.__version__)
