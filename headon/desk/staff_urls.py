from django.urls import path

from headon.desk.views import answers, digest, reports, staff

app_name = "desk_staff"
urlpatterns = [
    path("", staff.staff_desk, name="home"),
    path("day/<str:day>/", staff.staff_desk, name="day"),
    path("day/<str:day>/recluster/", staff.recluster, name="recluster"),
    path("day/<str:day>/review/", staff.review, name="review"),
    path("questions/<int:pk>/", staff.question_detail, name="question"),
    path("questions/<int:pk>/action/", staff.question_action, name="question_action"),
    path("questions/<int:pk>/answer/", answers.question_answer, name="question_answer"),
    path("questions/<int:pk>/link/", answers.question_link, name="question_link"),
    path("answers/", answers.answers_queue, name="answers"),
    path("answers/check/", answers.answer_check, name="answer_check"),
    path("answers/<int:pk>/", answers.answer_detail, name="answer"),
    path("answers/<int:pk>/step/", answers.answer_step, name="answer_step"),
    path("dashboard/", reports.dashboard, name="dashboard"),
    path("digest/", digest.digest_staff, name="digest_today"),
    path("digest/<str:day>/", digest.digest_staff, name="digest"),
    path("digest/<str:day>/check/", digest.digest_check, name="digest_check"),
    path("changes/", staff.actions_log, name="actions"),
    path("imports/", staff.import_upload, name="import_upload"),
    path("imports/<int:pk>/", staff.import_progress, name="import"),
]
