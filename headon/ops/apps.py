from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OpsConfig(AppConfig):
    """Operator commands: demo, serve, worker, backup, restore."""

    name = "headon.ops"
    label = "ops"
    verbose_name = _("Operations")

    def ready(self) -> None:
        from headon.ops import checks  # noqa: F401  (registers the deploy checks)
