"""Pages for visit coordinators: programs, rules, sessions, live demand."""

from __future__ import annotations

import datetime as dt
import re
import unicodedata
from typing import Any

from django import forms
from django.contrib import messages
from django.contrib.auth.decorators import login_required, permission_required
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.translation import get_language, gettext_lazy, ngettext
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST, require_safe

from headon.accounts.models import User
from headon.punctuation import colon
from headon.visits import schedule
from headon.visits.forms import add_question_fields, question_slots, questions_from_form
from headon.visits.models import Draw, Program, ScheduleExclusion, ScheduleRule, Session
from headon.visits.selectors import (
    pending_offers,
    program_demand,
    programs_for_staff,
    session_holders,
)
from headon.visits.services import programs as program_services

coordinator_required = permission_required("visits.coordinate_visits", raise_exception=True)


def _get_program_for_staff(request: HttpRequest, slug: str) -> Program:
    return get_object_or_404(programs_for_staff(), slug=slug)


def _actor(request: HttpRequest) -> User:
    if not isinstance(request.user, User):  # login_required runs first
        raise PermissionDenied
    return request.user


# What <input type="datetime-local"> and type="date" accept, whatever the
# page's language: localised values ("2026/12/03 12:00" in Chinese) are
# rejected by the browser, which shows the field empty and saves it empty.
HTML_DATETIME = "%Y-%m-%dT%H:%M"
HTML_DATE = "%Y-%m-%d"


def _moment_field(label: Any) -> forms.DateTimeField:
    """An optional date and time picked in the browser's own control: the
    value is written in HTML's format whatever the page's language."""
    return forms.DateTimeField(
        label=label,
        required=False,
        widget=forms.DateTimeInput(format=HTML_DATETIME, attrs={"type": "datetime-local"}),
    )


class ProgramForm(forms.ModelForm[Program]):
    applications_open_at = _moment_field(gettext_lazy("Applications open"))
    applications_close_at = _moment_field(gettext_lazy("Applications close"))

    class Meta:
        model = Program
        fields = [
            "slug",
            "title_en",
            "title_zh",
            "description_en",
            "description_zh",
            "venue",
            "applications_open_at",
            "applications_close_at",
            "party_size_max",
            "choices_max",
            "id_number_required",
            "minimum_age",
            "ask_accessibility",
            "ask_emergency_contact",
            "privacy_notice_en",
            "privacy_notice_zh",
        ]

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        add_question_fields(self, self.instance)

    def main_fields(self) -> list[forms.BoundField]:
        return [self[name] for name in self.fields if not name.startswith("question_")]

    def question_slots(self) -> list[list[forms.BoundField]]:
        return question_slots(self)

    def save(self, commit: bool = True) -> Program:
        self.instance.questions = self.questions
        return super().save(commit)

    def clean(self) -> dict[str, Any]:
        # Times are read in the organiser's zone (OrganiserTimezoneMiddleware).
        data = super().clean() or {}
        opens, closes = data.get("applications_open_at"), data.get("applications_close_at")
        program = self.instance
        sealed = (
            program.pk is not None
            and Draw.objects.filter(
                program=program, stage__in=[Draw.Stage.CLOSED, Draw.Stage.DONE]
            ).exists()
        )
        if sealed and (opens, closes) != (
            program.applications_open_at,
            program.applications_close_at,
        ):
            # A window reopened after the seal showed "open" and an Apply
            # button, and refused every application.
            self.add_error(
                "applications_close_at",
                _("The application list is sealed: the application window cannot move."),
            )
        if opens and closes and closes <= opens:
            self.add_error("applications_close_at", _("Applications must close after they open."))
        if not 1 <= (data.get("party_size_max") or 0) <= 20:
            self.add_error("party_size_max", _("Between 1 and 20 people."))
        if not 1 <= (data.get("choices_max") or 0) <= 10:
            self.add_error("choices_max", _("Between 1 and 10 choices."))
        minimum_age = data.get("minimum_age")
        if minimum_age is not None and not 1 <= minimum_age <= 99:
            self.add_error("minimum_age", _("Between 1 and 99 years, or empty."))
        self.questions = questions_from_form(self, self.instance)
        return data


WEEKDAYS = [
    (0, gettext_lazy("Monday")),
    (1, gettext_lazy("Tuesday")),
    (2, gettext_lazy("Wednesday")),
    (3, gettext_lazy("Thursday")),
    (4, gettext_lazy("Friday")),
    (5, gettext_lazy("Saturday")),
    (6, gettext_lazy("Sunday")),
]


class RuleForm(forms.Form):
    """One schedule rule as the coordinator types it."""

    kind = forms.ChoiceField(
        label=gettext_lazy("Kind"),
        choices=[
            ("weekly", gettext_lazy("Weekly")),
            ("dated", gettext_lazy("On dates")),
            ("lunar", gettext_lazy("Lunar calendar")),
        ],
    )
    weekdays = forms.MultipleChoiceField(
        label=gettext_lazy("Weekdays"),
        required=False,
        choices=WEEKDAYS,
        widget=forms.CheckboxSelectMultiple,
    )
    first = forms.DateField(
        label=gettext_lazy("From"),
        required=False,
        widget=forms.DateInput(format=HTML_DATE, attrs={"type": "date"}),
    )
    last = forms.DateField(
        label=gettext_lazy("Until"),
        required=False,
        widget=forms.DateInput(format=HTML_DATE, attrs={"type": "date"}),
    )
    dates = forms.CharField(
        label=gettext_lazy("Dates (YYYY-MM-DD, one per line)"),
        required=False,
        widget=forms.Textarea(attrs={"rows": 3}),
    )
    lunar_year = forms.IntegerField(
        label=gettext_lazy("Lunar year"), required=False, min_value=1901, max_value=2099
    )
    lunar_month = forms.IntegerField(
        label=gettext_lazy("Lunar month"), required=False, min_value=1, max_value=12
    )
    lunar_days = forms.CharField(
        label=gettext_lazy("Lunar days (e.g. 5-7)"), required=False, max_length=40
    )
    times = forms.CharField(
        label=gettext_lazy("Times (e.g. 09:30-11:30, 14:00-16:00)"), max_length=200
    )
    capacity = forms.IntegerField(
        label=gettext_lazy("Seats per session"), min_value=1, max_value=100_000
    )
    label = forms.CharField(
        label=gettext_lazy("Label, in both languages (e.g. Lunar New Year · 春节)"),
        required=False,
        max_length=120,
    )

    def clean(self) -> dict[str, Any]:
        """Check what the coordinator typed, in their language, before the
        schedule core (whose messages are English, for the API and files)
        sees it. Full-width digits and marks, as a Chinese IME types them,
        and 9:30 for 09:30 are read as meant."""
        data = super().clean() or {}
        kind = data.get("kind")
        if data.get("times") is not None:
            try:
                data["times"] = _session_times(data["times"])
            except forms.ValidationError as exc:
                self.add_error("times", exc)
        if kind == "weekly":
            if not data.get("weekdays"):
                self.add_error("weekdays", _("Choose at least one weekday."))
            first, last = data.get("first"), data.get("last")
            if not first:
                self.add_error("first", _("Give the first date."))
            if not last:
                self.add_error("last", _("Give the last date."))
            if first and last and last < first:
                self.add_error("last", _("The last date is before the first."))
        elif kind == "dated":
            try:
                data["dates"] = _dates(data.get("dates") or "")
            except forms.ValidationError as exc:
                self.add_error("dates", exc)
        elif kind == "lunar":
            for name in ("lunar_year", "lunar_month"):
                if data.get(name) is None and name not in self.errors:
                    self.add_error(name, _("This is needed for a lunar rule."))
            try:
                data["lunar_days"] = _lunar_days(data.get("lunar_days") or "")
            except forms.ValidationError as exc:
                self.add_error("lunar_days", exc)
        return data

    def spec(self) -> dict[str, Any]:
        """The rule as `schedule.rule_from_dict` takes it (ScheduleError if wrong)."""
        data = self.cleaned_data
        spec: dict[str, Any] = {
            "kind": data["kind"],
            "times": [{"start": start, "end": end} for start, end in data["times"]],
            "capacity": data["capacity"],
            "label": data["label"],
        }
        if data["kind"] == "weekly":
            spec |= {
                "weekdays": [int(d) for d in data["weekdays"]],
                "first": data["first"].isoformat(),
                "last": data["last"].isoformat(),
            }
        elif data["kind"] == "dated":
            spec["dates"] = data["dates"]
        else:
            spec |= {
                "year": data["lunar_year"],
                "month": data["lunar_month"],
                "leap": False,
                "days": data["lunar_days"],
            }
        return spec


def _typed(text: str) -> str:
    """Full-width digits, colons and dashes as ASCII; any dash as "-"."""
    text = unicodedata.normalize("NFKC", text)
    return re.sub("[–—~～至]", "-", text).replace("，", ",").replace("、", ",")


def _session_times(text: str) -> list[tuple[str, str]]:
    times = []
    for part in _typed(text).split(","):
        match = re.fullmatch(r"\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*", part)
        if not match:
            raise forms.ValidationError(_("Write each time as start-end, e.g. 09:30-11:30."))
        h1, m1, h2, m2 = (int(g) for g in match.groups())
        if h1 > 23 or h2 > 23 or m1 > 59 or m2 > 59:
            raise forms.ValidationError(
                _("%(time)s is not a time of day.") % {"time": part.strip()}
            )
        start, end = f"{h1:02d}:{m1:02d}", f"{h2:02d}:{m2:02d}"
        if end <= start:
            raise forms.ValidationError(
                _("A session must end after it starts: %(start)s to %(end)s does not.")
                % {"start": start, "end": end}
            )
        times.append((start, end))
    return times


def _dates(text: str) -> list[str]:
    dates = []
    for word in _typed(text).replace(",", " ").split():
        try:
            dates.append(
                dt.date.fromisoformat(word.replace("/", "-").replace(".", "-")).isoformat()
            )
        except ValueError:
            raise forms.ValidationError(
                _("%(date)s is not a date like 2027-02-10.") % {"date": word[:20]}
            ) from None
    if not dates:
        raise forms.ValidationError(_("Give at least one date."))
    return dates


def _lunar_days(text: str) -> list[int]:
    first, sep, last = _typed(text).strip().partition("-")
    try:
        low, high = int(first), int(last) if sep else int(first)
    except ValueError:
        raise forms.ValidationError(_("Write the lunar days as 5-7 or 5.")) from None
    if not 1 <= low <= high <= 30:
        raise forms.ValidationError(
            _("Lunar days run from the first to the last, between 1 and 30, like 5-7.")
        )
    return list(range(low, high + 1))


class ExclusionForm(forms.Form):
    date = forms.DateField(
        label=gettext_lazy("Date"), widget=forms.DateInput(format=HTML_DATE, attrs={"type": "date"})
    )
    start = forms.TimeField(
        label=gettext_lazy("Only the session starting at (optional)"),
        required=False,
        widget=forms.TimeInput(attrs={"type": "time"}),
    )
    reason = forms.CharField(label=gettext_lazy("Reason"), max_length=120, required=False)


class SessionEditForm(forms.Form):
    starts_at = _moment_field(gettext_lazy("Starts"))
    ends_at = _moment_field(gettext_lazy("Ends"))
    capacity = forms.IntegerField(label=gettext_lazy("Seats"), min_value=1, max_value=100_000)
    cancel = forms.BooleanField(label=gettext_lazy("Cancel this session"), required=False)


def describe_rule(spec: dict[str, Any]) -> str:
    """A rule in the coordinator's language, from its stored JSON."""
    times = ", ".join(f"{t['start']}–{t['end']}" for t in spec.get("times", []))
    if spec.get("kind") == "weekly":
        names = [str(WEEKDAYS[d][1]) for d in spec["weekdays"]]
        when = _("every %(days)s from %(first)s to %(last)s") % {
            "days": ", ".join(names),
            "first": spec["first"],
            "last": spec["last"],
        }
    elif spec.get("kind") == "dated":
        when = _("on %(dates)s") % {"dates": ", ".join(spec["dates"])}
    else:
        when = _("lunar year %(year)s, month %(month)s, days %(days)s") % {
            "year": spec["year"],
            "month": spec["month"],
            "days": ", ".join(str(d) for d in spec["days"]),
        }
    text = _("%(when)s at %(times)s, %(seats)s seats") % {
        "when": when,
        "times": times,
        "seats": spec["capacity"],
    }
    return f"{spec['label']}{colon()}{text}" if spec.get("label") else text


@login_required
@permission_required("visits.view_visits", raise_exception=True)
@require_safe
def staff_programs(request: HttpRequest) -> HttpResponse:
    return render(
        request,
        "visits/staff_programs.html",
        {
            "programs": programs_for_staff(),
            "archived": Program.objects.filter(status=Program.Status.ARCHIVED).order_by(
                "-created_at"
            ),
        },
    )


@login_required
@coordinator_required
@require_POST
def program_duplicate(request: HttpRequest, slug: str) -> HttpResponse:
    """A draft copy for next year, under the slug the coordinator typed."""
    program = _get_program_for_staff(request, slug)
    new_slug = request.POST.get("slug", "").strip().lower()[:60]
    if not re.fullmatch(r"[-a-z0-9_]+", new_slug):
        messages.error(request, _("Give the copy a slug: letters, digits and hyphens."))
        return redirect("visits_staff:program", slug=slug)
    try:
        copy = program_services.program_duplicate(
            program=program, slug=new_slug, actor=_actor(request)
        )
    except program_services.LifecycleError as exc:
        messages.error(request, str(exc))
        return redirect("visits_staff:program", slug=slug)
    messages.success(
        request,
        _("Copied with its rules a year on. Add next year's exclusions, then apply the rules."),
    )
    return redirect("visits_staff:program", slug=copy.slug)


def _set_status(request: HttpRequest, program: Program, status: str) -> bool:
    try:
        program_services.program_set_status(program=program, status=status, actor=_actor(request))
    except program_services.LifecycleError as exc:
        messages.error(request, str(exc))
        return False
    return True


@login_required
@coordinator_required
@require_POST
def program_status(request: HttpRequest, slug: str) -> HttpResponse:
    """Unpublish (to draft) or archive."""
    program = _get_program_for_staff(request, slug)
    status = request.POST.get("status", "")
    if status not in (Program.Status.DRAFT, Program.Status.ARCHIVED):
        return HttpResponse(status=400)
    if not _set_status(request, program, status):
        return redirect("visits_staff:program", slug=slug)
    if status == Program.Status.ARCHIVED:
        messages.success(request, _("The program is archived."))
        return redirect("visits_staff:home")
    messages.success(request, _("The program is a draft again: the public no longer sees it."))
    return redirect("visits_staff:program", slug=slug)


@login_required
@coordinator_required
@require_POST
def program_restore(request: HttpRequest, slug: str) -> HttpResponse:
    """An archived program back as a draft."""
    program = get_object_or_404(Program, slug=slug, status=Program.Status.ARCHIVED)
    if _set_status(request, program, Program.Status.DRAFT):
        messages.success(request, _("The program is a draft again."))
    return redirect("visits_staff:home")


@login_required
@coordinator_required
def program_create(request: HttpRequest) -> HttpResponse:
    form = ProgramForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        program = form.save()
        messages.success(request, _("Program created. Now add its schedule rules."))
        return redirect("visits_staff:program", slug=program.slug)
    return render(request, "visits/staff_program_form.html", {"form": form})


@login_required
@coordinator_required
def program_edit(request: HttpRequest, slug: str) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    form = ProgramForm(request.POST or None, instance=program)
    if request.method == "POST" and form.is_valid():
        form.save()
        messages.success(request, _("Program saved."))
        return redirect("visits_staff:program", slug=program.slug)
    return render(request, "visits/staff_program_form.html", {"form": form, "program": program})


@login_required
@permission_required("visits.view_visits", raise_exception=True)
def program_detail(request: HttpRequest, slug: str) -> HttpResponse:
    """Rules, a preview of what they generate, the sessions and live demand."""
    program = _get_program_for_staff(request, slug)
    rule_form = RuleForm(prefix="rule")
    exclusion_form = ExclusionForm(prefix="exclusion")
    if request.method == "POST":
        if not request.user.has_perm("visits.coordinate_visits"):
            return HttpResponse(status=403)
        if "rule-kind" in request.POST:
            rule_form = RuleForm(request.POST, prefix="rule")
            if rule_form.is_valid():
                try:
                    program_services.rule_add(
                        program=program, spec=rule_form.spec(), actor=_actor(request)
                    )
                except schedule.ScheduleError as exc:
                    rule_form.add_error(None, str(exc))
                else:
                    messages.success(request, _("Rule added. Check the preview, then apply it."))
                    return redirect("visits_staff:program", slug=slug)
        else:
            exclusion_form = ExclusionForm(request.POST, prefix="exclusion")
            if exclusion_form.is_valid():
                try:
                    row = program_services.exclusion_add(
                        program=program, actor=_actor(request), **exclusion_form.cleaned_data
                    )
                except program_services.ExclusionError as exc:
                    exclusion_form.add_error(None, str(exc))
                else:
                    _say_if_it_matches(request, program, row)
                    return redirect("visits_staff:program", slug=slug)
    try:
        plan = program_services.session_plan(program)
        plan_error = ""
    except schedule.ScheduleError as exc:
        plan, plan_error = None, str(exc)
    return render(
        request,
        "visits/staff_program.html",
        {
            "program": program,
            "rules": [(row, describe_rule(row.spec)) for row in program.rules.all()],
            "exclusions": [
                (row, plan is None or plan.matches(row)) for row in program.exclusions.all()
            ],
            "plan": plan,
            "plan_error": plan_error,
            "sessions": program.sessions.order_by("starts_at"),
            "demand": program_demand(program),
            "pending": pending_offers(program),
            "warnings": program_services.program_warnings(program),
            "rule_form": rule_form,
            "exclusion_form": exclusion_form,
            "can_coordinate": request.user.has_perm("visits.coordinate_visits"),
        },
    )


@login_required
@permission_required("visits.view_visits", raise_exception=True)
@require_safe
def program_demand_panel(request: HttpRequest, slug: str) -> HttpResponse:
    """The live numbers, polled by htmx every few seconds."""
    program = _get_program_for_staff(request, slug)
    return render(
        request, "visits/_demand.html", {"program": program, "demand": program_demand(program)}
    )


@login_required
@coordinator_required
@require_POST
def program_apply_rules(request: HttpRequest, slug: str) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    try:
        plan = program_services.sessions_apply_rules(program=program, actor=_actor(request))
    except schedule.ScheduleError as exc:
        messages.error(request, str(exc))
    else:
        messages.success(
            request,
            _("%(created)s sessions created, %(removed)s removed, %(cancelled)s cancelled.")
            % {
                "created": len(plan.to_create),
                "removed": len(plan.to_delete),
                "cancelled": len(plan.to_cancel),
            },
        )
    return redirect("visits_staff:program", slug=slug)


@login_required
@coordinator_required
@require_POST
def rule_delete(request: HttpRequest, slug: str, rule_id: int) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    rule = get_object_or_404(ScheduleRule, program=program, pk=rule_id)
    program_services.rule_remove(rule=rule, actor=_actor(request))
    return redirect("visits_staff:program", slug=slug)


def _say_if_it_matches(request: HttpRequest, program: Program, row: ScheduleExclusion) -> None:
    try:
        matches = program_services.session_plan(program).matches(row)
    except schedule.ScheduleError:
        matches = True  # the preview shows the rules' own error
    if matches:
        messages.success(request, _("Exclusion added. Check the preview, then apply the rules."))
    else:
        messages.warning(
            request,
            _("Exclusion added, but no session of the rules falls on it. Check the date and time."),
        )


@login_required
@coordinator_required
@require_POST
def exclusion_delete(request: HttpRequest, slug: str, exclusion_id: int) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    exclusion = get_object_or_404(ScheduleExclusion, program=program, pk=exclusion_id)
    program_services.exclusion_remove(exclusion=exclusion, actor=_actor(request))
    messages.success(request, _("Exclusion removed. Check the preview, then apply the rules."))
    return redirect("visits_staff:program", slug=slug)


@login_required
@coordinator_required
@require_POST
def program_publish(request: HttpRequest, slug: str) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    program_services.program_publish(program=program, actor=_actor(request))
    messages.success(request, _("The program is public."))
    return redirect("visits_staff:program", slug=slug)


def _unless_same_minute(value: dt.datetime | None, current: dt.datetime) -> dt.datetime | None:
    if value is None or value == current.replace(second=0, microsecond=0):
        return None
    return value


@login_required
@coordinator_required
def session_edit(request: HttpRequest, slug: str, session_id: int) -> HttpResponse:
    program = _get_program_for_staff(request, slug)
    session = get_object_or_404(Session, program=program, pk=session_id)
    initial = {
        "capacity": session.capacity,
        "starts_at": session.starts_at,
        "ends_at": session.ends_at,
    }
    form = SessionEditForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        was_open = session.status != Session.Status.CANCELLED
        # Counted before: the parties moved on no longer point at this session.
        holders = session_holders(session)
        data = form.cleaned_data
        # The form has minutes; a time left as it was (or left out) is no move.
        starts_at = _unless_same_minute(data["starts_at"], session.starts_at)
        ends_at = _unless_same_minute(data["ends_at"], session.ends_at)
        moves = not data["cancel"] and (starts_at or ends_at) is not None
        if moves and holders["parties"] and request.POST.get("confirm_move") != "1":
            # Who a move reaches, before anything changes: a second submit moves.
            try:
                program_services.session_move_check(
                    session, starts_at or session.starts_at, ends_at or session.ends_at
                )
            except program_services.SessionEditError as exc:
                form.add_error("starts_at", str(exc))
                return render(
                    request,
                    "visits/staff_session_form.html",
                    {"program": program, "session": session, "form": form, "holders": holders},
                )
            return render(
                request,
                "visits/staff_session_form.html",
                {
                    "program": program,
                    "session": session,
                    "form": form,
                    "holders": holders,
                    "move_preview": True,
                },
            )
        try:
            program_services.session_edit(
                session=session,
                capacity=data["capacity"],
                cancel=data["cancel"],
                starts_at=starts_at,
                ends_at=ends_at,
                actor=_actor(request),
            )
        except program_services.SessionEditError as exc:
            form.add_error("starts_at" if moves else "capacity", str(exc))
            return render(
                request,
                "visits/staff_session_form.html",
                {
                    "program": program,
                    "session": session,
                    "form": form,
                    "holders": session_holders(session),
                },
            )
        if was_open and session.status == Session.Status.CANCELLED:
            told = holders["parties"]
            messages.success(
                request,
                ngettext(
                    "Session cancelled. %(n)s party is being told; its tickets no longer work.",
                    "Session cancelled. %(n)s parties are being told; their tickets no longer work.",
                    told,
                )
                % {"n": told}
                + (
                    ("" if (get_language() or "").startswith("zh") else " ")
                    + _(
                        "Each party is then offered its next choice that has seats, or goes back on the waitlist where the draw put it."
                    )
                    if told
                    else ""
                ),
            )
        elif moves and holders["parties"]:
            told = holders["parties"]
            messages.success(
                request,
                ngettext(
                    "Session moved. %(n)s party is being told the new time; its tickets were renewed.",
                    "Session moved. %(n)s parties are being told the new time; their tickets were renewed.",
                    told,
                )
                % {"n": told},
            )
        else:
            messages.success(request, _("Session saved."))
        return redirect("visits_staff:program", slug=slug)
    return render(
        request,
        "visits/staff_session_form.html",
        {"program": program, "session": session, "form": form, "holders": session_holders(session)},
    )
