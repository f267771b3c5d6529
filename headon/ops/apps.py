from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """Operator commands: demo, serve, worker, backup, restore."""

    name = "headon.ops"
    label = "ops"
    verbose_name = _("Operations")
