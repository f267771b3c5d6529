from django.urls import path

from headon.visits.views import feedback

urlpatterns = [
    path("<int:ticket_id>/<str:token>/", feedback.feedback, name="feedback"),
]
