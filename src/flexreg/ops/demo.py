"""``flexreg demo``: migrate, start the local stand-ins, load demo data and serve.

Everything here is for a newcomer's machine: sample Companies House data served locally (no
API key needed), demo accounts with printed passwords. Never use it in production.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from flexreg.accounts.models import User

DEMO_CH_PORT = int(os.environ.get("FLEXREG_DEMO_CH_PORT", "8001"))
DEMO_PASSWORD = "flexreg-demo-2026"
# The demo operator's TOTP secret (base32): add it to an authenticator app, or run
# `oathtool --totp -b <secret>`. Central operators must use TOTP (docs/decisions/0007).
DEMO_OPERATOR_TOTP_SECRET = "JBSWY3DPEHPK3PXPFLEXREGDEMOTOTPX"
OPERATOR_EMAIL = "operator@flexreg.demo"
APPLICANT_EMAIL = "applicant@flexreg.demo"
REVIEW_EMAIL = "pending@flexreg.demo"


def prepare_environment() -> None:
    """Environment for the demo, set before Django reads its settings."""
    os.environ.setdefault("FLEXREG_ENV", "development")
    if not os.environ.get("FLEXREG_DEMO_REAL_COMPANIES_HOUSE"):
        os.environ["FLEXREG_COMPANIES_HOUSE_URL"] = f"http://127.0.0.1:{DEMO_CH_PORT}"
        os.environ["FLEXREG_COMPANIES_HOUSE_API_KEY"] = "demo-key"


def load_demo_data() -> list[str]:
    """Create the demo accounts and one registration waiting for review. Idempotent."""
    from django.db import transaction

    from flexreg.core.acting import Acting
    from flexreg.participants import services
    from flexreg.participants.models import Participant
    from flexreg.participants.schemas import RegistrationIn

    acting = Acting.system("demo-data")
    lines = []
    with transaction.atomic():
        operator = _user(OPERATOR_EMAIL, "Olive Operator (demo)")
        held = services.ensure_central_operator(acting)
        services.grant_authorised_person(acting, held, operator.pk)
        _enrol_totp(operator)
        _user(APPLICANT_EMAIL, "Jane Smith (demo)")
        pending_user = _user(REVIEW_EMAIL, "Priya Pending (demo)")
    if not Participant.objects.filter(company_number="99000003").exists():
        registration = RegistrationIn.model_validate(
            {
                "kind": "organisation",
                "legal_name": "Handover Heat Pumps Limited (Sample)",
                "organisation_type": "company",
                "company_number": "99000003",
                "registered_address": {
                    "line1": "3 Sample Road",
                    "town": "Bristol",
                    "postcode": "BS1 4DJ",
                },
                "contacts": {
                    "primary": {
                        "name": "Priya Pending",
                        "email": "priya@handover.example",
                        "phone": "+441174960000",
                    }
                },
                "email_domains": ["handover.example"],
                "requested_roles": ["ASSET_OWNER"],
                "declaration": {
                    "declarant_name": "Jane Smith",
                    "declarant_is_applicant": False,
                    "statement_accepted": True,
                },
            }
        )
        user_acting = Acting(user_id=pending_user.pk, user_label=pending_user.email, via="cli")
        participant = services.register(user_acting, registration.root)
        services.check_after_registration(participant)
    lines.append(
        f"  central operator:   {OPERATOR_EMAIL} / {DEMO_PASSWORD}  "
        f"(TOTP secret {DEMO_OPERATOR_TOTP_SECRET})"
    )
    lines.append(f"  new applicant:      {APPLICANT_EMAIL} / {DEMO_PASSWORD}")
    lines.append(f"  pending applicant:  {REVIEW_EMAIL} / {DEMO_PASSWORD}")
    return lines


def _user(email: str, name: str) -> User:

    from allauth.account.models import EmailAddress

    from flexreg.accounts.models import User

    user = User.objects.filter(email=email).first()
    if user is None:
        user = User.objects.create_user(email=email, password=DEMO_PASSWORD, full_name=name)
    # Demo addresses cannot receive mail: mark them confirmed.
    EmailAddress.objects.update_or_create(
        user=user, email=email, defaults={"verified": True, "primary": True}
    )
    return user


def _enrol_totp(user: User) -> None:
    from allauth.mfa.models import Authenticator
    from allauth.mfa.totp.internal.auth import TOTP

    if not Authenticator.objects.filter(user=user, type=Authenticator.Type.TOTP).exists():
        TOTP.activate(user, DEMO_OPERATOR_TOTP_SECRET)
