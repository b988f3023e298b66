"""Single asset registration through the service: conformance first (every error at once,
nothing stored), a permanent Asset ID in pending_validation, the registrant's link by role,
one audit event, permission and qualification."""

from __future__ import annotations

from typing import Any

import pytest

from flexreg.assets import services
from flexreg.assets.models import Asset, AssetLink, AssetStatus, DuplicateFlag
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import IMPORT_MPAN, Registrant, record
from flexreg.core.errors import DomainError, PermissionDenied, ValidationFailed
from flexreg.core.models import AuditEvent
from flexreg.identifiers import AssetId

pytestmark = pytest.mark.django_db

# Fixtures shared by the registration tests.
fsp = helpers_registration.fsp
qualify = helpers_registration.qualify


def test_a_valid_record_is_stored_pending_validation_with_a_permanent_asset_id(
    fsp: Registrant,
) -> None:
    asset = services.register(fsp.acting, record(serial_number="pc-0001 a"))
    assert AssetId.parse(asset.asset_id).value == asset.asset_id
    assert asset.status == AssetStatus.PENDING_VALIDATION
    assert asset.status_reason == ""
    assert asset.serial_key == "PC0001A"
    assert asset.manufacturer_key == "ACMEENERGY"
    assert asset.import_mpan == IMPORT_MPAN
    assert asset.dno_licence_area and asset.gsp_group
    assert asset.registered_by_id == fsp.participant_pk
    assert asset.registered_by_role == "FSP"
    assert asset.created_by_id == fsp.user.pk
    assert asset.catalogue_checksum
    assert not DuplicateFlag.objects.filter(asset=asset).exists()


def test_an_fsp_becomes_the_controller_open_ended_with_its_contract_reference(
    fsp: Registrant,
) -> None:
    asset = services.register(fsp.acting, {**record(), "contract_reference": " C-42 "})
    link = AssetLink.objects.get(asset=asset)
    assert link.participant_id == fsp.participant_pk
    assert link.relationship == "controller"
    assert link.contract_reference == "C-42"
    assert link.valid_during.lower == asset.created_at
    assert link.valid_during.upper is None
    assert link.consent_reference == ""


def test_an_asset_owner_becomes_the_legal_owner_and_a_domestic_site_keeps_the_consent(
    registered: Any, qualify: Any
) -> None:
    user, body, _ = registered()
    owner = qualify(user, body["participant_id"], "ASSET_OWNER")
    rec = record(site={"domestic": True, "consumer_consent_reference": "CONSENT-123"})
    asset = services.register(owner.acting, rec)
    link = AssetLink.objects.get(asset=asset)
    assert link.relationship == "legal_owner"
    assert link.consent_reference == "CONSENT-123"
    assert asset.consumer_consent_reference == "CONSENT-123"
    assert asset.domestic is True


def test_one_audit_event_names_the_asset_and_keeps_the_consent_out_of_the_chain(
    fsp: Registrant,
) -> None:
    before = AuditEvent.objects.count()
    rec = record(site={"domestic": True, "consumer_consent_reference": "CONSENT-9"})
    asset = services.register(fsp.acting, rec)
    events = list(AuditEvent.objects.order_by("seq")[before:])
    assert [e.action for e in events] == ["asset.registered"]
    event = events[0]
    assert event.object_type == "asset"
    assert event.object_id == asset.asset_id
    assert event.subject_participant_id == fsp.participant_id
    after = event.changes["after"]
    assert after["category"] == "BESS"
    assert after["status"] == "pending_validation"
    assert after["relationship"] == "controller"
    assert "CONSENT-9" not in str(event.changes)


def test_every_conformance_error_comes_back_at_once_and_nothing_is_stored(
    fsp: Registrant,
) -> None:
    before = (Asset.objects.count(), AuditEvent.objects.count())
    bad = record(
        capacity={"installed_kw": "5", "export_kw": "9", "storage_kwh": None},
        metering={"import_mpan": "1012345678900"},
        site={"postcode": "NOT A CODE"},
        surprise=True,
        contract_reference="x" * 101,
    )
    with pytest.raises(ValidationFailed) as caught:
        services.register(fsp.acting, bad)
    found = {(e.field, e.code) for e in caught.value.errors}
    assert ("capacity.export_kw", "asset.export_exceeds_installed") in found
    assert ("capacity.storage_kwh", "asset.storage_required") in found
    assert any(f == "metering.import_mpan" and c.startswith("mpan.") for f, c in found)
    assert any(f == "site.postcode" and c.startswith("postcode.") for f, c in found)
    assert ("surprise", "unknown_field") in found
    assert ("contract_reference", "too_long") in found
    assert len(found) >= 6
    assert (Asset.objects.count(), AuditEvent.objects.count()) == before


def test_a_role_not_yet_qualified_may_not_register(registered: Any) -> None:
    from flexreg.accounts.acting import acting_for
    from flexreg.participants.models import Membership

    user, body, _ = registered()
    membership = Membership.objects.get(
        user=user,
        participant_role__participant__participant_id=body["participant_id"],
        participant_role__role="FSP",
    )
    acting = acting_for(user, membership, via="session")
    assert "assets:read" in acting.permissions
    with pytest.raises(PermissionDenied):
        services.register(acting, record())
    assert not Asset.objects.exists()


def test_a_system_actor_without_a_participant_role_cannot_register(db: Any) -> None:
    from flexreg.core.acting import Acting

    with pytest.raises(DomainError) as caught:
        services.register(Acting.system("tests", frozenset({"assets:register"})), record())
    assert caught.value.code == "asset.registrant_required"


def test_authenticity_is_started_after_commit_when_the_module_exists(
    fsp: Registrant, monkeypatch: Any, django_capture_on_commit_callbacks: Any
) -> None:
    """The hook for the authenticity checks (``assets.authenticity.start``, here a stand-in
    module recording its calls): called with the asset once the registration commits."""
    import sys
    import types

    started: list[int] = []
    module = types.ModuleType("flexreg.assets.authenticity")
    module.start = started.append  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "flexreg.assets.authenticity", module)
    with django_capture_on_commit_callbacks(execute=True):
        asset = services.register(fsp.acting, record())
    assert started == [asset.pk]
