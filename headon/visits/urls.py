from django.urls import path

from headon.visits.views import draw, feedback, public

app_name = "visits"
urlpatterns = [
    path("", public.programs_index, name="programs"),
    path("feedback/<int:ticket_id>/<str:token>/", feedback.feedback, name="feedback"),
    path("draw/verify_draw.py", draw.verifier_script, name="verifier"),
    path("tickets/key.pem", draw.ticket_public_key, name="ticket_key"),
    path("tickets/verify_ticket.py", draw.ticket_verifier_script, name="ticket_verifier"),
    path("<slug:slug>/", public.program_detail, name="program"),
    path("<slug:slug>/sessions.ics", public.program_calendar_feed, name="calendar"),
    path("<slug:slug>/draw/", draw.draw_page, name="draw"),
    path("<slug:slug>/draw/record.json", draw.draw_record, name="draw_record"),
    path("<slug:slug>/apply/", public.apply_contact, name="apply"),
    path("<slug:slug>/apply/code/", public.apply_verify, name="apply_verify"),
    path("<slug:slug>/apply/details/", public.apply_form, name="apply_form"),
    path("<slug:slug>/apply/leave/", public.apply_leave, name="apply_leave"),
    path("<slug:slug>/join/<int:member_id>/<str:token>/", public.companion, name="companion"),
    path(
        "<slug:slug>/a/<str:reference>/<str:token>/", public.application_detail, name="application"
    ),
    path(
        "<slug:slug>/a/<str:reference>/<str:token>/change/",
        public.application_edit,
        name="application_edit",
    ),
    path(
        "<slug:slug>/a/<str:reference>/<str:token>/new-link/",
        public.application_relink,
        name="application_relink",
    ),
    path(
        "<slug:slug>/a/<str:reference>/<str:token>/companions/<int:position>/resend/",
        public.companion_resend,
        name="companion_resend",
    ),
    path(
        "<slug:slug>/a/<str:reference>/<str:token>/withdraw/",
        public.application_withdraw,
        name="application_withdraw",
    ),
    path(
        "<slug:slug>/a/<str:reference>/<str:token>/offer/",
        draw.offer_respond,
        name="offer_respond",
    ),
    path(
        "<slug:slug>/a/<str:reference>/<str:token>/tickets/",
        draw.application_tickets,
        name="tickets",
    ),
    path(
        "<slug:slug>/a/<str:reference>/<str:token>/tickets.ics",
        draw.application_tickets_ics,
        name="tickets_ics",
    ),
]
