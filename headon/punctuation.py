"""Punctuation in the reader's language: full-width in Chinese ("说法：",
"（27 人）", "最高：12-02，12。"), ASCII with spaces in English.

Loaded into every template as a builtin (settings.TEMPLATES), so a label
followed by a value reads `{{ label }}{% colon %}{{ value }}` and a count in
brackets `{{ text|paren }}`; the charts get the same through `chart_wording`.
"""

from __future__ import annotations

from dataclasses import replace

from django import template
from django.utils.translation import get_language

from headon import charts

register = template.Library()


def in_chinese() -> bool:
    return (get_language() or "en").startswith("zh")


@register.simple_tag
def colon() -> str:
    return "：" if in_chinese() else ": "


@register.filter(is_safe=True)
def paren(value: object) -> str:
    """ "(27 people)" after a space in English, "（27 人）" with none in Chinese:
    write it straight after the word it follows."""
    return f"（{value}）" if in_chinese() else f" ({value})"


def chart_wording() -> charts.Wording:
    """The charts' words and punctuation in the active language."""
    from django.utils.translation import gettext as _

    wording = charts.Wording(
        no_data=_("No data"), highest=_("Highest"), latest=_("Latest"), total=_("Total")
    )
    if not in_chinese():
        return wording
    return replace(
        wording, colon="：", comma="，", semicolon="；", stop="。", between="", parens=("（", "）")
    )
