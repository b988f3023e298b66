from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "flexreg.core"
    label = "core"
    verbose_name = "FlexReg core"
