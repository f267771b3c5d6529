"""A coordinator writes to a session's confirmed visitors, the waitlist or
those not selected: a preview with the count, then the worker sends it to
each party once, in its language, with nothing personal in the job."""

from __future__ import annotations

from django.http.response import HttpResponseBase
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from headon.accounts.models import AuditEvent
from headon.sms import outbox
from headon.testing import PersonasTestCase
from headon.visits import jobs
from headon.visits.models import Application, Message, Offer, Program, Session, WaitlistEntry
from headon.visits.services import messages, offers
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application

FORM = {
    "subject_en": "Parking",
    "subject_zh": "停车",
    "body_en": "Hello {reference}: park at gate 3 for {session}.",
    "body_zh": "您好 {reference}：{session} 请在 3 号门停车。",
}


class MessageTests(PersonasTestCase):
    program: Program
    session: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="msg-days", sessions=1, capacity=3)
        cls.session = cls.program.sessions.get()
        make_application(cls.program, 1, 2, [cls.session], language="zh-hans", priority_tier=0)
        make_application(cls.program, 2, 1, [cls.session], priority_tier=0)
        make_application(cls.program, 3, 2, [cls.session], priority_tier=1)
        drawn(cls.program, tiers=True)
        for offer in Offer.objects.all():
            offers.offer_confirm(offer)

    def url(self) -> str:
        return reverse("visits_staff:messages", args=[self.program.slug])

    def post(self, **data: str) -> HttpResponseBase:
        self.client.force_login(self.erin)
        return self.client.post(self.url(), FORM | data)

    def test_the_preview_shows_both_languages_and_the_count_and_sends_nothing(self) -> None:
        response = self.post(audience="confirmed", session=str(self.session.pk), step="preview")
        self.assertContains(response, "It goes to 2 parties.")
        self.assertContains(response, "park at gate 3 for")
        self.assertContains(response, "请在 3 号门停车")
        self.assertContains(response, self.session.full_label)
        self.assertFalse(Message.objects.exists())
        self.assertFalse(DBTaskResult.objects.filter(task_path__endswith="send_message").exists())

    def test_sending_fixes_the_recipients_and_the_worker_sends_each_once(self) -> None:
        response = self.post(audience="confirmed", session=str(self.session.pk), step="send")
        self.assertEqual(response.status_code, 302)
        message = Message.objects.get()
        self.assertEqual(len(message.recipients), 2)
        job = DBTaskResult.objects.get(task_path="headon.visits.jobs.send_message")
        # The job carries the message's id, never an address, link or text.
        self.assertEqual(job.args_kwargs["args"], [message.pk])
        outbox.clear()
        self.assertEqual(jobs.send_message.call(message.pk), 2)
        texts = sorted(body for _phone, body in outbox)
        self.assertEqual(len(texts), 2)
        self.assertTrue(any("请在 3 号门停车" in t and "T00001" in t for t in texts))
        self.assertTrue(any("park at gate 3" in t and "T00002" in t for t in texts))
        self.assertTrue(all("/a/T0000" in t for t in texts))  # each with its own link
        # A second run (a worker killed after sending) sends nothing again.
        self.assertEqual(jobs.send_message.call(message.pk), 0)
        self.assertEqual(len(outbox), 2)
        message.refresh_from_db()
        self.assertEqual(message.sent, 2)
        self.assertTrue(AuditEvent.objects.filter(action="party_message_create").exists())

    def test_the_waitlist_and_those_not_selected(self) -> None:
        waiting = messages.audience(self.program, "waitlist", None)
        self.assertEqual([a.reference for a in waiting], ["T00003"])
        self.assertEqual(list(messages.audience(self.program, "not_selected", None)), [])
        WaitlistEntry.objects.update(status=WaitlistEntry.Status.LEFT)
        left = messages.audience(self.program, "not_selected", None)
        self.assertEqual([a.reference for a in left], ["T00003"])

    def test_a_message_to_nobody_or_without_a_session_is_refused(self) -> None:
        response = self.post(audience="confirmed", step="send")
        self.assertContains(response, "Choose the session")
        self.post(audience="not_selected", step="send")
        self.assertFalse(Message.objects.exists())

    def test_braces_a_coordinator_types_are_text(self) -> None:
        draft = messages.Draft("waitlist", None, "{0}", "{x}", "{__class__} {program}", "{")
        application = Application.objects.get(reference="T00003")
        subject, body = messages.render(draft, application, link=False)
        self.assertEqual(subject, "{0}")
        self.assertEqual(body, "{__class__} Open Days")

    def test_the_gate_cannot_write_to_visitors(self) -> None:
        self.client.force_login(self.gus)
        data = FORM | {"audience": "waitlist", "step": "send"}
        self.assertEqual(self.client.post(self.url(), data).status_code, 403)
        self.assertFalse(Message.objects.exists())
