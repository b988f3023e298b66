from django.apps import AppConfig


class OpsConfig(AppConfig):
    name = "flexreg.ops"
    label = "ops"
    verbose_name = "Operations"
