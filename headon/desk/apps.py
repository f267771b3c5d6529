from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class DeskConfig(AppConfig):
    name = "headon.desk"
    label = "desk"
    verbose_name = _("Answer desk")

    def ready(self) -> None:
        from headon.desk import checks  # noqa: F401  (registers the system checks)
