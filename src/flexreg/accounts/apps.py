from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "flexreg.accounts"
    label = "accounts"
    verbose_name = "People and credentials"
