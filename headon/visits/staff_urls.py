from django.urls import include, path

from headon.visits.views import draw, staff

app_name = "visits_staff"
urlpatterns = [
    path("", staff.staff_programs, name="home"),
    path("gate/", include("headon.visits.gate_urls")),
    path("new/", staff.program_create, name="program_create"),
    path("<slug:slug>/", staff.program_detail, name="program"),
    path("<slug:slug>/edit/", staff.program_edit, name="program_edit"),
    path("<slug:slug>/demand/", staff.program_demand_panel, name="demand"),
    path("<slug:slug>/apply-rules/", staff.program_apply_rules, name="apply_rules"),
    path("<slug:slug>/publish/", staff.program_publish, name="publish"),
    path("<slug:slug>/rules/<int:rule_id>/delete/", staff.rule_delete, name="rule_delete"),
    path("<slug:slug>/sessions/<int:session_id>/", staff.session_edit, name="session_edit"),
    path("<slug:slug>/report/", include("headon.visits.report_urls")),
    path("<slug:slug>/draw/", draw.draw_staff, name="draw"),
]
