from django.urls import path

from headon.desk import views

app_name = "desk_staff"
urlpatterns = [
    path("", views.staff_desk, name="home"),
]
