from django.apps import AppConfig


class AccountsConfig(AppConfig):
    name = "flexreg.accounts"
    label = "accounts"
    verbose_name = "People and credentials"

    def ready(self) -> None:
        from flexreg.accounts import housekeeping, receivers, signals  # noqa: F401  (register)

        signals.connect()  # audit sign-in/out and failures; feed the sign-in slow-down
