from django.urls import path

from headon.visits import views

app_name = "visits"
urlpatterns = [
    path("", views.programs_index, name="programs"),
]
