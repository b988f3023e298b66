"""The one error type raised by every identifier parser, and the catalogue of its codes.

Each failure carries a stable, machine-readable ``code`` (``<identifier>.<reason>``, e.g.
``mpan.bad_check_digit``) that API error responses and form errors can rely on, and a
human ``message`` that explains what is wrong. Codes are part of the public contract:
add new ones, never rename or reuse old ones.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType
from typing import Final

__all__ = ["ERROR_CODES", "MAX_RAW_LENGTH", "IdentifierError"]

#: Inputs longer than this are rejected before any normalisation (no identifier here is
#: longer than 40 characters even with generous spacing, and this bounds the work done).
MAX_RAW_LENGTH: Final = 64

ERROR_CODES: Final[Mapping[str, str]] = MappingProxyType(
    {
        # EIC (ENTSO-E Energy Identification Code)
        "eic.empty": "No EIC was given.",
        "eic.bad_length": "An EIC has exactly 16 characters.",
        "eic.bad_character": "An EIC uses only 0-9, A-Z and '-'.",
        "eic.unknown_type": "The third character is not a known EIC object type.",
        "eic.wrong_type": "The EIC is of another object type than the one required.",
        "eic.bad_check_character": "The 16th character does not match the check character.",
        "eic.invalid_base": "No EIC can start with these 15 characters (check would be '-').",
        # MPAN (Meter Point Administration Number)
        "mpan.empty": "No MPAN was given.",
        "mpan.bad_length": "An MPAN core has 13 digits; a full MPAN has 21 characters.",
        "mpan.bad_character": "The MPAN contains a character that is not allowed there.",
        "mpan.bad_check_digit": "The last digit of the MPAN core does not match its check digit.",
        "mpan.unknown_distributor": "The first two digits are not a known distributor ID.",
        "mpan.bad_profile_class": "The profile class must be 00 to 08.",
        # Companies House company number
        "company_number.empty": "No company number was given.",
        "company_number.bad_length": "A company number has at most 8 characters.",
        "company_number.invalid_format": "The company number is not in a recognised format.",
        "company_number.unknown_prefix": "The two-letter prefix is not one Companies House uses.",
        # UK postcode
        "postcode.empty": "No postcode was given.",
        "postcode.invalid_format": "The postcode is not in a UK postcode format.",
        "postcode.invalid_letter": "The postcode uses a letter that is never used in that place.",
        # GSP group
        "gsp_group.empty": "No GSP group was given.",
        "gsp_group.unknown": "Not a GSP group ID (_A to _P, without _I and _O).",
        # FlexReg Participant IDs and Asset IDs
        "flexreg_id.empty": "No ID was given.",
        "flexreg_id.bad_length": "The ID has the wrong number of characters.",
        "flexreg_id.bad_character": "The ID contains a character that is not allowed there.",
        "flexreg_id.unknown_kind": "The ID does not start with a known kind letter (P or A).",
        "flexreg_id.wrong_kind": "The ID is of another kind than the one required.",
        "flexreg_id.bad_check_character": "The last character does not match the check character.",
    }
)


class IdentifierError(ValueError):
    """An identifier failed normalisation or validation.

    ``code`` is stable and machine-readable (a key of :data:`ERROR_CODES`); ``message``
    is for people. ``str(error)`` is the message.
    """

    code: str
    message: str

    def __init__(self, code: str, message: str | None = None) -> None:
        if code not in ERROR_CODES:  # pragma: no cover - programming error
            raise KeyError(f"unregistered identifier error code: {code!r}")
        self.code = code
        self.message = message if message is not None else ERROR_CODES[code]
        super().__init__(self.message)

    @property
    def identifier(self) -> str:
        """The identifier family the error belongs to, e.g. ``"mpan"``."""
        return self.code.split(".", 1)[0]

    def __repr__(self) -> str:
        return f"IdentifierError(code={self.code!r}, message={self.message!r})"

    def __reduce__(self) -> tuple[type[IdentifierError], tuple[str, str]]:
        return (type(self), (self.code, self.message))
