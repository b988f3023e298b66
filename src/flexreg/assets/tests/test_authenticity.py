"""Authenticity checks of a registered asset against the outside services (the stand-in over
HTTP): each validator up, down (retried by the sweep, then concluded once it is back) and
answering "not found"; the asset ends verified or in query with the reasons; re-runs change
nothing."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.utils import timezone

from flexreg.assets import authenticity
from flexreg.assets.models import Asset, AssetCheck, AssetStatus
from flexreg.assets.tests import helpers_authenticity
from flexreg.assets.tests.helpers_authenticity import (
    EXPORT_MPAN,
    IMMEDIATE,
    RETRY_JOB,
    codes,
    household,
    make_asset,
    statuses,
)
from flexreg.assets.validators import VALIDATORS
from flexreg.core import scheduler
from flexreg.core.models import AuditEvent
from flexreg.devtools.asset_services_stub import StubServer
from flexreg.notifications.models import Notification

pytestmark = pytest.mark.django_db

# Fixtures shared by the authenticity tests.
asset_stub = helpers_authenticity.asset_stub
kinds = helpers_authenticity.kinds
registrant = helpers_authenticity.registrant
services = helpers_authenticity.services

S = AssetCheck.Status
ALL_FIVE = ["meter_point", "dno_connection", "manufacturer", "mcs", "consent"]


def _run_all(asset: Asset) -> list[str]:
    """What the queued tasks do: run each pending check."""
    return [authenticity.run(pk) for pk in authenticity.start(asset.pk)]


def _fresh(asset: Asset) -> Asset:
    asset.refresh_from_db()
    return asset


def _sweep(at: dt.datetime) -> dict[str, int]:
    result = scheduler.run_due(now=at, only=RETRY_JOB)
    return dict(result.get("assets.retry_checks", {}))


# --- the whole pipeline ---------------------------------------------------------------------


def test_a_genuine_asset_is_verified_through_the_queued_tasks_and_the_registrant_is_told(
    registrant: Any,
    services: StubServer,
    kinds: None,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    user, participant = registrant
    asset = make_asset(participant, user)
    with django_capture_on_commit_callbacks(execute=True):
        pending = authenticity.start(asset.pk)
    assert len(pending) == 3  # meter point, DNO connection, manufacturer
    asset = _fresh(asset)
    assert asset.status == AssetStatus.VERIFIED
    assert asset.status_reason == ""
    assert statuses(asset) == {
        "meter_point": S.PASSED,
        "dno_connection": S.PASSED,
        "manufacturer": S.PASSED,
        "mcs": S.SKIPPED,
        "consent": S.SKIPPED,
    }
    assert codes(asset, "mcs") == ["check.not_applicable"]
    assert "domestic" in asset.checks.get(validator="consent").outcome["detail"]
    meter = asset.checks.get(validator="meter_point")
    assert meter.attempts == 1 and meter.finished_at is not None
    assert meter.outcome["evidence"]["meter_points"]["1012345678903"]["postcode"] == "CB1 2AB"
    assert meter.outcome["service"] == "meter point registry"
    device = asset.checks.get(validator="manufacturer").outcome["evidence"]["device"]
    assert device["model"] == "PowerCube 13" and device["serial_number"] == asset.serial_number
    told = Notification.objects.get(kind="assets.validated", recipient=user)
    assert told.subject == f"Asset verified: {asset.name} ({asset.asset_id})"
    assert told.link == f"/assets/{asset.asset_id}/"
    assert "Meter point registry: Passed" in told.body_text
    actions = list(
        AuditEvent.objects.filter(object_id=asset.asset_id).values_list("action", flat=True)
    )
    assert actions.count("asset.check_concluded") == 3
    assert actions[0] == "asset.authenticity_started"
    assert actions[-1] == "asset.authenticity_concluded"


def test_a_household_asset_runs_all_five_checks(registrant: Any, services: StubServer) -> None:
    user, participant = registrant
    asset = household(participant, user)
    assert _run_all(asset) == [S.PASSED] * 5
    asset = _fresh(asset)
    assert asset.status == AssetStatus.VERIFIED
    assert list(statuses(asset)) == ALL_FIVE
    mcs = asset.checks.get(validator="mcs").outcome
    assert mcs["evidence"]["matched"] == "MCS-00123456"
    consent = asset.checks.get(validator="consent").outcome
    assert consent["evidence"]["consent"]["status"] == "active"
    paths = [line.split("?")[0] for line in services.request_log]
    assert paths == [
        "GET /meter-point/meter-points/1234567890126",
        "GET /dno-connection/connections/LPN-CON-004512",
        "GET /manufacturer-registry/devices",
        "GET /mcs/installations",
        "GET /consent/consents/CNS-7F3K-92QX",
    ]


# --- "not found" --------------------------------------------------------------------------


NOT_FOUND_CODES = {
    "meter_point": "meter_point.not_found",
    "dno_connection": "dno_connection.not_found",
    "manufacturer": "manufacturer.serial_not_found",
    "mcs": "mcs.not_found",
    "consent": "consent.not_found",
}


@pytest.mark.parametrize("validator", ALL_FIVE)
def test_a_service_answering_not_found_sends_the_asset_to_query_with_the_reason(
    registrant: Any, services: StubServer, kinds: None, validator: str
) -> None:
    user, participant = registrant
    asset = household(participant, user)
    services.set_mode(validator, "not_found")
    _run_all(asset)
    asset = _fresh(asset)
    assert asset.status == AssetStatus.QUERY
    assert statuses(asset)[validator] == S.NOT_FOUND
    assert [s for v, s in statuses(asset).items() if v != validator] == [S.PASSED] * 4
    assert codes(asset, validator) == [NOT_FOUND_CODES[validator]]
    assert asset.status_reason.startswith("Authenticity checks did not pass:")
    assert f"({NOT_FOUND_CODES[validator]})" in asset.status_reason
    told = Notification.objects.get(kind="assets.validated", recipient=user)
    assert told.subject == f"Asset needs checking: {asset.name} ({asset.asset_id})"
    assert NOT_FOUND_CODES[validator] in told.body_text


def test_unknown_records_in_the_registries_are_not_found(
    registrant: Any, services: StubServer
) -> None:
    """Not a switch: the records themselves are unknown (every reason listed at once)."""
    _, participant = registrant
    asset = make_asset(
        participant,
        import_mpan="1011111111110",
        export_mpan=None,
        dno_connection_reference="EPN-CON-424242",
        serial_number="ZZ-1",
    )
    _run_all(asset)
    asset = _fresh(asset)
    assert asset.status == AssetStatus.QUERY
    assert statuses(asset)["meter_point"] == S.NOT_FOUND
    assert statuses(asset)["dno_connection"] == S.NOT_FOUND
    assert statuses(asset)["manufacturer"] == S.NOT_FOUND
    for code in ("meter_point.not_found", "dno_connection.not_found"):
        assert code in asset.status_reason


# --- failing rules ------------------------------------------------------------------------


FAILURES = [
    pytest.param(
        {"import_mpan": "1200000000173", "postcode": "SE1 7PB", "dno_connection_reference": ""},
        "meter_point",
        ["meter_point.not_energised"],
        id="meter-de-energised-but-connected",
    ),
    pytest.param(
        {"import_mpan": "2355555555551", "postcode": "LS1 4AP", "dno_connection_reference": ""},
        "meter_point",
        ["meter_point.disconnected"],
        id="meter-disconnected",
    ),
    pytest.param(
        {"postcode": "CB2 1TN"},
        "meter_point",
        ["meter_point.postcode_mismatch"],
        id="meter-elsewhere",
    ),
    pytest.param(
        {"import_mpan": EXPORT_MPAN},
        "meter_point",
        ["meter_point.direction_mismatch"],
        id="export-meter-given-as-import",
    ),
    pytest.param(
        {"dno_connection_reference": "EPN-CON-000200", "connection_type": "NON_FIRM"},
        "dno_connection",
        ["dno_connection.export_exceeds_agreement"],
        id="export-above-agreement",
    ),
    pytest.param(
        {"dno_connection_reference": "EPN-CON-000999"},
        "dno_connection",
        ["dno_connection.terminated"],
        id="connection-terminated",
    ),
    pytest.param(
        {"dno_connection_reference": "LPN-CON-004512"},
        "dno_connection",
        ["dno_connection.licence_area_mismatch", "dno_connection.mpan_mismatch"],
        id="someone-elses-connection",
    ),
    pytest.param(
        {"connection_type": "DYNAMIC"},
        "dno_connection",
        ["dno_connection.type_mismatch"],
        id="connection-type-differs",
    ),
    pytest.param(
        {"serial_number": "PC-999999"},
        "manufacturer",
        ["manufacturer.reported_stolen"],
        id="device-reported-stolen",
    ),
    pytest.param(
        {"serial_number": "PC-888888"},
        "manufacturer",
        ["manufacturer.model_mismatch"],
        id="serial-of-another-model",
    ),
    pytest.param(
        {"installed_kw": "9.00", "export_kw": "9.00"},
        "manufacturer",
        ["manufacturer.capacity_exceeds_rating"],
        id="above-the-device-rating",
    ),
]


@pytest.mark.parametrize(("overrides", "validator", "expected"), FAILURES)
def test_a_failing_rule_sends_the_asset_to_query(
    registrant: Any,
    services: StubServer,
    overrides: dict[str, Any],
    validator: str,
    expected: list[str],
) -> None:
    _, participant = registrant
    asset = make_asset(participant, **overrides)
    _run_all(asset)
    asset = _fresh(asset)
    assert statuses(asset)[validator] == S.FAILED
    assert codes(asset, validator) == expected
    assert asset.status == AssetStatus.QUERY
    for code in expected:
        assert code in asset.status_reason


HOUSEHOLD_FAILURES = [
    pytest.param(
        {
            "postcode": "SE1 7PB",
            "import_mpan": "1200000000173",
            "installed_kw": "3.50",
            "export_kw": "3.50",
            "connection_status": "PENDING",
            "dno_connection_reference": "",
            "consumer_consent_reference": "",
            "serial_number": "",
        },
        "mcs",
        ["mcs.installer_not_certified"],
        id="uncertified-installer",
    ),
    pytest.param(
        {"installed_kw": "6.00", "export_kw": "5.00", "serial_number": ""},
        "mcs",
        ["mcs.capacity_mismatch"],
        id="certificate-for-another-size",
    ),
    pytest.param(
        {"consumer_consent_reference": "CNS-REVOKED-0001"},
        "consent",
        ["consent.revoked"],
        id="consent-revoked",
    ),
    pytest.param(
        {"consumer_consent_reference": "CNS-EXPIRED-0001"},
        "consent",
        ["consent.expired"],
        id="consent-expired",
    ),
    pytest.param(
        {"consumer_consent_reference": "CNS-CB12-0001"},
        "consent",
        ["consent.mpan_mismatch", "consent.postcode_mismatch"],
        id="consent-for-another-household",
    ),
    pytest.param(
        {"consumer_consent_reference": ""},
        "consent",
        ["consent.missing"],
        id="no-consent-reference",
    ),
]


@pytest.mark.parametrize(("overrides", "validator", "expected"), HOUSEHOLD_FAILURES)
def test_a_failing_household_rule_sends_the_asset_to_query(
    registrant: Any,
    services: StubServer,
    overrides: dict[str, Any],
    validator: str,
    expected: list[str],
) -> None:
    _, participant = registrant
    if overrides.get("serial_number") == "":
        overrides = {**overrides, "serial_key": "", "manufacturer": "", "manufacturer_key": ""}
    asset = household(participant, **overrides)
    _run_all(asset)
    asset = _fresh(asset)
    assert statuses(asset)[validator] == S.FAILED
    assert codes(asset, validator) == expected
    assert asset.status == AssetStatus.QUERY


def test_a_pending_connection_may_sit_behind_a_de_energised_meter(
    registrant: Any, services: StubServer
) -> None:
    _, participant = registrant
    asset = make_asset(
        participant,
        import_mpan="1200000000173",
        postcode="SE1 7PB",
        connection_status="PENDING",
        dno_connection_reference="",
    )
    _run_all(asset)
    asset = _fresh(asset)
    assert statuses(asset)["meter_point"] == S.PASSED
    assert "de-energised" in asset.checks.get(validator="meter_point").outcome["detail"]
    assert asset.status == AssetStatus.VERIFIED


# --- down, retried, concluded -------------------------------------------------------------


@pytest.mark.parametrize("mode", ["down", "refuse"])
@pytest.mark.parametrize("validator", ALL_FIVE)
def test_a_service_down_leaves_the_asset_pending_and_is_retried_until_it_answers(
    registrant: Any, services: StubServer, validator: str, mode: str
) -> None:
    user, participant = registrant
    asset = household(participant, user)
    services.set_mode(validator, mode)
    _run_all(asset)
    asset = _fresh(asset)
    assert asset.status == AssetStatus.PENDING_VALIDATION
    check = asset.checks.get(validator=validator)
    assert check.status == S.ERROR and check.attempts == 1
    expected = "service.unavailable" if mode == "down" else "service.unreachable"
    assert codes(asset, validator) == [expected]
    assert check.next_attempt_at is not None
    first_retry = check.next_attempt_at
    assert dt.timedelta(seconds=25) < first_retry - check.created_at < dt.timedelta(minutes=2)

    now = timezone.now()
    assert _sweep(now) == {}  # not due yet
    assert _sweep(now + dt.timedelta(minutes=10)) == {"error": 1}  # still down
    check.refresh_from_db()
    assert check.attempts == 2 and check.next_attempt_at > first_retry
    assert _fresh(asset).status == AssetStatus.PENDING_VALIDATION

    services.set_mode(validator, "up")
    assert _sweep(now + dt.timedelta(hours=1)) == {"passed": 1}
    check.refresh_from_db()
    assert check.status == S.PASSED and check.attempts == 3
    assert _fresh(asset).status == AssetStatus.VERIFIED
    assert _sweep(now + dt.timedelta(hours=2)) == {}  # nothing left to do


def test_a_slow_service_times_out_and_is_retried(
    registrant: Any, services: StubServer, settings: Any
) -> None:
    settings.ASSET_SERVICES_TIMEOUT = 0.3
    _, participant = registrant
    asset = make_asset(participant)
    services.set_mode("manufacturer", "slow")
    _run_all(asset)
    assert codes(_fresh(asset), "manufacturer") == ["service.timeout"]
    assert _fresh(asset).status == AssetStatus.PENDING_VALIDATION
    services.set_mode("manufacturer", "up")
    assert _sweep(timezone.now() + dt.timedelta(minutes=10)) == {"passed": 1}
    assert _fresh(asset).status == AssetStatus.VERIFIED


def test_a_service_down_for_too_long_goes_to_query_as_service_unavailable(
    registrant: Any, services: StubServer, settings: Any, kinds: None
) -> None:
    settings.ASSET_CHECK_GIVE_UP_HOURS = 6
    user, participant = registrant
    asset = make_asset(participant, user)
    services.set_mode("dno_connection", "down")
    _run_all(asset)
    now = timezone.now()
    assert _sweep(now + dt.timedelta(hours=5)) == {"error": 1}
    assert _fresh(asset).status == AssetStatus.PENDING_VALIDATION
    assert _sweep(now + dt.timedelta(hours=6, minutes=5)) == {"failed": 1}
    asset = _fresh(asset)
    assert asset.status == AssetStatus.QUERY
    check = asset.checks.get(validator="dno_connection")
    assert check.status == S.FAILED and check.attempts == 3
    assert codes(asset, "dno_connection") == ["check.service_unavailable"]
    assert check.outcome["evidence"]["last_error"]["code"] == "service.unavailable"
    assert "Service unavailable" in asset.status_reason
    assert Notification.objects.filter(kind="assets.validated", recipient=user).count() == 1


def test_the_sweep_does_not_call_a_service_it_found_down_again(
    registrant: Any, services: StubServer
) -> None:
    _, participant = registrant
    first = make_asset(participant)
    second = make_asset(participant)
    services.set_mode("meter_point", "down")
    _run_all(first)
    _run_all(second)
    services.reset()
    services.set_mode("meter_point", "down")
    assert _sweep(timezone.now() + dt.timedelta(minutes=10)) == {"error": 2}
    assert [line for line in services.request_log if "meter-point" in line] == [
        "GET /meter-point/meter-points/1012345678903"
    ]
    for asset in (first, second):
        check = asset.checks.get(validator="meter_point")
        assert check.status == S.ERROR and check.attempts == 2


def test_an_answer_that_breaks_the_contract_is_not_trusted_and_is_retried(
    registrant: Any, services: StubServer
) -> None:
    _, participant = registrant
    services.add(
        "meter_points",
        {"mpan_core": "1012345678903", "energisation_status": "maybe", "postcode": "CB1 2AB"},
    )
    asset = make_asset(participant)
    _run_all(asset)
    asset = _fresh(asset)
    assert statuses(asset)["meter_point"] == S.ERROR
    assert codes(asset, "meter_point") == ["service.invalid_response"]
    assert asset.status == AssetStatus.PENDING_VALIDATION


def test_a_wrong_service_url_is_retried_not_read_as_not_found(
    registrant: Any, services: StubServer, settings: Any
) -> None:
    settings.ASSET_METER_POINT_URL = f"{services.url}/no-such-service"
    _, participant = registrant
    asset = make_asset(participant)
    _run_all(asset)
    assert codes(_fresh(asset), "meter_point") == ["service.bad_endpoint"]
    assert _fresh(asset).status == AssetStatus.PENDING_VALIDATION


def test_a_lost_task_is_run_by_the_sweep(
    registrant: Any,
    services: StubServer,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    _, participant = registrant
    asset = make_asset(participant)
    with django_capture_on_commit_callbacks(execute=False):
        authenticity.start(asset.pk)  # the tasks are never queued
    assert set(statuses(asset).values()) == {S.PENDING, S.SKIPPED}
    now = timezone.now()
    assert _sweep(now + dt.timedelta(minutes=5)) == {}
    assert _sweep(now + dt.timedelta(minutes=11)) == {"passed": 3}
    assert _fresh(asset).status == AssetStatus.VERIFIED


# --- configuration ------------------------------------------------------------------------


def test_an_unconfigured_service_is_recorded_as_skipped(
    registrant: Any, services: StubServer, settings: Any
) -> None:
    settings.ASSET_MANUFACTURER_REGISTRY_URL = ""
    _, participant = registrant
    asset = make_asset(participant)
    _run_all(asset)
    asset = _fresh(asset)
    assert statuses(asset)["manufacturer"] == S.SKIPPED
    assert codes(asset, "manufacturer") == ["service.not_configured"]
    assert (
        "ASSET_MANUFACTURER_REGISTRY_URL"
        in asset.checks.get(validator="manufacturer").outcome["detail"]
    )
    assert asset.status == AssetStatus.VERIFIED
    assert not [line for line in services.request_log if "manufacturer" in line]


def test_with_no_service_configured_every_check_is_skipped_and_the_asset_verified(
    registrant: Any, settings: Any
) -> None:
    for spec in VALIDATORS.values():
        setattr(settings, spec.url_setting, "")
    _, participant = registrant
    asset = make_asset(participant)
    assert authenticity.start(asset.pk) == []
    asset = _fresh(asset)
    assert set(statuses(asset).values()) == {S.SKIPPED}
    assert asset.status == AssetStatus.VERIFIED


# --- idempotence and assets already decided -----------------------------------------------


def test_re_running_changes_nothing(registrant: Any, services: StubServer, kinds: None) -> None:
    user, participant = registrant
    asset = make_asset(participant, user)
    _run_all(asset)
    asset = _fresh(asset)
    assert asset.status == AssetStatus.VERIFIED
    events = AuditEvent.objects.count()
    outcomes = {c.pk: (c.status, c.attempts, c.outcome, c.finished_at) for c in asset.checks.all()}
    services.reset()

    assert authenticity.start(asset.pk) == []  # verified: nothing to start
    for pk in outcomes:
        assert authenticity.run(pk) == outcomes[pk][0]
        authenticity.record(pk, S.FAILED, {"detail": "late duplicate"})
    assert _sweep(timezone.now() + dt.timedelta(hours=1)) == {}
    assert {
        c.pk: (c.status, c.attempts, c.outcome, c.finished_at) for c in asset.checks.all()
    } == outcomes
    assert asset.checks.count() == 5
    assert _fresh(asset).status == AssetStatus.VERIFIED
    assert AuditEvent.objects.count() == events
    assert services.request_log == []
    assert Notification.objects.filter(kind="assets.validated").count() == 1


def test_starting_twice_creates_each_check_once(registrant: Any, services: StubServer) -> None:
    _, participant = registrant
    asset = make_asset(participant)
    first = authenticity.start(asset.pk)
    assert authenticity.start(asset.pk) == first
    assert asset.checks.count() == len(VALIDATORS)
    assert (
        AuditEvent.objects.filter(
            object_id=asset.asset_id, action="asset.authenticity_started"
        ).count()
        == 1
    )


def test_a_possible_duplicate_stays_in_query_with_the_checks_outcome_added(
    registrant: Any, services: StubServer, kinds: None
) -> None:
    user, participant = registrant
    duplicate_reason = "Possible duplicate of 1 registered asset(s): the operator will check."
    asset = make_asset(participant, user, status=AssetStatus.QUERY, status_reason=duplicate_reason)
    services.set_mode("meter_point", "not_found")
    _run_all(asset)
    asset = _fresh(asset)
    assert asset.status == AssetStatus.QUERY
    assert asset.status_reason.startswith(duplicate_reason + "\n\nAuthenticity checks did not")
    assert "meter_point.not_found" in asset.status_reason
    reason = asset.status_reason
    assert authenticity.start(asset.pk) == []  # concludes again: the same reason, not twice
    assert _fresh(asset).status_reason == reason
    assert Notification.objects.filter(kind="assets.validated", recipient=user).count() == 1


def test_a_duplicate_whose_checks_pass_stays_in_query(
    registrant: Any, services: StubServer
) -> None:
    _, participant = registrant
    asset = make_asset(participant, status=AssetStatus.QUERY, status_reason="Possible duplicate.")
    _run_all(asset)
    asset = _fresh(asset)
    assert asset.status == AssetStatus.QUERY
    assert asset.status_reason == "Possible duplicate.\n\nAuthenticity checks: all passed."


def test_an_asset_decided_meanwhile_is_not_moved(registrant: Any, services: StubServer) -> None:
    _, participant = registrant
    asset = make_asset(participant)
    services.set_mode("meter_point", "down")
    _run_all(asset)
    Asset.objects.filter(pk=asset.pk).update(
        status=AssetStatus.REJECTED, status_reason="Rejected by the operator."
    )
    services.set_mode("meter_point", "up")
    assert _sweep(timezone.now() + dt.timedelta(hours=1)) == {"skipped": 1}
    asset = _fresh(asset)
    assert asset.status == AssetStatus.REJECTED
    assert codes(asset, "meter_point") == ["check.asset_closed"]


def test_without_the_notification_kind_the_outcome_is_still_recorded(
    registrant: Any, services: StubServer
) -> None:
    from flexreg.notifications import kinds as catalogue

    if authenticity.VALIDATED_KIND in catalogue.KINDS:
        pytest.skip("the catalogue has the kind now")
    _, participant = registrant
    asset = make_asset(participant)
    _run_all(asset)
    assert _fresh(asset).status == AssetStatus.VERIFIED
    assert not Notification.objects.filter(kind=authenticity.VALIDATED_KIND).exists()


def test_backoff_doubles_to_an_hour() -> None:
    assert [authenticity.backoff(n).total_seconds() for n in range(9)] == [
        30,
        60,
        120,
        240,
        480,
        960,
        1920,
        3600,
        3600,
    ]


# --- bulk registration --------------------------------------------------------------------


def _import_batch(participant: Any) -> Any:
    from flexreg.assets.models import AssetImport

    return AssetImport.objects.create(
        participant=participant,
        role="FSP",
        file_name="assets.csv",
        file_format="csv",
        sha256="0" * 64,
        file="asset-imports/assets.csv",
    )


def test_many_assets_are_started_set_wise_and_checked_in_batches(
    registrant: Any,
    services: StubServer,
    kinds: None,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    user, participant = registrant
    batch = _import_batch(participant)
    good = [make_asset(participant, user, import_batch=batch) for _ in range(3)]
    stolen = make_asset(participant, user, import_batch=batch, serial_number="PC-999999")
    home = household(participant, user, import_batch=batch)
    pks = [a.pk for a in (*good, stolen, home)]
    events = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        queued = authenticity.start_many([*pks, pks[0]])
    assert queued == 4 * 3 + 5
    assert AuditEvent.objects.count() - events == 1 + queued + 5  # batch, checks, assets
    started = AuditEvent.objects.get(action="asset.authenticity_started")
    assert started.object_type == "asset_batch"
    assert len(started.changes["after"]["asset_ids"]) == 5
    for asset in good:
        assert _fresh(asset).status == AssetStatus.VERIFIED
    assert _fresh(home).status == AssetStatus.VERIFIED
    assert _fresh(stolen).status == AssetStatus.QUERY
    assert codes(stolen, "manufacturer") == ["manufacturer.reported_stolen"]
    assert authenticity.batch_outcome(batch.pk) == {"verified": 4, "query": 1}
    # Imported assets are not told one by one (the import's results show them).
    assert not Notification.objects.filter(kind="assets.validated").exists()
    # Again: nothing new.
    with django_capture_on_commit_callbacks(execute=True):
        assert authenticity.start_many(pks) == 0
    assert AssetCheck.objects.filter(asset_id__in=pks).count() == 5 * 5


def test_many_assets_with_a_service_down_wait_for_the_sweep(
    registrant: Any,
    services: StubServer,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    _, participant = registrant
    assets = [make_asset(participant) for _ in range(4)]
    services.set_mode("dno_connection", "down")
    with django_capture_on_commit_callbacks(execute=True):
        authenticity.start_many([a.pk for a in assets])
    calls = [line for line in services.request_log if "dno-connection" in line]
    assert len(calls) == 1  # the batch stopped calling it
    assert {_fresh(a).status for a in assets} == {AssetStatus.PENDING_VALIDATION}
    services.set_mode("dno_connection", "up")
    assert _sweep(timezone.now() + dt.timedelta(minutes=10)) == {"passed": 4}
    assert {_fresh(a).status for a in assets} == {AssetStatus.VERIFIED}


def test_the_system_check_names_unconfigured_services_in_production(
    settings: Any, services: StubServer
) -> None:
    settings.DEVELOPMENT = False
    settings.CONSENT_WEBHOOK_SECRET = "s"
    assert authenticity.configuration_warnings() == []
    settings.ASSET_MCS_URL = ""
    settings.CONSENT_WEBHOOK_SECRET = ""
    found = authenticity.configuration_warnings()
    assert [w.id for w in found] == ["flexreg.W501", "flexreg.W502"]
    assert "ASSET_MCS_URL" in found[0].msg
    settings.DEVELOPMENT = True
    assert authenticity.configuration_warnings() == []
