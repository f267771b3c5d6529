"""Outgoing e-mail as a background job, so a slow mail server never holds a
request. The console backend (the default) prints the message."""

from __future__ import annotations

from django.conf import settings
from django.core.mail import send_mail
from django_tasks import task


@task()
def send_email(*, to: str, subject: str, body: str) -> int:
    return send_mail(subject, body, settings.DEFAULT_FROM_EMAIL, [to])
