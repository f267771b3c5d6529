from django.urls import path

from headon.desk import views

app_name = "desk_staff"
urlpatterns = [
    path("", views.staff_desk, name="home"),
    path("day/<str:day>/", views.staff_desk, name="day"),
    path("day/<str:day>/recluster/", views.recluster, name="recluster"),
    path("questions/<int:pk>/", views.question_detail, name="question"),
    path("questions/<int:pk>/action/", views.question_action, name="question_action"),
    path("changes/", views.actions_log, name="actions"),
    path("imports/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", views.import_progress, name="import"),
]
