"""axe-core, the accessibility engine, run in a real browser over the key
pages of the demo, in English and in Chinese at phone width: no serious or
critical violation of WCAG 2.1 A/AA. axe's script comes from a package
(axe-playwright-python ships it); it is injected into the page, so the
context bypasses the site's CSP for it alone."""

from __future__ import annotations

import importlib.util
import io
from pathlib import Path
from typing import Any

import pytest
from django.conf import settings
from django.core.management import call_command
from django.test import Client

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

WCAG = ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"]
RUN = "async (tags) => await axe.run(document, {runOnly: {type: 'tag', values: tags}, resultTypes: ['violations']})"


def _axe_script() -> Path:
    spec = importlib.util.find_spec("axe_playwright_python")
    assert spec is not None
    assert spec.origin is not None
    return Path(spec.origin).parent / "axe.min.js"


def _pages() -> tuple[list[str], list[str]]:
    from headon.desk.models import Answer, Digest
    from headon.timezones import organiser_today
    from headon.visits.models import Application, Program
    from headon.visits.services.applications import access_token

    program = Program.objects.get(slug="open-factory-days-2027")  # open for applications
    application = Application.objects.filter(program=program).first()
    assert application is not None
    slug = program.slug
    # Today's open day: the coordinator's lists and the gate, with visitors.
    today = Program.objects.get(slug__startswith="open-day-")
    session = today.sessions.order_by("starts_at").first()
    party = Application.objects.filter(program=today).first()
    assert session is not None
    assert party is not None
    on = f"/staff/visits/{today.slug}"
    digest = Digest.objects.filter(revision__gt=0).order_by("-date").first()
    answer = Answer.objects.filter(status="published").first()
    assert digest is not None
    assert answer is not None
    public = [
        "/",
        "/answers/",
        "/answers/ask/",
        "/answers/search/?q=warranty",
        f"/answers/{digest.date}/",
        f"/answers/q/{answer.pk}/",
        "/visits/",
        f"/visits/{slug}/",
        f"/visits/{slug}/apply/",
        f"/visits/{slug}/a/{application.reference}/{access_token(application)}/",
        "/accounts/login/",
    ]
    staff = [
        "/staff/",
        "/staff/desk/",
        "/staff/desk/answers/",
        "/staff/desk/digest/",
        "/staff/desk/dashboard/",
        f"/staff/desk/day/{organiser_today().isoformat()}/review/",
        f"/staff/visits/{slug}/",
        f"/staff/visits/{slug}/edit/",
        f"/staff/visits/{slug}/report/",
        f"/staff/visits/{slug}/draw/",
        "/staff/visits/gate/",
        f"{on}/applications/",
        f"{on}/applications/{party.reference}/",
        f"{on}/messages/",
        f"{on}/feedback/",
        f"{on}/sessions/{session.pk}/visitors/",
        f"/staff/visits/gate/{session.pk}/",
        "/staff/visits/open-factory-days-2024/draw/",
    ]
    return public, staff


def _staff_cookie(live_server: Any) -> dict[str, str]:
    from headon.accounts.models import User

    client = Client()
    client.force_login(User.objects.get(username="demo-admin"))
    return {
        "name": settings.SESSION_COOKIE_NAME,
        "value": client.cookies[settings.SESSION_COOKIE_NAME].value,
        "url": live_server.url,
    }


def _violations(page: Any, url: str) -> list[str]:
    page.goto(url)
    page.add_script_tag(path=str(_axe_script()))
    result = page.evaluate(RUN, WCAG)
    found = []
    for violation in result["violations"]:
        if violation["impact"] in {"serious", "critical"}:
            targets = [" ".join(node["target"]) for node in violation["nodes"][:3]]
            found.append(f"{url}: {violation['id']} ({violation['impact']}) at {targets}")
    return found


@pytest.mark.parametrize("locale", ["en-GB", "zh-CN"])
def test_no_key_page_has_a_serious_accessibility_violation(
    browser: Any, live_server: Any, locale: str
) -> None:
    call_command("demo", no_serve=True, stdout=io.StringIO())
    public, staff = _pages()
    context = browser.new_context(
        locale=locale, viewport={"width": 390, "height": 844}, bypass_csp=True
    )
    try:
        page = context.new_page()
        found = []
        for url in public:
            found += _violations(page, live_server.url + url)
        context.add_cookies([_staff_cookie(live_server)])
        for url in staff:
            found += _violations(page, live_server.url + url)
    finally:
        context.close()
    assert found == [], "\n".join(found)


def test_axe_finds_what_it_should(browser: Any, live_server: Any) -> None:
    """Control: a page with an unlabelled field and an image with no text
    is reported, so an empty list above means something."""
    context = browser.new_context(bypass_csp=True)
    try:
        page = context.new_page()
        page.set_content(
            "<!doctype html><html lang=en><title>t</title><body><main>"
            "<input type=text><img src=x.png></main></body></html>"
        )
        page.add_script_tag(path=str(_axe_script()))
        result = page.evaluate(RUN, WCAG)
    finally:
        context.close()
    found = {v["id"] for v in result["violations"] if v["impact"] in {"serious", "critical"}}
    assert {"label", "image-alt"} <= found
