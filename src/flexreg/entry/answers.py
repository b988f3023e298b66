"""Validation of answers against a step's definition (pure: no database).

Every problem is returned at once as a ``FieldError`` with its path (``form_data.<field>``,
``text``), so the API and the portal can show them all.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Mapping
from typing import Any

from pydantic_core import PydanticCustomError

from flexreg.core import validation
from flexreg.core.errors import FieldError
from flexreg.identifiers import EIC, EICType, IdentifierError


def _one(field: Mapping[str, Any], value: Any) -> tuple[Any, FieldError | None]:
    path = f"form_data.{field['name']}"
    ftype = field.get("type", "text")
    if ftype == "confirm":
        if value is True or (isinstance(value, str) and value.lower() in ("true", "yes", "on")):
            return True, None
        return None, FieldError(path, "entry.confirmation_required", "Confirm to continue.")
    if value is None or (isinstance(value, str) and not value.strip()):
        if field.get("required", True):
            return None, FieldError(path, "required", f"Enter {field['label'].lower()}.")
        return "", None
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        return None, FieldError(path, "type_error", "Enter text.")
    text = str(value).strip()
    if validation.has_control_characters(text):
        return None, FieldError(
            path, "text.control_character", validation.CONTROL_CHARACTER_MESSAGE
        )
    try:
        if ftype == "email":
            return validation.email(text), None
        if ftype == "phone":
            return validation.phone_e164(text), None
        if ftype == "url":
            return validation.https_url(text), None
    except PydanticCustomError as exc:
        return None, FieldError(path, exc.type, exc.message())
    if ftype == "date":
        try:
            return dt.date.fromisoformat(text).isoformat(), None
        except ValueError:
            return None, FieldError(path, "date.invalid", "Enter a date as YYYY-MM-DD.")
    if ftype == "number":
        try:
            number = float(text)
        except ValueError:
            number = math.nan
        if not math.isfinite(number):
            return None, FieldError(path, "number.invalid", "Enter a number.")
        return number, None
    if ftype == "select":
        if text not in field.get("options", []):
            return None, FieldError(
                path, "choice.invalid", f"Choose one of {', '.join(field.get('options', []))}."
            )
        return text, None
    if ftype == "eic":
        try:
            return str(EIC.parse(text, expected_type=EICType.PARTY)), None
        except IdentifierError as exc:
            return None, FieldError(path, exc.code, exc.message)
    limit = field.get("max_length") or 2000
    if len(text) > limit:
        return None, FieldError(path, "too_long", f"Use at most {limit} characters.")
    pattern = field.get("pattern")
    if pattern and not re.fullmatch(pattern, text):
        return None, FieldError(
            path, "pattern_mismatch", f"{field['label']} is not in the form asked."
        )
    return text, None


def clean_form(step: Mapping[str, Any], data: Any) -> tuple[dict[str, Any], list[FieldError]]:
    """The form's cleaned values, or every error."""
    if not isinstance(data, Mapping):
        return {}, [FieldError("form_data", "type_error", "Send the form's fields as an object.")]
    fields = step.get("fields", [])
    known = {f["name"] for f in fields}
    errors = [
        FieldError(f"form_data.{name}", "unknown_field", "This step has no such field.")
        for name in sorted(set(data) - known)
    ]
    cleaned: dict[str, Any] = {}
    for field in fields:
        value, error = _one(field, data.get(field["name"]))
        if error:
            errors.append(error)
        else:
            cleaned[field["name"]] = value
    return cleaned, errors


def clean_text(step: Mapping[str, Any], text: Any) -> tuple[str, list[FieldError]]:
    if not isinstance(text, str) or not text.strip():
        return "", [FieldError("text", "required", "Enter your answer.")]
    text = text.strip()
    if validation.has_control_characters(text):
        return "", [
            FieldError("text", "text.control_character", validation.CONTROL_CHARACTER_MESSAGE)
        ]
    low, high = step.get("min_length") or 1, step.get("max_length") or 4000
    if len(text) < low:
        return "", [FieldError("text", "too_short", f"Write at least {low} characters.")]
    if len(text) > high:
        return "", [FieldError("text", "too_long", f"Use at most {high} characters.")]
    return text, []
