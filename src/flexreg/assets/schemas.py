"""API schemas for assets. Input: the registration record is validated by conformance (every
error at once, with its own paths and codes), the filters and the lookup are normalised here
with the identifier and conformance helpers. Output differs per audience (``AssetFull`` for the
asset's linked parties and oversight, ``AssetPublic`` otherwise), chosen by ``policies``.
Internal database keys never appear."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal
from typing import Annotated, Any, Literal, cast

from ninja import Schema
from pydantic import AfterValidator, Field, RootModel, model_validator
from pydantic_core import PydanticCustomError

from flexreg.assets import conformance
from flexreg.assets.catalogue import choice_key
from flexreg.assets.catalogue_store import current_catalogue
from flexreg.assets.models import Asset, AssetCheck, AssetLink, AssetStatus, DuplicateFlag
from flexreg.assets.selectors import LookupKeys, Match, cursor_key
from flexreg.identifiers import EIC, EICType, IdentifierError, MPANCore, Postcode

StatusCode = Literal[
    "draft", "pending_validation", "verified", "query", "rejected", "decommissioned"
]
assert set(StatusCode.__args__) == set(AssetStatus.values)  # type: ignore[attr-defined]


def _identifier(parse: Any) -> Any:
    def check(value: str | None) -> str | None:
        if value is None or not value.strip():
            return None
        try:
            return str(parse(value))
        except IdentifierError as exc:
            raise PydanticCustomError(exc.code, exc.message) from exc

    return check


MpanField = Annotated[str | None, Field(max_length=40), AfterValidator(_identifier(MPANCore.parse))]
PostcodeField = Annotated[
    str | None, Field(max_length=16), AfterValidator(_identifier(Postcode.parse))
]
EicField = Annotated[
    str | None,
    Field(max_length=40),
    AfterValidator(_identifier(lambda v: EIC.parse(v, expected_type=EICType.RESOURCE))),
]


class StrictSchema(Schema):
    model_config = {"extra": "forbid", "str_strip_whitespace": True}


# --- input ------------------------------------------------------------------------------------


class AssetRegistrationIn(RootModel[dict[str, Any]]):
    """An asset record (docs/api.md "Registering an asset"): ``name``, ``category``,
    ``manufacturer``, ``model``, ``serial_number``, ``eic``, ``external_ids`` [{scheme, value}],
    ``energy_source``, ``capacity`` {installed_kw, export_kw, import_kw, storage_kwh},
    ``flexibility_direction``, ``v2g``, ``metering`` {import_mpan, export_mpan}, ``site``
    {address_line1, address_line2, town, postcode, latitude, longitude, domestic,
    consumer_consent_reference}, ``network`` {dno, gsp_group, voltage_level, connection_status,
    connection_type, connection_reference}, ``commissioning_date``, ``effective_from``; and,
    for the registrant's link, ``contract_reference`` (a controlling FSP or aggregator's
    contract with the owner); and ``role_details``, an object with the extra fields the
    registrant's role must give (the rule set's ``[assets.roles.<ROLE>]``, docs/rules.md).
    Conformance returns every error at once with its field path."""

    root: dict[str, Any]


def _category_code(value: str | None) -> str | None:
    """A category as registration reads it (``bess``, ``solar pv`` and ``Solar-PV`` name
    ``BESS`` and ``SOLAR_PV``: ``ChoiceList.lookup``, retired categories included); a code the
    catalogue does not have is compared as written there (and matches nothing)."""
    if value is None or not value.strip():
        return None
    choice = current_catalogue().category_list.lookup(value.strip())
    return choice.code if choice is not None else choice_key(value)


def _cursor(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    if cursor_key(value.strip()) is None:
        raise PydanticCustomError("cursor_invalid", "This page link is not valid: start again.")
    return value.strip()


class AssetFilters(Schema):
    status: StatusCode | None = None
    category: Annotated[str | None, Field(max_length=30), AfterValidator(_category_code)] = None
    postcode: PostcodeField = None
    mpan: MpanField = None
    q: Annotated[str | None, Field(max_length=100)] = None
    cursor: Annotated[str | None, Field(max_length=200), AfterValidator(_cursor)] = None
    limit: int = 50


class ExternalIdIn(StrictSchema):
    scheme: Annotated[str, Field(min_length=1, max_length=30)]
    value: Annotated[str, Field(min_length=1, max_length=200)]

    @model_validator(mode="after")
    def _normalise(self) -> ExternalIdIn:
        # The scheme as conformance reads it (``ChoiceList.lookup``: case, spaces and dashes
        # ignored, so "ocpp charge point" is OCPP_CHARGE_POINT), retired schemes included.
        catalogue = current_catalogue()
        choice = catalogue.scheme_list.lookup(self.scheme.strip())
        spec = catalogue.external_id_schemes.get(choice.code) if choice is not None else None
        if spec is None:
            raise PydanticCustomError("choice.invalid", "Not a known identifier scheme.")
        self.scheme = spec.code
        if spec.case == "upper":
            self.value = self.value.upper()
        return self


class LookupIn(StrictSchema):
    """Look an asset up before registering it: by MPAN, by manufacturer and serial number, by
    an external identifier or by EIC (at least one)."""

    mpan: MpanField = None
    manufacturer: Annotated[str | None, Field(max_length=100)] = None
    serial_number: Annotated[str | None, Field(max_length=100)] = None
    external_id: ExternalIdIn | None = None
    eic: EicField = None

    @model_validator(mode="after")
    def _complete(self) -> LookupIn:
        if self.serial_number and not self.manufacturer:
            raise PydanticCustomError(
                "lookup.manufacturer_required", "Give the manufacturer with the serial number."
            )
        if not (self.mpan or self.serial_number or self.external_id or self.eic):
            raise PydanticCustomError(
                "lookup.key_required",
                "Give an MPAN, a manufacturer and serial number, an external ID or an EIC.",
            )
        return self

    def keys(self) -> LookupKeys:
        serial = conformance.serial_key(self.serial_number) if self.serial_number else None
        return LookupKeys(
            mpan=self.mpan,
            manufacturer_key=conformance.manufacturer_key(self.manufacturer or "") or None,
            serial_key=serial or None,
            external_id=(self.external_id.scheme, self.external_id.value)
            if self.external_id
            else None,
            eic=self.eic,
        )


# --- output -----------------------------------------------------------------------------------


class ExternalIdOut(Schema):
    scheme: str
    value: str


class CapacityOut(Schema):
    installed_kw: Decimal
    export_kw: Decimal | None
    import_kw: Decimal | None
    storage_kwh: Decimal | None


class MeteringOut(Schema):
    import_mpan: str | None
    export_mpan: str | None


class SiteOut(Schema):
    address_line1: str
    address_line2: str
    town: str
    postcode: str
    latitude: Decimal | None
    longitude: Decimal | None
    domestic: bool
    consumer_consent_reference: str


class NetworkOut(Schema):
    distributor_id: str
    dno_licence_area: str
    gsp_group: str
    voltage_level: str
    connection_status: str
    connection_type: str
    connection_reference: str


class RegistrantOut(Schema):
    participant_id: str
    role: str


class LinkOut(Schema):
    link_id: uuid.UUID
    participant_id: str
    relationship: str
    contract_reference: str
    consent_reference: str
    valid_from: dt.datetime | None
    valid_to: dt.datetime | None
    suspended_at: dt.datetime | None
    suspended_reason: str


class CheckOut(Schema):
    validator: str
    status: str
    attempts: int
    outcome: dict[str, Any]
    finished_at: dt.datetime | None


class DuplicateFlagOut(Schema):
    rule: str
    candidate_asset_id: str | None = Field(
        description="The possible duplicate's Asset ID, if you may see that asset."
    )
    detail: dict[str, Any] | None = Field(description="What matched (central operator only).")
    flagged_at: dt.datetime
    resolved_at: dt.datetime | None


class AssetPublic(Schema):
    view: Literal["public"] = "public"
    asset_id: str
    category: str
    status: StatusCode


class AssetFull(Schema):
    view: Literal["full"] = "full"
    asset_id: str
    status: StatusCode
    status_reason: str
    name: str
    category: str
    description: str
    manufacturer: str
    model: str
    serial_number: str
    eic: str | None
    external_ids: list[ExternalIdOut]
    energy_source: str
    capacity: CapacityOut
    flexibility_direction: str
    v2g: bool
    metering: MeteringOut
    site: SiteOut
    network: NetworkOut
    commissioning_date: dt.date | None
    effective_from: dt.date
    decommissioned_on: dt.date | None = Field(
        None, description="When it went out of service (status decommissioned)."
    )
    registered_by: RegistrantOut
    role_details: dict[str, Any] = Field(
        default_factory=dict,
        description="The extra information the registrant's role gave (its asset rules).",
    )
    registered_at: dt.datetime
    updated_at: dt.datetime
    version: int
    links: list[LinkOut]
    checks: list[CheckOut]
    duplicate_flags: list[DuplicateFlagOut]


class AssetDraft(Schema):
    """A registration not submitted yet (only the participant that saved it sees it), or a
    draft that was discarded (status rejected, record emptied)."""

    view: Literal["draft"] = "draft"
    asset_id: str
    status: StatusCode
    status_reason: str
    name: str
    category: str
    record: dict[str, Any] = Field(
        description="The record as entered; checked in full only when it is submitted."
    )
    registered_by: RegistrantOut
    saved_at: dt.datetime
    updated_at: dt.datetime
    version: int


class AssetPage(Schema):
    items: list[AssetFull | AssetDraft | AssetPublic]
    next_cursor: str | None


class LookupMatchOut(Schema):
    matched_on: Literal["mpan", "serial", "external_id", "eic"]
    registered_elsewhere: bool = Field(
        description="Registered, by or for a participant whose assets you may not see."
    )
    asset_id: str | None
    category: str | None
    status: StatusCode | None
    next_steps: str


class LookupOut(Schema):
    registered: bool
    matches: list[LookupMatchOut]


def draft_out(asset: Asset) -> AssetDraft:
    return AssetDraft(
        asset_id=asset.asset_id,
        status=cast(StatusCode, asset.status),
        status_reason=asset.status_reason,
        name=asset.name,
        category=asset.category,
        record=asset.draft_record,
        registered_by=RegistrantOut(
            participant_id=asset.registered_by.participant_id, role=asset.registered_by_role
        ),
        saved_at=asset.created_at,
        updated_at=asset.updated_at,
        version=asset.version,
    )


def public_out(asset: Asset) -> AssetPublic:
    return AssetPublic(
        asset_id=asset.asset_id, category=asset.category, status=cast(StatusCode, asset.status)
    )


def link_out(link: AssetLink) -> LinkOut:
    period = link.valid_during
    return LinkOut(
        link_id=link.public_id,
        participant_id=link.participant.participant_id,
        relationship=link.relationship,
        contract_reference=link.contract_reference,
        consent_reference=link.consent_reference,
        valid_from=period.lower if period else None,
        valid_to=period.upper if period else None,
        suspended_at=link.suspended_at,
        suspended_reason=link.suspended_reason,
    )


def check_out(check: AssetCheck, *, evidence: bool = True) -> CheckOut:
    """``evidence=False`` (anyone but oversight): the consent service's record of the
    household's consent (its meter point, postcode, provider, dates) is left out of the
    consent check's evidence; the outcome's detail says what did not match."""
    outcome = check.outcome
    held = (outcome.get("evidence") or {}) if isinstance(outcome, dict) else {}
    if not evidence and isinstance(held, dict) and held.get("consent"):
        outcome = {**outcome, "evidence": {k: v for k, v in held.items() if k != "consent"}}
    return CheckOut(
        validator=check.validator,
        status=check.status,
        attempts=check.attempts,
        outcome=outcome,
        finished_at=check.finished_at,
    )


def flag_out(flag: DuplicateFlag, *, candidate_visible: bool, detail: bool) -> DuplicateFlagOut:
    return DuplicateFlagOut(
        rule=flag.rule,
        candidate_asset_id=flag.candidate.asset_id if candidate_visible else None,
        detail=flag.detail if detail else None,
        flagged_at=flag.created_at,
        resolved_at=flag.resolved_at,
    )


def full_out(asset: Asset, *, visible_candidates: set[int], oversight: bool) -> AssetFull:
    """``oversight``: the caller reads every asset (flags' details, checks' whole evidence)."""
    a = asset
    if a.installed_kw is None or a.effective_from is None:
        raise ValueError(f"{a.asset_id} was never submitted: see draft_out")
    return AssetFull(
        asset_id=a.asset_id,
        status=cast(StatusCode, a.status),
        status_reason=a.status_reason,
        name=a.name,
        category=a.category,
        description=a.description,
        manufacturer=a.manufacturer,
        model=a.model,
        serial_number=a.serial_number,
        eic=a.eic,
        external_ids=[ExternalIdOut(scheme=e.scheme, value=e.value) for e in a.external_ids.all()],
        energy_source=a.energy_source,
        capacity=CapacityOut(
            installed_kw=a.installed_kw,
            export_kw=a.export_kw,
            import_kw=a.import_kw,
            storage_kwh=a.storage_kwh,
        ),
        flexibility_direction=a.flexibility_direction,
        v2g=a.v2g,
        metering=MeteringOut(import_mpan=a.import_mpan, export_mpan=a.export_mpan),
        site=SiteOut(
            address_line1=a.address_line1,
            address_line2=a.address_line2,
            town=a.town,
            postcode=a.postcode,
            latitude=a.latitude,
            longitude=a.longitude,
            domestic=a.domestic,
            consumer_consent_reference=a.consumer_consent_reference,
        ),
        network=NetworkOut(
            distributor_id=a.distributor_id,
            dno_licence_area=a.dno_licence_area,
            gsp_group=a.gsp_group,
            voltage_level=a.voltage_level,
            connection_status=a.connection_status,
            connection_type=a.connection_type,
            connection_reference=a.dno_connection_reference,
        ),
        commissioning_date=a.commissioning_date,
        effective_from=a.effective_from,
        decommissioned_on=a.decommissioned_on,
        registered_by=RegistrantOut(
            participant_id=a.registered_by.participant_id, role=a.registered_by_role
        ),
        role_details=a.role_details or {},
        registered_at=a.created_at,
        updated_at=a.updated_at,
        version=a.version,
        links=[link_out(link) for link in a.links.all()],
        checks=[check_out(c, evidence=oversight) for c in a.checks.all()],
        duplicate_flags=[
            flag_out(f, candidate_visible=f.candidate_id in visible_candidates, detail=oversight)
            for f in a.duplicate_flags.all()
        ],
    )


_NEXT_STEPS_VISIBLE = (
    "You may see this asset: GET /api/v1/assets/{asset_id}. Do not register it again."
)
_NEXT_STEPS_ELSEWHERE = {
    "mpan": (
        "Assets are already registered at this meter. If yours is one of them, ask its owner "
        "to appoint you as its provider (a provider switch); if it is another asset, register "
        "it with its manufacturer and serial number."
    ),
    "external_id": (
        "An asset with this identifier is already registered. Ask its owner to appoint you "
        "as its provider (a provider switch) rather than registering it again."
    ),
}
_NEXT_STEPS_ABSOLUTE = (
    "This asset is already registered. Ask its owner to appoint you as its provider "
    "(a provider switch) rather than registering it again."
)


def match_out(match: Match) -> LookupMatchOut:
    asset = match.asset
    if asset is None:
        return LookupMatchOut(
            matched_on=match.matched_on,  # type: ignore[arg-type]
            registered_elsewhere=True,
            asset_id=None,
            category=None,
            status=None,
            next_steps=_NEXT_STEPS_ELSEWHERE.get(match.matched_on, _NEXT_STEPS_ABSOLUTE),
        )
    return LookupMatchOut(
        matched_on=match.matched_on,  # type: ignore[arg-type]
        registered_elsewhere=False,
        asset_id=asset.asset_id,
        category=asset.category,
        status=cast(StatusCode, asset.status),
        next_steps=_NEXT_STEPS_VISIBLE.format(asset_id=asset.asset_id),
    )
