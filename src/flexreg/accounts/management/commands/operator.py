"""``flexreg operator create EMAIL``: a central-operator user with a new API token (shown once)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from flexreg.accounts import services as account_services
from flexreg.accounts.models import User
from flexreg.core.acting import Acting
from flexreg.participants import services as participant_services


class Command(BaseCommand):
    help = "Create a central-operator user (MARKET_FACILITATOR) and print a new API token once."

    def add_arguments(self, parser: Any) -> None:
        parser.add_argument("action", choices=["create"])
        parser.add_argument("email")
        parser.add_argument("--name", default="")
        parser.add_argument("--token-days", type=int, default=30)

    def handle(
        self, *args: Any, action: str, email: str, name: str, token_days: int, **o: Any
    ) -> None:
        acting = Acting.system("cli:operator-create")
        email = email.strip().lower()
        if "@" not in email:
            raise CommandError("give an email address")
        with transaction.atomic():
            user = User.objects.filter(email=email).first()
            if user is None:
                user = User.objects.create_user(email=email, full_name=name or email)
                from flexreg.core import audit

                audit.record(
                    acting,
                    "user.created",
                    object_type="user",
                    object_id=str(user.pk),
                    after={"email": email},
                    personal=("email",),
                )
            held = participant_services.ensure_central_operator(acting)
            membership = participant_services.grant_authorised_person(acting, held, user.pk)
            _, clear = account_services.issue_token(
                acting, user, name="operator command", membership=membership, days=token_days
            )
        label = f"{held.participant.participant_id}/MARKET_FACILITATOR"
        self.stdout.write(f"Central operator {email} acts for {label}.")
        self.stdout.write("API token (shown once, store it now):")
        self.stdout.write(clear)
