from __future__ import annotations

from typing import Any

from django import forms
from django.urls import reverse_lazy
from django.utils.translation import gettext_lazy as _

from headon.antibot.pow import SCOPE_RE, Refusal
from headon.antibot.services import solution_check


class ProofOfWorkInput(forms.HiddenInput):
    """A hidden input that pow.js fills in. It never renders a value: a
    solution is spent when the form is posted, so a form shown again with
    errors needs a fresh one, which pow.js fetches on every page load."""

    def format_value(self, value: Any) -> str | None:
        return None


class ProofOfWorkField(forms.CharField):
    """A solved proof-of-work challenge for the form `scope`, spent on use.

    Declare it as `pow = ProofOfWorkField(scope="apply")` and load pow.js on
    the page; see the headon.antibot package docstring.
    """

    widget = ProofOfWorkInput
    default_error_messages = {
        "required": _(
            "This form needs JavaScript to check that you are not a bot. Please turn "
            "JavaScript on, wait until the check has finished, and send the form again."
        ),
        "expired": _("The check that you are not a bot expired. Please send the form again."),
        "invalid": _("The check that you are not a bot failed. Please send the form again."),
    }

    def __init__(
        self, *, scope: str, url_name: str = "pow_challenge", spend: bool = True, **kwargs: Any
    ) -> None:
        if not SCOPE_RE.match(scope):
            raise ValueError(f"scope must match {SCOPE_RE.pattern}: {scope!r}")
        self.scope = scope
        # spend=False: the form checks the solution itself in clean(), with
        # an owner (see services.first_use); the field only carries it.
        self.spend = spend
        self.url = reverse_lazy(url_name, kwargs={"scope": scope})
        kwargs.setdefault("label", "")
        kwargs.setdefault("max_length", None)  # the pure check sizes the payload up itself
        super().__init__(**kwargs)

    def widget_attrs(self, widget: forms.Widget) -> dict[str, Any]:
        return {**super().widget_attrs(widget), "data-pow-url": self.url}

    def validate(self, value: Any) -> None:
        super().validate(value)  # the "required" message when pow.js never ran
        if self.spend:
            self.check(value)

    def check(self, value: Any, owner: str = "") -> None:
        verdict = solution_check(payload=value, scope=self.scope, owner=owner)
        if verdict.refusal == Refusal.EXPIRED:
            raise forms.ValidationError(self.error_messages["expired"], code="expired")
        if not verdict.ok:
            raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
