"""Issue 17's first three attacks, performed, and the companion's consent.

1. One verification gave unlimited entries (an e-mail, invented numbers).
2. Naming a victim as a companion locked them out of their own application.
3. Changing an application was a free oracle: has phone X applied?
"""

from __future__ import annotations

import re
from typing import Any
from unittest import mock

from django.test import Client, TestCase
from django.urls import reverse
from django_tasks_db.models import DBTaskResult

from headon import sms
from headon.accounts.models import AuditEvent
from headon.testing import PersonasTestCase
from headon.visits import guards, jobs
from headon.visits.errors import VisitError
from headon.visits.forms import ApplicationForm
from headon.visits.models import Application, Draw, PartyMember, PersonKey, Program
from headon.visits.services import applications as apps
from headon.visits.services import draws
from headon.visits.tests.factories import id_number, make_program, solved_pow

ATTACKER, VICTIM, TAKEN, FREE = "13900000009", "13811112222", "13855556666", "13833334444"
INVENTED = ["13900000001", "13900000002", "13900000003"]


def run_jobs() -> dict[str, str]:
    """The notice jobs, as the worker runs them; the SMS sent, by phone."""
    sms.outbox.clear()
    for job in DBTaskResult.objects.filter(task_path__startswith="headon.visits.jobs.notify"):
        getattr(jobs, job.task_path.rsplit(".", 1)[-1]).call(*job.args_kwargs["args"])
    DBTaskResult.objects.all().delete()
    return dict(sms.outbox)


class ApiApplicant:
    """One person with a phone, through the JSON API."""

    def __init__(self, test: TestCase, slug: str, phone: str, address: str = "203.0.113.9"):
        self.test, self.phone = test, phone
        self.base = f"/api/v1/programs/{slug}"
        self.client = Client(REMOTE_ADDR=address)

    def post(self, url: str, body: dict[str, Any], **headers: str) -> Any:
        return self.client.post(url, body, content_type="application/json", headers=headers)

    def verify(self, channel: str = "phone", destination: str = "") -> str:
        from django.core import mail

        destination = destination or self.phone
        body = {"channel": channel, "destination": destination}
        sent = self.post(f"{self.base}/codes", body | {"pow": solved_pow("visits-code")})
        self.test.assertEqual(sent.status_code, 202, sent.content)
        text = sms.outbox[-1][1] if channel == "phone" else str(mail.outbox[-1].body)
        code = re.search(r"\b(\d{6})\b", text).group(1)  # type: ignore[union-attr]
        verified = self.post(f"{self.base}/codes/verify", body | {"code": code})
        return str(verified.json()["verification_token"])

    def apply(self, token: str, companions: list[dict[str, str]], **extra: Any) -> Any:
        body = {
            "verification_token": token,
            "lead": {"name": "Lead"},
            "companions": companions,
            "choices": extra.pop("choices", self.test.session_ids[:1]),  # type: ignore[attr-defined]
            "consent": True,
            "pow": solved_pow("visits-apply"),
        } | extra
        return self.post(f"{self.base}/applications", body)


class OneVerificationOnePartyTests(TestCase):
    """Attack 1: one e-mail verification made three parties with invented
    phone numbers, each a separate party in the draw."""

    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = make_program()
        self.session_ids = list(self.program.sessions.values_list("pk", flat=True))

    def test_an_e_mail_verification_makes_no_party_with_invented_numbers(self) -> None:
        attacker = ApiApplicant(self, self.program.slug, ATTACKER)
        token = attacker.verify("email", "mallory@example.org")
        for number in INVENTED:
            response = attacker.apply(
                token, [], lead={"name": "Mallory", "phone": number, "id_number": id_number()}
            )
            self.assertEqual(response.json()["code"], "lead_phone_required")
        self.assertEqual(Application.objects.count(), 0)
        # The web form no longer offers an e-mail address at all.
        page = self.client.get(reverse("visits:apply", args=[self.program.slug]))
        self.assertNotContains(page, 'name="channel"')

    def test_a_phone_verification_makes_one_party_and_invented_companions_count_for_nothing(
        self,
    ) -> None:
        attacker = ApiApplicant(self, self.program.slug, ATTACKER)
        token = attacker.verify()
        invented = [{"name": f"Nobody {n}", "phone": p} for n, p in enumerate(INVENTED[:2])]
        self.assertEqual(attacker.apply(token, invented).status_code, 201)
        # The control: the same verification again, other numbers, another choice.
        again = attacker.apply(
            token, [{"name": "Nobody", "phone": INVENTED[2]}], choices=[self.session_ids[1]]
        )
        self.assertEqual((again.json()["code"], again.json()["position"]), ("person_taken", 0))
        self.assertEqual(Application.objects.count(), 1)
        # The invented people hold no place, and at the seal they are gone:
        # the draw sees a party of one, the lead is told.
        self.assertEqual(PersonKey.objects.filter(active=True).count(), 1)
        draws.draw_commit(program=self.program, source=Draw.Source.SECRET, actor=None)
        draws.draw_close(program=self.program, actor=None, force=True)
        (party,) = draws.parties_for(self.program)
        self.assertEqual(party.size, 1)
        self.assertEqual(Application.objects.get().members.count(), 1)
        told = run_jobs()
        self.assertIn("no longer in your party", told["+86" + ATTACKER])
        self.assertTrue(AuditEvent.objects.filter(action="visits.companions_dropped").exists())


class NamedWithoutConsentTests(TestCase):
    """Attack 2: naming a victim's phone or ID number as a companion made
    the victim's own application fail with `person_taken`, for good."""

    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = make_program()
        self.session_ids = list(self.program.sessions.values_list("pk", flat=True))
        attacker = ApiApplicant(self, self.program.slug, ATTACKER)
        victim_named = {"name": "Victim", "phone": VICTIM, "id_number": id_number(42)}
        self.assertEqual(attacker.apply(attacker.verify(), [victim_named]).status_code, 201)
        self.attacker_party = Application.objects.get()

    def test_the_victim_still_applies_themselves(self) -> None:
        victim = ApiApplicant(self, self.program.slug, VICTIM, address="198.51.100.7")
        response = victim.apply(
            victim.verify(), [], lead={"name": "Victim", "id_number": id_number(42)}
        )
        self.assertEqual(response.status_code, 201, response.content)

    def test_control_only_the_victims_own_confirmation_holds_them(self) -> None:
        """Had they agreed (confirmed through their phone), they would hold
        that place: consent is the only way in."""
        invite = run_jobs()["+86" + VICTIM]
        link = re.search(r"https?://\S+", invite).group(0)  # type: ignore[union-attr]
        self.client.post(link, {"answer": "confirm"})
        victim = ApiApplicant(self, self.program.slug, VICTIM, address="198.51.100.7")
        response = victim.apply(victim.verify(), [])
        self.assertEqual(response.json()["code"], "person_taken")

    def verify_on_the_web(self, phone: str) -> Any:
        self.client.post(
            reverse("visits:apply", args=[self.program.slug]),
            {"destination": phone, "pow": solved_pow("visits-code")},
        )
        code = re.search(r"\b(\d{6})\b", sms.outbox[-1][1]).group(1)  # type: ignore[union-attr]
        self.client.post(reverse("visits:apply_verify", args=[self.program.slug]), {"code": code})
        return self.client.get(reverse("visits:apply_form", args=[self.program.slug]))

    def test_the_victim_sees_they_are_named_never_by_whom_and_leaves(self) -> None:
        # Even a confirmed (say, tricked) victim frees themselves.
        PartyMember.objects.filter(position=1).update(status="confirmed")
        PersonKey.objects.update(active=True)
        page = self.verify_on_the_web(VICTIM)
        self.assertContains(page, "You are named in another party")
        for whose in ("Lead", self.attacker_party.reference, ATTACKER[-4:]):
            self.assertNotContains(page, whose)
        response = self.client.post(
            reverse("visits:apply_leave", args=[self.program.slug]), follow=True
        )
        self.assertContains(response, "no longer in any other party")
        self.assertNotContains(response, "You are named in another party")
        self.attacker_party.refresh_from_db()
        self.assertEqual(
            (self.attacker_party.party_size, self.attacker_party.members.count()), (1, 1)
        )
        event = AuditEvent.objects.get(action="visits.companion_left")
        self.assertEqual(event.target_id, str(self.attacker_party.pk))
        self.assertIn("companion left your party", run_jobs()["+86" + ATTACKER])
        # Free now: the victim applies.
        data = {
            "lead_name": "Victim",
            "choice_1": str(self.session_ids[0]),
            "consent": "on",
            "submission_id": "v1",
            "pow": solved_pow("visits-apply"),
        }
        self.client.post(reverse("visits:apply_form", args=[self.program.slug]), data)
        self.assertEqual(Application.objects.count(), 2)

    def test_the_named_person_declines_from_their_link(self) -> None:
        invite = run_jobs()["+86" + VICTIM]
        self.assertIn("Lead named you", invite)
        link = re.search(r"https?://\S+", invite).group(0)  # type: ignore[union-attr]
        self.assertContains(self.client.get(link), "I do not know them")
        self.client.post(link, {"answer": "decline"})
        self.assertEqual(Application.objects.get().members.count(), 1)
        self.assertEqual(self.client.get(link).status_code, 404)
        self.assertTrue(AuditEvent.objects.filter(action="visits.companion_declined").exists())


class CompanionConsentTests(TestCase):
    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = make_program()
        self.session_ids = list(self.program.sessions.values_list("pk", flat=True))
        lead = ApiApplicant(self, self.program.slug, ATTACKER)
        friends = [{"name": "Han", "phone": VICTIM}, {"name": "Wei", "phone": "13722223333"}]
        created = lead.apply(lead.verify(), friends).json()
        self.url = reverse(
            "visits:application",
            args=[self.program.slug, created["reference"], created["access_token"]],
        )
        self.api = lead

    def test_the_lead_sees_the_party_waiting_and_can_resend_a_few_times(self) -> None:
        page = self.client.get(self.url)
        self.assertContains(page, "Waiting for companions")
        self.assertContains(page, "not confirmed yet", count=2)
        invites = {to for to, body in run_jobs().items() if "/join/" in body}
        self.assertEqual(invites, {"+86" + VICTIM, "+8613722223333"})
        _visits, slug, _a, reference, token = self.url.strip("/").split("/")
        resend = reverse("visits:companion_resend", args=[slug, reference, token, 1])
        for _n in range(3):
            self.assertContains(self.client.post(resend, follow=True), "sent again")
        self.assertContains(self.client.post(resend, follow=True), "sent several times")
        run_jobs()
        self.assertEqual([to for to, _body in sms.outbox], ["+86" + VICTIM] * 3)

    def test_changing_the_party_again_and_again_cannot_flood_a_companion(self) -> None:
        """The lead writes the name in the invitation, and each change names
        the companions afresh: a stranger's phone gets five a day at most."""
        application = Application.objects.get()
        run_jobs()
        to_victim = 0
        for n in range(12):
            # Out and in again: a new row, so a new invitation each time in.
            apps.application_change(
                application=application,
                lead=apps.PersonInput(name="Buy now at example.com"),
                companions=[apps.PersonInput(name="Han", phone=VICTIM if n % 2 else FREE)],
                session_ids=self.session_ids[:1],
            )
            to_victim += sum(
                to == "+86" + VICTIM and "/join/" in body for to, body in run_jobs().items()
            )
        self.assertEqual(to_victim, 4)  # six asked; five with the first, before the changes

    def test_a_change_keeps_a_waiting_companions_link_and_sends_nothing_again(self) -> None:
        link = re.search(r"https?://\S+", run_jobs()["+86" + VICTIM]).group(0)  # type: ignore[union-attr]
        apps.application_change(
            application=Application.objects.get(),
            lead=apps.PersonInput(name="Lead"),
            companions=[apps.PersonInput(name="Han Meimei", phone=VICTIM)],
            session_ids=self.session_ids[1:2],
        )
        self.assertEqual([body for body in run_jobs().values() if "/join/" in body], [])
        self.assertContains(self.client.get(link), "I agree to come")

    def test_a_companion_confirms_with_a_code_of_their_own_through_the_api(self) -> None:
        reference = Application.objects.get().reference
        han = ApiApplicant(self, self.program.slug, VICTIM, address="198.51.100.7")
        token = han.verify()
        wrong = han.post(
            f"{han.base}/companions/confirm",
            {"verification_token": token, "reference": "AAAA-AAAA"},
        )
        self.assertEqual(wrong.json()["code"], "not_named")
        done = han.post(
            f"{han.base}/companions/confirm", {"verification_token": token, "reference": reference}
        )
        self.assertEqual(
            done.json(), {"reference": reference, "position": 1, "status": "confirmed"}
        )
        page = self.client.get(self.url)
        self.assertContains(page, "not confirmed yet", count=1)


class NoOracleTests(TestCase):
    """Attack 3: with a known-taken person as a sentinel, a change named
    which person was taken, with no limit and no proof-of-work: 100 probes
    took 0.4 s. Now the answers to a taken and a free number are the same,
    and every probe pays like a submission."""

    def setUp(self) -> None:
        sms.outbox.clear()
        self.program = make_program()
        self.session_ids = list(self.program.sessions.values_list("pk", flat=True))
        for phone in (VICTIM, TAKEN):
            victim = ApiApplicant(self, self.program.slug, phone, address="198.51.100.7")
            self.assertEqual(victim.apply(victim.verify(), []).status_code, 201)
        self.attacker = ApiApplicant(self, self.program.slug, ATTACKER)
        created = self.attacker.apply(self.attacker.verify(), []).json()
        self.url = f"/api/v1/applications/{created['reference']}"
        self.token = created["access_token"]
        self.web = reverse(
            "visits:application_edit",
            args=[self.program.slug, created["reference"], created["access_token"]],
        )

    def api_probe(self, number: str) -> tuple[int, Any]:
        sentinel = {"name": "Sentinel", "phone": VICTIM}
        body = {
            "lead": {"name": "Lead"},
            # The sentinel after the probe: refused either way (nothing
            # changes), and the old refusal named the first taken position.
            "companions": [{"name": "Probe", "phone": number}, sentinel],
            "choices": self.session_ids[:1],
            "pow": solved_pow("visits-apply"),
        }
        response = self.attacker.client.put(
            self.url, body, content_type="application/json", headers={"X-Access-Token": self.token}
        )
        data = response.json()
        for member in data.get("members", []):
            member.pop("phone_masked")  # what the attacker typed, shown back
        return response.status_code, data

    def web_probe(self, number: str) -> tuple[int, str]:
        data = {
            "lead_name": "Lead",
            "companion_1_name": "Probe",
            "companion_1_phone": number,
            "companion_2_name": "Sentinel",
            "companion_2_phone": VICTIM,
            "choice_1": str(self.session_ids[0]),
            "pow": solved_pow("visits-apply"),
        }
        response = self.attacker.client.post(self.web, data, follow=True)
        page = response.content.decode()
        page = re.sub(r"\d{3}\*+\d{4}", "masked", page)  # the numbers typed, masked
        page = re.sub(r'name="csrfmiddlewaretoken" value="[^"]+"', "", page)
        return response.status_code, page

    def test_the_sentinel_probe_learns_nothing(self) -> None:
        self.assertEqual(self.api_probe(TAKEN), self.api_probe(FREE))
        self.assertEqual(self.web_probe(TAKEN), self.web_probe(FREE))

    def test_control_the_old_refusal_would_tell_them_apart(self) -> None:
        """The same probe against the check that looked at every person (as
        before issue 17): the answers differ, so equal answers above mean
        nothing was learned, not a blind harness."""

        def every_person(program: Any, people: Any, exclude: Any = None) -> None:
            taken = PersonKey.objects.filter(program=program, active=True)
            taken = taken.exclude(application=exclude) if exclude else taken
            for position, person in enumerate(people):
                if taken.filter(key=person.place_key()).exists():
                    raise VisitError("person_taken", position=position)

        with mock.patch.object(apps, "_raise_if_taken", every_person):
            self.assertNotEqual(self.api_probe(TAKEN), self.api_probe(FREE))

    def test_a_change_pays_the_proof_of_work_and_shares_the_submit_limit(self) -> None:
        body = {"lead": {"name": "Lead"}, "choices": self.session_ids[:1]}
        headers = {"X-Access-Token": self.token}
        put = self.attacker.client.put
        self.assertEqual(
            put(self.url, body, content_type="application/json", headers=headers).status_code, 422
        )
        forged = put(
            self.url, body | {"pow": "forged"}, content_type="application/json", headers=headers
        )
        self.assertEqual((forged.status_code, forged.json()["code"]), (403, "pow_invalid"))
        # The submission and the forged change used this address's budget
        # (two here): the next change, by the API or the web, waits.
        with mock.patch.object(guards, "SUBMITS_PER_ADDRESS", (2, 600)):
            self.assertEqual(self.api_probe(FREE)[0], 429)
            self.assertIn("Too many attempts", self.web_probe(FREE)[1])


class IdNumberSettingTests(PersonasTestCase):
    def test_a_coordinator_asks_every_person_for_an_id_number(self) -> None:
        self.client.force_login(self.erin)
        self.client.post(
            reverse("visits_staff:program_create"),
            {
                "slug": "ids-2027",
                "title_en": "With ID numbers",
                "title_zh": "需身份证号",
                "party_size_max": "2",
                "choices_max": "1",
                "id_number_required": "on",
            },
        )
        program = Program.objects.get(slug="ids-2027")
        self.assertTrue(program.id_number_required)
        form = ApplicationForm(program=program, sessions=[])
        self.assertEqual(str(form.fields["lead_id_number"].label), "Your ID number")
        self.assertEqual(str(form.fields["companion_1_id_number"].label), "ID number")
