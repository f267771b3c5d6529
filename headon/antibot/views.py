from __future__ import annotations

from django.http import HttpRequest, JsonResponse
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET

from headon.antibot import pow
from headon.antibot.ratelimit import hit_ip
from headon.antibot.services import challenge_issue

# Solving takes a browser about half a second, so a person never needs more
# than a few challenges a minute; a script that wants thousands gets a 429.
CHALLENGES_PER_MINUTE = 30


@never_cache
@require_GET
def challenge(request: HttpRequest, scope: str) -> JsonResponse:
    """A fresh proof-of-work challenge for the form `scope`, as JSON."""
    if not pow.SCOPE_RE.match(scope):
        return JsonResponse({"error": _("Unknown form.")}, status=404)
    limit = hit_ip(request, "pow-challenge", limit=CHALLENGES_PER_MINUTE, window_seconds=60)
    if not limit.allowed:
        response = JsonResponse(
            {"error": _("Too many requests. Please wait a minute.")}, status=429
        )
        response["Retry-After"] = str(limit.retry_after)
        return response
    return JsonResponse(challenge_issue(scope=scope).as_dict())
