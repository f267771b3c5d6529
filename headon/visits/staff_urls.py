from django.urls import path

from headon.visits.views import draw, feedback, gate, messages, reports, staff, visitors

app_name = "visits_staff"
urlpatterns = [
    path("", staff.staff_programs, name="home"),
    path("gate/", gate.gate_home, name="gate"),
    path("gate/<int:session_id>/", gate.gate_check_in, name="gate_session"),
    path("gate/<int:session_id>/count/", gate.gate_count, name="gate_count"),
    path("gate/<int:session_id>/undo/<int:ticket_id>/", gate.gate_undo, name="gate_undo"),
    path("gate/<int:session_id>/lookup/", gate.gate_lookup, name="gate_lookup"),
    path(
        "gate/<int:session_id>/lookup/<int:ticket_id>/",
        gate.gate_check_in_found,
        name="gate_check_in_found",
    ),
    path("gate/<int:session_id>/no-shows/", gate.gate_no_shows, name="gate_no_shows"),
    path(
        "gate/<int:session_id>/walk-in/<int:application_id>/",
        gate.gate_walk_in,
        name="gate_walk_in",
    ),
    path("new/", staff.program_create, name="program_create"),
    path("<slug:slug>/", staff.program_detail, name="program"),
    path("<slug:slug>/edit/", staff.program_edit, name="program_edit"),
    path("<slug:slug>/demand/", staff.program_demand_panel, name="demand"),
    path("<slug:slug>/apply-rules/", staff.program_apply_rules, name="apply_rules"),
    path("<slug:slug>/publish/", staff.program_publish, name="publish"),
    path("<slug:slug>/duplicate/", staff.program_duplicate, name="program_duplicate"),
    path("<slug:slug>/status/", staff.program_status, name="program_status"),
    path("<slug:slug>/restore/", staff.program_restore, name="program_restore"),
    path("<slug:slug>/rules/<int:rule_id>/delete/", staff.rule_delete, name="rule_delete"),
    path(
        "<slug:slug>/exclusions/<int:exclusion_id>/delete/",
        staff.exclusion_delete,
        name="exclusion_delete",
    ),
    path("<slug:slug>/sessions/<int:session_id>/", staff.session_edit, name="session_edit"),
    path("<slug:slug>/applications/", visitors.applications, name="applications"),
    path("<slug:slug>/applications/<str:reference>/", visitors.party, name="party"),
    path(
        "<slug:slug>/sessions/<int:session_id>/visitors/",
        visitors.gate_list_print,
        name="gate_list",
    ),
    path(
        "<slug:slug>/sessions/<int:session_id>/visitors.csv",
        visitors.gate_list_csv,
        name="gate_list_csv",
    ),
    path("<slug:slug>/offers/<int:offer_id>/extend/", visitors.offer_extend, name="offer_extend"),
    path("<slug:slug>/messages/", messages.program_messages, name="messages"),
    path("<slug:slug>/feedback/", feedback.feedback_staff, name="feedback"),
    path("<slug:slug>/feedback.csv", feedback.feedback_staff_csv, name="feedback_csv"),
    path("<slug:slug>/report/", reports.report, name="report"),
    path("<slug:slug>/report/report.csv", reports.report_csv_download, name="report_csv"),
    path("<slug:slug>/draw/", draw.draw_staff, name="draw"),
]
