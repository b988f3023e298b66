"""Portal forms: GOV.UK-style fields whose validation is the API schemas'.

A form collects flat fields, builds a pydantic schema's input and turns the schema's
``ValidationError`` back into field errors: the error ``type`` is our stable code, ``msg`` the
human message and ``loc`` the path, mapped to a form field through ``paths``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import pydantic
from django import forms

from flexreg.core.errors import DomainError
from flexreg.participants.schemas import Email, Text

Loc = tuple[str, ...]

# Pydantic's own error types that mean "nothing (usable) was given".
_BLANK_TYPES = {
    "missing",
    "string_too_short",
    "too_short",
    "bool_type",
    "bool_parsing",
    "enum",
    "literal_error",
    "string_type",
    "none_required",
}


def text(
    label: str,
    blank: str = "",
    *,
    hint: str = "",
    width: str = "",
    autocomplete: str = "",
    input_type: str = "text",
    spellcheck: bool | None = None,
    inputmode: str = "",
) -> forms.CharField:
    """A text field rendered by ``_field.html``; ``blank`` is the message when it is empty."""
    field = forms.CharField(label=label, required=False, help_text=hint, max_length=2000)
    field.blank_message = blank or f"Enter {label[0].lower()}{label[1:]}"  # type: ignore[attr-defined]
    field.govuk = {  # type: ignore[attr-defined]
        "width": width,
        "autocomplete": autocomplete,
        "type": input_type,
        "spellcheck": "" if spellcheck is None else str(spellcheck).lower(),
        "inputmode": inputmode,
    }
    return field


def message_for(field: forms.Field, err: Mapping[str, Any]) -> str:
    """A GOV.UK-style message for one schema error on ``field``."""
    code = str(err.get("type", ""))
    ctx = err.get("ctx") or {}
    blank = getattr(field, "blank_message", "") or f"Enter {str(field.label).lower()}"
    if code == "string_too_short" and int(ctx.get("min_length") or 1) > 1 and err.get("input"):
        return f"{field.label} must be at least {ctx['min_length']} characters"
    empty = "input" in err and err["input"] in ("", None, [])
    if empty or code in _BLANK_TYPES or code.endswith((".empty", ".required")):
        return blank
    if code == "string_too_long":
        return f"{field.label} must be {ctx.get('max_length')} characters or fewer"
    if code == "too_long":
        return f"{field.label}: give no more than {ctx.get('max_length')}"
    if code == "string_pattern_mismatch":
        return getattr(field, "pattern_message", "") or blank
    message = str(err.get("msg", "")).removeprefix("Value error, ")
    return message.removesuffix(".") or blank


class GovukForm(forms.Form):
    """A form whose field ids are its names, so error summaries can link to ``#name``."""

    # Flat field name -> the path of its value in the schema input.
    paths: dict[str, Loc] = {}
    # Other schema paths that belong to a field (checked after ``paths``).
    aliases: dict[Loc, str] = {}
    # Stable code prefix -> field, for errors raised about a whole object (empty ``loc``).
    code_fields: dict[str, str] = {}

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("auto_id", "%s")
        kwargs.setdefault("label_suffix", "")
        super().__init__(*args, **kwargs)

    @classmethod
    def field_for(cls, loc: Any, code: str) -> str | None:
        parts = tuple(str(p) for p in loc if not isinstance(p, int))
        inverse: dict[Loc, str] = {v: k for k, v in cls.paths.items() if v}
        inverse.update(cls.aliases)
        for n in range(len(parts), 0, -1):
            if parts[:n] in inverse:
                return inverse[parts[:n]]
        for prefix, name in cls.code_fields.items():
            if code.startswith(prefix):
                return name
        return None

    def validate_schema(self, schema: Any, data: Any) -> Any:
        """Validate ``data`` with ``schema``; put its errors on fields and return None on error."""
        try:
            return schema.model_validate(data)
        except pydantic.ValidationError as exc:
            self.add_schema_errors(exc.errors())
            return None

    def add_schema_errors(self, errors: list[Any]) -> list[Any]:
        """Put each error on its field (first one wins); return those with no field here."""
        unplaced = []
        for err in errors:
            name = self.field_for(err.get("loc", ()), str(err.get("type", "")))
            if name is None or name not in self.fields:
                unplaced.append(err)
            elif not self.has_error(name):
                self.add_error(name, message_for(self.fields[name], err))
        return unplaced

    def add_domain_error(self, exc: DomainError, default_field: str) -> None:
        """Show a service's ``DomainError`` on the fields it names (else on ``default_field``)."""
        if exc.errors:
            for error in exc.errors:
                name = self.field_for(error.field.split("."), error.code) or default_field
                self.add_error(name if name in self.fields else default_field, error.message)
        else:
            self.add_error(default_field, exc.detail)

    def error_summary(self) -> list[dict[str, str]]:
        """``[{"href": "#field", "text": message}]`` in the order the fields appear."""
        if not self.is_bound:
            return []
        return [
            {"href": f"#{name}", "text": str(self.errors[name][0])}
            for name in self.fields
            if self.errors.get(name)
        ]


class _AccountIn(pydantic.BaseModel):
    full_name: Text
    email: Email


class SignInForm(GovukForm):
    email = text(
        "Email address",
        "Enter your email address",
        autocomplete="email",
        input_type="email",
        spellcheck=False,
    )
    password = text(
        "Password",
        "Enter your password",
        autocomplete="current-password",
        input_type="password",
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("email", "password"):
            if not data.get(name):
                self.add_error(name, self.fields[name].blank_message)  # type: ignore[attr-defined]
        return data


class CreateAccountForm(GovukForm):
    full_name = text("Full name", "Enter your full name", autocomplete="name", spellcheck=False)
    email = text(
        "Email address",
        "Enter your email address",
        hint="You will use this to sign in.",
        autocomplete="email",
        input_type="email",
        spellcheck=False,
    )
    password = text(
        "Password",
        "Enter a password",
        hint="At least 12 characters. A few unrelated words make a good password.",
        autocomplete="new-password",
        input_type="password",
    )
    paths = {"full_name": ("full_name",), "email": ("email",), "password": ("password",)}

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        checked = self.validate_schema(
            _AccountIn, {"full_name": data.get("full_name", ""), "email": data.get("email", "")}
        )
        if checked is not None:
            data["full_name"], data["email"] = checked.full_name, checked.email
        if not data.get("password"):
            self.add_error("password", self.fields["password"].blank_message)  # type: ignore[attr-defined]
        return data
