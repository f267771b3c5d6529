from django.urls import path

from headon.desk import answer_views, views

app_name = "desk_staff"
urlpatterns = [
    path("", views.staff_desk, name="home"),
    path("day/<str:day>/", views.staff_desk, name="day"),
    path("day/<str:day>/recluster/", views.recluster, name="recluster"),
    path("questions/<int:pk>/", views.question_detail, name="question"),
    path("questions/<int:pk>/action/", views.question_action, name="question_action"),
    path("questions/<int:pk>/answer/", answer_views.question_answer, name="question_answer"),
    path("questions/<int:pk>/link/", answer_views.question_link, name="question_link"),
    path("answers/", answer_views.answers_queue, name="answers"),
    path("answers/<int:pk>/", answer_views.answer_detail, name="answer"),
    path("answers/<int:pk>/step/", answer_views.answer_step, name="answer_step"),
    path("dashboard/", answer_views.dashboard, name="dashboard"),
    path("digest/", answer_views.digest_staff, name="digest_today"),
    path("digest/<str:day>/", answer_views.digest_staff, name="digest"),
    path("changes/", views.actions_log, name="actions"),
    path("imports/", views.import_upload, name="import_upload"),
    path("imports/<int:pk>/", views.import_progress, name="import"),
]
