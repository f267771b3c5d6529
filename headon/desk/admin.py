from django.contrib import admin

from headon.desk.models import Channel


@admin.register(Channel)
class ChannelAdmin(admin.ModelAdmin[Channel]):
    list_display = ["name", "slug", "kind", "is_active"]
