from __future__ import annotations

from django.http import HttpRequest
from ninja import NinjaAPI, Schema

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


api.add_router("/", visits_router)
api.add_router("/", desk_router)


@api.get("/health", response=Health, tags=["meta"], summary="Is the API up")
def health(request: HttpRequest) -> Health:
    return Health(status="ok", version=headon.__version__)
