"""The URLs the antibot tests use, so that they need nothing from headon.urls."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, HttpResponse
from django.template import engines
from django.urls import path

from headon.antibot.forms import ProofOfWorkField
from headon.antibot.views import challenge


class AskForm(forms.Form):
    question = forms.CharField()
    pow = ProofOfWorkField(scope="ask")


PAGE = """{% load static %}<!doctype html>
<html><head><link rel="icon" href="data:,">
<script src="{% static 'headon/js/pow.js' %}" defer></script>
</head><body>
<p id="result">{{ result }}</p>
<form method="post" data-pow-checking="Checking your browser…" data-pow-failed="The check failed.">
  {% csrf_token %}
  {{ form.question }} {{ form.pow }} {{ form.errors }}
  <button type="submit">Send</button>
</form>
</body></html>"""


def ask(request: HttpRequest) -> HttpResponse:
    """A stand-in for the public ask form."""
    form = AskForm(request.POST or None)
    result = "sent" if request.method == "POST" and form.is_valid() else ""
    template = engines["django"].from_string(PAGE)
    return HttpResponse(template.render({"form": form, "result": result}, request))


urlpatterns = [
    path("antibot/challenge/<slug:scope>", challenge, name="pow_challenge"),
    path("ask", ask, name="ask"),
]
