"""Portal forms for change requests: flat GOV.UK fields validated by ``ChangeIn``."""

from __future__ import annotations

from typing import Any

import pydantic
from django import forms

from flexreg.accounts.forms import GovukForm, text
from flexreg.participants.forms import YES_NO, declaration_input
from flexreg.participants.models_changes import ChangeField
from flexreg.participants.schemas_changes import ChangeIn


def _note() -> forms.CharField:
    field = forms.CharField(
        label="Why are you making this change? (optional)",
        required=False,
        help_text="For example, the date the company changed its name. The central operator "
        "sees this if the change needs a review.",
    )
    field.blank_message = ""  # type: ignore[attr-defined]
    return field


class ChangeForm(GovukForm):
    """One verified fact; subclasses name the field and build the value."""

    field_code: str = ""
    first_field = "note"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.checked: ChangeIn | None = None

    def value(self, data: dict[str, Any]) -> Any:
        """The new value from the cleaned fields (each subclass builds its own)."""
        raise NotImplementedError  # abstract: every concrete form overrides it

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        payload = {
            "field": self.field_code,
            self.field_code: self.value(data),
            "note": data.get("note") or "",
        }
        try:
            self.checked = ChangeIn.model_validate(payload)
        except pydantic.ValidationError as exc:
            for err in self.add_schema_errors(exc.errors()):
                if not self.has_error(self.first_field):
                    self.add_error(self.first_field, str(err.get("msg", "")))
        return data


class LegalNameChangeForm(ChangeForm):
    field_code = ChangeField.LEGAL_NAME
    first_field = "legal_name"
    legal_name = text(
        "New legal name",
        "Enter the new legal name",
        hint="Exactly as it appears on the Companies House register, if the organisation is "
        "registered there.",
        autocomplete="organization",
    )
    note = _note()
    paths = {"legal_name": ("legal_name",), "note": ("note",)}

    def value(self, data: dict[str, Any]) -> Any:
        return data.get("legal_name") or ""


class CompanyNumberChangeForm(ChangeForm):
    field_code = ChangeField.COMPANY_NUMBER
    first_field = "company_number"
    company_number = text(
        "New company number",
        "Enter the new company number",
        hint="8 characters, like 01234567 or SC123456. The central operator always checks a "
        "new company number.",
        width="govuk-input--width-10",
        spellcheck=False,
    )
    note = _note()
    paths = {"company_number": ("company_number",), "note": ("note",)}
    code_fields = {"company_number.": "company_number"}

    def value(self, data: dict[str, Any]) -> Any:
        return data.get("company_number") or ""


class AddressChangeForm(ChangeForm):
    field_code = ChangeField.REGISTERED_ADDRESS
    first_field = "address_line1"
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
    note = _note()
    paths = {
        "address_line1": ("registered_address", "line1"),
        "address_line2": ("registered_address", "line2"),
        "address_town": ("registered_address", "town"),
        "address_county": ("registered_address", "county"),
        "address_postcode": ("registered_address", "postcode"),
        "note": ("note",),
    }
    code_fields = {"postcode.": "address_postcode"}

    def __init__(self, *args: Any, country: str = "GB", **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.country = country or "GB"

    def value(self, data: dict[str, Any]) -> Any:
        return {
            "line1": data.get("address_line1") or "",
            "line2": data.get("address_line2") or "",
            "town": data.get("address_town") or "",
            "county": data.get("address_county") or "",
            "postcode": data.get("address_postcode") or "",
            "country": self.country,
        }


class DeclarationChangeForm(ChangeForm):
    field_code = ChangeField.DECLARATION
    first_field = "declarant_name"
    declarant_name = text(
        "Full name of the declaring officer",
        "Enter the full name of the declaring officer",
        hint="As it appears on the Companies House register, for example Jane Elizabeth Smith.",
        spellcheck=False,
    )
    declarant_is_applicant = forms.ChoiceField(
        label="Are you this officer?",
        choices=YES_NO,
        required=False,
        error_messages={"invalid_choice": "Select yes if you are the declaring officer"},
    )
    declarant_is_applicant.blank_message = (  # type: ignore[attr-defined]
        "Select yes if you are the declaring officer"
    )
    statement_accepted = forms.BooleanField(required=False, label="I confirm the declaration")
    statement_accepted.blank_message = (  # type: ignore[attr-defined]
        "Confirm the declaration to continue"
    )
    note = _note()
    paths = {
        "declarant_name": ("declaration", "declarant_name"),
        "declarant_is_applicant": ("declaration", "declarant_is_applicant"),
        "statement_accepted": ("declaration", "statement_accepted"),
        "note": ("note",),
    }
    code_fields = {"declaration.": "statement_accepted"}

    def value(self, data: dict[str, Any]) -> Any:
        return declaration_input(data)


FORMS: dict[str, type[ChangeForm]] = {
    ChangeField.LEGAL_NAME: LegalNameChangeForm,
    ChangeField.COMPANY_NUMBER: CompanyNumberChangeForm,
    ChangeField.REGISTERED_ADDRESS: AddressChangeForm,
    ChangeField.DECLARATION: DeclarationChangeForm,
}
