"""Staff pages of every app, under /staff/."""

from django.urls import include, path

from headon.accounts import views

urlpatterns = [
    path("", views.staff_home, name="staff_home"),
    path("desk/", include("headon.desk.staff_urls")),
    path("visits/", include("headon.visits.staff_urls")),
]
