"""``flexreg operator create EMAIL``: a central-operator user with a new API token (shown once)."""

from __future__ import annotations

import sys
from typing import Any

from allauth.account.models import EmailAddress
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
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
        parser.add_argument(
            "--role",
            choices=["MARKET_FACILITATOR", "REGULATOR"],
            default="MARKET_FACILITATOR",
            help="MARKET_FACILITATOR (central operator, default) or REGULATOR (oversight).",
        )
        parser.add_argument(
            "--organisation",
            default="",
            help="For REGULATOR: the regulator's name, e.g. 'Ofgem' (one participant each).",
        )
        parser.add_argument(
            "--password-stdin",
            action="store_true",
            help="Read a portal password from standard input (else: sign in through SSO).",
        )

    def handle(
        self,
        *args: Any,
        action: str,
        email: str,
        name: str,
        token_days: int,
        password_stdin: bool = False,
        role: str = "MARKET_FACILITATOR",
        organisation: str = "",
        **o: Any,
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
            if password_stdin:
                password = sys.stdin.readline().rstrip("\n")
                try:
                    validate_password(password, user)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from exc
                user.set_password(password)
                user.save(update_fields=["password"])
            # The address was given by whoever runs this trusted command: mark it confirmed.
            EmailAddress.objects.update_or_create(
                user=user, email=email, defaults={"verified": True, "primary": True}
            )
            if role == "REGULATOR":
                if not organisation:
                    raise CommandError("--organisation is required for --role REGULATOR")
                held = participant_services.ensure_special_participant(
                    acting, "REGULATOR", organisation
                )
            else:
                held = participant_services.ensure_central_operator(acting)
            membership = participant_services.grant_authorised_person(acting, held, user.pk)
            _, clear = account_services.issue_token(
                acting, user, name="operator command", membership=membership, days=token_days
            )
        label = f"{held.participant.participant_id}/{held.role}"
        self.stdout.write(f"{email} acts for {label} ({held.participant.legal_name}).")
        self.stdout.write("API token (shown once, store it now):")
        self.stdout.write(clear)
