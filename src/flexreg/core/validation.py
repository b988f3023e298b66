"""Field validators shared by API schemas and portal forms, raising coded errors.

Each raises ``pydantic_core.PydanticCustomError(code, message)`` so that problem details carry
the stable code (see ``core.problems``).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import phonenumbers
from django.core.exceptions import ValidationError as DjangoValidationError
from django.core.validators import EmailValidator, URLValidator
from pydantic_core import PydanticCustomError

from flexreg.core.errors import FieldError

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


# Control characters (a NUL byte cannot even be stored in PostgreSQL text or jsonb), line
# breaks and tabs apart.
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
CONTROL_CHARACTER_MESSAGE = "Remove the control character (such as a NUL byte) from the text."


def has_control_characters(text: str) -> bool:
    """Whether ``text`` holds a control character other than a line break or a tab."""
    return not text.isprintable() and _CONTROL.search(text) is not None


def control_character_errors(value: Any, path: str = "") -> list[FieldError]:
    """A ``text.control_character`` error for each text, key included, anywhere inside a JSON
    value that holds a control character (``path``: where the value sits)."""
    if isinstance(value, str):
        if has_control_characters(value):
            return [FieldError(path, "text.control_character", CONTROL_CHARACTER_MESSAGE)]
        return []
    found: list[FieldError] = []
    if isinstance(value, Mapping):
        for key, item in value.items():
            where = f"{path}.{key}" if path else str(key)
            found += control_character_errors(str(key), where)
            found += control_character_errors(item, where)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            found += control_character_errors(item, f"{path}.{i}" if path else str(i))
    return found
