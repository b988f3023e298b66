"""Field validators shared by API schemas and portal forms, raising coded errors.

Each raises ``pydantic_core.PydanticCustomError(code, message)`` so that problem details carry
the stable code (see ``core.problems``).
"""

from __future__ import annotations

import re

import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from pydantic_core import PydanticCustomError

_DOMAIN = re.compile(r"^(?=.{1,253}$)(?!-)(?:[a-z0-9-]{1,63}(?<!-)\.)+[a-z]{2,63}$")
_email = EmailValidator()
_url = URLValidator(schemes=["https"])


def phone_e164(value: str) -> str:
    raw = value.strip()
    if not raw.startswith("+"):
        raise PydanticCustomError(
            "phone.not_e164", "Give the phone number in international format, like +447911123456."
        )
    try:
        parsed = phonenumbers.parse(raw, None)
    except phonenumbers.NumberParseException as exc:
        raise PydanticCustomError("phone.invalid", "This is not a phone number.") from exc
    if not phonenumbers.is_valid_number(parsed):
        raise PydanticCustomError("phone.invalid", "This is not a valid phone number.")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def email(value: str) -> str:
    normalised = value.strip().lower()
    try:
        _email(normalised)
    except DjangoValidationError as exc:
        raise PydanticCustomError(
            "email.invalid", "Enter an email address like name@example.com."
        ) from exc
    return normalised


def domain(value: str) -> str:
    normalised = value.strip().lower().rstrip(".")
    if normalised.startswith("@"):
        normalised = normalised[1:]
    if not _DOMAIN.match(normalised):
        raise PydanticCustomError("domain.invalid", "Enter a domain name like example.co.uk.")
    return normalised


def https_url(value: str) -> str:
    normalised = value.strip()
    if not normalised:
        return ""
    try:
        _url(normalised)
    except DjangoValidationError as exc:
        raise PydanticCustomError("url.invalid", "Enter a web address starting https://.") from exc
    return normalised


def uk_vat_number(value: str) -> str:
    """GB VAT registration numbers: GB + 9 digits (mod-97 check, both HMRC schemes), GB + 12
    digits (branch traders), GBGD/GBHA + 3 digits (government departments, health authorities)."""
    normalised = re.sub(r"[\s.-]", "", value).upper()
    if not normalised:
        return ""
    if not normalised.startswith(("GB", "XI")):
        raise PydanticCustomError(
            "vat.invalid", "Give a UK VAT number starting GB, like GB123456789."
        )
    body = normalised[2:]
    if re.fullmatch(r"(GD[0-4]|HA[5-9])\d{2}", body):
        return normalised
    if not re.fullmatch(r"\d{9}(\d{3})?", body):
        raise PydanticCustomError(
            "vat.invalid", "A UK VAT number is GB followed by 9 or 12 digits."
        )
    digits = [int(c) for c in body[:9]]
    total = sum(d * w for d, w in zip(digits[:7], range(8, 1, -1), strict=True))
    check = digits[7] * 10 + digits[8]
    if (total + check) % 97 != 0 and (total + 55 + check) % 97 != 0:
        raise PydanticCustomError(
            "vat.bad_check_digits", "The VAT number's check digits are wrong."
        )
    return normalised
