"""Identifiers as value objects: validation, normalisation and parsing (pure Python).

Every parser normalises its input, validates it and raises :class:`IdentifierError`
(a ``ValueError`` with a stable ``code`` and a human ``message``). ``str()`` of a value
object is its normalised form, the one to store under a unique index. No Django, no
database: this package must stay importable on its own.
"""

from flexreg.identifiers.company_number import (
    COMPANY_NUMBER_PREFIXES,
    CompanyKind,
    CompanyNumber,
    Jurisdiction,
    is_valid_company_number,
)
from flexreg.identifiers.eic import EIC, EICType, eic_check_character, is_valid_eic
from flexreg.identifiers.errors import ERROR_CODES, IdentifierError
from flexreg.identifiers.flexreg_id import (
    AssetId,
    FlexRegId,
    FlexRegIdKind,
    ParticipantId,
    is_valid_flexreg_id,
    new_asset_id,
    new_participant_id,
    parse_flexreg_id,
)
from flexreg.identifiers.gsp_group import GSP_GROUP_NAMES, GSPGroup, is_valid_gsp_group
from flexreg.identifiers.mpan import (
    DISTRIBUTORS,
    Distributor,
    FullMPAN,
    MPANCore,
    is_valid_mpan,
    mpan_check_digit,
    parse_mpan,
)
from flexreg.identifiers.postcode import Postcode, is_valid_postcode

__all__ = [
    "COMPANY_NUMBER_PREFIXES",
    "DISTRIBUTORS",
    "EIC",
    "ERROR_CODES",
    "GSP_GROUP_NAMES",
    "AssetId",
    "CompanyKind",
    "CompanyNumber",
    "Distributor",
    "EICType",
    "FlexRegId",
    "FlexRegIdKind",
    "FullMPAN",
    "GSPGroup",
    "IdentifierError",
    "Jurisdiction",
    "MPANCore",
    "ParticipantId",
    "Postcode",
    "eic_check_character",
    "is_valid_company_number",
    "is_valid_eic",
    "is_valid_flexreg_id",
    "is_valid_gsp_group",
    "is_valid_mpan",
    "is_valid_postcode",
    "mpan_check_digit",
    "new_asset_id",
    "new_participant_id",
    "parse_flexreg_id",
    "parse_mpan",
]
