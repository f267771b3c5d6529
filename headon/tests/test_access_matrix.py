# Long: one row per URL and API operation; splitting the table would hide a missing row.
"""Who may open what: every URL the resolver knows and every API operation,
against an anonymous visitor and every persona (the role × URL matrix).

A new URL or API operation without a row fails the coverage tests: add it to
`page_rows()` or `api_rows()` (or, for Django's own pages, to UNLISTED with
a reason). Each cell is a subtest, so a failure names the URL and persona.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import runpy
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar
from unittest import mock

import time_machine
from django.conf import settings
from django.db import transaction
from django.http import HttpResponse
from django.http.response import HttpResponseBase
from django.test import override_settings
from django.urls import URLPattern, URLResolver, get_resolver, reverse
from ninja.security import APIKeyCookie

from headon.accounts.models import User
from headon.accounts.services import api_token_create
from headon.api import api
from headon.desk.digest import services as digests
from headon.desk.intake.sources import channel_token_issue
from headon.desk.models import Answer, Channel, ImportRun, Question
from headon.desk.tests.test_answering import add_ask, published_answer
from headon.testing import PASSWORD, PersonasTestCase
from headon.visits.models import (
    Application,
    Offer,
    PartyMember,
    Program,
    ScheduleExclusion,
    ScheduleRule,
    Session,
    Ticket,
)
from headon.visits.services import offers
from headon.visits.services.applications import access_token
from headon.visits.services.companions import companion_token
from headon.visits.services.feedback import feedback_token
from headon.visits.services.programs import exclusion_add, rule_add
from headon.visits.tests.factories import make_program
from headon.visits.tests.test_draws import drawn, make_application

NOW = dt.datetime(2026, 11, 25, 2, 0, tzinfo=dt.UTC)  # 10:00 in Shanghai
DAY = dt.date(2026, 11, 24)  # yesterday in Shanghai: its digest is out
MORNING = dt.datetime(2026, 11, 24, 2, 0, tzinfo=dt.UTC)
CUTOFF = dt.datetime(2026, 11, 24, 15, 0, tzinfo=dt.UTC)  # 23:00 in Shanghai

ANON = "anonymous"
STAFF = ("oscar", "bob", "carol", "dave", "erin", "gus", "alice")
PERSONAS = (ANON, *STAFF)
LOGIN = "login"  # a 302 to the staff login page
ADMIN_LOGIN = "admin login"  # a 302 to the admin's login page

# Who holds what, spelled out rather than read from accounts/roles.py, so
# that a permission given to the wrong role shows up here.
DESK = ("bob", "carol", "dave", "alice")  # desk.view_desk
TRIAGE = ("bob", "alice")  # desk.triage_questions
DRAFT = ("carol", "dave", "alice")  # desk.draft_answers
PUBLISH = ("dave", "alice")  # desk.approve_answers, desk.publish_digest
CHANNELS = ("alice",)  # desk.manage_channels
VISITS = ("erin", "alice")  # visits.view_visits, visits.coordinate_visits
GATE = ("erin", "gus", "alice")  # visits.check_in_visitors

Expect = int | str
Cells = dict[str, Expect]


def everyone(status: Expect) -> Cells:
    return dict.fromkeys(PERSONAS, status)


def staff(allowed: tuple[str, ...], ok: Expect = 200) -> Cells:
    """Anonymous: to the login page; a role without the right: 403."""
    return {ANON: LOGIN} | {p: ok if p in allowed else 403 for p in STAFF}


def post_only(allowed: tuple[str, ...]) -> Cells:
    """A POST-only staff action opened with GET: the permission is checked first."""
    return staff(allowed, ok=405)


@dataclass(frozen=True)
class Row:
    name: str
    kwargs: dict[str, Any]
    get: Cells
    post: Cells | None = None
    data: dict[str, Any] = field(default_factory=dict)


# URLs (by name or route prefix) that have no row, and why.
UNLISTED = {
    "admin/": "Django's admin: every view checks is_staff and the model permission itself; "
    "the matrix samples its index and the application list (personal data)",
}
# The API's operations are rows of api_rows(); these are ninja's own views.
API_OPERATION_PREFIX = "api:"
API_PAGES = {"api:openapi-json", "api:openapi-view", "api:api-root"}

# Views that skip Django's CSRF check, and why that is safe.
CSRF_EXEMPT = {
    # django-ninja marks every operation view csrf_exempt and checks CSRF
    # itself only for cookie-based auth (APIKeyCookie, django_auth). headon's
    # API uses header tokens only (X-Access-Token, Authorization: Bearer) and
    # never request.user, so a browser's cookies give a forged request
    # nothing; test_the_api_uses_no_cookie_auth holds it to that.
    "api/v1/": "django-ninja operations, header-token auth only",
}

SECURITY_HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "same-origin",
}
INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)(?![^>]*application/json)", re.I)
STYLE_ATTRIBUTE = re.compile(r"\sstyle\s*=", re.I)
EVENT_HANDLER = re.compile(r"<[^>]*\son[a-z]+\s*=", re.I)


def url_patterns(
    patterns: list[URLPattern | URLResolver] | None = None, namespace: str = "", prefix: str = ""
) -> Iterator[tuple[str, str, Callable[..., Any]]]:
    """(qualified name or route, route, view) of every pattern, recursively."""
    for entry in get_resolver().url_patterns if patterns is None else patterns:
        route = prefix + str(entry.pattern)
        if isinstance(entry, URLResolver):
            inner = f"{namespace}{entry.namespace}:" if entry.namespace else namespace
            yield from url_patterns(entry.url_patterns, inner, route)
        else:
            name = f"{namespace}{entry.name}" if entry.name else route
            yield name, route, entry.callback


def unlisted_reason(name: str, route: str, reasons: dict[str, str]) -> str | None:
    """Why the URL named `name` at `route` is left out, if it is."""
    return next((why for key, why in reasons.items() if name == key or route.startswith(key)), None)


@time_machine.travel(NOW, tick=False)
@override_settings(HEADON_EMBEDDER=["none"])
class MatrixFixtures(PersonasTestCase):
    """One of each thing a URL names, made once."""

    open_program: ClassVar[Program]
    drawn_program: ClassVar[Program]
    session: ClassVar[Session]
    rule: ClassVar[ScheduleRule]
    exclusion: ClassVar[ScheduleExclusion]
    mine: ClassVar[Application]  # open program: can still change and withdraw
    companion: ClassVar[PartyMember]  # mine's second person
    a: ClassVar[Application]  # drawn program: confirmed, with tickets
    b: ClassVar[Application]
    ticket_a: ClassVar[Ticket]
    ticket_b: ClassVar[Ticket]
    answered: ClassVar[Question]
    unanswered: ClassVar[Question]
    answer: ClassVar[Answer]
    import_run: ClassVar[ImportRun]
    webhook_token: ClassVar[str]
    coordinator_key: ClassVar[str]
    gate_key: ClassVar[str]

    @classmethod
    def setUpTestData(cls) -> None:
        super().setUpTestData()
        cls.coordinator_key = api_token_create(user=cls.erin, name="matrix")
        cls.gate_key = api_token_create(user=cls.gus, name="matrix")
        cls._visits()
        cls._desk()

    @classmethod
    def _visits(cls) -> None:
        cls.open_program = make_program(slug="open-days")
        sessions = list(cls.open_program.sessions.order_by("starts_at"))
        cls.session = sessions[0]
        cls.rule = rule_add(
            program=cls.open_program,
            spec={
                "kind": "dated",
                "dates": ["2027-03-01"],
                "times": [{"start": "09:30", "end": "11:30"}],
                "capacity": 9,
            },
        )
        cls.exclusion = exclusion_add(program=cls.open_program, date=dt.date(2027, 3, 1))
        cls.mine = make_application(cls.open_program, 1, 2, sessions)
        cls.companion = cls.mine.members.get(position=1)
        make_application(cls.open_program, 2, 1, sessions)
        cls.drawn_program = make_program(slug="drawn-days", sessions=1, capacity=10)
        drawn_sessions = list(cls.drawn_program.sessions.all())
        cls.a = make_application(cls.drawn_program, 3, 2, drawn_sessions)
        cls.b = make_application(cls.drawn_program, 4, 2, drawn_sessions)
        drawn(cls.drawn_program)
        for offer in Offer.objects.filter(session__program=cls.drawn_program):
            offers.offer_confirm(offer)
        cls.ticket_a = Ticket.objects.filter(offer__application=cls.a).earliest("pk")
        cls.ticket_b = Ticket.objects.filter(offer__application=cls.b).earliest("pk")

    @classmethod
    def _desk(cls) -> None:
        weibo = Channel.objects.create(slug="weibo", name="Weibo", kind="social_export")
        Channel.objects.create(slug="web", name="Ask form", kind=Channel.Kind.FORM)
        hook = Channel.objects.create(slug="dealers", name="Dealers", kind=Channel.Kind.WEBHOOK)
        cls.webhook_token = channel_token_issue(hook)
        cls.answered = Question.objects.create(text="When do deliveries start?")
        cls.unanswered = Question.objects.create(text="Is there a night shift?")
        add_ask(weibo, 1, "When do deliveries start?", cls.answered, posted_at=MORNING)
        add_ask(weibo, 2, "Is there a night shift?", cls.unanswered, posted_at=MORNING)
        with time_machine.travel(MORNING):
            cls.answer = published_answer(cls.answered, cls.carol, cls.dave)
        with time_machine.travel(CUTOFF):
            digests.digest_publish(DAY, automatic=True)
        cls.import_run = ImportRun.objects.create(
            channel=weibo, file_name="weibo.csv", file_sha256=""
        )

    def link(self, application: Application) -> dict[str, str]:
        return {
            "slug": application.program.slug,
            "reference": application.reference,
            "token": access_token(application),
        }

    def login_as(self, persona: str) -> None:
        self.client.logout()
        if persona != ANON:
            self.client.force_login(User.objects.get(username=persona))

    def outcome(self, response: HttpResponseBase) -> Expect:
        if response.status_code == 302:
            location = response["Location"]
            if location.startswith(reverse("accounts:login") + "?"):
                return LOGIN
            if location.startswith(reverse("admin:login") + "?"):
                return ADMIN_LOGIN
        return response.status_code

    def page_rows(self) -> list[Row]:
        day = DAY.isoformat()
        open_slug = {"slug": self.open_program.slug}
        drawn_slug = {"slug": self.drawn_program.slug}
        session = {"session_id": self.session.pk}
        party = open_slug | {"reference": self.mine.reference}
        offer = drawn_slug | {"offer_id": self.ticket_a.offer_id}
        writes = (post_only(VISITS), staff(VISITS, 302))  # a coordinator's POST, then back
        ticket_a = {"session_id": self.ticket_a.session_id, "ticket_id": self.ticket_a.pk}
        walk_in = {"session_id": self.ticket_a.session_id, "application_id": self.a.pk}
        mine, a = self.link(self.mine), self.link(self.a)
        joined = {"slug": self.open_program.slug, "member_id": self.companion.pk}
        joined["token"] = companion_token(self.companion)
        q_answered, q_open = {"pk": self.answered.pk}, {"pk": self.unanswered.pk}
        on_login_page = everyone(302) | {ANON: 200}  # signed in: to staff home
        return [
            # Public pages.
            Row("home", {}, everyone(200)),
            Row("healthz", {}, everyone(200)),
            Row("desk:answers", {}, everyone(200)),
            Row("desk:ask", {}, everyone(200)),
            Row("desk:asked", {}, everyone(200)),
            Row("desk:answered_already", {}, everyone(200)),
            Row("desk:search", {}, everyone(200)),
            Row("desk:feed", {"lang": "en"}, everyone(200)),
            Row("desk:question", {"pk": self.answer.pk}, everyone(200)),
            Row("desk:helpful", {"pk": self.answer.pk}, everyone(405), everyone(302)),
            Row("desk:digest", {"day": day}, everyone(200)),
            Row("desk:digest_revision", {"day": day, "number": 1}, everyone(200)),
            Row("desk:digest_json", {"day": day}, everyone(200)),
            Row("desk:digest_revision_json", {"day": day, "number": 1}, everyone(200)),
            Row("desk:reconciler", {}, everyone(200)),
            Row("desk:digest_text", {"day": day, "lang": "en"}, everyone(200)),
            Row("desk:digest_png", {"day": day, "lang": "en"}, everyone(200)),
            Row("visits:programs", {}, everyone(200)),
            Row("visits:verifier", {}, everyone(200)),
            Row("visits:ticket_key", {}, everyone(200)),
            Row("visits:ticket_verifier", {}, everyone(200)),
            Row("visits:program", open_slug, everyone(200)),
            Row("visits:calendar", open_slug, everyone(200)),
            Row("visits:draw", drawn_slug, everyone(200)),
            Row("visits:draw_record", drawn_slug, everyone(200)),
            Row("visits:apply", open_slug, everyone(200)),
            Row("visits:apply_verify", open_slug, everyone(302)),  # no code asked for yet
            Row("visits:apply_form", open_slug, everyone(302)),  # not verified yet
            Row("visits:application", mine, everyone(200)),
            Row("visits:application_edit", mine, everyone(200)),
            Row("visits:application_withdraw", mine, everyone(405), everyone(302)),
            Row("visits:application_relink", mine, everyone(405), everyone(302)),
            Row("visits:apply_leave", open_slug, everyone(405), everyone(409)),  # not verified
            Row("visits:companion_resend", mine | {"position": 1}, everyone(405), everyone(302)),
            Row("visits:companion", joined, everyone(200), everyone(302), data={"answer": "ok"}),
            Row(
                "visits:offer_respond", a, everyone(405), everyone(302), data={"answer": "confirm"}
            ),
            Row("visits:tickets", a, everyone(200)),
            Row("visits:tickets_ics", a, everyone(200)),
            Row(
                "visits:feedback",
                {"ticket_id": self.ticket_a.pk, "token": feedback_token(self.ticket_a)},
                everyone(200),
            ),
            Row("pow_challenge", {"scope": "visits-code"}, everyone(200)),
            Row("javascript-catalog", {}, everyone(200)),
            Row("set_language", {}, everyone(302), everyone(302), data={"language": "en"}),
            Row("accounts:login", {}, on_login_page),
            Row("accounts:logout", {}, everyone(405), everyone(302)),
            Row("api:openapi-json", {}, everyone(200)),
            Row("api:openapi-view", {}, everyone(200)),
            Row("api:api-root", {}, everyone(404)),
            # Staff: the answer desk.
            Row("staff_home", {}, staff(STAFF)),
            Row("desk_staff:home", {}, staff(DESK)),
            Row("desk_staff:day", {"day": day}, staff(DESK)),
            Row("desk_staff:recluster", {"day": day}, post_only(TRIAGE), staff(TRIAGE, 302)),
            # The review queue: triagers read and decide it (an unknown
            # question to decide about is a 404, after the permission check).
            Row(
                "desk_staff:review",
                {"day": day},
                staff(TRIAGE),
                staff(TRIAGE, 404),
                data={"action": "accept", "target": "0"},
            ),
            Row("desk_staff:question", q_answered, staff(DESK)),
            Row(
                "desk_staff:question_action",
                q_open,
                post_only(TRIAGE),
                staff(TRIAGE, 302),
                data={"action": "flag"},
            ),
            Row("desk_staff:question_answer", q_open, staff(DRAFT)),
            Row(
                "desk_staff:question_link",
                q_open,
                post_only(DRAFT),
                staff(DRAFT, 302),
                data={"action": "unlink"},
            ),
            Row("desk_staff:answers", {}, staff(DESK)),
            # The draft form's check as the writer types: writers and approvers.
            Row("desk_staff:answer_check", {}, post_only(DRAFT), staff(DRAFT)),
            # Anyone at the desk reads an answer; only writers save it (an
            # invalid form comes back as the page).
            Row("desk_staff:answer", {"pk": self.answer.pk}, staff(DESK), staff(DRAFT)),
            Row(
                "desk_staff:answer_step",
                {"pk": self.answer.pk},
                post_only(DESK),
                staff(DESK, 302) | {"bob": 403, "carol": 403},
                data={"step": "publish", "version": self.answer.version},
            ),
            Row("desk_staff:dashboard", {}, staff(DESK)),
            Row("desk_staff:digest_today", {}, staff(DESK)),
            Row(
                "desk_staff:digest",
                {"day": day},
                staff(DESK),
                staff(DESK, 302) | {"bob": 403, "carol": 403},
            ),
            # "Check again" on the digest page: anyone at the desk (it only
            # queues the worker's check, once).
            Row("desk_staff:digest_check", {"day": day}, post_only(DESK), staff(DESK, 302)),
            Row("desk_staff:actions", {}, staff(TRIAGE)),
            # Triagers import from the console (the README says so).
            Row("desk_staff:import_upload", {}, post_only(TRIAGE), staff(TRIAGE, 302)),
            Row("desk_staff:import", {"pk": self.import_run.pk}, staff(DESK)),
            # Staff: visits and the gate.
            Row("visits_staff:home", {}, staff(VISITS)),
            Row("visits_staff:gate", {}, staff(GATE)),
            Row("visits_staff:gate_session", session, staff(GATE)),
            Row("visits_staff:gate_count", session, staff(GATE)),
            Row("visits_staff:gate_undo", ticket_a, post_only(GATE), staff(GATE, 302)),
            Row("visits_staff:gate_lookup", session, post_only(GATE), staff(GATE)),
            Row("visits_staff:gate_check_in_found", ticket_a, post_only(GATE), staff(GATE)),
            Row("visits_staff:gate_no_shows", session, post_only(GATE), staff(GATE, 302)),
            # Refused here (the party is not waiting), then back to the gate.
            Row("visits_staff:gate_walk_in", walk_in, post_only(GATE), staff(GATE, 302)),
            Row("visits_staff:program_create", {}, staff(VISITS)),
            Row("visits_staff:program", open_slug, staff(VISITS)),
            Row("visits_staff:program_edit", open_slug, staff(VISITS)),
            Row("visits_staff:demand", open_slug, staff(VISITS)),
            Row("visits_staff:apply_rules", open_slug, post_only(VISITS), staff(VISITS, 302)),
            Row("visits_staff:publish", open_slug, post_only(VISITS), staff(VISITS, 302)),
            Row("visits_staff:program_duplicate", open_slug, *writes, data={"slug": "n"}),
            Row("visits_staff:program_status", open_slug, *writes, data={"status": "archived"}),
            # Only an archived program is restored: the open one is a 404.
            Row("visits_staff:program_restore", open_slug, post_only(VISITS), staff(VISITS, 404)),
            Row(
                "visits_staff:rule_delete",
                open_slug | {"rule_id": self.rule.pk},
                post_only(VISITS),
                staff(VISITS, 302),
            ),
            Row(
                "visits_staff:exclusion_delete",
                open_slug | {"exclusion_id": self.exclusion.pk},
                post_only(VISITS),
                staff(VISITS, 302),
            ),
            Row("visits_staff:session_edit", open_slug | session, staff(VISITS)),
            Row("visits_staff:applications", open_slug, staff(VISITS)),
            # A party's page; its POST reveals phone and ID numbers (logged).
            Row("visits_staff:party", party, staff(VISITS), staff(VISITS)),
            Row("visits_staff:gate_list", open_slug | session, staff(VISITS)),
            Row("visits_staff:gate_list_csv", open_slug | session, staff(VISITS)),
            Row("visits_staff:messages", open_slug, staff(VISITS), staff(VISITS)),
            Row("visits_staff:offer_extend", offer, post_only(VISITS), staff(VISITS, 302)),
            Row("visits_staff:feedback", open_slug, staff(VISITS)),
            Row("visits_staff:feedback_csv", open_slug, staff(VISITS)),
            Row("visits_staff:report", open_slug, staff(VISITS)),
            Row("visits_staff:report_csv", open_slug, staff(VISITS)),
            Row("visits_staff:draw", drawn_slug, staff(VISITS)),
            # Django's admin, sampled: staff see the index, only the
            # superuser sees applicants' personal data.
            Row("admin:index", {}, {ANON: ADMIN_LOGIN} | dict.fromkeys(STAFF, 200)),
            Row(
                "admin:visits_application_changelist",
                {},
                {ANON: ADMIN_LOGIN} | dict.fromkeys(STAFF, 403) | {"alice": 200},
            ),
        ]

    def cells(self) -> Iterator[tuple[str, str, str, Row]]:
        """(persona, method, url, row) for every cell, grouped by persona so
        each signs in once."""
        rows = self.page_rows()
        for persona in PERSONAS:
            for row in rows:
                url = reverse(row.name, kwargs=row.kwargs)
                yield persona, "GET", url, row
                if row.post is not None:
                    yield persona, "POST", url, row

    def request(self, method: str, url: str, row: Row, secure: bool = False) -> HttpResponseBase:
        if method == "GET":
            return self.client.get(url, secure=secure)
        # A POST changes things: roll it back, so every cell starts alike.
        with transaction.atomic():
            response = self.client.post(url, row.data, secure=secure)
            transaction.set_rollback(True)
        return response


class PageMatrixTests(MatrixFixtures):
    def test_every_url_has_a_row_in_the_matrix(self) -> None:
        listed = {row.name for row in self.page_rows()}
        operations = {row.name for row in api_rows(self)}
        for name, route, _view in url_patterns():
            if name in listed or unlisted_reason(name, route, UNLISTED):
                continue
            if name.startswith(API_OPERATION_PREFIX) and name not in API_PAGES:
                self.assertIn(name[len(API_OPERATION_PREFIX) :], operations, route)
                continue
            self.fail(f"/{route} ({name}) has no row: add it to the matrix")

    def test_every_persona_gets_what_the_matrix_says_with_the_security_headers(self) -> None:
        signed_in = None
        for persona, method, url, row in self.cells():
            if persona != signed_in:
                self.login_as(persona)
                signed_in = persona
            expected = (row.get if method == "GET" else row.post or {})[persona]
            with self.subTest(persona=persona, method=method, url=url):
                response = self.request(method, url, row)
                self.assertEqual(self.outcome(response), expected)
                self.assert_hardened(response)
            if method == "POST":
                signed_in = None  # the POST may have signed out, or been rolled back

    def assert_hardened(self, response: HttpResponseBase) -> None:
        """The headers on every response; on an HTML page, nothing inline
        that the Content-Security-Policy would have to allow."""
        csp = response.get("Content-Security-Policy", "")
        self.assertIn("script-src 'self'", csp)
        self.assertIn("style-src 'self'", csp)
        self.assertIn("frame-ancestors 'none'", csp)
        self.assertNotIn("unsafe-inline", csp)
        self.assertNotIn("unsafe-eval", csp)
        for header, value in SECURITY_HEADERS.items():
            self.assertEqual(response.get(header), value, header)
        if response.status_code != 200 or "text/html" not in response.get("Content-Type", ""):
            return
        assert isinstance(response, HttpResponse)  # not streamed
        html = response.content.decode()
        self.assertIsNone(INLINE_SCRIPT.search(html), "an inline <script>")
        self.assertNotIn("<style", html)
        self.assertIsNone(STYLE_ATTRIBUTE.search(html), "a style= attribute")
        self.assertIsNone(EVENT_HANDLER.search(html), "an on...= event handler")

    def test_no_view_skips_the_csrf_check_outside_the_allow_list(self) -> None:
        for name, route, view in url_patterns():
            if unlisted_reason(name, route, CSRF_EXEMPT):
                continue
            with self.subTest(url=route):
                for layer in unwrapped(view):
                    self.assertFalse(getattr(layer, "csrf_exempt", False), layer)


def unwrapped(view: Callable[..., Any]) -> Iterator[object]:
    """The view, every function its decorators wrap, and a class-based view's class."""
    layer: Any = view
    while layer is not None:
        yield layer
        if view_class := getattr(layer, "view_class", None):
            yield view_class
        layer = getattr(layer, "__wrapped__", None) or getattr(layer, "func", None)


# The API ---------------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    """One request to an operation, made as each persona, and what it gets."""

    label: str
    path: str
    status: int
    headers: dict[str, str] = field(default_factory=dict)
    body: dict[str, Any] | None = None


@dataclass(frozen=True)
class ApiRow:
    name: str  # the operation's URL name
    method: str
    path: str  # as the OpenAPI schema writes it
    calls: list[Call]


def api_rows(t: MatrixFixtures) -> list[ApiRow]:
    mine = f"/api/v1/applications/{t.mine.reference}"
    open_program = f"/api/v1/programs/{t.open_program.slug}"
    own = {"X-Access-Token": access_token(t.mine)}
    other = {"X-Access-Token": access_token(t.a)}
    party = {"lead": {"name": "Li Lei"}, "companions": [], "choices": [t.session.pk]}
    no_pow = {"pow": "x", "channel": "phone", "destination": "+8613812345678"}
    apply_body = party | {"verification_token": "x", "pow": "x", "consent": True}
    unverified = {"verification_token": "x", "reference": t.mine.reference}
    staff_session = f"/api/v1/staff/programs/{t.open_program.slug}/sessions/{t.session.pk}"
    elsewhere = f"/api/v1/staff/programs/{t.drawn_program.slug}/sessions/{t.session.pk}"
    coordinator = {"Authorization": f"Bearer {t.coordinator_key}"}
    gate = {"Authorization": f"Bearer {t.gate_key}"}
    webhook = {"Authorization": f"Bearer {t.webhook_token}"}
    return [
        ApiRow("health", "get", "/api/v1/health", [Call("no auth", "/api/v1/health", 200)]),
        ApiRow(
            "program_get",
            "get",
            "/api/v1/programs/{slug}",
            [
                Call("published", open_program, 200),
                Call("unknown", "/api/v1/programs/no-such-days", 404),
            ],
        ),
        # Public by design, behind a proof-of-work instead of a login.
        ApiRow(
            "code_request",
            "post",
            "/api/v1/programs/{slug}/codes",
            [Call("no proof of work", open_program + "/codes", 403, body=no_pow)],
        ),
        ApiRow(
            "code_verify",
            "post",
            "/api/v1/programs/{slug}/codes/verify",
            [
                Call(
                    "wrong code",
                    open_program + "/codes/verify",
                    409,
                    body={"channel": "phone", "destination": "+8613812345678", "code": "000000"},
                )
            ],
        ),
        ApiRow(
            "application_create",
            "post",
            "/api/v1/programs/{slug}/applications",
            [Call("no proof of work", open_program + "/applications", 403, body=apply_body)],
        ),
        # An application answers to its own access token and nothing else:
        # not another application's, and not a staff session.
        ApiRow(
            "application_get",
            "get",
            "/api/v1/applications/{reference}",
            [
                Call("no token", mine, 404),
                Call("another application's token", mine, 404, other),
                Call("its own token", mine, 200, own),
            ],
        ),
        ApiRow(
            "application_update",
            "put",
            "/api/v1/applications/{reference}",
            [
                Call("no token", mine, 404, body=party | {"pow": "x"}),
                Call("another application's token", mine, 404, other, party | {"pow": "x"}),
                # A change pays a proof-of-work like a submission (issue 17).
                Call("its own token, no proof of work", mine, 403, own, party | {"pow": "x"}),
            ],
        ),
        ApiRow(
            "companion_confirm",
            "post",
            "/api/v1/programs/{slug}/companions/confirm",
            [Call("no verified phone", open_program + "/companions/confirm", 409, body=unverified)],
        ),
        ApiRow(
            "application_withdraw",
            "post",
            "/api/v1/applications/{reference}/withdraw",
            [
                Call("no token", mine + "/withdraw", 404),
                Call("another application's token", mine + "/withdraw", 404, other),
                Call("its own token", mine + "/withdraw", 200, own),
            ],
        ),
        # Staff act on the API with their own key, never their signed-in
        # session; the key acts with its owner's roles.
        ApiRow(
            "session_patch",
            "patch",
            "/api/v1/staff/programs/{slug}/sessions/{session_id}",
            [
                Call("no key", staff_session, 401, body={"capacity": 61}),
                Call("a webhook's token", staff_session, 401, webhook, {"capacity": 61}),
                Call("a gate account's key", staff_session, 403, gate, {"capacity": 61}),
                Call("a coordinator's key", staff_session, 200, coordinator, {"capacity": 61}),
                Call("another program's session", elsewhere, 404, coordinator, {"capacity": 61}),
            ],
        ),
        ApiRow(
            "ask_create",
            "post",
            "/api/v1/asks",
            [
                Call("no token", "/api/v1/asks", 401, body={"text": "Hi?"}),
                Call(
                    "wrong token",
                    "/api/v1/asks",
                    401,
                    {"Authorization": "Bearer hdn_wrong"},
                    {"text": "Hi?"},
                ),
                Call(
                    "the channel's token",
                    "/api/v1/asks",
                    201,
                    {"Authorization": f"Bearer {t.webhook_token}"},
                    {"text": "Hi?"},
                ),
            ],
        ),
    ]


class ApiMatrixTests(MatrixFixtures):
    def test_every_operation_in_the_schema_has_a_row(self) -> None:
        schema = self.client.get("/api/v1/openapi.json").json()
        in_schema = {
            (method, path) for path, operations in schema["paths"].items() for method in operations
        }
        in_matrix = {(row.method, row.path) for row in api_rows(self)}
        self.assertEqual(in_schema - in_matrix, set(), "add these operations to api_rows()")
        self.assertEqual(in_matrix - in_schema, set(), "these rows name no operation")

    def test_every_call_gets_the_same_answer_whoever_is_signed_in(self) -> None:
        for persona in PERSONAS:
            self.login_as(persona)
            for row in api_rows(self):
                for call in row.calls:
                    with self.subTest(persona=persona, operation=row.name, call=call.label):
                        with transaction.atomic():
                            response = self.client.generic(
                                row.method.upper(),
                                call.path,
                                "" if call.body is None else _json(call.body),
                                content_type="application/json",
                                headers=call.headers,
                            )
                            transaction.set_rollback(True)
                        self.assertEqual(response.status_code, call.status, response.content)

    def test_the_api_uses_no_cookie_auth(self) -> None:
        """The premise of the API's CSRF exemption (CSRF_EXEMPT above)."""
        schema = self.client.get("/api/v1/openapi.json").json()
        schemes = schema.get("components", {}).get("securitySchemes", {})
        self.assertEqual(
            {name: (s["type"], s.get("scheme")) for name, s in schemes.items()},
            {"ChannelToken": ("http", "bearer"), "StaffToken": ("http", "bearer")},
        )
        for _prefix, router in api._routers:
            for path_view in router.path_operations.values():
                for operation in path_view.operations:
                    for auth in operation.auth_callbacks:
                        # django_auth (SessionAuth) is an APIKeyCookie too.
                        self.assertNotIsInstance(auth, APIKeyCookie, operation.view_func)


def _json(body: dict[str, Any]) -> str:
    return json.dumps(body)


# Applicants cannot see each other's data -------------------------------------


class ApplicantIsolationTests(MatrixFixtures):
    LINKS = (
        ("visits:application", "GET", 200),
        # Drawn: the list is sealed, so the owner is refused (409), not shown.
        ("visits:application_edit", "GET", 409),
        ("visits:application_withdraw", "POST", 409),
        ("visits:offer_respond", "POST", 302),
        ("visits:tickets", "GET", 200),
        ("visits:tickets_ics", "GET", 200),
    )

    def open(self, method: str, url: str) -> HttpResponseBase:
        with transaction.atomic():
            response = self.client.generic(
                method, url, "answer=confirm", content_type="application/x-www-form-urlencoded"
            )
            transaction.set_rollback(True)
        return response

    def test_a_private_link_opens_its_own_application_only(self) -> None:
        a, b = self.link(self.a), self.link(self.b)
        for name, method, own_status in self.LINKS:
            with self.subTest(page=name):
                self.assertEqual(self.open(method, reverse(name, kwargs=a)).status_code, own_status)
                for kwargs in (
                    a | {"reference": self.b.reference},  # A's token, B's reference
                    b | {"token": a["token"]},
                    a | {"slug": self.open_program.slug},  # the right pair, another program
                ):
                    response = self.open(method, reverse(name, kwargs=kwargs))
                    self.assertEqual(response.status_code, 404, kwargs)
                    self.assertNotContains(response, "Visitor 4-", status_code=404)

    def test_a_feedback_link_opens_its_own_ticket_only(self) -> None:
        own = reverse("visits:feedback", args=[self.ticket_a.pk, feedback_token(self.ticket_a)])
        self.assertEqual(self.client.get(own).status_code, 200)
        for ticket_id, token in (
            (self.ticket_b.pk, feedback_token(self.ticket_a)),
            (self.ticket_b.pk, access_token(self.b)),  # the application's secret is another
        ):
            response = self.client.get(reverse("visits:feedback", args=[ticket_id, token]))
            self.assertEqual(response.status_code, 404)

    def test_the_api_gives_nothing_of_b_to_a_token(self) -> None:
        url = f"/api/v1/applications/{self.b.reference}"
        token = {"X-Access-Token": access_token(self.a)}
        party = {"lead": {"name": "Mallory"}, "companions": [], "choices": [], "pow": "x"}
        for method, path, body in (
            ("GET", url, ""),
            ("PUT", url, _json(party)),
            ("POST", url + "/withdraw", ""),
        ):
            with self.subTest(method=method, path=path):
                response = self.client.generic(
                    method, path, body, content_type="application/json", headers=token
                )
                self.assertEqual(response.status_code, 404)
                self.assertNotIn(self.b.reference, response.content.decode())
        self.b.refresh_from_db()
        self.assertEqual(self.b.status, Application.Status.SUBMITTED)
        self.assertEqual(self.b.members.get(position=0).name, "Visitor 4-0")


# Cookies in production -------------------------------------------------------


def production_cookie_settings() -> dict[str, Any]:
    """The cookie and TLS settings that settings.py computes with
    HEADON_PRODUCTION=1 (test_settings.py checks the values; this uses them)."""
    with mock.patch.dict(os.environ, {"HEADON_PRODUCTION": "1"}):
        values = runpy.run_path(str(settings.BASE_DIR / "settings.py"))
    return {k: v for k, v in values.items() if "COOKIE" in k or k.startswith("SECURE_")}


class ProductionCookieTests(PersonasTestCase):
    def test_a_login_sets_secure_httponly_session_and_secure_csrf_cookies(self) -> None:
        with override_settings(**production_cookie_settings()):
            login = reverse("accounts:login")
            self.client.get(login, secure=True)
            response = self.client.post(
                login, {"username": "bob", "password": PASSWORD}, secure=True
            )
        self.assertEqual(response.status_code, 302)
        session = response.cookies[settings.SESSION_COOKIE_NAME]
        self.assertTrue(session["secure"])
        self.assertTrue(session["httponly"])
        self.assertEqual(session["samesite"], "Lax")
        csrf = response.cookies[settings.CSRF_COOKIE_NAME]
        self.assertTrue(csrf["secure"])
        self.assertEqual(csrf["samesite"], "Lax")


# Every page, served as in production ------------------------------------------

PRODUCTION_HEADERS = SECURITY_HEADERS | {
    "Strict-Transport-Security": "max-age=31536000; includeSubDomains; preload",
    "Cross-Origin-Opener-Policy": "same-origin",
}
# Cookies only the server reads: scripts never need them.
HTTPONLY_COOKIES = {"sessionid", "django_language", "headon_voter"}


class ProductionPageTests(MatrixFixtures):
    """Every cell of the matrix again (as a visitor and as the admin) with
    the settings of HEADON_PRODUCTION=1, over TLS: the headers on every
    response, and every cookie set Secure, SameSite and, where scripts have
    no use for it, HttpOnly. Plain HTTP is sent to HTTPS."""

    def test_every_page_sends_hsts_and_the_headers_and_only_secure_cookies(self) -> None:
        seen: set[str] = set()
        with override_settings(**production_cookie_settings()):
            for persona, method, url, row in self.cells():
                if persona not in (ANON, "alice"):
                    continue
                self.login_as(persona)
                with self.subTest(persona=persona, method=method, url=url):
                    response = self.request(method, url, row, secure=True)
                    for header, value in PRODUCTION_HEADERS.items():
                        self.assertEqual(response.get(header), value, header)
                    self.assertIn("frame-ancestors 'none'", response["Content-Security-Policy"])
                    for name, cookie in response.cookies.items():
                        if cookie["max-age"] == 0 and not cookie.value:
                            continue  # a deletion (sign-out): Django sends it without Secure
                        seen.add(name)
                        self.assertTrue(cookie["secure"], name)
                        self.assertEqual(cookie["samesite"], "Lax", name)
                        if name in HTTPONLY_COOKIES:
                            self.assertTrue(cookie["httponly"], name)
            plain = self.client.get(reverse("home"))
        self.assertEqual(plain.status_code, 301)
        self.assertTrue(plain["Location"].startswith("https://"))
        # The pages above did set every kind of cookie headon uses.
        self.assertLessEqual({"csrftoken", "django_language", "headon_voter"}, seen)
