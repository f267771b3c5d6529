from django.urls import URLPattern, path

from headon.visits.views import gate

# Included under /staff/visits/gate/ in the visits_staff namespace.
urlpatterns: list[URLPattern] = [
    path("", gate.gate_home, name="gate"),
    path("<int:session_id>/", gate.gate_check_in, name="gate_session"),
    path("<int:session_id>/count/", gate.gate_count, name="gate_count"),
    path("<int:session_id>/undo/<int:ticket_id>/", gate.gate_undo, name="gate_undo"),
]
