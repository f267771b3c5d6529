"""Staff on the API: `Authorization: Bearer <key>` with a key made by
`headon apitoken create`. The operation checks the role itself, so a
valid key of the wrong role is told 403, not 401."""

from __future__ import annotations

from django.http import HttpRequest
from ninja.security import HttpBearer

from headon.accounts.models import User
from headon.accounts.services import api_token_user


class StaffToken(HttpBearer):
    """A staff member's API key."""

    def authenticate(self, request: HttpRequest, token: str) -> User | None:
        return api_token_user(token)
