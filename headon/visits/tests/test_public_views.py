from __future__ import annotations

import re

from django.test import Client, TestCase, override_settings
from django.urls import reverse

from headon import sms
from headon.visits.models import Application
from headon.visits.tests.factories import id_number, make_program, solved_pow


class ApplyFlowTests(TestCase):
    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = make_program()
        self.sessions = list(self.program.sessions.order_by("starts_at"))

    def verify(self, phone: str = "138 1234 5678") -> None:
        response = self.client.post(
            reverse("visits:apply", args=[self.program.slug]),
            {"channel": "phone", "destination": phone, "pow": solved_pow("visits-code")},
        )
        self.assertRedirects(response, reverse("visits:apply_verify", args=[self.program.slug]))
        code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)  # type: ignore[union-attr]
        response = self.client.post(
            reverse("visits:apply_verify", args=[self.program.slug]), {"code": code}
        )
        self.assertRedirects(response, reverse("visits:apply_form", args=[self.program.slug]))

    def form_data(self, **extra: str) -> dict[str, str]:
        data = {
            "lead_name": "李雷",
            "companion_1_name": "韩梅梅",
            "companion_1_phone": "137 0000 1111",
            "companion_1_id_number": id_number(),
            "choice_1": str(self.sessions[1].pk),
            "choice_2": str(self.sessions[0].pk),
            "consent": "on",
            "submission_id": "abc123",
            "pow": solved_pow("visits-apply"),
        }
        data.update(extra)
        return data

    def test_an_applicant_verifies_applies_and_gets_a_receipt(self) -> None:
        self.verify()
        response = self.client.post(
            reverse("visits:apply_form", args=[self.program.slug]), self.form_data(), follow=True
        )
        application = Application.objects.get()
        self.assertContains(response, application.reference)
        self.assertContains(response, "韩梅梅")
        self.assertContains(response, "110***********")
        self.assertNotContains(response, id_number())
        self.assertEqual(
            [c.session_id for c in application.choices.all()],
            [self.sessions[1].pk, self.sessions[0].pk],
        )

    def run_receipts(self) -> list[str]:
        """The receipt jobs, as the worker runs them; the texts sent."""
        from django_tasks_db.models import DBTaskResult

        from headon.visits import jobs

        sms.outbox.clear()
        for job in DBTaskResult.objects.filter(task_path="headon.visits.jobs.notify_receipt"):
            jobs.notify_receipt.call(*job.args_kwargs["args"])
            jobs.notify_receipt.call(*job.args_kwargs["args"])  # a retried job sends once
        DBTaskResult.objects.all().delete()
        return [body for _to, body in sms.outbox]

    def test_a_lost_link_comes_back_by_verifying_again_and_the_old_one_dies(self) -> None:
        """The receipt promised on the code page was never sent, and a person
        who lost the link and verified again got an empty form, then
        "person taken", and no way back to the application."""
        self.verify()
        first = self.client.post(
            reverse("visits:apply_form", args=[self.program.slug]), self.form_data()
        )
        application = Application.objects.get()
        (receipt,) = self.run_receipts()
        self.assertIn(application.reference, receipt)
        self.assertIn(first["Location"], receipt)

        self.client = Client()  # another phone, the link lost
        apply = reverse("visits:apply", args=[self.program.slug])
        body = {"channel": "phone", "destination": "13812345678", "pow": solved_pow("visits-code")}
        self.client.post(apply, body)
        code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)  # type: ignore[union-attr]
        self.client.post(reverse("visits:apply_verify", args=[self.program.slug]), {"code": code})
        back = self.client.get(reverse("visits:apply_form", args=[self.program.slug]), follow=True)
        self.assertContains(back, "You have applied already")
        self.assertContains(back, application.reference)
        new_link = back.redirect_chain[-1][0]
        self.assertNotEqual(new_link, first["Location"])
        self.assertEqual(self.client.get(first["Location"]).status_code, 404)
        (relinked,) = self.run_receipts()
        self.assertIn(new_link, relinked)
        self.assertEqual(Application.objects.count(), 1)

    def test_receipts_and_invitations_leave_no_phone_or_link_in_the_job_table(self) -> None:
        """Notices queued the e-mail as a job of its own, with the address
        and the private link in its arguments, kept past retention. The
        receipt and the companion's invitation carry ids only."""
        from django_tasks_db.models import DBTaskResult

        from headon.visits import jobs

        self.verify()
        data = self.form_data(lead_id_number=id_number(77))
        link = self.client.post(reverse("visits:apply_form", args=[self.program.slug]), data)[
            "Location"
        ]
        sms.outbox.clear()
        for job in DBTaskResult.objects.filter(task_path__startswith="headon.visits.jobs.notify"):
            getattr(jobs, job.task_path.rsplit(".", 1)[-1]).call(*job.args_kwargs["args"])
        sent = dict(sms.outbox)
        self.assertIn(link, sent["+8613812345678"])
        self.assertIn("/join/", sent["+8613700001111"])
        stored = str(list(DBTaskResult.objects.values_list("args_kwargs", flat=True)))
        for secret in ("13812345678", "13700001111", link.rstrip("/").rsplit("/", 1)[-1]):
            self.assertNotIn(secret, stored)
        self.assertNotIn(sent["+8613700001111"].rsplit("/", 2)[-2], stored)

    def test_changing_and_withdrawing_each_send_a_receipt(self) -> None:
        self.verify()
        url = self.client.post(
            reverse("visits:apply_form", args=[self.program.slug]), self.form_data()
        )["Location"]
        self.run_receipts()
        self.client.post(url + "change/", self.form_data(choice_2=""))
        self.assertIn("was changed", self.run_receipts()[0])
        self.client.post(url + "withdraw/")
        self.assertIn("was withdrawn", self.run_receipts()[0])
        renewed = self.client.post(url + "new-link/")
        self.assertNotEqual(renewed["Location"], url)
        self.assertIn(renewed["Location"], self.run_receipts()[0])

    def test_submitting_the_form_twice_makes_one_application(self) -> None:
        self.verify()
        url = reverse("visits:apply_form", args=[self.program.slug])
        first = self.client.post(url, self.form_data())
        second = self.client.post(url, self.form_data())
        self.assertEqual(Application.objects.count(), 1)
        self.assertEqual(first["Location"], second["Location"])

    def test_the_form_is_refused_without_a_verified_contact(self) -> None:
        response = self.client.post(
            reverse("visits:apply_form", args=[self.program.slug]), self.form_data()
        )
        self.assertRedirects(response, reverse("visits:apply", args=[self.program.slug]))
        self.assertEqual(Application.objects.count(), 0)

    def test_a_refusal_is_explained_in_chinese_and_keeps_what_was_typed(self) -> None:
        self.verify()
        data = self.form_data(companion_1_id_number="110105194912310021")
        response = self.client.post(
            reverse("visits:apply_form", args=[self.program.slug]),
            data,
            HTTP_ACCEPT_LANGUAGE="zh-CN",
        )
        self.assertEqual(response.status_code, 200)
        self.assertContains(response, "身份证号")
        self.assertContains(response, 'value="韩梅梅"')

    def test_a_wrong_code_is_explained(self) -> None:
        self.client.post(
            reverse("visits:apply", args=[self.program.slug]),
            {"channel": "phone", "destination": "13812345678", "pow": solved_pow("visits-code")},
        )
        response = self.client.post(
            reverse("visits:apply_verify", args=[self.program.slug]), {"code": "abcdef"}
        )
        self.assertContains(response, "That code is not right")

    def test_applying_before_the_window_opens_is_refused_plainly(self) -> None:
        closed = make_program(slug="later", applications_open_at=None, applications_close_at=None)
        response = self.client.get(reverse("visits:apply", args=[closed.slug]))
        self.assertContains(response, "no dates yet", status_code=409)

    def test_the_private_link_changes_and_withdraws_the_application(self) -> None:
        self.verify()
        receipt = self.client.post(
            reverse("visits:apply_form", args=[self.program.slug]), self.form_data()
        )["Location"]
        edit = receipt + "change/"
        response = self.client.post(
            edit,
            {
                "lead_name": "李雷",
                "choice_1": str(self.sessions[2].pk),
                "pow": solved_pow("visits-apply"),
            },
        )
        self.assertRedirects(response, receipt)
        application = Application.objects.get()
        self.assertEqual(application.party_size, 1)
        self.client.post(receipt + "withdraw/")
        application.refresh_from_db()
        self.assertEqual(application.status, Application.Status.WITHDRAWN)

    def test_a_wrong_token_finds_nothing(self) -> None:
        self.verify()
        receipt = self.client.post(
            reverse("visits:apply_form", args=[self.program.slug]), self.form_data()
        )["Location"]
        # Change the token's last two characters to two others: "00" failed
        # about once in 256 runs, when the token already ended in "00".
        wrong = "".join("1" if ch == "0" else "0" for ch in receipt[-3:-1])
        self.assertEqual(self.client.get(receipt[:-3] + wrong + "/").status_code, 404)

    def test_the_calendar_feed_lists_every_session(self) -> None:
        response = self.client.get(reverse("visits:calendar", args=[self.program.slug]))
        self.assertEqual(response["Content-Type"], "text/calendar; charset=utf-8")
        body = response.content.decode()
        self.assertEqual(body.count("BEGIN:VEVENT"), 3)
        self.assertIn("DTSTART:20270215T013000Z", body)
        for line in body.split("\r\n"):
            self.assertLessEqual(len(line.encode()), 75)

    @override_settings(ALLOWED_HOSTS=["visits.example.org", "10.0.0.7"])
    def test_calendar_uids_do_not_change_with_the_host_a_request_used(self) -> None:
        """A calendar app that fetched the feed by IP and by name made two of
        every session: the UIDs carried the Host header."""
        url = reverse("visits:calendar", args=[self.program.slug])

        def uids(host: str) -> list[str]:
            body = self.client.get(url, headers={"host": host}).content.decode()
            return [line for line in body.split("\r\n") if line.startswith("UID:")]

        self.assertEqual(len(uids("visits.example.org")), 3)
        self.assertEqual(uids("visits.example.org"), uids("10.0.0.7"))

    def test_an_unpublished_program_is_not_public(self) -> None:
        draft = make_program(slug="draft", status="draft")
        self.assertEqual(
            self.client.get(reverse("visits:program", args=[draft.slug])).status_code, 404
        )

    def test_without_javascript_the_form_says_why_it_cannot_go_through(self) -> None:
        response = self.client.post(
            reverse("visits:apply", args=[self.program.slug]),
            {"channel": "phone", "destination": "13812345678"},
        )
        self.assertContains(response, "needs JavaScript")
        self.assertEqual(len(sms.outbox), 0)
