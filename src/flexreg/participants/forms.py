"""Portal forms for registration and the operator's review.

Each form collects flat GOV.UK fields and validates them with the API's own schemas
(``OrganisationIn``, ``DeclarationIn``, ``IndividualIn``, ``VerificationDecisionIn``), so the
portal and the API accept exactly the same input and give the same stable codes.
"""

from __future__ import annotations

import re
from typing import Any

import pydantic
from django import forms

from flexreg.accounts.forms import GovukForm, message_for, text
from flexreg.core.roles import INDIVIDUAL_ROLES, ROLES
from flexreg.participants import schemas
from flexreg.participants.models import OrganisationType

# Organisation types that have a Companies House number (and so a director's declaration).
COMPANY_TYPES = frozenset({OrganisationType.COMPANY.value, OrganisationType.LLP.value})
SELF_REQUESTABLE = [(r.code, r.name) for r in ROLES.values() if r.self_requestable]
INDIVIDUAL_CHOICES = [(code, ROLES[code].name) for code in sorted(INDIVIDUAL_ROLES)]
YES_NO = [("yes", "Yes"), ("no", "No")]
# A valid role standing in for the roles step while the organisation details are checked alone.
_PLACEHOLDER_ROLES = ["FSP"]


class _RolesIn(pydantic.BaseModel):
    requested_roles: schemas.Roles


def _split_domains(raw: str) -> list[str]:
    return [d for d in re.split(r"[\s,;]+", raw or "") if d]


def _dig(data: Any, path: tuple[str, ...]) -> Any:
    for key in path:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def _check_postcode(form: GovukForm, address: dict[str, Any]) -> None:
    """``AddressIn`` checks the postcode only once its other fields are valid; check it alone
    too so that every error shows at once."""
    if form.has_error("address_postcode"):
        return
    try:
        schemas.AddressIn.model_validate({**address, "line1": "-", "town": "-"})
    except pydantic.ValidationError as exc:
        for err in exc.errors():
            if str(err["type"]).startswith("postcode."):
                form.add_error(
                    "address_postcode", message_for(form.fields["address_postcode"], err)
                )
                return


def _choice(label: str, choices: list[tuple[str, str]], blank: str) -> forms.ChoiceField:
    field = forms.ChoiceField(
        label=label,
        choices=choices,
        required=False,
        error_messages={"invalid_choice": blank},
    )
    field.blank_message = blank  # type: ignore[attr-defined]
    return field


def _multi(label: str, choices: list[tuple[str, str]], blank: str) -> forms.MultipleChoiceField:
    field = forms.MultipleChoiceField(
        label=label,
        choices=choices,
        required=False,
        error_messages={"invalid_choice": "Select roles from the list"},
    )
    field.blank_message = blank  # type: ignore[attr-defined]
    return field


# --- organisation registration, step by step --------------------------------------------------


class OrganisationDetailsForm(GovukForm):
    legal_name = text(
        "Legal name",
        "Enter the organisation's legal name",
        hint="As it appears on the Companies House register, if the organisation is registered "
        "there.",
        autocomplete="organization",
    )
    trading_name = text("Trading name (optional)", hint="If different from the legal name.")
    organisation_type = _choice(
        "What type of organisation is it?",
        list(OrganisationType.choices),
        "Select the type of organisation",
    )
    company_number = text(
        "Company number",
        "Enter the company number",
        hint="8 characters, like 01234567 or SC123456.",
        width="govuk-input--width-10",
        spellcheck=False,
    )
    llp_number = text(
        "LLP number",
        "Enter the LLP number",
        hint="8 characters, like OC123456.",
        width="govuk-input--width-10",
        spellcheck=False,
    )
    non_uk_country = text(
        "Country of registration",
        "Enter the country of registration",
        hint="A 2-letter country code, like IE or DE.",
        width="govuk-input--width-4",
        spellcheck=False,
    )
    non_uk_registry = text("Registry", "Enter the name of the registry")
    non_uk_registration_number = text(
        "Registration number",
        "Enter the registration number",
        width="govuk-input--width-20",
        spellcheck=False,
    )
    address_line1 = text(
        "Address line 1",
        "Enter address line 1, typically the building and street",
        autocomplete="address-line1",
    )
    address_line2 = text("Address line 2 (optional)", autocomplete="address-line2")
    address_town = text(
        "Town or city",
        "Enter the town or city",
        width="govuk-!-width-two-thirds",
        autocomplete="address-level2",
    )
    address_county = text(
        "County (optional)", width="govuk-!-width-two-thirds", autocomplete="address-level1"
    )
    address_postcode = text(
        "Postcode",
        "Enter the postcode",
        width="govuk-input--width-10",
        autocomplete="postal-code",
        spellcheck=False,
    )
    vat_number = text(
        "VAT number (optional)",
        hint="GB followed by 9 or 12 digits, like GB123456789.",
        width="govuk-input--width-20",
        spellcheck=False,
    )
    website = text(
        "Website (optional)",
        hint="A web address starting https://.",
        autocomplete="url",
        input_type="url",
        spellcheck=False,
    )
    primary_name = text("Full name", "Enter the primary contact's full name", spellcheck=False)
    primary_email = text(
        "Email address",
        "Enter the primary contact's email address",
        input_type="email",
        spellcheck=False,
    )
    primary_phone = text(
        "Phone number",
        "Enter the primary contact's phone number",
        hint="In international format, like +44 20 7946 0000.",
        input_type="tel",
        width="govuk-input--width-20",
    )
    technical_name = text("Full name", "Enter the technical contact's full name", spellcheck=False)
    technical_email = text(
        "Email address",
        "Enter the technical contact's email address",
        input_type="email",
        spellcheck=False,
    )
    technical_phone = text(
        "Phone number",
        "Enter the technical contact's phone number",
        hint="In international format, like +44 20 7946 0000.",
        input_type="tel",
        width="govuk-input--width-20",
    )
    email_domains = text(
        "Organisation email domains",
        "Enter at least one email domain",
        hint="The domains your staff's email addresses use, separated by commas, like "
        "example.co.uk, example.com.",
        spellcheck=False,
    )

    paths = {
        "legal_name": ("legal_name",),
        "trading_name": ("trading_name",),
        "organisation_type": ("organisation_type",),
        "company_number": ("company_number",),
        "non_uk_country": ("non_uk_registration", "country"),
        "non_uk_registry": ("non_uk_registration", "registry"),
        "non_uk_registration_number": ("non_uk_registration", "registration_number"),
        "address_line1": ("registered_address", "line1"),
        "address_line2": ("registered_address", "line2"),
        "address_town": ("registered_address", "town"),
        "address_county": ("registered_address", "county"),
        "address_postcode": ("registered_address", "postcode"),
        "vat_number": ("vat_number",),
        "website": ("website",),
        "primary_name": ("contacts", "primary", "name"),
        "primary_email": ("contacts", "primary", "email"),
        "primary_phone": ("contacts", "primary", "phone"),
        "technical_name": ("contacts", "technical", "name"),
        "technical_email": ("contacts", "technical", "email"),
        "technical_phone": ("contacts", "technical", "phone"),
        "email_domains": ("email_domains",),
    }
    aliases = {
        ("llp_number",): "llp_number",
        ("registered_address", "country"): "non_uk_country",
        ("non_uk_registration",): "non_uk_country",
    }
    code_fields = {
        "company_number.": "company_number",
        "non_uk.": "non_uk_country",
        "postcode.": "address_postcode",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        initial = dict(kwargs.get("initial") or {})
        if initial.get("organisation_type") == OrganisationType.LLP:
            # One input per radio: an LLP's number is shown (and entered) in its own field.
            initial["llp_number"], initial["company_number"] = initial.get("company_number"), ""
            kwargs["initial"] = initial
        super().__init__(*args, **kwargs)
        self.fields["non_uk_country"].pattern_message = (  # type: ignore[attr-defined]
            "Enter the country as a 2-letter code, like IE"
        )
        self.checked: schemas.OrganisationIn | None = None

    # The fields revealed under each organisation type's radio.
    conditional = {
        OrganisationType.COMPANY.value: ("company_number",),
        OrganisationType.LLP.value: ("llp_number",),
        OrganisationType.NON_UK.value: (
            "non_uk_country",
            "non_uk_registry",
            "non_uk_registration_number",
        ),
    }

    def organisation_types(self) -> list[dict[str, Any]]:
        """The type radios, each with its id and the bound fields it reveals."""
        return [
            {
                "value": value,
                "label": label,
                "id": "organisation_type" if n == 1 else f"organisation_type-{n}",
                "fields": [self[name] for name in self.conditional.get(value, ())],
            }
            for n, (value, label) in enumerate(OrganisationType.choices, start=1)
        ]

    @staticmethod
    def number_field(organisation_type: str | None, name: str | None) -> str | None:
        """The company number's errors go to the input shown for the chosen type."""
        if name == "company_number" and organisation_type == OrganisationType.LLP:
            return "llp_number"
        return name

    def add_schema_errors(self, errors: list[Any]) -> list[Any]:
        org_type = self.data.get("organisation_type")
        for err in errors:
            if self.field_for(err.get("loc", ()), str(err.get("type", ""))) == "company_number":
                err["loc"] = ("llp_number",) if org_type == OrganisationType.LLP else err["loc"]
        return super().add_schema_errors(errors)

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("organisation_type") == OrganisationType.LLP:
            data = {**data, "company_number": data.get("llp_number") or ""}
        payload = organisation_input(data, declaration=None, roles=_PLACEHOLDER_ROLES)
        self.checked = self.validate_schema(schemas.OrganisationIn, payload)
        if self.checked is None:
            _check_postcode(self, payload["registered_address"])
        return data

    def normalised(self) -> dict[str, str]:
        """The flat values as the schema normalised them (postcode, phone, domains...)."""
        assert self.checked is not None
        dumped = self.checked.model_dump(mode="json")
        flat = {name: _dig(dumped, path) for name, path in self.paths.items()}
        flat["email_domains"] = ", ".join(dumped["email_domains"])
        flat["non_uk_country"] = _dig(dumped, ("non_uk_registration", "country"))
        return {k: "" if v is None else str(v) for k, v in flat.items()}


def organisation_input(
    flat: dict[str, Any], *, declaration: dict[str, Any] | None, roles: list[str]
) -> dict[str, Any]:
    """The ``OrganisationIn`` input built from the flat organisation details of the draft."""
    org_type = flat.get("organisation_type") or ""
    non_uk = org_type == OrganisationType.NON_UK
    country = (flat.get("non_uk_country") or "").strip().upper()
    technical = {
        "name": flat.get("technical_name") or "",
        "email": flat.get("technical_email") or "",
        "phone": flat.get("technical_phone") or "",
    }
    payload: dict[str, Any] = {
        "kind": "organisation",
        "legal_name": flat.get("legal_name") or "",
        "trading_name": flat.get("trading_name") or "",
        "organisation_type": org_type,
        "company_number": (flat.get("company_number") or "") if org_type in COMPANY_TYPES else None,
        "non_uk_registration": {
            "country": country,
            "registry": flat.get("non_uk_registry") or "",
            "registration_number": flat.get("non_uk_registration_number") or "",
        }
        if non_uk
        else None,
        "registered_address": {
            "line1": flat.get("address_line1") or "",
            "line2": flat.get("address_line2") or "",
            "town": flat.get("address_town") or "",
            "county": flat.get("address_county") or "",
            "postcode": flat.get("address_postcode") or "",
            "country": country if non_uk else "GB",
        },
        "vat_number": flat.get("vat_number") or "",
        "website": flat.get("website") or "",
        "contacts": {
            "primary": {
                "name": flat.get("primary_name") or "",
                "email": flat.get("primary_email") or "",
                "phone": flat.get("primary_phone") or "",
            },
            "technical": technical if any(technical.values()) else None,
        },
        "email_domains": _split_domains(flat.get("email_domains") or ""),
        "requested_roles": roles,
        "declaration": None,
    }
    if declaration is not None and org_type in COMPANY_TYPES:
        payload["declaration"] = declaration_input(declaration)
    return payload


class DeclarationForm(GovukForm):
    declarant_name = text(
        "Full name of the declaring officer",
        "Enter the full name of the declaring officer",
        hint="As it appears on the Companies House register, for example Jane Elizabeth Smith.",
        spellcheck=False,
    )
    declarant_is_applicant = _choice(
        "Are you this officer?", YES_NO, "Select yes if you are the declaring officer"
    )
    statement_accepted = forms.BooleanField(required=False, label="I confirm the declaration")
    statement_accepted.blank_message = (  # type: ignore[attr-defined]
        "Confirm the declaration to continue"
    )

    paths = {
        "declarant_name": ("declarant_name",),
        "declarant_is_applicant": ("declarant_is_applicant",),
        "statement_accepted": ("statement_accepted",),
    }
    code_fields = {"declaration.": "statement_accepted"}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.validate_schema(schemas.DeclarationIn, declaration_input(data))
        return data

    def normalised(self) -> dict[str, Any]:
        data = self.cleaned_data
        return {
            "declarant_name": data["declarant_name"],
            "declarant_is_applicant": data["declarant_is_applicant"],
            "statement_accepted": bool(data["statement_accepted"]),
        }


def declaration_input(flat: dict[str, Any]) -> dict[str, Any]:
    return {
        "declarant_name": flat.get("declarant_name") or "",
        "declarant_is_applicant": {"yes": True, "no": False}.get(
            flat.get("declarant_is_applicant") or ""
        ),
        "statement_accepted": bool(flat.get("statement_accepted")),
    }


class RolesForm(GovukForm):
    requested_roles = _multi(
        "Which roles does the organisation want?", SELF_REQUESTABLE, "Select at least one role"
    )
    paths = {"requested_roles": ("requested_roles",)}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if "requested_roles" in data:
            self.validate_schema(_RolesIn, {"requested_roles": data["requested_roles"]})
        return data

    def normalised(self) -> list[str]:
        return list(self.cleaned_data["requested_roles"])


# Which step of the journey owns a schema error of the whole registration, and its field.
STEP_FORMS: dict[str, type[GovukForm]] = {
    "organisation": OrganisationDetailsForm,
    "declaration": DeclarationForm,
    "roles": RolesForm,
}


def place_registration_error(loc: Any, code: str) -> tuple[str, str | None]:
    """``(step, field)`` for an error of ``OrganisationIn`` or of the registration service."""
    parts = [str(p) for p in loc if not isinstance(p, int)]
    if parts[:1] == ["declaration"] or (not parts and code.startswith("declaration.")):
        return "declaration", DeclarationForm.field_for(parts[1:], code)
    if parts[:1] == ["requested_roles"] or code.startswith(("roles.", "participant_role.")):
        return "roles", "requested_roles"
    if code == "participant.company_already_registered":
        return "organisation", "company_number"
    return "organisation", OrganisationDetailsForm.field_for(parts, code)


# --- private individuals ----------------------------------------------------------------------


class IndividualForm(GovukForm):
    given_name = text(
        "Given name", "Enter your given name", autocomplete="given-name", spellcheck=False
    )
    family_name = text(
        "Family name", "Enter your family name", autocomplete="family-name", spellcheck=False
    )
    address_line1 = OrganisationDetailsForm.base_fields["address_line1"]
    address_line2 = OrganisationDetailsForm.base_fields["address_line2"]
    address_town = OrganisationDetailsForm.base_fields["address_town"]
    address_county = OrganisationDetailsForm.base_fields["address_county"]
    address_postcode = OrganisationDetailsForm.base_fields["address_postcode"]
    email = text(
        "Email address",
        "Enter your email address",
        autocomplete="email",
        input_type="email",
        spellcheck=False,
    )
    phone = text(
        "Phone number",
        "Enter your phone number",
        hint="In international format, like +44 7911 123456.",
        autocomplete="tel",
        input_type="tel",
        width="govuk-input--width-20",
    )
    requested_roles = _multi(
        "Which roles do you want?", INDIVIDUAL_CHOICES, "Select at least one role"
    )

    paths = {
        "given_name": ("given_name",),
        "family_name": ("family_name",),
        "address_line1": ("address", "line1"),
        "address_line2": ("address", "line2"),
        "address_town": ("address", "town"),
        "address_county": ("address", "county"),
        "address_postcode": ("address", "postcode"),
        "email": ("contact", "email"),
        "phone": ("contact", "phone"),
        "requested_roles": ("requested_roles",),
    }
    aliases = {("contact", "name"): "given_name"}
    code_fields = {"postcode.": "address_postcode", "roles.": "requested_roles"}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: schemas.IndividualIn | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        given, family = data.get("given_name") or "", data.get("family_name") or ""
        address = {
            "line1": data.get("address_line1") or "",
            "line2": data.get("address_line2") or "",
            "town": data.get("address_town") or "",
            "county": data.get("address_county") or "",
            "postcode": data.get("address_postcode") or "",
        }
        payload = {
            "kind": "individual",
            "given_name": given,
            "family_name": family,
            "address": address,
            "contact": {
                "name": f"{given} {family}".strip(),
                "email": data.get("email") or "",
                "phone": data.get("phone") or "",
            },
            "requested_roles": data.get("requested_roles") or [],
        }
        self.checked = self.validate_schema(schemas.IndividualIn, payload)
        if self.checked is None:
            _check_postcode(self, address)
        return data


# --- the central operator's decision ----------------------------------------------------------


class DecisionForm(GovukForm):
    decision = _choice(
        "Your decision",
        [("approve", "Approve"), ("reject", "Reject")],
        "Select approve or reject",
    )
    reason = forms.CharField(
        label="Reason for your decision",
        required=False,
        help_text="Recorded in the audit log and shown to the participant.",
    )
    reason.blank_message = "Enter the reason for your decision"  # type: ignore[attr-defined]
    paths = {"decision": ("decision",), "reason": ("reason",)}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: schemas.VerificationDecisionIn | None = None

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        self.checked = self.validate_schema(
            schemas.VerificationDecisionIn,
            {"decision": data.get("decision") or "", "reason": data.get("reason") or ""},
        )
        return data
