from __future__ import annotations

import datetime as dt
import hashlib
import json
import subprocess
import sys
import tempfile
from pathlib import Path

import time_machine
from django.urls import reverse

from headon.testing import PersonasTestCase
from headon.visits import tickets
from headon.visits.models import Draw, Offer, Program, Ticket, WaitlistEntry
from headon.visits.services.applications import access_token
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import (
    OFFSET,
    ROUND,
    SIGNATURE,
    make_application,
    seal_moment,
)
from headon.visits.views.draw import VERIFIER


class DrawPagesTests(PersonasTestCase):
    def setUp(self) -> None:
        self.program = make_program(sessions=2, capacity=4)
        self.sessions = list(self.program.sessions.order_by("starts_at"))
        self.applications = [
            make_application(self.program, n, 1 + n % 3, self.sessions) for n in range(8)
        ]
        self.staff_url = reverse("visits_staff:draw", args=[self.program.slug])

    def _draw_through_the_pages(self, tiers: bool = False) -> Draw:
        """Commit, seal and run from the coordinator's page. The window closes
        just before the seal that names the recorded round ROUND, so the draw
        runs on its real signature."""
        self.client.force_login(self.erin)
        moment = seal_moment()
        Program.objects.filter(pk=self.program.pk).update(
            applications_open_at=moment - dt.timedelta(days=10),
            applications_close_at=moment - dt.timedelta(minutes=1),
        )
        commit = {"action": "commit", "source": "secret", "mechanism": "group_rsd_fair"}
        commit |= {"beacon_offset": str(OFFSET), **({"tiers": "on"} if tiers else {})}
        with time_machine.travel(moment - dt.timedelta(days=1)):
            self.client.post(self.staff_url, commit)
            public = self.client.get(reverse("visits:draw", args=[self.program.slug]))
            draw = Draw.objects.get()
            self.assertContains(public, draw.commitment)
            self.assertContains(
                public, "The first drand quicknet round at or after the seal, plus 100"
            )
            response = self.client.post(self.staff_url, {"action": "close"}, follow=True)
            self.assertContains(response, "Applications are still open")
        with time_machine.travel(moment, tick=False):
            self.client.post(self.staff_url, {"action": "close"})
        draw.refresh_from_db()
        self.assertEqual((draw.stage, draw.beacon_round), (Draw.Stage.CLOSED, ROUND))
        response = self.client.post(
            self.staff_url, {"action": "run", "beacon_value": "00"}, follow=True
        )
        self.assertContains(response, "This is not the signature of drand quicknet round 9683710")
        drand_json = json.dumps({"round": ROUND, "randomness": "x", "signature": SIGNATURE})
        self.client.post(self.staff_url, {"action": "run", "beacon_value": drand_json})
        draw.refresh_from_db()
        self.assertEqual(draw.stage, Draw.Stage.DONE)
        return draw

    def test_a_coordinator_draws_and_anyone_verifies_with_the_downloads(self) -> None:
        draw = self._draw_through_the_pages(tiers=True)
        self.client.logout()
        page = self.client.get(reverse("visits:draw", args=[self.program.slug]))
        self.assertContains(page, draw.seed)
        self.assertContains(page, draw.sealed_hash)
        self.assertContains(page, "On: lower tiers are drawn first")
        self.assertContains(page, SIGNATURE)
        self.assertContains(page, hashlib.sha256(VERIFIER.read_bytes()).hexdigest())
        self.assertContains(page, f"sealed={draw.sealed_hash}")  # the line to post elsewhere
        self.assertContains(page, "https://web.archive.org/save/")
        record = self.client.get(reverse("visits:draw_record", args=[self.program.slug]))
        verifier = self.client.get(reverse("visits:verifier"))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "record.json").write_bytes(record.content)
            (Path(tmp) / "verify_draw.py").write_bytes(verifier.content)
            run = subprocess.run(
                [sys.executable, "verify_draw.py", "record.json", "--secret", draw.revealed],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
            )
            self.assertEqual(run.returncode, 0, run.stdout)
            self.assertIn("MATCH", run.stdout)
            tampered = json.loads(record.content)
            tampered["seed"] = "00" * 32
            (Path(tmp) / "record.json").write_text(json.dumps(tampered))
            run = subprocess.run(
                [sys.executable, "verify_draw.py", "record.json", "--secret", draw.revealed],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
            )
            self.assertEqual(run.returncode, 1)

    def test_only_coordinators_run_the_draw(self) -> None:
        for user in (self.gus, self.bob, self.oscar):
            self.client.force_login(user)
            self.assertEqual(self.client.get(self.staff_url).status_code, 403)
            self.assertEqual(
                self.client.post(self.staff_url, {"action": "commit"}).status_code, 403
            )
        self.assertFalse(Draw.objects.exists())

    def test_the_applicant_confirms_and_gets_tickets_or_declines(self) -> None:
        self._draw_through_the_pages()
        self.client.logout()
        offer = Offer.objects.order_by("-seats").first()
        assert offer is not None
        application = offer.application
        token = access_token(application)
        page = reverse("visits:application", args=[self.program.slug, application.reference, token])
        self.assertContains(self.client.get(page), "You have a place")
        respond = reverse(
            "visits:offer_respond", args=[self.program.slug, application.reference, token]
        )
        self.client.post(respond, {"answer": "confirm"})
        offer.refresh_from_db()
        self.assertEqual(offer.status, Offer.Status.CONFIRMED)
        tickets_page = self.client.get(
            reverse("visits:tickets", args=[self.program.slug, application.reference, token])
        )
        self.assertEqual(tickets_page.content.count(b"<svg"), offer.seats)
        code = Ticket.objects.filter(offer=offer).first().code  # type: ignore[union-attr]
        self.assertContains(tickets_page, tickets.format_code(code))
        ics = self.client.get(
            reverse("visits:tickets_ics", args=[self.program.slug, application.reference, token])
        )
        self.assertTrue(ics.content.startswith(b"BEGIN:VCALENDAR"))
        key = self.client.get(reverse("visits:ticket_key"))
        public = tickets.public_key_from_pem(key.content)
        self.assertEqual(
            tickets.verify_ticket(code, tickets.public_keys_by_id([public])).ticket_id,
            Ticket.objects.get(code=code).pk,
        )
        # Anyone can check it offline with the downloaded verifier and key.
        script = self.client.get(reverse("visits:ticket_verifier"))
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "verify_ticket.py").write_bytes(script.content)
            (Path(tmp) / "key.pem").write_bytes(key.content)
            checked = subprocess.run(
                [sys.executable, "verify_ticket.py", "--key", "key.pem", tickets.format_code(code)],
                cwd=tmp,
                capture_output=True,
                text=True,
                check=False,
            )
        self.assertEqual(checked.returncode, 0, checked.stdout + checked.stderr)
        # Someone else's token sees nothing.
        other = reverse("visits:tickets", args=[self.program.slug, application.reference, "0" * 36])
        self.assertEqual(self.client.get(other).status_code, 404)
        # Declining frees the seats for the waitlist.
        self.client.post(respond, {"answer": "decline"})
        offer.refresh_from_db()
        self.assertEqual(offer.status, Offer.Status.DECLINED)
        self.assertFalse(Ticket.objects.filter(offer=offer, void_at__isnull=True).exists())

    def test_a_waitlisted_party_sees_its_place(self) -> None:
        self._draw_through_the_pages()
        entry = WaitlistEntry.objects.order_by("position").first()
        assert entry is not None
        application = entry.application
        token = access_token(application)
        page = self.client.get(
            reverse("visits:application", args=[self.program.slug, application.reference, token])
        )
        self.assertContains(page, f"number {entry.position} on the waitlist")

    def test_no_record_before_the_draw(self) -> None:
        self.assertEqual(
            self.client.get(reverse("visits:draw_record", args=[self.program.slug])).status_code,
            404,
        )
        self.assertContains(
            self.client.get(reverse("visits:draw", args=[self.program.slug])), "not been committed"
        )
