from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AntibotConfig(AppConfig):
    """Proof-of-work challenges and rate limits, and the store they share."""

    name = "headon.antibot"
    label = "antibot"
    verbose_name = _("Bot defence")
