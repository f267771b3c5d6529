"""The answer desk's part of the demo."""

from __future__ import annotations

from headon.desk.models import Channel

CHANNELS = [
    ("weibo", "微博 Weibo", Channel.Kind.SOCIAL_EXPORT),
    ("wechat", "微信 WeChat", Channel.Kind.SOCIAL_EXPORT),
    ("x", "X (Twitter)", Channel.Kind.SOCIAL_EXPORT),
    ("ask-form", "Ask form · 提问表单", Channel.Kind.FORM),
    ("dealer-api", "Dealer webhook · 经销商接口", Channel.Kind.WEBHOOK),
    ("visit-feedback", "Visit feedback · 参观反馈", Channel.Kind.FEEDBACK),
]


def load() -> None:
    for slug, name, kind in CHANNELS:
        Channel.objects.get_or_create(slug=slug, defaults={"name": name, "kind": kind})
