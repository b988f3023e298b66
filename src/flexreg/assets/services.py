"""Every write of single assets: one function per use case, one transaction, audited.

Registration (FMAR's flow): conformance first (every error at once, nothing stored), then the
duplicate rules under advisory locks (``rules``), then the record with a permanent Asset ID in
``pending_validation`` (or ``query`` when it may duplicate another asset), the registrant's
link, and the authenticity checks started once the transaction commits.
docs/decisions/0015-asset-duplicates.md records the rules and the links.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from typing import Any, Final

from django.db import IntegrityError, OperationalError, connection, transaction
from django.db.backends.postgresql.psycopg_any import DateTimeTZRange
from django.utils import timezone

from flexreg.assets import conformance, role_rules, rules, selectors
from flexreg.assets.catalogue import Catalogue
from flexreg.assets.catalogue_store import current_catalogue
from flexreg.assets.conformance import CleanAsset
from flexreg.assets.models import (
    Asset,
    AssetExternalId,
    AssetLink,
    AssetStatus,
    DuplicateFlag,
    Relationship,
)
from flexreg.assets.validators import consent
from flexreg.core import audit, permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError, FieldError, ValidationFailed
from flexreg.identifiers import new_asset_id

REGISTER: Final = "assets:register"
#: The registrant's relationship to the asset it registers, by its acting role.
RELATIONSHIP_BY_ROLE: Final[Mapping[str, str]] = {
    "ASSET_OWNER": Relationship.LEGAL_OWNER,
    "FSP": Relationship.CONTROLLER,
    "AGGREGATOR": Relationship.CONTROLLER,
    "SUPPLIER": Relationship.CONTROLLER,
    "OEM": Relationship.OPERATOR,
    "PLATFORM": Relationship.OPERATOR,
}
#: Registration fields outside the asset record (they describe the registrant's link).
CONTRACT_REFERENCE_MAX: Final = 100
_DUPLICATE_CONSTRAINTS: Final = frozenset(
    {
        "asset_serial_once",
        "asset_eic_once",
        "asset_anonymous_once_per_meter",
        "asset_anonymous_once_per_export_meter",
        "external_id_once",
    }
)
_RULE_WORDS: Final[Mapping[str, str]] = {
    "serial": "the same manufacturer and serial number",
    "eic": "the same EIC",
    "external_id": "the same external identifier",
    "meter": "an asset of the same category without a serial number at the same meter",
}
NEXT_STEPS: Final = (
    "Ask the asset's owner to appoint you as its provider (a provider switch) rather than "
    "registering it again. If it is a different asset at the same meter, give its serial number."
)


DEADLOCK_RETRIES: Final = 3


def register(
    acting: Acting, record: Mapping[str, Any], catalogue: Catalogue | None = None
) -> Asset:
    """Register one asset for the acting participant role.

    A household's consent reference is checked with the consumer consent service first,
    outside the transaction (``_consent_now``). Concurrent registrations near one another can
    deadlock in PostgreSQL (an advisory lock against a foreign-key check at commit);
    PostgreSQL aborts one of them, which is then run again from the start (a fresh
    transaction, so it sees the winner's row and flags it).
    """
    catalogue = catalogue or current_catalogue()
    consent_now = _consent_now(acting, record, catalogue)
    return _retrying_deadlocks(lambda: _register_once(acting, record, catalogue, consent_now))


def submit_draft(acting: Acting, asset_id: str, catalogue: Catalogue | None = None) -> Asset:
    """Submit a draft (``draft`` → ``pending_validation``, or ``query`` when it may duplicate
    another asset): its record goes through everything a registration does, the real-time
    consent check included, and the draft's row (and Asset ID) becomes the asset. Every error
    at once; the draft is left as it was."""
    catalogue = catalogue or current_catalogue()
    consent_now = None
    if consent.configured():
        record = selectors.own_draft_record(acting, asset_id)
        if record is not None:
            consent_now = _consent_now(acting, record, catalogue)
    return _retrying_deadlocks(lambda: _submit_once(acting, asset_id, catalogue, consent_now))


def _retrying_deadlocks(attempt_once: Callable[[], Asset]) -> Asset:
    for attempt in range(DEADLOCK_RETRIES):
        try:
            return attempt_once()
        except OperationalError as exc:
            deadlock = getattr(exc.__cause__, "sqlstate", None) == "40P01"
            # Only a transaction of our own can be run again (not one inside a caller's).
            if not deadlock or connection.in_atomic_block or attempt + 1 == DEADLOCK_RETRIES:
                raise
    raise AssertionError("unreachable")


@transaction.atomic
def _register_once(
    acting: Acting,
    record: Mapping[str, Any],
    catalogue: Catalogue | None,
    consent_now: consent.RealTime | None = None,
) -> Asset:
    permissions.require(acting, REGISTER)
    return _register_checked(
        acting, _registrant(acting), record, catalogue, draft=None, consent_now=consent_now
    )


@transaction.atomic
def _submit_once(
    acting: Acting,
    asset_id: str,
    catalogue: Catalogue | None,
    consent_now: consent.RealTime | None = None,
) -> Asset:
    permissions.require(acting, REGISTER)
    registrant_pk = _registrant(acting)
    draft = selectors.own_draft_for_update(acting, asset_id)
    return _register_checked(
        acting, registrant_pk, draft.draft_record, catalogue, draft=draft, consent_now=consent_now
    )


def _register_checked(
    acting: Acting,
    registrant_pk: int,
    record: Mapping[str, Any],
    catalogue: Catalogue | None,
    *,
    draft: Asset | None,
    consent_now: consent.RealTime | None = None,
) -> Asset:
    """Conformance, duplicate rules under locks, then the asset (a new row, or the draft's).
    ``consent_now``: what the real-time consent check found before the transaction (its
    refusals were raised then); recorded with the registration."""
    catalogue = catalogue or current_catalogue()
    clean, contract_reference, role_details = _conform(record, catalogue, acting.role)
    if consent_now is not None and (
        not clean.domestic or consent_now.reference != clean.consumer_consent_reference
    ):
        consent_now = None  # a draft changed since it was checked: the background check decides
    rules.lock(rules.lock_keys(clean, catalogue))
    refuse_duplicates(acting, rules.exact_duplicates(clean, catalogue))
    near = rules.near_matches(clean)
    try:
        with transaction.atomic():
            asset = _insert(
                acting,
                registrant_pk,
                clean,
                catalogue,
                near,
                draft=draft,
                role_details=role_details,
            )
    except IntegrityError as exc:
        # The locks make this rare (another writer that skipped them); the indexes decide.
        if _constraint(exc) not in _DUPLICATE_CONSTRAINTS:
            raise
        raise duplicate_error(acting, rules.exact_duplicates(clean, catalogue)) from exc
    link = _link_registrant(acting, asset, registrant_pk, clean, contract_reference)
    candidates = _flag(asset, near)
    _audit_registered(acting, asset, link, candidates, consent_now)
    _start_authenticity(asset.pk)
    return asset


# --- steps ------------------------------------------------------------------------------------


def _consent_now(
    acting: Acting, record: Mapping[str, Any], catalogue: Catalogue
) -> consent.RealTime | None:
    """The real-time check of a household's consent reference, before any transaction (an
    outside call must not hold one open): None when no consent service is configured or the
    asset is not domestic. Raises what the transaction would raise first (permission, no
    participant role, every conformance error: no call for a record that is refused anyway),
    then ``consent.ConsentRefused`` (422 ``consent.not_found``, ``consent.revoked``, ...)."""
    if not consent.configured():
        return None
    permissions.require(acting, REGISTER)
    _registrant(acting)
    clean, _, _ = _conform(record, catalogue, acting.role)
    if not clean.domestic:
        return None
    mpans = [m for m in (clean.import_mpan, clean.export_mpan) if m]
    return consent.check_now(clean.consumer_consent_reference, mpans)


def _registrant(acting: Acting) -> int:
    if acting.participant_pk is None or acting.role is None:
        raise DomainError(
            code="asset.registrant_required",
            detail="Assets are registered by a participant role: act for one.",
        )
    return acting.participant_pk


def _conform(
    record: Mapping[str, Any], catalogue: Catalogue, role: str | None
) -> tuple[CleanAsset, str, dict[str, Any]]:
    """The clean asset, the link's contract reference and the registrant role's details (its
    rules: ``role_rules``), or every error at once."""
    if not isinstance(record, Mapping):
        raise ValidationFailed([FieldError("", "type_error", "An asset record is a JSON object.")])
    body = dict(record)
    contract = body.pop("contract_reference", None)
    raw_role_details = body.pop(role_rules.PREFIX, None)
    clean, errors = conformance.Validator(catalogue).validate(body)
    reference, contract_errors = _contract_reference(contract)
    role_details, role_errors = role_rules.check(
        role, body.get("category"), raw_role_details, catalogue
    )
    errors = [*errors, *contract_errors, *role_errors]
    if errors or clean is None:
        raise ValidationFailed(errors, detail=f"{len(errors)} field(s) are not valid.")
    return clean, reference, role_details


def _contract_reference(raw: Any) -> tuple[str, list[FieldError]]:
    if raw is None:
        return "", []
    if not isinstance(raw, str):
        return "", [FieldError("contract_reference", "type_error", "Enter the reference as text.")]
    value = raw.strip()
    if len(value) > CONTRACT_REFERENCE_MAX:
        message = f"Enter {CONTRACT_REFERENCE_MAX} characters or fewer (you gave {len(value)})."
        return "", [FieldError("contract_reference", "too_long", message)]
    if not value.isprintable():
        message = "Remove the control character (such as a NUL byte) from the text."
        return "", [FieldError("contract_reference", "text.control_character", message)]
    return value, []


def refuse_duplicates(acting: Acting, collisions: list[rules.Collision]) -> None:
    if collisions:
        raise duplicate_error(acting, collisions)


def duplicate_error(acting: Acting, collisions: list[rules.Collision]) -> DomainError:
    """409 ``asset.duplicate`` naming each collision; the existing Asset ID only where the
    caller may see that asset."""
    seen = selectors.visible_pks(acting, {c.asset_pk for c in collisions})
    described = [_collision(c, c.asset_pk in seen) for c in collisions]
    named = [c.asset_id for c in collisions if c.asset_pk in seen]
    what = "; ".join(sorted({_RULE_WORDS[c.rule] for c in collisions})) or "a unique key"
    detail = f"This asset is already registered ({what})."
    if named:
        detail = f"This asset is already registered as {', '.join(sorted(set(named)))} ({what})."
    return DomainError(
        code="asset.duplicate",
        detail=f"{detail} {NEXT_STEPS}",
        status=409,
        title="Conflict with the current state",
        errors=[
            FieldError(
                c.field, f"asset.duplicate.{c.rule}", f"Already registered: {_RULE_WORDS[c.rule]}."
            )
            for c in collisions
        ],
        extra={"duplicates": described, "next_steps": NEXT_STEPS},
    )


def _collision(collision: rules.Collision, visible: bool) -> dict[str, Any]:
    return {
        "rule": collision.rule,
        "field": collision.field,
        "asset_id": collision.asset_id if visible else None,
        "registered_elsewhere": not visible,
    }


def _constraint(exc: IntegrityError) -> str:
    diag = getattr(exc.__cause__, "diag", None)
    return str(getattr(diag, "constraint_name", "") or "")


def asset_fields(clean: CleanAsset) -> dict[str, Any]:
    """The ``Asset`` columns of a clean record (shared with bulk registration)."""
    c = clean
    return {
        "name": c.name,
        "category": c.category,
        "description": c.description,
        "manufacturer": c.manufacturer,
        "manufacturer_key": c.manufacturer_key or "",
        "model": c.model,
        "serial_number": c.serial_number,
        "serial_key": c.serial_key or "",
        "eic": c.eic,
        "energy_source": c.energy_source or "",
        "installed_kw": c.installed_kw,
        "export_kw": c.export_kw,
        "import_kw": c.import_kw,
        "storage_kwh": c.storage_kwh,
        "flexibility_direction": c.flexibility_direction,
        "v2g": c.v2g,
        "import_mpan": c.import_mpan,
        "export_mpan": c.export_mpan,
        "distributor_id": c.distributor_id or "",
        "dno_licence_area": c.dno_licence_area or "",
        "gsp_group": c.gsp_group or "",
        "voltage_level": c.voltage_level or "",
        "connection_status": c.connection_status,
        "connection_type": c.connection_type or "",
        "dno_connection_reference": c.dno_connection_reference,
        "commissioning_date": c.commissioning_date,
        "effective_from": c.effective_from,
        "address_line1": c.address_line1,
        "address_line2": c.address_line2,
        "town": c.town,
        "postcode": c.postcode,
        "latitude": c.latitude,
        "longitude": c.longitude,
        "domestic": c.domestic,
        "consumer_consent_reference": c.consumer_consent_reference,
    }


def _insert(
    acting: Acting,
    registrant_pk: int,
    clean: CleanAsset,
    catalogue: Catalogue,
    near: list[rules.NearMatch],
    *,
    draft: Asset | None = None,
    role_details: Mapping[str, Any] | None = None,
) -> Asset:
    now = timezone.now()
    fields = {
        **asset_fields(clean),
        "status": AssetStatus.QUERY if near else AssetStatus.PENDING_VALIDATION,
        "status_reason": _query_reason(near),
        "registered_by_role": acting.role or "",
        "updated_at": now,
        "catalogue_checksum": catalogue.checksum,
        "role_details": dict(role_details or {}),
    }
    if draft is None:
        asset = _new_asset(
            **fields, registered_by_id=registrant_pk, created_by_id=acting.user_id, created_at=now
        )
    else:
        # The draft's row becomes the asset: same Asset ID; registered when submitted.
        for name, value in fields.items():
            setattr(draft, name, value)
        draft.draft_record = {}
        draft.created_at = now
        draft.version += 1
        draft.save()
        asset = draft
    schemes = catalogue.external_id_schemes
    AssetExternalId.objects.bulk_create(
        AssetExternalId(
            asset=asset, scheme=s, value=v, is_unique=s in schemes and schemes[s].unique
        )
        for s, v in clean.external_ids
    )
    return asset


def _query_reason(near: list[rules.NearMatch]) -> str:
    if not near:
        return ""
    count = len({m.candidate_pk for m in near})
    return (
        f"Possible duplicate of {count} registered asset(s): the central operator will check "
        "before its authenticity is confirmed."
    )


def _new_asset(**fields: Any) -> Asset:
    """Insert with a fresh random Asset ID, retrying in the unlikely event of a clash."""
    for _ in range(5):
        try:
            with transaction.atomic():
                return Asset.objects.create(asset_id=str(new_asset_id()), **fields)
        except IntegrityError as exc:
            if "asset_id" not in _constraint(exc):
                raise
    raise RuntimeError("could not allocate a unique Asset ID")


def _link_registrant(
    acting: Acting, asset: Asset, registrant_pk: int, clean: CleanAsset, contract_reference: str
) -> AssetLink:
    """The registrant's link, valid from now and open-ended (docs/decisions/0015)."""
    return AssetLink.objects.create(
        asset=asset,
        participant_id=registrant_pk,
        relationship=RELATIONSHIP_BY_ROLE.get(acting.role or "", Relationship.OPERATOR),
        contract_reference=contract_reference,
        consent_reference=clean.consumer_consent_reference if clean.domestic else "",
        valid_during=DateTimeTZRange(asset.created_at, None, "[)"),
        created_at=asset.created_at,
    )


def _flag(asset: Asset, near: list[rules.NearMatch]) -> list[int]:
    DuplicateFlag.objects.bulk_create(
        DuplicateFlag(asset=asset, candidate_id=m.candidate_pk, rule=m.rule, detail=m.detail)
        for m in near
    )
    return sorted({m.candidate_pk for m in near})


def _audit_registered(
    acting: Acting,
    asset: Asset,
    link: AssetLink,
    candidates: list[int],
    consent_now: consent.RealTime | None = None,
) -> None:
    candidate_ids = sorted(
        Asset.objects.filter(pk__in=candidates).values_list("asset_id", flat=True)
    )
    after: dict[str, Any] = {
        "category": asset.category,
        "status": asset.status,
        "registered_by_role": asset.registered_by_role,
        "relationship": link.relationship,
        "contract_reference": link.contract_reference,
        "consent_reference": link.consent_reference,
        "possible_duplicates": candidate_ids,
        "catalogue_checksum": asset.catalogue_checksum,
        "role_details": asset.role_details,
    }
    if consent_now is not None:
        # The real-time consent check: passed, or unavailable (the background check decides).
        after["consent_checked_now"] = consent_now.evidence()
    audit.record(
        acting,
        "asset.registered",
        object_type="asset",
        object_id=asset.asset_id,
        subject_participant_id=acting.participant_id or "",
        after=after,
        personal=["consent_reference"],
    )


def _start_authenticity(asset_pk: int) -> None:
    """Hand the asset to the authenticity checks once the registration commits (the
    ``assets.authenticity`` module; skipped while it does not exist)."""
    try:
        module = importlib.import_module("flexreg.assets.authenticity")
    except ModuleNotFoundError as exc:
        if exc.name != "flexreg.assets.authenticity":
            raise
        return
    transaction.on_commit(lambda: module.start(asset_pk), robust=True)
