"""Bilingual fields in the reader's language, the other language marked.

Models keep a text twice, `<name>_en` and `<name>_zh` (an answer's
`question_en`/`question_zh`, a tag's `name_en`/`name_zh`, a program's
`title_en`/`title_zh`, a session's `label_en`/`label_zh`); an answer's
published copy is a dict with the same keys. Loaded into every template as a
builtin (settings.TEMPLATES):

- `{{ answer|both:"question" }}` on staff pages: the UI language's text
  first, the other beside it, muted, in a span carrying its `lang`; only
  the one that exists when the other is empty (with `lang` when it is not
  the page's language). `"question:80"` shortens each to 80 characters.
- `{{ session|one:"label" }}` on public pages: the UI language's text, or
  the other language's marked with its `lang` when it falls back.
- `<p{{ program|lang_attr:"description" }}>`: ` lang="…"` on an element
  whose text falls back to the other language.

Python code (a form's choice labels) calls `both()` and `one()` directly.
"""

from __future__ import annotations

from collections.abc import Mapping

from django import template
from django.template.defaultfilters import truncatechars
from django.utils.html import format_html
from django.utils.safestring import SafeString
from django.utils.translation import get_language

register = template.Library()

# The codes HTML's `lang` takes, by the suffix of the models' field names.
LANG_ATTR = {"en": "en", "zh": "zh-Hans"}


def ui_suffix() -> str:
    return "zh" if (get_language() or "en").startswith("zh") else "en"


def _other(suffix: str) -> str:
    return "en" if suffix == "zh" else "zh"


def _value(obj: object, field: str) -> str:
    if obj is None:
        return ""
    value = obj.get(field) if isinstance(obj, Mapping) else getattr(obj, field, None)
    return str(value).strip() if value else ""


def _parse(arg: str) -> tuple[str, int | None]:
    base, _, length = arg.partition(":")
    return base, (int(length) if length.isdigit() else None)


def texts(obj: object, base: str) -> list[tuple[str, str]]:
    """(suffix, text) for each language that has text, the UI's first."""
    first = ui_suffix()
    found = []
    for suffix in (first, _other(first)):
        text = _value(obj, f"{base}_{suffix}")
        if text:
            found.append((suffix, text))
    return found


def _marked(suffix: str, text: str, *, muted: bool) -> SafeString:
    if muted:
        return format_html('<span class="muted" lang="{}">{}</span>', LANG_ATTR[suffix], text)
    if suffix != ui_suffix():
        return format_html('<span lang="{}">{}</span>', LANG_ATTR[suffix], text)
    return format_html("{}", text)


def both(obj: object, base: str, length: int | None = None) -> SafeString:
    """The UI language's text first, the other beside it, muted and marked."""
    found = texts(obj, base)
    if length:
        found = [(suffix, truncatechars(text, length)) for suffix, text in found]
    if not found:
        return SafeString("")
    if len(found) == 1:
        return _marked(*found[0], muted=False)
    (first, first_text), (second, second_text) = found
    return format_html(
        "{} {}",
        _marked(first, first_text, muted=False),
        _marked(second, second_text, muted=True),
    )


def one(obj: object, base: str, length: int | None = None) -> SafeString:
    """The UI language's text, or the other's marked with its `lang`."""
    found = texts(obj, base)
    if not found:
        return SafeString("")
    suffix, text = found[0]
    return _marked(suffix, truncatechars(text, length) if length else text, muted=False)


def lang_attr(obj: object, base: str) -> SafeString:
    """` lang="…"` when the text shown for `base` falls back to the other
    language, for an element wrapping a longer text (a description)."""
    found = texts(obj, base)
    if not found or found[0][0] == ui_suffix():
        return SafeString("")
    return format_html(' lang="{}"', LANG_ATTR[found[0][0]])


def fallback_attr(value: object, lang: str) -> SafeString:
    """` lang="…"` when a picked `{"en": …, "zh": …}` value (a digest
    snapshot's, a published copy's) shows the other language than `lang`
    ("en" or "zh"), as `digest.formats.pick` falls back; else empty."""
    if not isinstance(value, Mapping) or value.get(lang):
        return SafeString("")
    other = _other(lang)
    return format_html(' lang="{}"', LANG_ATTR[other]) if value.get(other) else SafeString("")


@register.filter(name="both")
def both_filter(obj: object, arg: str) -> SafeString:
    base, length = _parse(arg)
    return both(obj, base, length)


@register.filter(name="one")
def one_filter(obj: object, arg: str) -> SafeString:
    base, length = _parse(arg)
    return one(obj, base, length)


@register.filter(name="lang_attr")
def lang_attr_filter(obj: object, base: str) -> SafeString:
    return lang_attr(obj, base)
