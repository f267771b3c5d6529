from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from headon import views
from headon.antibot.views import challenge as pow_challenge
from headon.api import api

handler500 = "headon.views.server_error"

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("answers/", include("headon.desk.urls")),
    path("visits/", include("headon.visits.urls")),
    path("staff/", include("headon.accounts.staff_urls")),
    path("accounts/", include("headon.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("antibot/challenge/<slug:scope>", pow_challenge, name="pow_challenge"),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
