from __future__ import annotations

import re
from pathlib import Path

from django.conf import settings

STATIC = Path(settings.BASE_DIR) / "static" / "headon"


def test_every_font_slice_the_chinese_font_css_names_is_shipped() -> None:
    css = (STATIC / "css" / "noto-sans-sc.css").read_text()
    urls = re.findall(r"url\(([^)]+)\)", css)
    assert len(urls) > 100
    for url in urls:
        assert (STATIC / "css" / url).resolve().is_file(), url


def test_no_vendored_stylesheet_or_script_reaches_for_another_host() -> None:
    for path in [*STATIC.rglob("*.css"), *STATIC.rglob("*.js")]:
        text = path.read_text(errors="replace")
        assert not re.search(r"url\((['\"]?)(https?:)?//", text), path
        assert "fonts.googleapis" not in text, path
