"""The gate without a scan: a short code a person can type, a look-up by
reference or name, and no-shows. Seen from the attacker's side too: a gate
account (or whoever holds its phone) typing guesses or names by script
learns nothing it could not see at the gate, and is stopped by the limit."""

from __future__ import annotations

import datetime as dt
import io
import json
import secrets
import subprocess
import sys
import tempfile
from pathlib import Path

import time_machine
from django.core.management import call_command
from django.test import SimpleTestCase, override_settings
from django.urls import reverse
from django.utils import translation

from headon.accounts.models import AuditEvent
from headon.testing import PersonasTestCase
from headon.visits import tickets, verify_ticket
from headon.visits.models import Program, Session, Ticket
from headon.visits.services import gate
from headon.visits.services.tickets import private_key, short_code, short_key
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_gate import NOW, confirmed_party

KEY = tickets.short_code_key(tickets.private_key_from_bytes(bytes(range(32))))


class ShortCodeCoreTests(SimpleTestCase):
    def test_a_short_code_is_short_and_checks_out_for_its_session_only(self) -> None:
        code = tickets.short_code(ticket_id=1234, session_id=7, key=KEY)
        self.assertEqual(len(code), 3 + tickets.SHORT_CHECK)
        self.assertEqual(tickets.short_code_matches(code, session_id=7, key=KEY), 1234)
        self.assertIsNone(tickets.short_code_matches(code, session_id=8, key=KEY))
        other_key = tickets.short_code_key(tickets.generate_key())
        self.assertIsNone(tickets.short_code_matches(code, session_id=7, key=other_key))

    def test_it_reads_the_code_as_people_type_it(self) -> None:
        code = tickets.short_code(ticket_id=99, session_id=1, key=KEY)
        typed = tickets.format_short_code(code).lower().replace("0", "o")
        self.assertIn("-", typed)
        self.assertEqual(tickets.short_code_matches(f" {typed} ", session_id=1, key=KEY), 99)
        full_width = "".join(chr(ord(c) + 0xFEE0) for c in code)  # a Chinese input method
        self.assertEqual(tickets.short_code_matches(full_width, session_id=1, key=KEY), 99)

    def test_every_changed_character_and_another_ticket_id_fail(self) -> None:
        code = tickets.short_code(ticket_id=4321, session_id=3, key=KEY)
        for at in range(len(code)):
            for char in "0Z":
                forged = code[:at] + char + code[at + 1 :]
                if forged != code:
                    self.assertIsNone(tickets.short_code_matches(forged, session_id=3, key=KEY))

    def test_nonsense_is_not_a_short_code(self) -> None:
        for text in ("", "ABC", "1" * 30, "U" * 13, "!" * 12, "ZZZZZZZZ" + "0" * 10):
            self.assertIsNone(tickets.parse_short_code(text), text)

    def test_a_script_guessing_checks_for_known_ticket_ids_finds_nothing(self) -> None:
        # 20,000 guesses against 60 ticket ids at once, far more than the
        # gate's limit lets one account type in a day (120 per 10 minutes is
        # 17,280): with 50 check bits the expected hits are about 1e-9.
        valid = {tickets.short_code(ticket_id=i, session_id=5, key=KEY) for i in range(1, 61)}
        hits = 0
        for n in range(20_000):
            head = tickets.short_code(ticket_id=1 + n % 60, session_id=5, key=b"x")[:-10]
            guess = head + "".join(
                secrets.choice("0123456789ABCDEFGHJKMNPQRSTVWXYZ") for _ in "x" * 10
            )
            hits += tickets.short_code_matches(guess, session_id=5, key=KEY) is not None
        self.assertEqual(hits, 0)
        # The control: the real codes do match.
        self.assertEqual(
            sum(tickets.short_code_matches(c, session_id=5, key=KEY) is not None for c in valid), 60
        )
        self.assertGreaterEqual(tickets.SHORT_CHECK * 5, 50)


@time_machine.travel(NOW, tick=False)
class TypedCodeAtTheGateTests(PersonasTestCase):
    program: Program
    session: Session
    other: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="typed-days")
        cls.session, cls.other = list(cls.program.sessions.order_by("starts_at")[:2])

    def scan(self, code: str, session: Session | None = None) -> gate.CheckIn:
        return gate.check_in(code=code, session=session or self.session, actor=self.gus)

    def test_a_typed_short_code_checks_in_once(self) -> None:
        (ticket,) = confirmed_party(self.session)
        typed = short_code(ticket)
        self.assertLess(len(typed), 20)
        self.assertTrue(self.scan(typed.lower()).ok)
        self.assertEqual(self.scan(typed).reason, "already")
        # The long signed code still works, and names the same ticket.
        self.assertEqual(self.scan(ticket.code).reason, "already")

    def test_a_short_code_of_another_session_says_so(self) -> None:
        (ticket,) = confirmed_party(self.other)
        self.assertEqual(self.scan(short_code(ticket)).reason, "wrong_session")

    def test_a_wrong_check_and_an_unknown_ticket_look_alike(self) -> None:
        (ticket,) = confirmed_party(self.session)
        real = tickets.normalise_typed_code(short_code(ticket))
        forged = real[:-1] + ("0" if real[-1] != "0" else "1")
        missing = tickets.short_code(
            ticket_id=ticket.pk + 500, session_id=self.session.pk, key=b"k"
        )
        first, second = self.scan(forged), self.scan(missing)
        self.assertEqual((first.reason, first.message), (second.reason, second.message))
        self.assertEqual(first.reason, "invalid")
        self.assertIsNone(first.ticket)
        self.assertEqual(first.visitor, "")  # no name leaks from a guess
        self.assertIsNone(Ticket.objects.get(pk=ticket.pk).checked_in_at)

    @override_settings(HEADON_GATE_TYPED_LIMIT=5)
    def test_a_script_typing_guesses_is_stopped_and_then_even_a_real_code_waits(self) -> None:
        (ticket,) = confirmed_party(self.session)
        real = short_code(ticket)
        for n in range(5):
            guess = tickets.short_code(
                ticket_id=ticket.pk, session_id=self.session.pk, key=bytes([n])
            )
            self.assertEqual(self.scan(guess).reason, "invalid")
        self.assertEqual(self.scan(real).reason, "rate_limited")
        self.assertIsNone(Ticket.objects.get(pk=ticket.pk).checked_in_at)
        # Scanned long codes are not what a script types: they still work.
        self.assertTrue(self.scan(ticket.code).ok)

    @override_settings(HEADON_GATE_TYPED_LIMIT=5)
    def test_the_control_the_real_code_passes_under_the_limit(self) -> None:
        (ticket,) = confirmed_party(self.session)
        for n in range(4):
            self.scan(
                tickets.short_code(ticket_id=ticket.pk, session_id=self.session.pk, key=bytes([n]))
            )
        self.assertTrue(self.scan(short_code(ticket)).ok)

    def test_the_short_key_is_derived_from_the_signing_key(self) -> None:
        self.assertEqual(short_key(), tickets.short_code_key(private_key()))

    def test_the_ticket_page_shows_the_short_code(self) -> None:
        from headon.visits.services.applications import access_token

        (ticket,) = confirmed_party(self.session)
        application = ticket.member.application
        url = reverse(
            "visits:tickets",
            args=[self.program.slug, application.reference, access_token(application)],
        )
        self.assertContains(self.client.get(url), short_code(ticket))


@time_machine.travel(NOW, tick=False)
class LookupTests(PersonasTestCase):
    program: Program
    session: Session
    other: Session

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.program = make_program(slug="lookup-days")
        cls.session, cls.other = list(cls.program.sessions.order_by("starts_at")[:2])

    def setUp(self) -> None:
        # A page requested in Chinese by an earlier test leaves the thread's
        # language set; the messages below are read in English.
        translation.activate("en")
        self.addCleanup(translation.deactivate)

    def post(self, name: str, data: dict[str, str], *args: int) -> str:
        self.client.force_login(self.gus)
        response = self.client.post(reverse(f"visits_staff:{name}", args=args), data)
        self.assertEqual(response.status_code, 200)
        return response.content.decode()

    def test_a_visitor_is_found_by_reference_or_name_and_checked_in(self) -> None:
        tickets_ = confirmed_party(self.session, size=2)
        reference = tickets_[0].member.application.reference
        page = self.post("gate_lookup", {"q": reference.lower()}, self.session.pk)
        self.assertIn("Wang 0", page)
        self.assertIn("Wang 1", page)
        found = gate.lookup(query="wang 1", session=self.session, actor=self.gus)
        self.assertEqual([t.pk for t in found.tickets], [tickets_[1].pk])
        page = self.post("gate_check_in_found", {"gate": "North"}, self.session.pk, tickets_[1].pk)
        self.assertIn("gate-ok", page)
        row = Ticket.objects.get(pk=tickets_[1].pk)
        self.assertEqual(row.gate, "North")
        self.assertEqual(
            AuditEvent.objects.filter(action="ticket_check_in_lookup").get().target_id,
            str(row.pk),
        )
        again = self.post("gate_check_in_found", {}, self.session.pk, tickets_[1].pk)
        self.assertIn('data-gate-result="already"', again)

    def test_ticket_ids_posted_at_a_shut_gate_reveal_no_name(self) -> None:
        (ticket,) = confirmed_party(self.other)  # a week later: its gate is shut
        self.client.force_login(self.gus)
        url = reverse("visits_staff:gate_check_in_found", args=[self.other.pk, ticket.pk])
        page = self.client.post(url).content.decode()
        self.assertIn('data-gate-result="gate_closed"', page)
        self.assertNotIn(ticket.member.name, page)
        self.assertIsNone(Ticket.objects.get(pk=ticket.pk).checked_in_at)
        # The control: at its own time the same post checks the visitor in, by name.
        with time_machine.travel(self.other.starts_at, tick=False):
            page = self.client.post(url).content.decode()
        self.assertIn(ticket.member.name, page)
        self.assertIn("gate-ok", page)

    def test_a_lookup_is_logged_without_the_name_typed(self) -> None:
        confirmed_party(self.session)
        gate.lookup(query="Wang", session=self.session, actor=self.gus)
        event = AuditEvent.objects.get(action="gate_lookup")
        self.assertEqual(event.data, {"results": 1})

    def test_another_sessions_visitors_are_not_found_nor_checked_in_here(self) -> None:
        (ticket,) = confirmed_party(self.other)
        self.assertEqual(
            gate.lookup(
                query=ticket.member.application.reference, session=self.session, actor=self.gus
            ).tickets,
            [],
        )
        self.client.force_login(self.gus)
        url = reverse("visits_staff:gate_check_in_found", args=[self.session.pk, ticket.pk])
        self.assertEqual(self.client.post(url).status_code, 404)

    def test_an_attacker_cannot_list_a_session_by_looking_up_letters(self) -> None:
        for _ in range(11):
            confirmed_party(self.session)
        # One character is too little; a common part of many names shows none.
        self.assertEqual(gate.lookup(query="W", session=self.session, actor=self.gus).tickets, [])
        crowd = gate.lookup(query="Wang", session=self.session, actor=self.gus)
        self.assertEqual(crowd.tickets, [])
        self.assertIn("More than ten", crowd.message)
        # Before the gate opens (a week early), nothing at all.
        with time_machine.travel(NOW - dt.timedelta(days=7), tick=False):
            early = gate.lookup(query="Wang 0", session=self.session, actor=self.gus)
        self.assertEqual(early.tickets, [])
        self.assertIn("only while", early.message)

    @override_settings(HEADON_GATE_TYPED_LIMIT=3)
    def test_lookups_count_against_the_accounts_limit(self) -> None:
        (ticket,) = confirmed_party(self.session)
        for _ in range(3):
            gate.lookup(query="nobody here", session=self.session, actor=self.gus)
        blocked = gate.lookup(query=ticket.member.name, session=self.session, actor=self.gus)
        self.assertEqual(blocked.tickets, [])
        self.assertIn("try again", blocked.message)

    def test_no_shows_are_marked_after_the_start_and_a_late_check_in_clears_them(self) -> None:
        came, late, away = (confirmed_party(self.session)[0] for _ in range(3))
        self.assertTrue(gate.check_in(code=came.code, session=self.session, actor=self.gus).ok)
        self.assertEqual(gate.mark_no_shows(session=self.session, actor=self.gus), 0)  # not started
        start = self.session.starts_at + dt.timedelta(minutes=20)
        with time_machine.travel(start, tick=False):
            self.client.force_login(self.gus)
            response = self.client.post(
                reverse("visits_staff:gate_no_shows", args=[self.session.pk])
            )
            self.assertEqual(response.status_code, 302)
            self.assertEqual(gate.no_show_count(self.session), 2)
            self.assertTrue(gate.check_in(code=late.code, session=self.session, actor=self.gus).ok)
        self.assertIsNone(Ticket.objects.get(pk=late.pk).no_show_at)
        self.assertIsNotNone(Ticket.objects.get(pk=away.pk).no_show_at)
        self.assertIsNone(Ticket.objects.get(pk=came.pk).no_show_at)

    def test_the_desk_and_strangers_cannot_look_up(self) -> None:
        confirmed_party(self.session)
        url = reverse("visits_staff:gate_lookup", args=[self.session.pk])
        self.client.force_login(self.bob)
        self.assertEqual(self.client.post(url, {"q": "Wang"}).status_code, 403)
        self.client.logout()
        self.assertEqual(self.client.post(url, {"q": "Wang"}).status_code, 302)
        self.assertFalse(AuditEvent.objects.filter(action="gate_lookup").exists())


@time_machine.travel(NOW, tick=False)
class OfflineShortCodeTests(PersonasTestCase):
    def test_a_gate_laptop_checks_a_short_code_offline_with_the_derived_key(self) -> None:
        program = make_program(slug="offline-days", sessions=1)
        session = program.sessions.get()
        (ticket,) = confirmed_party(session)
        with tempfile.TemporaryDirectory() as tmp:
            key = Path(tmp) / "short.key"
            call_command("ticket_short_key", str(key), stdout=io.StringIO())
            self.assertEqual(key.stat().st_mode & 0o777, 0o600)
            with self.assertRaises(FileExistsError):  # never overwritten
                call_command("ticket_short_key", str(key), stdout=io.StringIO())
            script = Path(verify_ticket.__file__)

            def run(code: str, session_id: int) -> subprocess.CompletedProcess[str]:
                args = ["--short-key", str(key), "--session", str(session_id), code]
                return subprocess.run(
                    [sys.executable, str(script), *args],
                    capture_output=True,
                    text=True,
                    check=False,
                )

            good = run(short_code(ticket).lower(), session.pk)
            self.assertEqual(good.returncode, 0, good.stderr)
            self.assertEqual(json.loads(good.stdout)["ticket_id"], ticket.pk)
            self.assertEqual(run(short_code(ticket), session.pk + 1).returncode, 1)
            forged = short_code(ticket)[:-1] + ("0" if short_code(ticket)[-1] != "0" else "1")
            self.assertEqual(run(forged, session.pk).returncode, 1)
