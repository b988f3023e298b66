"""``flexreg demo``: migrate, start the local stand-ins, load demo data and serve.

Everything here is for a newcomer's machine: sample Companies House data served locally (no
API key needed), demo accounts with printed passwords. Never use it in production.
"""

from __future__ import annotations

import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from flexreg.accounts.models import User
    from flexreg.participants.models import Membership

DEMO_CH_PORT = int(os.environ.get("FLEXREG_DEMO_CH_PORT", "8001"))
DEMO_ASSET_SERVICES_PORT = int(os.environ.get("FLEXREG_DEMO_ASSET_SERVICES_PORT", "8002"))
DEMO_PASSWORD = "flexreg-demo-2026"
# The demo operator's TOTP secret (base32): add it to an authenticator app, or run
# `oathtool --totp -b <secret>`. Central operators must use TOTP (docs/decisions/0007).
DEMO_OPERATOR_TOTP_SECRET = "JBSWY3DPEHPK3PXPFLEXREGDEMOTOTPX"
OPERATOR_EMAIL = "operator@flexreg.demo"
APPLICANT_EMAIL = "applicant@flexreg.demo"
REVIEW_EMAIL = "pending@flexreg.demo"
FSP_EMAIL = "fsp@flexreg.demo"
ASSETS_EMAIL = "assets@flexreg.demo"


def prepare_environment() -> None:
    """Environment for the demo, set before Django reads its settings."""
    os.environ.setdefault("FLEXREG_ENV", "development")
    if not os.environ.get("FLEXREG_DEMO_REAL_COMPANIES_HOUSE"):
        os.environ["FLEXREG_COMPANIES_HOUSE_URL"] = f"http://127.0.0.1:{DEMO_CH_PORT}"
        os.environ["FLEXREG_COMPANIES_HOUSE_API_KEY"] = "demo-key"
    if not os.environ.get("FLEXREG_DEMO_REAL_ASSET_SERVICES"):
        base = f"http://127.0.0.1:{DEMO_ASSET_SERVICES_PORT}"
        for var, prefix in (
            ("METER_POINT", "meter-point"),
            ("DNO_CONNECTION", "dno-connection"),
            ("MANUFACTURER_REGISTRY", "manufacturer-registry"),
            ("MCS", "mcs"),
            ("CONSENT", "consent"),
        ):
            os.environ[f"FLEXREG_{var}_URL"] = f"{base}/{prefix}"
        os.environ.setdefault("FLEXREG_CONSENT_WEBHOOK_SECRET", "demo-consent-secret")


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
    _market_entry_demo()
    _assets_demo()
    lines.append(
        f"  central operator:   {OPERATOR_EMAIL} / {DEMO_PASSWORD}  "
        f"(TOTP secret {DEMO_OPERATOR_TOTP_SECRET})"
    )
    lines.append(f"  new applicant:      {APPLICANT_EMAIL} / {DEMO_PASSWORD}")
    lines.append(f"  pending applicant:  {REVIEW_EMAIL} / {DEMO_PASSWORD}")
    lines.append(f"  FSP in market entry: {FSP_EMAIL} / {DEMO_PASSWORD}")
    lines.append(f"  FSP with assets:    {ASSETS_EMAIL} / {DEMO_PASSWORD}")
    return lines


def _market_entry_demo() -> None:
    """A verified FSP half-way through market entry: its technical contact given and an
    insurance certificate waiting for the operator's review. Also loads the sample EIC lists."""
    from pathlib import Path

    from django.core.files.uploadedfile import SimpleUploadedFile

    from flexreg.accounts.acting import acting_for
    from flexreg.entry import eic_register, services_documents
    from flexreg.entry import services as entry
    from flexreg.participants.models import Participant

    fixtures = Path(__file__).resolve().parent.parent / "devtools" / "eic_fixtures"
    eic_register.import_files(sorted(fixtures.glob("*.csv")))
    if Participant.objects.filter(company_number="99000006").exists():
        return
    user = _user(FSP_EMAIL, "Anne Bronte (demo)")
    membership = _verified_fsp(
        user,
        {
            "kind": "organisation",
            "legal_name": "Bronte Heat Co-operative Limited (Sample)",
            "organisation_type": "company",
            "company_number": "99000006",
            "registered_address": {
                "line1": "Parsonage Barn, Church Street",
                "town": "Haworth",
                "postcode": "BD22 1AA",
            },
            "contacts": {
                "primary": {
                    "name": "Anne Bronte",
                    "email": "anne@bronteheat.example",
                    "phone": "+441535640000",
                }
            },
            "email_domains": ["flexreg.demo", "bronteheat.example"],
            "requested_roles": ["FSP"],
            "declaration": {
                "declarant_name": "Anne Bronte",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
        },
    )
    if membership is None:
        return  # not verified (Companies House stand-in unreachable): nothing more to show
    me = acting_for(user, membership, via="cli")
    case = membership.participant_role.entry_case
    entry.answer(
        me,
        case.requests.get(step_key="technical_contact"),
        form_data={
            "name": "Emily Bronte",
            "email": "emily@bronteheat.example",
            "phone": "+441535640001",
        },
    )
    pdf = SimpleUploadedFile(
        "insurance-certificate.pdf", b"%PDF-1.4\n% FlexReg demo certificate\n%%EOF\n"
    )
    document = services_documents.upload(me, pdf, accept=["application/pdf"])
    entry.answer(me, case.requests.get(step_key="insurance_certificate"), document=document)


def _assets_demo() -> None:
    """A qualified FSP with assets in four states: a battery registered (its checks run by the
    worker against the asset services stand-in), owned by the market-entry demo's participant
    (a second party on the asset); a second battery at the same site, so alike it waits in the
    operator's queue as a possible duplicate; a heat pump left as a draft; and solar panels
    decommissioned. The FSP's market entry is marked qualified directly (a demo shortcut)."""
    import datetime as dt

    from flexreg.accounts.acting import acting_for
    from flexreg.assets import services as assets
    from flexreg.assets import services_lifecycle, services_links
    from flexreg.core.acting import Acting
    from flexreg.participants import services
    from flexreg.participants.models import Participant

    if Participant.objects.filter(company_number="99000005").exists():
        return
    user = _user(ASSETS_EMAIL, "Laura Young (demo)")
    membership = _verified_fsp(
        user,
        {
            "kind": "organisation",
            "legal_name": "Gridscale Aggregation PLC (Sample)",
            "organisation_type": "company",
            "company_number": "99000005",
            "registered_address": {
                "line1": "100 Sample Square",
                "town": "London",
                "postcode": "EC1A 1AA",
            },
            "contacts": {
                "primary": {
                    "name": "Laura Young",
                    "email": "laura@gridscale.example",
                    "phone": "+442079460000",
                }
            },
            "email_domains": ["flexreg.demo", "gridscale.example"],
            "requested_roles": ["FSP"],
            "declaration": {
                "declarant_name": "Laura Young",
                "declarant_is_applicant": True,
                "statement_accepted": True,
            },
        },
    )
    if membership is None:
        return  # not verified (Companies House stand-in unreachable): nothing more to show
    services.set_role_qualified(
        Acting.system("demo-data"),
        membership.participant_role,
        True,
        "Demo: market entry taken as complete",
    )
    membership.refresh_from_db()
    me = acting_for(user, membership, via="cli")
    battery = assets.register(
        me,
        {
            "name": "Cambridge depot battery",
            "category": "BESS",
            "manufacturer": "Acme Energy Ltd",
            "model": "PowerCube 20",
            "serial_number": "PC-888888",
            "capacity": {"installed_kw": "8", "export_kw": "8", "import_kw": "8"}
            | {"storage_kwh": "20"},
            "flexibility_direction": "both",
            "metering": {"import_mpan": "1012345678903", "export_mpan": "1098765432106"},
            "site": {"address_line1": "1 Station Road", "town": "Cambridge", "postcode": "CB1 2AB"},
            "network": {"connection_status": "CONNECTED", "connection_reference": "EPN-CON-000123"},
            "commissioning_date": "2023-05-20",
            "contract_reference": "GS-2023-0142",
        },
    )
    owner = Participant.objects.filter(company_number="99000006", status="active").first()
    if owner is not None:
        services_links.add_link(
            me,
            battery.asset_id,
            services_links.NewLink(participant_id=owner.participant_id, relationship="legal_owner"),
        )
    assets.register(  # same site, category and size: to the operator's queue (query)
        me,
        {
            "name": "Cambridge depot battery (second unit)",
            "category": "BESS",
            "manufacturer": "Voltstore Ltd",
            "model": "VS-20",
            "serial_number": "VS20-000451",
            "capacity": {"installed_kw": "8", "export_kw": "8", "import_kw": "8"}
            | {"storage_kwh": "20"},
            "flexibility_direction": "both",
            "metering": {"import_mpan": "1012345678903"},
            "site": {"address_line1": "1 Station Road", "town": "Cambridge", "postcode": "CB1 2AB"},
            "network": {"connection_status": "CONNECTED"},
            "commissioning_date": "2024-02-01",
        },
    )
    services_lifecycle.save_draft(
        me,
        {
            "name": "Office heat pump",
            "category": "HEAT_PUMP",
            "manufacturer": "Heatwell Ltd",
            "model": "Aira 7",
            "capacity": {"installed_kw": "7"},
        },
    )
    solar = assets.register(
        me,
        {
            "name": "Islington rooftop solar",
            "category": "SOLAR_PV",
            "manufacturer": "SunBright Inverters",
            "model": "SB-4000",
            "serial_number": "SB4K-0000123",
            "capacity": {"installed_kw": "4", "export_kw": "4"},
            "flexibility_direction": "down",
            "metering": {"import_mpan": "1234567890126"},
            "site": {"address_line1": "9 Sample Lane", "town": "London", "postcode": "N1 9GU"},
            "network": {"connection_status": "CONNECTED"},
            "commissioning_date": "2023-06-01",
        },
    )
    services_lifecycle.decommission(
        me, solar.asset_id, dt.date.today(), "Roof replaced; the panels were removed."
    )


def _verified_fsp(user: User, payload: dict[str, Any]) -> Membership | None:
    """Register ``payload`` for ``user`` and check it against Companies House: the user's
    Authorised Person membership of the FSP role, or None when it was not verified (the
    Companies House stand-in unreachable)."""
    from flexreg.core.acting import Acting
    from flexreg.participants import services
    from flexreg.participants.models import Membership
    from flexreg.participants.schemas import RegistrationIn

    registration = RegistrationIn.model_validate(payload)
    participant = services.register(
        Acting(user_id=user.pk, user_label=user.email, via="cli"), registration.root
    )
    services.check_after_registration(participant)
    membership = Membership.objects.filter(
        user=user, participant_role__participant=participant, participant_role__role="FSP"
    ).first()
    if membership is None or not membership.is_authorised_person:
        return None
    return membership


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
