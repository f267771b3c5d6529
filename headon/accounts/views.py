from __future__ import annotations

from typing import Any

from django.conf import settings
from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils.translation import gettext as _
from django.views.decorators.http import require_safe

from headon.accounts.roles import ROLES
from headon.antibot.ratelimit import hit_ip

LOGIN_WINDOW = 600  # seconds


class StaffLoginView(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True

    def post(self, request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        # Before the form hashes a password: each attempt costs a quarter of
        # a second of CPU, so unlimited attempts are a cheap way to take the
        # site down, whether or not the usernames exist.
        limit = settings.HEADON_LOGINS_PER_ADDRESS
        result = hit_ip(request, "login", limit=limit, window_seconds=LOGIN_WINDOW)
        if result.allowed:
            return super().post(request, *args, **kwargs)
        refusal = _(
            "Too many sign-in attempts from this address. Try again in %(minutes)s minutes."
        ) % {"minutes": max(1, round(result.retry_after / 60))}
        context = self.get_context_data(form=self.get_form_class()(request), refusal=refusal)
        response = self.render_to_response(context, status=429)
        response["Retry-After"] = str(result.retry_after)
        return response


class StaffLogoutView(LogoutView):
    pass


@login_required
@require_safe
def staff_home(request: HttpRequest) -> HttpResponse:
    """The staff start page: what each of the person's roles can open."""
    user = request.user
    held = set(user.groups.values_list("name", flat=True))
    return render(
        request,
        "accounts/staff_home.html",
        {
            "roles": [role for role in ROLES if role.slug in held],
            "can_desk": user.has_perm("desk.view_desk"),
            "can_visits": user.has_perm("visits.view_visits"),
            "can_check_in": user.has_perm("visits.check_in_visitors"),
        },
    )
