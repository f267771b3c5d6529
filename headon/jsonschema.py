"""Input types that accept what their JSON Schema says, no more.

pydantic's lax mode reads "5" and true as the integer 5 and 1, which the
OpenAPI schema calls invalid (schemathesis: a schema-violating body
accepted); its strict mode refuses 5.0, which JSON Schema counts as an
integer (a schema-valid body refused). `JsonInt` takes exactly JSON
Schema's integers: ints, and numbers with no fractional part.
"""

from __future__ import annotations

from typing import Annotated

from pydantic import BeforeValidator


def _no_text_or_truth(value: object) -> object:
    if isinstance(value, bool | str):
        raise ValueError("must be an integer")
    return value


INTEGER_ONLY = BeforeValidator(_no_text_or_truth)
# Bounds go before INTEGER_ONLY (Annotated[int, Field(ge=1), INTEGER_ONLY]):
# after it, pydantic cannot write them into the schema as minimum/maximum.
JsonInt = Annotated[int, INTEGER_ONLY]
