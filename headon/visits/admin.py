from django.contrib import admin

from headon.visits.models import Program


@admin.register(Program)
class ProgramAdmin(admin.ModelAdmin[Program]):
    list_display = ["title_en", "title_zh", "slug", "status"]
