from django.urls import path

from headon.visits import views

app_name = "visits_staff"
urlpatterns = [
    path("", views.staff_programs, name="home"),
]
