"""Issue 18: a draw's commitment and sealed hash get a time nobody controls.
The night's digest lists every draw committed and every application list
sealed since the previous night's cut-off, so the published, archived and
fed revision dates them; the reconciler checks the section."""

from __future__ import annotations

import copy
import datetime as dt
import json
import re
from typing import Any

import time_machine
from django.test import override_settings
from django.urls import reverse

from headon.desk.digest import reconcile_digest
from headon.desk.digest import services as digests
from headon.desk.models import DigestRevision
from headon.desk.tests.test_digest_ledger import CUTOFF, DAY, DOC, MORNING, Day, recount
from headon.testing import PersonasTestCase
from headon.visits.models import Draw, Program
from headon.visits.services.draws import draw_close, draw_commit
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import make_application

NEXT_DAY = DAY + dt.timedelta(days=1)


@override_settings(HEADON_EMBEDDER=["none"], HEADON_DIGEST_CUTOFF="23:00")
class DigestDrawsTests(PersonasTestCase):
    def setUp(self) -> None:
        Day(self).build()
        yesterday_noon = MORNING - dt.timedelta(days=1)
        with time_machine.travel(yesterday_noon):
            # Committed the day before: only its seal, on D, is D's.
            self.sealed_program = make_program(
                slug="spring", title_en="Spring open day", title_zh="春季开放日"
            )
            sessions = list(self.sealed_program.sessions.all())
            for n in range(3):
                make_application(self.sealed_program, n, 2, sessions)
            draw_commit(program=self.sealed_program, source="beacon", actor=self.erin)
            self.committed_program = make_program(
                slug="summer", title_en="Summer open day", title_zh="夏季开放日"
            )
            self.draft = make_program(slug="hidden", title_en="Hidden", status=Program.Status.DRAFT)
            self.late_program = make_program(slug="autumn", title_en="Autumn open day")
        with time_machine.travel(MORNING + dt.timedelta(hours=1), tick=False):
            self.committed = draw_commit(
                program=self.committed_program, source="secret", actor=self.erin
            )
            draw_commit(program=self.draft, source="secret", actor=self.erin)
        with time_machine.travel(MORNING + dt.timedelta(hours=2), tick=False):
            self.sealed = draw_close(program=self.sealed_program, actor=self.erin, force=True)
        # After D's cut-off, on D's calendar date: the next night's.
        with time_machine.travel(CUTOFF + dt.timedelta(minutes=30), tick=False):
            self.late = draw_commit(program=self.late_program, source="secret", actor=self.erin)

    def publish(self, day: dt.date, at: dt.datetime) -> None:
        with time_machine.travel(at, tick=False):
            revision, created = digests.digest_publish(day, automatic=True)
        self.assertTrue(created and revision is not None)

    def json_of(self, day: dt.date) -> dict[str, Any]:
        response = self.client.get(reverse("desk:digest_json", args=[day.isoformat()]))
        self.assertEqual(response.status_code, 200)
        data: dict[str, Any] = json.loads(response.content)
        return data

    def test_the_night_lists_its_commitments_and_seals_and_the_next_night_does_not(self) -> None:
        self.publish(DAY, CUTOFF)
        data = self.json_of(DAY)
        self.assertEqual(
            [(e["kind"], e["program"], e["hash"], e["beacon_round"]) for e in data["draws"]],
            [
                (
                    "committed",
                    {"en": "Summer open day", "zh": "夏季开放日"},
                    self.committed.commitment,
                    None,
                ),
                (
                    "sealed",
                    {"en": "Spring open day", "zh": "春季开放日"},
                    self.sealed.sealed_hash,
                    self.sealed.beacon_round,
                ),
            ],
        )
        committed, sealed = data["draws"]
        self.assertEqual(committed["at"], "2026-11-24T14:00:00+08:00")
        self.assertEqual(sealed["at"], "2026-11-24T15:00:00+08:00")
        self.assertEqual(committed["beacon_offset"], self.committed.beacon_offset)
        self.assertTrue(committed["url"].endswith("/visits/summer/draw/"), committed["url"])
        self.assertEqual(recount(data), [])
        for lang, title, heading in (
            ("en", "Summer open day", "Draws committed and sealed"),
            ("zh-hans", "夏季开放日", "已承诺和已封存的抽签"),
        ):
            page = self.client.get(
                reverse("desk:digest", args=[DAY.isoformat()]), HTTP_ACCEPT_LANGUAGE=lang
            )
            self.assertContains(page, title)
            self.assertContains(page, heading)
            self.assertContains(page, self.committed.commitment)
            self.assertContains(page, self.sealed.sealed_hash)
            self.assertContains(page, str(self.sealed.beacon_round))
            self.assertNotContains(page, self.late.commitment)
            self.assertNotContains(page, "Hidden")
        text = self.client.get(reverse("desk:digest_text", args=[DAY.isoformat(), "zh"]))
        self.assertContains(text, self.sealed.sealed_hash)
        feed = self.client.get(reverse("desk:feed", args=["en"]))
        self.assertContains(feed, self.committed.commitment)
        # The next night: only what came after D's cut-off.
        self.publish(NEXT_DAY, CUTOFF + dt.timedelta(days=1))
        following = self.json_of(NEXT_DAY)
        self.assertEqual([e["hash"] for e in following["draws"]], [self.late.commitment])
        self.assertEqual(recount(following), [])
        page = self.client.get(reverse("desk:digest", args=[NEXT_DAY.isoformat()]))
        self.assertNotContains(page, self.committed.commitment)
        self.assertNotContains(page, self.sealed.sealed_hash)

    def test_a_commitment_after_the_revision_waits_for_the_next_one(self) -> None:
        Draw.objects.filter(pk=self.committed.pk).update(committed_at=CUTOFF)
        with time_machine.travel(CUTOFF - dt.timedelta(hours=1), tick=False):
            digests.digest_publish(DAY, actor=self.dave)
        self.assertEqual([e["kind"] for e in self.json_of(DAY)["draws"]], ["sealed"])
        with time_machine.travel(CUTOFF + dt.timedelta(hours=1), tick=False):
            _revision, created = digests.digest_publish(
                DAY, actor=self.dave, note="A draw committed at the cut-off"
            )
        self.assertTrue(created)
        data = self.json_of(DAY)
        self.assertEqual([e["kind"] for e in data["draws"]], ["sealed", "committed"])
        self.assertEqual(recount(data), [])

    def test_every_key_of_the_draws_is_in_the_doc(self) -> None:
        self.publish(DAY, CUTOFF)
        spans = re.findall(r"`([^`]+)`", DOC.read_text(encoding="utf-8"))
        documented = {word for span in spans for word in re.findall(r"[a-z_]+", span)}
        keys = {"draws"} | {key for entry in self.json_of(DAY)["draws"] for key in entry}
        keys |= set(self.json_of(DAY)["draws"][0]["program"])
        self.assertEqual(keys - documented, set())

    def test_the_reconciler_rejects_a_draw_dated_after_the_cut_off_or_a_forged_hash(
        self,
    ) -> None:
        self.publish(DAY, CUTOFF)
        data = self.json_of(DAY)
        self.assertEqual(recount(data), [])  # the control
        moved = copy.deepcopy(data)
        moved["draws"][0]["at"] = "2026-11-24T23:30:00+08:00"
        self.assertTrue(any("after the cut-off" in p for p in recount(moved)), recount(moved))
        forged = copy.deepcopy(data)
        forged["draws"][1]["hash"] = "not a hash"
        self.assertTrue(any("not a SHA-256" in p for p in recount(forged)))
        unsealed = copy.deepcopy(data)
        unsealed["draws"][1]["beacon_round"] = None
        self.assertTrue(any("beacon_round" in p for p in recount(unsealed)))
        shuffled = copy.deepcopy(data)
        shuffled["draws"].reverse()
        self.assertIn("draws are not in time order", recount(shuffled))
        report = reconcile_digest.Report()
        reconcile_digest.reconcile({k: v for k, v in data.items() if k != "draws"}, report)
        self.assertEqual(report.problems, [])  # revisions from before the key

    def test_a_night_with_draws_and_no_asks_is_still_due(self) -> None:
        quiet = DAY + dt.timedelta(days=2)
        Draw.objects.filter(pk=self.late.pk).update(committed_at=CUTOFF + dt.timedelta(days=9))
        self.assertIsNone(digests.digest_due(now=CUTOFF + dt.timedelta(days=2, minutes=1)))
        at = CUTOFF + dt.timedelta(days=2) - dt.timedelta(hours=3)
        Draw.objects.filter(pk=self.late.pk).update(committed_at=at)
        self.assertEqual(digests.digest_due(now=CUTOFF + dt.timedelta(days=2, minutes=1)), quiet)

    def test_a_night_without_draws_hashes_as_before_the_key(self) -> None:
        """A date published before `draws` existed is not changed by an
        empty list: publishing it again with a note makes no revision."""
        Draw.objects.all().delete()
        self.publish(DAY, CUTOFF + dt.timedelta(hours=1))
        revision = DigestRevision.objects.get()
        self.assertEqual(revision.snapshot["draws"], [])
        before = {k: v for k, v in revision.snapshot.items() if k != "draws"}
        self.assertEqual(digests.content_hash(before), revision.content_hash)
        DigestRevision.objects.filter(pk=revision.pk).update(snapshot=before)
        with time_machine.travel(CUTOFF + dt.timedelta(hours=2), tick=False):
            again, created = digests.digest_publish(DAY, actor=self.dave, note="Again")
        self.assertFalse(created)
        self.assertEqual(again, revision)

    def test_the_draw_page_names_the_night_whose_digest_dates_it(self) -> None:
        for slug, nights in (
            ("spring", [DAY - dt.timedelta(days=1), DAY]),  # committed D-1 noon, sealed on D
            ("summer", [DAY]),
            ("autumn", [NEXT_DAY]),  # committed after D's cut-off
        ):
            page = self.client.get(reverse("visits:draw", args=[slug]))
            links = re.findall(r'href="/answers/([0-9-]+)/"', page.content.decode())
            self.assertEqual(links, [n.isoformat() for n in nights], slug)
        page = self.client.get(
            reverse("visits:draw", args=["summer"]), HTTP_ACCEPT_LANGUAGE="zh-hans"
        )
        self.assertContains(page, f"{DAY.isoformat()} 的回答")

    def test_a_program_title_with_markup_is_text_in_the_page_and_the_feed(self) -> None:
        Program.objects.filter(slug="summer").update(title_en='<script>alert("x")</script>')
        self.publish(DAY, CUTOFF)
        page = self.client.get(reverse("desk:digest", args=[DAY.isoformat()]))
        self.assertNotContains(page, '<script>alert("x")')
        self.assertContains(page, "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;")
        feed = self.client.get(reverse("desk:feed", args=["en"])).content.decode()
        self.assertNotIn("<script>", feed)
        # The description is HTML inside XML: a live tag would read &lt;script&gt;.
        self.assertNotIn("&lt;script&gt;", feed)
        self.assertIn("&amp;lt;script&amp;gt;", feed)
