from django.urls import path

from headon.desk import views

app_name = "desk"
urlpatterns = [
    path("", views.answers_index, name="answers"),
    path("ask/", views.ask_form, name="ask"),
    path("ask/thanks/", views.ask_thanks, name="asked"),
]
