"""SIGKILL, the crash nothing can clean up after: real headon processes
(gunicorn, job workers, the command line) on the suite's database, killed
at exact places held by pause points (headon/faults.py), then checked for
partial rows, lost acknowledged writes and jobs done twice or never.

The processes are started by headon/tests/processes.py; see there how they
share the test database. They run on the real clock, which time_machine
cannot reach, so dates here are relative to today: "yesterday" is a day
whose digest cut-off has passed."""

from __future__ import annotations

import datetime as dt
import os
import shutil
import signal
import tempfile
import threading
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from http.client import HTTPException
from pathlib import Path
from typing import Any

from django.db.models import Count, Sum
from django.test import Client as DjangoClient
from django.test import TransactionTestCase
from django.urls import reverse
from django_tasks.base import Task, TaskResultStatus
from django_tasks_db.models import DBTaskResult

from headon.accounts.models import AuditEvent, User
from headon.desk import jobs as desk_jobs
from headon.desk.digest import services as digests
from headon.desk.models import Answer, AnswerRevision, Channel, Digest, DigestRevision, Question
from headon.desk.services import answers as answering
from headon.desk.tests.test_answering import add_ask
from headon.jobs import enqueue
from headon.testing import make_staff
from headon.tests import processes as proc
from headon.timezones import organiser_now
from headon.visits import jobs as visit_jobs
from headon.visits.models import (
    Application,
    ApplicationChoice,
    Offer,
    PartyMember,
    PersonKey,
    Program,
    WaitlistEntry,
)
from headon.visits.services import notices, offers
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application

ACKNOWLEDGED = 1000
# Applicants still on their way when the thousandth answer comes: the kill
# lands among their requests.
IN_FLIGHT = 60
CLIENT_THREADS = 24


class KillTestCase(TransactionTestCase):
    def setUp(self) -> None:
        self.tmp = Path(tempfile.mkdtemp(prefix="headon-kill-"))
        self.addCleanup(shutil.rmtree, self.tmp, ignore_errors=True)

    def env(self, **extra: str) -> dict[str, str]:
        return proc.headon_env(self.tmp / "data", **extra)

    def server(self, env: dict[str, str], **kwargs: Any) -> proc.Process:
        server = proc.start_server(env, **kwargs)
        self.addCleanup(server.stop)
        return server

    def worker(self, env: dict[str, str], worker_id: str) -> proc.Process:
        worker = proc.start_worker(env, worker_id)
        self.addCleanup(worker.stop)
        return worker

    def assert_applications_whole(self, program: Program) -> None:
        """Every application has all its members, person keys and choices."""
        applications = Application.objects.filter(program=program).annotate(
            n_members=Count("members", distinct=True),
            n_choices=Count("choices", distinct=True),
            n_keys=Count("members__keys", distinct=True),
        )
        for row in applications.values(
            "reference", "party_size", "n_members", "n_choices", "n_keys"
        ):
            self.assertEqual(row["n_members"], row["party_size"], row)
            self.assertGreaterEqual(row["n_choices"], 1, row)
            self.assertGreaterEqual(row["n_keys"], row["party_size"], row)
        self.assertEqual(
            PartyMember.objects.filter(application__program=program).count(),
            Application.objects.filter(program=program).aggregate(n=Sum("party_size"))["n"] or 0,
        )


# 1. A web process killed between INSERT and COMMIT ----------------------------


class WebProcessKillTests(KillTestCase):
    def test_a_web_process_killed_before_commit_leaves_no_partial_application_and_loses_no_acknowledged_one(
        self,
    ) -> None:
        program = make_program(slug="kill-web", sessions=3)
        sessions = list(program.sessions.order_by("starts_at").values_list("pk", flat=True))
        env = self.env(HEADON_FAULT_PAUSE="application-submit")
        marker = Path(env["HEADON_FAULT_DIR"]) / "application-submit"
        marker.touch()  # disarmed: the first application goes through
        server = self.server(env)
        inbox = proc.SmsInbox(Path(env["HEADON_SMS_FILE"]))
        first = proc.apply(
            proc.Client(server.port, proc.address(1)),
            inbox,
            program.slug,
            1,
            sessions,
            proc.Receipt(),
        )
        self.assertTrue(first.reference)

        # Armed: the next submission stops with its rows inserted, uncommitted.
        marker.unlink()
        client = proc.Client(server.port, proc.address(2))
        token = proc.verify(client, inbox, program.slug, 2)
        answered: list[Any] = []

        def send() -> None:
            try:
                answered.append(proc.submit(client, program.slug, 2, sessions, token, "kill-2"))
            except (OSError, HTTPException) as exc:  # the connection dies with the process
                answered.append(exc)

        sender = threading.Thread(target=send)
        sender.start()
        paused = proc.paused_at(env, "application-submit", server)
        self.assertFalse(Application.objects.filter(reference=paused["detail"]).exists())
        os.kill(paused["pid"], signal.SIGKILL)  # one gunicorn worker, mid-transaction
        sender.join(timeout=30)
        self.assertEqual(len(answered), 1)
        self.assertIsInstance(answered[0], OSError, "a killed request must not be acknowledged")

        # Nothing of the killed transaction remains; the acknowledged one is whole.
        self.assertEqual(
            list(Application.objects.filter(program=program).values_list("reference", flat=True)),
            [first.reference],
        )
        self.assertEqual(PersonKey.objects.filter(program=program).count(), 2)  # party of 2
        self.assertEqual(ApplicationChoice.objects.filter(application__program=program).count(), 2)
        self.assert_applications_whole(program)

        # gunicorn replaced the worker; the same submission, sent again, is
        # taken whole: no half-written row of it blocks its people.
        status, made = proc.submit(
            proc.Client(server.port, proc.address(2)), program.slug, 2, sessions, token, "kill-2"
        )
        self.assertEqual(status, 201, made)
        self.assertNotEqual(made["reference"], paused["detail"])
        self.assertEqual(made["party_size"], 3)
        self.assertEqual(len(made["members"]), 3)
        reader = proc.Client(server.port, proc.address(1))
        status, again = reader.call(
            "GET",
            f"/api/v1/applications/{first.reference}",
            headers={"X-Access-Token": first.access_token},
        )
        self.assertEqual((status, again.get("reference")), (200, first.reference))
        self.assert_applications_whole(program)


# 2. A worker killed in the middle of a job ------------------------------------


class WorkerKillTests(KillTestCase):
    """The job is claimed, its worker dies; the next worker finds the dead
    worker's heartbeat stale, puts the job back and does it, once."""

    env_used: dict[str, str]

    def kill_mid_job(self, point: str, task: Task[Any, Any], lease: str = "1") -> dict[str, Any]:
        """Start a worker that pauses at `point` in the queued `task`; kill it.
        The workers after it take a worker silent for `lease` seconds for dead."""
        job = DBTaskResult.objects.get(task_path=task.module_path)
        env = self.env(HEADON_FAULT_PAUSE=point, HEADON_JOB_LEASE_SECONDS=lease)
        killed = self.worker(env, "killed-worker")
        paused = proc.paused_at(env, point, killed)
        killed.kill()
        job.refresh_from_db()
        self.assertEqual(job.status, TaskResultStatus.RUNNING)  # what a dead worker leaves
        self.env_used = env
        return paused

    def finish(self, task: Task[Any, Any]) -> DBTaskResult[Any, Any]:
        """Start the next worker; wait until it has run every job."""
        job = DBTaskResult.objects.get(task_path=task.module_path)
        following = self.worker(self.env_used, "next-worker")

        def done() -> bool:
            return not DBTaskResult.objects.filter(
                status__in=[TaskResultStatus.READY, TaskResultStatus.RUNNING]
            ).exists()

        try:
            proc.wait_for(done, what="the jobs to finish")
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n{following.log()[-3000:]}") from None
        following.stop()
        job.refresh_from_db()
        self.assertEqual(job.status, TaskResultStatus.SUCCESSFUL, job.traceback)
        self.assertEqual(job.worker_ids, ["killed-worker", "next-worker"])
        self.assertIn("back in the queue", following.log())
        self.assertFalse(DBTaskResult.objects.filter(status=TaskResultStatus.FAILED).exists())
        return job

    def test_a_waitlist_promotion_killed_mid_job_is_finished_once_by_the_next_worker(
        self,
    ) -> None:
        program = make_program(slug="kill-promote", sessions=1, capacity=4)
        session = program.sessions.get()
        for n in range(5):
            make_application(program, n, 2, [session])
        drawn(program)
        DBTaskResult.objects.all().delete()  # the draw's notices: not under test
        declined = Offer.objects.filter(session=session).order_by("pk").first()
        assert declined is not None
        offers.offer_decline(declined)  # enqueues the promotion

        paused = self.kill_mid_job("waitlist-promote", visit_jobs.promote_program)
        # The killed promotion's offer was never committed.
        self.assertFalse(Offer.objects.filter(source=Offer.Source.WAITLIST).exists())
        self.finish(visit_jobs.promote_program)

        promoted = Offer.objects.get(source=Offer.Source.WAITLIST)
        self.assertEqual(str(promoted.application_id), paused["detail"])  # same party, in order
        self.assertEqual(
            WaitlistEntry.objects.filter(status=WaitlistEntry.Status.OFFERED).count(), 1
        )
        self.assertEqual(
            DBTaskResult.objects.filter(task_path=visit_jobs.notify_offer.module_path).count(), 1
        )
        self.assertEqual(AuditEvent.objects.filter(action="waitlist_promote").count(), 1)
        messages = proc.SmsInbox(Path(self.env_used["HEADON_SMS_FILE"])).all()
        self.assertEqual([m["to"] for m in messages], [promoted.application.contact])

    def test_offer_notices_killed_mid_job_reach_each_party_once(self) -> None:
        program = make_program(slug="kill-notify", sessions=1, capacity=6)
        session = program.sessions.get()
        for n in range(3):
            make_application(program, n, 2, [session])
        drawn(program)
        DBTaskResult.objects.all().delete()

        enqueue(visit_jobs.notify_offers, program.pk)
        paused = self.kill_mid_job("offers-notify", visit_jobs.notify_offers)
        # One notice was enqueued (and committed) before the kill; the rerun
        # enqueues all three again: the notice job itself must send once.
        self.assertEqual(
            DBTaskResult.objects.filter(task_path=visit_jobs.notify_offer.module_path).count(), 1
        )
        self.finish(visit_jobs.notify_offers)

        self.assertEqual(
            DBTaskResult.objects.filter(task_path=visit_jobs.notify_offer.module_path).count(), 4
        )
        messages = proc.SmsInbox(Path(self.env_used["HEADON_SMS_FILE"])).all()
        contacts = Application.objects.filter(program=program).values_list("contact", flat=True)
        self.assertEqual(Counter(m["to"] for m in messages), dict.fromkeys(contacts, 1))
        first = Offer.objects.get(pk=int(paused["detail"]))
        self.assertEqual(
            AuditEvent.objects.filter(
                action=notices.OFFER_NOTIFIED, target_id=str(first.pk)
            ).count(),
            1,
        )

    def test_the_nightly_digest_killed_mid_publication_is_published_once_by_the_next_worker(
        self,
    ) -> None:
        day = organiser_now().date() - dt.timedelta(days=1)  # its cut-off has passed
        answer = approved_answer_on(day)
        enqueue(desk_jobs.publish_due_digest)
        self.kill_mid_job("digest-publish", desk_jobs.publish_due_digest)
        self.assertFalse(Digest.objects.exists())  # rolled back with the revision
        self.assertEqual(Answer.objects.get(pk=answer.pk).status, Answer.Status.APPROVED)
        job = self.finish(desk_jobs.publish_due_digest)

        self.assertEqual(job.return_value, f"{day.isoformat()} r1")
        # One revision. Its answers carry the time the rerun published them
        # (the killed run's time was never public), so it is the case below,
        # whose answers were public before the kill, that compares hashes.
        self.assertEqual(DigestRevision.objects.count(), 1)
        self.assertEqual(Answer.objects.get(pk=answer.pk).status, Answer.Status.PUBLISHED)
        self.assertEqual(
            AnswerRevision.objects.filter(answer=answer, kind=AnswerRevision.Kind.PUBLISH).count(),
            1,
        )
        self.assertEqual(AuditEvent.objects.filter(action="digest_publish").count(), 1)

    def test_control_without_the_requeue_a_killed_job_stays_running_for_ever(self) -> None:
        # The bug this file found, and the proof that the harness sees it:
        # when the dead worker counts as alive (a lease longer than the
        # test), the next worker runs the other jobs and never this one.
        day = organiser_now().date() - dt.timedelta(days=1)
        approved_answer_on(day)
        enqueue(desk_jobs.publish_due_digest)
        self.kill_mid_job("digest-publish", desk_jobs.publish_due_digest, lease="3600")
        enqueue(visit_jobs.lapse_offers)
        following = self.worker(self.env_used, "next-worker")
        proc.wait_for(
            lambda: DBTaskResult.objects.filter(status=TaskResultStatus.SUCCESSFUL).exists(),
            what="the other job",
        )
        following.stop()
        stuck = DBTaskResult.objects.get(task_path=desk_jobs.publish_due_digest.module_path)
        self.assertEqual(stuck.status, TaskResultStatus.RUNNING)
        self.assertEqual(stuck.worker_ids, ["killed-worker"])
        self.assertFalse(DigestRevision.objects.exists())


def approved_answer_on(day: dt.date, text: str = "When does the factory open?") -> Answer:
    """Asks on `day` and their question's approved, unpublished answer."""
    channel, _ = Channel.objects.get_or_create(
        slug="weibo", defaults={"name": "Weibo", "kind": "social_export"}
    )
    writer, approver = make_staff("carol", "writer"), make_staff("dave", "approver")
    question = Question.objects.create(text=text)
    posted = dt.datetime.combine(day, dt.time(10), tzinfo=dt.UTC)
    for n in range(3):
        add_ask(channel, n, text, question, posted_at=posted, day=day)
    answer = answering.answer_create(
        question=question,
        actor=writer,
        fields={
            "question_en": text,
            "question_zh": "工厂什么时候开放？",
            "body_en": "At nine every Monday.",
            "body_zh": "每周一九点。",
        },
    )
    answer = answering.answer_submit(answer=answer, actor=writer, version=answer.version)
    return answering.answer_approve(answer=answer, actor=approver, version=answer.version)


# 3. A thousand acknowledged applications, then SIGKILL of everything ----------


class KillEverythingTests(KillTestCase):
    def test_every_acknowledged_application_of_a_thousand_is_there_after_killing_every_process(
        self,
    ) -> None:
        program = make_program(slug="kill-all", sessions=16, capacity=60)
        sessions = list(program.sessions.order_by("starts_at").values_list("pk", flat=True))
        # No load shedding: a 503 "come back later" is not what this tests.
        env = self.env(HEADON_SHED_AFTER_MS="0")
        server = self.server(env, with_worker=True)
        inbox = proc.SmsInbox(Path(env["HEADON_SMS_FILE"]))
        receipts = [proc.Receipt() for _ in range(ACKNOWLEDGED + IN_FLIGHT)]
        acked = threading.Semaphore(0)
        killed = threading.Event()
        local = threading.local()
        before_kill: list[str] = []

        def applicant(n: int) -> None:
            if killed.is_set():
                return
            if not hasattr(local, "client"):
                local.client = proc.Client(server.port, "")
            local.client.address = proc.address(n)
            try:
                proc.apply(local.client, inbox, program.slug, n, sessions, receipts[n])
            except (OSError, HTTPException, proc.HttpError, AssertionError) as exc:
                receipts[n].error = repr(exc)
                if not killed.is_set():
                    before_kill.append(receipts[n].error)
                return
            acked.release()

        with ThreadPoolExecutor(CLIENT_THREADS) as pool:
            futures = [pool.submit(applicant, n) for n in range(len(receipts))]
            for _ in range(ACKNOWLEDGED):
                if not acked.acquire(timeout=60):
                    killed.set()
                    failures = Counter(r.error[:120] for r in receipts if r.error)
                    self.fail(f"stalled: {failures.most_common(5)}\n{server.log()[-3000:]}")
            killed.set()
            server.kill()  # master, web workers and the job worker, mid-rush
            proc.wait_for(lambda: proc.group_gone(server.pid), timeout=10, what="every process")
            for future in futures:
                future.result()

        answered = {r.reference: r for r in receipts if r.reference}
        unanswered = {
            f"+86138{n:08d}" for n, r in enumerate(receipts) if r.submitted and not r.reference
        }
        self.assertGreaterEqual(len(answered), ACKNOWLEDGED)
        self.assertEqual(before_kill, [])  # until the kill, every applicant got through

        stored = dict(
            Application.objects.filter(program=program).values_list("reference", "contact")
        )
        self.assertEqual(set(answered) - set(stored), set(), "acknowledged, then lost")
        extra = {ref: contact for ref, contact in stored.items() if ref not in answered}
        # Stored but never acknowledged: only submissions cut off by the kill.
        self.assertLessEqual(set(extra.values()), unanswered)
        self.assertEqual(len(stored), len(answered) + len(extra))
        self.assert_applications_whole(program)

        # Restarted, the server serves them, and takes new applications.
        server = self.server(self.env())
        client = proc.Client(server.port, proc.address(50_000))
        for receipt in list(answered.values())[:: len(answered) // 20]:
            status, data = client.call(
                "GET",
                f"/api/v1/applications/{receipt.reference}",
                headers={"X-Access-Token": receipt.access_token},
            )
            self.assertEqual((status, data["party_size"]), (200, receipt.party_size))
        late = proc.apply(client, inbox, program.slug, 50_000, sessions, proc.Receipt())
        self.assertTrue(Application.objects.filter(reference=late.reference).exists())


# 4. Kill during digest publication --------------------------------------------


class DigestPublicationKillTests(KillTestCase):
    def test_a_digest_publication_killed_mid_way_keeps_the_previous_revision_served_and_a_rerun_publishes_the_same(
        self,
    ) -> None:
        day = organiser_now().date() - dt.timedelta(days=1)
        answer = approved_answer_on(day)
        answering.answer_publish(answer=answer, actor=User.objects.get(username="dave"))
        first, _ = digests.digest_publish(day, automatic=True)
        assert first is not None
        # A correction, published on its own; the digest needs revision 2.
        writer, approver = User.objects.get(username="carol"), User.objects.get(username="dave")
        answer = Answer.objects.get(pk=answer.pk)
        answer = answering.answer_edit(
            answer=answer,
            actor=writer,
            fields={"body_en": "At ten every Monday, from March."},
            version=answer.version,
        )
        answer = answering.answer_submit(answer=answer, actor=writer, version=answer.version)
        answer = answering.answer_approve(answer=answer, actor=approver, version=answer.version)
        answering.answer_publish(answer=answer, actor=approver, note="The opening hour changed.")

        env = self.env(HEADON_FAULT_PAUSE="digest-publish")
        command = ("digest", "publish", "--date", day.isoformat(), "--note", "Opening hour.")
        publisher = proc.start(env, *command, name="publisher")
        self.addCleanup(publisher.stop)
        paused = proc.paused_at(env, "digest-publish", publisher)
        page = reverse("desk:digest", args=[day])
        # Mid-publication (revision 2 written, not committed), then killed:
        # readers get revision 1 both times.
        self.assert_serves_revision_1(page)
        publisher.kill()
        self.assert_serves_revision_1(page)
        self.assertEqual(Digest.objects.get().revision, 1)
        self.assertEqual(DigestRevision.objects.count(), 1)

        out = proc.run_headon(env, *command)
        self.assertIn("Published the digest", out)
        second = DigestRevision.objects.get(number=2)
        self.assertEqual(second.content_hash, paused["detail"])  # what the killed run made
        self.assertNotEqual(second.content_hash, first.content_hash)
        self.assertIn("At ten every Monday", DjangoClient().get(page).content.decode())
        out = proc.run_headon(env, *command)
        self.assertIn("Unchanged", out)
        self.assertEqual(DigestRevision.objects.count(), 2)

    def assert_serves_revision_1(self, page: str) -> None:
        response = DjangoClient().get(page)
        self.assertEqual(response.status_code, 200)
        html = response.content.decode()
        self.assertIn("At nine every Monday.", html)
        self.assertNotIn("At ten every Monday", html)
