from django.contrib import admin
from django.http import HttpRequest

from headon.visits.models import Application, Program


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin[Program]):
    list_display = ["title_en", "title_zh", "slug", "status"]


@admin.register(Application)
class ApplicationAdmin(admin.ModelAdmin[Application]):
    """Coordinators set priority tiers here (owners first, for example);
    everything else an applicant wrote stays as they wrote it."""

    list_display = ["reference", "program", "party_size", "status", "priority_tier"]
    list_filter = ["program", "status", "priority_tier"]
    search_fields = ["reference"]
    fields = ["reference", "program", "party_size", "status", "priority_tier"]
    readonly_fields = ["reference", "program", "party_size", "status"]
    list_editable = ["priority_tier"]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Application | None = None) -> bool:
        return False
