"""API schemas for participants. Input schemas validate and normalise; output schemas differ
per audience (``ParticipantPublic`` for the registry, ``ParticipantFull`` for the participant
itself and the central operator). Internal database keys never appear."""

from __future__ import annotations

import datetime as dt
import uuid
from typing import Annotated, Any, Literal

from ninja import Schema
from pydantic import AfterValidator, Field, RootModel, field_validator, model_validator
from pydantic_core import PydanticCustomError

from flexreg.core import problems, validation
from flexreg.core.roles import INDIVIDUAL_ROLES, ROLE_CODES
from flexreg.identifiers import CompanyNumber, IdentifierError, Postcode
from flexreg.participants.models import (
    OrganisationType,
    Participant,
    ParticipantKind,
    ParticipantStatus,
    RoleStatus,
    Verification,
    VerificationMethod,
    VerificationStatus,
)

RoleCode = Literal[
    "FSP",
    "AGGREGATOR",
    "ASSET_OWNER",
    "SUPPLIER",
    "OEM",
    "DNO",
    "IDNO",
    "NESO",
    "TO",
    "MARKET_OPERATOR",
    "PLATFORM",
    "MARKET_FACILITATOR",
    "REGULATOR",
]
assert set(RoleCode.__args__) == set(ROLE_CODES)  # type: ignore[attr-defined]

Text = Annotated[str, Field(min_length=1, max_length=200)]
OptionalText = Annotated[str, Field(max_length=200)]
Phone = Annotated[str, AfterValidator(validation.phone_e164)]
Email = Annotated[str, Field(max_length=254), AfterValidator(validation.email)]
Domain = Annotated[str, AfterValidator(validation.domain)]
HttpsUrl = Annotated[str, Field(max_length=300), AfterValidator(validation.https_url)]
VatNumber = Annotated[str, Field(max_length=20), AfterValidator(validation.uk_vat_number)]


def _identifier(parser: Any) -> Any:
    def check(value: str) -> str:
        try:
            return str(parser(value))
        except IdentifierError as exc:
            raise PydanticCustomError(exc.code, exc.message) from exc

    return check


CompanyNumberField = Annotated[str, AfterValidator(_identifier(CompanyNumber.parse))]


class StrictSchema(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}


class AddressIn(StrictSchema):
    line1: Text
    line2: OptionalText = ""
    town: Text
    county: OptionalText = ""
    postcode: Annotated[str, Field(max_length=16)] = ""
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")] = "GB"

    @model_validator(mode="after")
    def _postcode(self) -> AddressIn:
        if self.country == "GB":
            if not self.postcode:
                raise PydanticCustomError("postcode.required", "Enter the postcode.")
            try:
                self.postcode = str(Postcode.parse(self.postcode))
            except IdentifierError as exc:
                raise PydanticCustomError(exc.code, exc.message) from exc
        return self


class ContactIn(StrictSchema):
    name: Text
    email: Email
    phone: Phone


class ContactsIn(StrictSchema):
    primary: ContactIn
    secondary: ContactIn | None = None
    technical: ContactIn | None = None


class NonUkRegistrationIn(StrictSchema):
    country: Annotated[str, Field(pattern=r"^[A-Z]{2}$")]
    registry: Text
    registration_number: Annotated[str, Field(min_length=1, max_length=100)]

    @field_validator("country")
    @classmethod
    def _not_gb(cls, value: str) -> str:
        if value == "GB":
            raise PydanticCustomError(
                "non_uk.country_is_gb", "UK organisations register with their company number."
            )
        return value


class DeclarationIn(StrictSchema):
    """The director's declaration: a named current officer declares the applicant may act."""

    declarant_name: Text
    declarant_is_applicant: bool = Field(
        description="True when the applicant is the declaring officer."
    )
    statement_accepted: bool = Field(
        description="The declarant confirms the statement in the API guide; must be true."
    )

    @field_validator("statement_accepted")
    @classmethod
    def _accepted(cls, value: bool) -> bool:
        if not value:
            raise PydanticCustomError(
                "declaration.not_accepted", "The declaration statement must be accepted."
            )
        return value


def _unique_roles(roles: list[str]) -> list[str]:
    if len(set(roles)) != len(roles):
        raise PydanticCustomError("roles.duplicate", "Each role can be requested once.")
    return roles


Roles = Annotated[list[RoleCode], Field(min_length=1, max_length=13), AfterValidator(_unique_roles)]


class OrganisationIn(StrictSchema):
    kind: Literal["organisation"]
    legal_name: Annotated[str, Field(min_length=1, max_length=300)]
    trading_name: Annotated[str, Field(max_length=300)] = ""
    organisation_type: OrganisationType
    company_number: CompanyNumberField | None = None
    non_uk_registration: NonUkRegistrationIn | None = None
    registered_address: AddressIn
    vat_number: VatNumber = ""
    website: HttpsUrl = ""
    contacts: ContactsIn
    email_domains: Annotated[list[Domain], Field(min_length=1, max_length=20)]
    requested_roles: Roles
    declaration: DeclarationIn | None = None

    @model_validator(mode="after")
    def _registration(self) -> OrganisationIn:
        if self.organisation_type == OrganisationType.NON_UK:
            if self.non_uk_registration is None:
                raise PydanticCustomError(
                    "non_uk.required", "Give the organisation's registration outside the UK."
                )
            if self.company_number:
                raise PydanticCustomError(
                    "company_number.not_allowed",
                    "An organisation registered outside the UK has no Companies House number.",
                )
        elif (
            self.organisation_type in (OrganisationType.COMPANY, OrganisationType.LLP)
            and not self.company_number
        ):
            raise PydanticCustomError(
                "company_number.required", "Give the Companies House company number."
            )
        if self.declaration is not None and not self.company_number:
            raise PydanticCustomError(
                "declaration.not_applicable",
                "A director's declaration is checked against Companies House: give the "
                "company number, or leave the declaration out for a manual review.",
            )
        return self


class IndividualIn(StrictSchema):
    kind: Literal["individual"]
    given_name: Text
    family_name: Text
    address: AddressIn
    contact: ContactIn
    requested_roles: Roles

    @field_validator("requested_roles")
    @classmethod
    def _individual_roles(cls, roles: list[str]) -> list[str]:
        bad = [r for r in roles if r not in INDIVIDUAL_ROLES]
        if bad:
            raise PydanticCustomError(
                "roles.not_for_individuals",
                "A private individual may hold these roles: {allowed}.",
                {"allowed": ", ".join(sorted(INDIVIDUAL_ROLES))},
            )
        return roles


problems.UNION_TAGS.update({"organisation", "individual"})


class RegistrationIn(
    RootModel[Annotated[OrganisationIn | IndividualIn, Field(discriminator="kind")]]
):
    """Either an organisation or a private individual, chosen by ``kind``."""


class ParticipantPatch(StrictSchema):
    """Self-serve fields. Verified facts (legal name, company number, registered address) are
    changed through re-verification, not here."""

    trading_name: Annotated[str, Field(max_length=300)] | None = None
    vat_number: VatNumber | None = None
    website: HttpsUrl | None = None
    contacts: ContactsIn | None = None
    email_domains: Annotated[list[Domain], Field(min_length=1, max_length=20)] | None = None


class RoleIn(StrictSchema):
    role: RoleCode


class ReasonIn(StrictSchema):
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


class RoleDecisionIn(ReasonIn):
    decision: Literal["approve", "reject"]


class TransitionIn(StrictSchema):
    transition: Literal["suspend", "reinstate", "withdraw"]
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


class VerificationDecisionIn(StrictSchema):
    decision: Literal["approve", "reject"]
    reason: Annotated[str, Field(min_length=3, max_length=2000)]


# --- Output --------------------------------------------------------------------------------


class RoleOut(Schema):
    role: str
    status: RoleStatus
    requested_at: dt.datetime
    status_changed_at: dt.datetime
    status_reason: str = ""


class PublicRoleOut(Schema):
    role: str
    status: RoleStatus


class AddressOut(Schema):
    line1: str = ""
    line2: str = ""
    town: str = ""
    county: str = ""
    postcode: str = ""
    country: str = ""


class ContactOut(Schema):
    name: str
    email: str
    phone: str


class ContactsOut(Schema):
    primary: ContactOut | None = None
    secondary: ContactOut | None = None
    technical: ContactOut | None = None


class ReasonOut(Schema):
    code: str
    message: str


class VerificationOut(Schema):
    verification_id: uuid.UUID
    participant_id: str
    method: VerificationMethod
    status: VerificationStatus
    submitted_at: dt.datetime
    declarant_name: str
    declarant_is_applicant: bool
    reasons: list[ReasonOut]
    attempts: int
    next_attempt_at: dt.datetime | None
    company: dict[str, Any]
    matched_officer: dict[str, Any]
    decided_at: dt.datetime | None
    decision_reason: str


class NonUkRegistrationOut(Schema):
    country: str
    registry: str
    registration_number: str


class ParticipantPublic(Schema):
    """What any signed-in market participant sees in the registry."""

    participant_id: str
    kind: ParticipantKind
    name: str
    trading_name: str
    status: ParticipantStatus
    company_number: str | None
    roles: list[PublicRoleOut]


class ParticipantFull(Schema):
    """The whole record: for the participant's own members and the central operator."""

    participant_id: str
    kind: ParticipantKind
    name: str
    legal_name: str
    trading_name: str
    status: ParticipantStatus
    status_reason: str
    organisation_type: str
    company_number: str | None
    non_uk_registration: NonUkRegistrationOut | None
    registered_address: AddressOut
    vat_number: str
    website: str
    email_domains: list[str]
    contacts: ContactsOut
    roles: list[RoleOut]
    verification: VerificationOut | None
    created_at: dt.datetime
    updated_at: dt.datetime
    verified_at: dt.datetime | None
    version: int


class ParticipantPage(Schema):
    items: list[ParticipantPublic | ParticipantFull]
    next_cursor: str | None


# --- building responses from models -----------------------------------------------------------


def display_name(p: Participant) -> str:
    return p.legal_name


def verification_out(v: Verification) -> VerificationOut:
    return VerificationOut(
        verification_id=v.public_id,
        participant_id=v.participant.participant_id,
        method=VerificationMethod(v.method),
        status=VerificationStatus(v.status),
        submitted_at=v.submitted_at,
        declarant_name=v.declarant_name,
        declarant_is_applicant=v.declarant_is_applicant,
        reasons=[ReasonOut(**r) for r in v.reasons],
        attempts=v.attempts,
        next_attempt_at=v.next_attempt_at,
        company=v.company_snapshot,
        matched_officer=v.matched_officer,
        decided_at=v.decided_at,
        decision_reason=v.decision_reason,
    )


def public_out(p: Participant) -> ParticipantPublic:
    individual = p.kind == ParticipantKind.INDIVIDUAL
    return ParticipantPublic(
        participant_id=p.participant_id,
        kind=ParticipantKind(p.kind),
        # A private individual's name is personal data: not shown outside their own record.
        name="Private individual" if individual else p.legal_name,
        trading_name="" if individual else p.trading_name,
        status=ParticipantStatus(p.status),
        company_number=p.company_number,
        roles=[
            PublicRoleOut(role=r.role, status=RoleStatus(r.status))
            for r in p.roles.all()
            if r.status in (RoleStatus.ACTIVE, RoleStatus.SUSPENDED)
        ],
    )


def full_out(p: Participant, verification: Verification | None) -> ParticipantFull:
    contacts = {
        c.kind: ContactOut(name=c.name, email=c.email, phone=c.phone) for c in p.contacts.all()
    }
    return ParticipantFull(
        participant_id=p.participant_id,
        kind=ParticipantKind(p.kind),
        name=p.legal_name,
        legal_name=p.legal_name,
        trading_name=p.trading_name,
        status=ParticipantStatus(p.status),
        status_reason=p.status_reason,
        organisation_type=p.organisation_type,
        company_number=p.company_number,
        non_uk_registration=NonUkRegistrationOut(
            country=p.non_uk_country,
            registry=p.non_uk_registry,
            registration_number=p.non_uk_registration_number,
        )
        if p.non_uk_country
        else None,
        registered_address=AddressOut(**p.registered_address),
        vat_number=p.vat_number,
        website=p.website,
        email_domains=list(p.email_domains),
        contacts=ContactsOut(**contacts),
        roles=[
            RoleOut(
                role=r.role,
                status=RoleStatus(r.status),
                requested_at=r.requested_at,
                status_changed_at=r.status_changed_at,
                status_reason=r.status_reason,
            )
            for r in p.roles.all()
        ],
        verification=verification_out(verification) if verification else None,
        created_at=p.created_at,
        updated_at=p.updated_at,
        verified_at=p.verified_at,
        version=p.version,
    )
