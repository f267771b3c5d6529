"""System checks: a misspelt merge setting stops ``serve`` and ``worker`` at start,
not the first import job hours later."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Error, register


@register()
def check_merge_settings(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from headon.desk.merging.embedders import E5_ENGINES, EMBEDDER_NAMES

    errors = []
    engine = getattr(settings, "HEADON_E5_ENGINE", None)
    if engine is not None and engine not in E5_ENGINES:
        errors.append(
            Error(
                f"HEADON_E5_ENGINE={engine!r} is not an e5 engine.",
                hint=f"Choose one of {', '.join(E5_ENGINES)}, or leave it empty.",
                id="desk.E001",
            )
        )
    unknown = [
        name
        for name in getattr(settings, "HEADON_EMBEDDER", [])
        if name != "none" and name not in EMBEDDER_NAMES
    ]
    if unknown:
        errors.append(
            Error(
                f"HEADON_EMBEDDER names unknown models: {', '.join(map(repr, unknown))}.",
                hint=f"Use {', '.join(EMBEDDER_NAMES)} or none, in order of preference.",
                id="desk.E002",
            )
        )
    return errors
