from django.contrib import admin
from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from headon import views
from headon.api import api

urlpatterns = [
    path("", views.home, name="home"),
    path("healthz", views.healthz, name="healthz"),
    path("answers/", include("headon.desk.urls")),
    path("visits/", include("headon.visits.urls")),
    path("staff/", include("headon.accounts.staff_urls")),
    path("accounts/", include("headon.accounts.urls")),
    path("i18n/", include("django.conf.urls.i18n")),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
    path("api/v1/", api.urls),
    path("admin/", admin.site.urls),
]
