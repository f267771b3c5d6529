from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.views import LoginView, LogoutView
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_safe

from headon.accounts.roles import ROLES


class StaffLoginView(LoginView):
    template_name = "accounts/login.html"
    redirect_authenticated_user = True


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
