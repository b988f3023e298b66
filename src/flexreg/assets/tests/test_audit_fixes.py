"""Fixes from the asset app's audit, each pinned by a test that failed before it:

1. a category can no longer make a field the database and the code need optional, nor drop
   ``export_le_installed`` (was: 500s on registration, a failed chunk in bulk import);
2. a page cursor that is not one the list gave out is a 422 ``cursor_invalid`` on the API and
   ignored on the portal (was: a NUL byte reached PostgreSQL, 500);
3. the list's category filter and the lookup's identifier scheme read codes the way
   registration does (``bess``, ``ocpp charge point``);
4. the retry sweep runs a batch itself and queues every other due check (up to its limit) as
   ``run_checks`` tasks for the workers, each claimed with a lease, so a backlog after an
   outage is worked through in parallel and two sweeps never run one check twice.

Real PostgreSQL, the asset services stand-in over HTTP.
"""

from __future__ import annotations

import base64
import datetime as dt
import threading
from collections import Counter
from collections.abc import Iterator
from typing import Any

import pytest
from django.db import connection, transaction
from django.utils import timezone

from conftest import Api
from flexreg.assets import authenticity, catalogue_store, services, services_catalogue
from flexreg.assets.catalogue import (
    CORE_CONSTRAINT_CODE,
    CORE_FIELD_CODE,
    CORE_FIELDS,
    CatalogueInvalid,
    compile_catalogue,
)
from flexreg.assets.models import Asset, AssetCheck, AssetImport, CatalogueEntry
from flexreg.assets.tests import helpers_authenticity, helpers_registration, test_imports
from flexreg.assets.tests.helpers_authenticity import RETRY_JOB, make_asset
from flexreg.assets.tests.helpers_registration import Registrant, record
from flexreg.assets.tests.test_imports import battery, csv_bytes, outcomes, run_upload
from flexreg.core import scheduler
from flexreg.core.acting import Acting
from flexreg.core.errors import ValidationFailed
from flexreg.devtools.asset_services_stub import StubServer
from flexreg.identifiers import new_asset_id

pytestmark = pytest.mark.django_db

fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
tasks_now = test_imports.tasks_now
asset_stub = helpers_authenticity.asset_stub
registrant = helpers_authenticity.registrant
asset_services = helpers_authenticity.services

OP = "/operator/asset-catalogue"
S = AssetCheck.Status


@pytest.fixture
def operator_acting(operator: Any) -> Acting:
    from flexreg.accounts.acting import acting_for

    user, membership = operator
    return acting_for(user, membership, via="session")


@pytest.fixture
def fresh_catalogue() -> Iterator[None]:
    """The catalogue cache as a process just started sees it, before and after the test."""
    catalogue_store.forget()
    yield
    catalogue_store.forget()


def _errors(response: Any) -> dict[str, str]:
    assert response["Content-Type"] == "application/problem+json", response.content
    return {e["field"]: e["code"] for e in response.json()["errors"]}


def _without(rec: dict[str, Any], path: str) -> dict[str, Any]:
    section, _, key = path.rpartition(".")
    (rec[section] if section else rec).pop(key, None)
    return rec


def _category(**settings: Any) -> dict[str, Any]:
    return {"label": "Flow battery", "kind": "storage", "energy_sources": ["GRID"], **settings}


# --- 1. what every category requires ------------------------------------------------------------


@pytest.mark.parametrize("presence", ["optional", "forbidden"])
@pytest.mark.parametrize("field", CORE_FIELDS)
def test_a_category_cannot_make_a_core_field_optional(
    operator_acting: Acting, field: str, presence: str
) -> None:
    with pytest.raises(ValidationFailed) as err:
        services_catalogue.add_value(
            operator_acting, "categories", "FLOW", _category(fields={field: presence})
        )
    assert {e.field: e.code for e in err.value.errors} == {f"value.fields.{field}": CORE_FIELD_CODE}
    assert "must be required in every category" in err.value.errors[0].message
    assert not CatalogueEntry.objects.exists()


def test_the_core_fields_are_what_the_database_and_the_code_need() -> None:
    # NOT NULL columns a record fills from these fields (installed_kw: null only for a draft).
    for column in ("flexibility_direction", "connection_status", "postcode", "address_line1"):
        assert not Asset._meta.get_field(column).null
    assert set(CORE_FIELDS) == {
        "capacity.installed_kw",
        "flexibility_direction",
        "site.address_line1",
        "site.postcode",
        "network.connection_status",
    }


def test_adding_a_loose_category_through_the_api_is_a_422_and_registering_it_no_500(
    fsp: Registrant, operator_api: Api
) -> None:
    loose = operator_api.post(
        f"{OP}/categories",
        {
            "code": "FLOW",
            "value": _category(
                fields={"site.postcode": "optional", "flexibility_direction": "forbidden"},
                constraints=["at_least_one_mpan"],
            ),
        },
    )
    assert loose.status_code == 422
    assert _errors(loose) == {
        "value.fields.site.postcode": CORE_FIELD_CODE,
        "value.fields.flexibility_direction": CORE_FIELD_CODE,
        "value.constraints": CORE_CONSTRAINT_CODE,
    }
    rec = _without(_without(record(category="FLOW"), "site.postcode"), "flexibility_direction")
    refused = fsp.api.post("/assets", rec)
    assert refused.status_code == 422
    assert _errors(refused)["category"] == "choice.invalid"

    # The same category, keeping what every category needs, is added and registered.
    fine = operator_api.post(
        f"{OP}/categories",
        {"code": "FLOW", "value": _category(fields={"capacity.storage_kwh": "required"})},
    )
    assert fine.status_code == 201, fine.content
    assert fsp.api.post("/assets", record(category="flow")).status_code == 201
    too_much = fsp.api.post("/assets", record(category="FLOW", capacity={"export_kw": "9"}))
    assert too_much.status_code == 422
    assert _errors(too_much) == {"capacity.export_kw": "asset.export_exceeds_installed"}


@pytest.mark.parametrize("constraints", [[], ["at_least_one_mpan", "import_le_installed"]])
def test_a_category_cannot_drop_export_le_installed(
    operator_acting: Acting, constraints: list[str]
) -> None:
    with pytest.raises(ValidationFailed) as err:
        services_catalogue.add_value(
            operator_acting, "categories", "FLOW", _category(constraints=constraints)
        )
    assert {e.field: e.code for e in err.value.errors} == {
        "value.constraints": CORE_CONSTRAINT_CODE
    }
    assert "export_le_installed" in err.value.errors[0].message


def test_the_file_defaults_cannot_loosen_them_either() -> None:
    raw = catalogue_store.file_raw()
    defaults = {
        "fields": {**raw["defaults"]["fields"], "site.postcode": "optional"},
        "constraints": ["at_least_one_mpan"],
    }
    with pytest.raises(CatalogueInvalid) as err:
        compile_catalogue({**raw, "defaults": defaults})
    assert {p.partition(":")[0]: err.value.codes.get(p) for p in err.value.problems} == {
        "defaults.fields.site.postcode": CORE_FIELD_CODE,
        "defaults.constraints": CORE_CONSTRAINT_CODE,
    }


def test_a_loose_category_stored_before_the_fix_is_left_out_not_a_500(
    fsp: Registrant,
    tasks_now: None,
    fresh_catalogue: None,
    django_capture_on_commit_callbacks: Any,
) -> None:
    # As if stored before the compiler refused them (or by hand).
    CatalogueEntry.objects.create(
        section="categories", code="NOCHECK", value=_category(constraints=[])
    )
    CatalogueEntry.objects.create(
        section="categories",
        code="LOOSE",
        value=_category(fields={"capacity.installed_kw": "optional"}),
    )
    catalogue = catalogue_store.current_catalogue()
    assert "NOCHECK" not in catalogue.categories and "LOOSE" not in catalogue.categories

    one = fsp.api.post("/assets", record(category="NOCHECK", capacity={"export_kw": "9"}))
    assert one.status_code == 422 and _errors(one)["category"] == "choice.invalid"
    two = fsp.api.post("/assets", _without(record(category="LOOSE"), "capacity.installed_kw"))
    assert two.status_code == 422 and _errors(two)["category"] == "choice.invalid"

    rows = [
        battery(1, category="NOCHECK", **{"capacity.export_kw": "9"}),
        battery(2),
        battery(3, category="LOOSE", **{"capacity.installed_kw": ""}),
        battery(4, **{"capacity.export_kw": "9"}),
    ]
    upload = csv_bytes(rows)
    response = run_upload(fsp, upload, django_capture_on_commit_callbacks)  # type: ignore[arg-type]
    assert response.status_code == 202, response.content
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    assert batch.status == AssetImport.Status.DONE, batch.error
    done = outcomes(batch)
    assert done[2].outcome == "accepted"
    assert [(e["field"], e["code"]) for e in done[1].errors] == [("category", "choice.invalid")]
    assert [(e["field"], e["code"]) for e in done[3].errors] == [("category", "choice.invalid")]
    assert [(e["field"], e["code"]) for e in done[4].errors] == [
        ("capacity.export_kw", "asset.export_exceeds_installed")
    ]


# --- 2. page cursors ------------------------------------------------------------------------------


def _b64(text: str) -> str:
    return base64.urlsafe_b64encode(text.encode()).decode().rstrip("=")


BAD_CURSORS = [
    "AA",  # a NUL byte
    "!!!!",
    "%%",
    _b64("A-3M9QX2HDK7B"),  # an Asset ID with the wrong check character
    _b64("P-3M9QX2HDK7P"),  # a Participant ID
    _b64("' OR 1=1 --"),
    "w4g",  # not UTF-8
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
def test_a_cursor_the_list_did_not_give_out_is_a_422(fsp: Registrant, cursor: str) -> None:
    services.register(fsp.acting, record())
    response = fsp.api.get("/assets", cursor=cursor)
    assert response.status_code == 422
    assert _errors(response) == {"cursor": "cursor_invalid"}


def test_a_cursor_the_list_gave_out_still_pages(fsp: Registrant) -> None:
    ids = sorted(services.register(fsp.acting, record()).asset_id for _ in range(3))
    first = fsp.api.get("/assets", limit=2).json()
    assert [i["asset_id"] for i in first["items"]] == ids[:2]
    rest = fsp.api.get("/assets", limit=2, cursor=first["next_cursor"]).json()
    assert [i["asset_id"] for i in rest["items"]] == ids[2:]
    # Any well-formed Asset ID is a place in the order.
    after = fsp.api.get("/assets", cursor=_b64(str(new_asset_id()))).status_code
    assert after == 200


def test_the_portal_ignores_a_bad_cursor(fsp: Registrant) -> None:
    from tests.signin import helpers as signin_helpers

    asset = services.register(fsp.acting, record())
    client = signin_helpers.portal_client(fsp.user, fsp.membership)
    for cursor in ("AA", _b64("P-3M9QX2HDK7P")):
        page = client.get("/assets/", {"cursor": cursor})
        assert page.status_code == 200
        assert asset.asset_id in page.content.decode()


def test_the_participant_list_refuses_a_bad_cursor(fsp: Registrant) -> None:
    for cursor in ("AA", _b64("A-3M9QX2HDK7A"), "!!"):
        response = fsp.api.get("/participants", cursor=cursor)
        assert response.status_code == 422
        assert _errors(response) == {"cursor": "cursor_invalid"}
    assert fsp.api.get("/participants", cursor=_b64("P-3M9QX2HDK7P")).status_code == 200


# --- 3. codes read as registration reads them -------------------------------------------------


def test_the_list_filters_categories_as_registration_reads_them(fsp: Registrant) -> None:
    battery_id = services.register(fsp.acting, record(category="bess")).asset_id
    for written in ("bess", "BESS", " Bess "):
        items = fsp.api.get("/assets", category=written).json()["items"]
        assert [i["asset_id"] for i in items] == [battery_id], written
    assert fsp.api.get("/assets", category="solar pv").json()["items"] == []
    assert fsp.api.get("/assets", category="no such thing").json()["items"] == []


def test_the_lookup_reads_a_scheme_as_registration_does(fsp: Registrant) -> None:
    ids = [{"scheme": "ocpp charge point", "value": "cp-77"}]
    asset = services.register(fsp.acting, record(external_ids=ids))
    for scheme in ("ocpp charge point", "OCPP-Charge-Point", "ocpp_charge_point"):
        body = fsp.api.post("/assets/lookup", {"external_id": {"scheme": scheme, "value": "cp-77"}})
        assert body.status_code == 200, body.content
        assert [m["asset_id"] for m in body.json()["matches"]] == [asset.asset_id]
    unknown = fsp.api.post("/assets/lookup", {"external_id": {"scheme": "nope", "value": "1"}})
    assert unknown.status_code == 422
    assert _errors(unknown) == {"external_id": "choice.invalid"}


# --- 4. the retry sweep -----------------------------------------------------------------------

RUN_CHECKS = "flexreg.assets.tasks.run_checks"


def _lost_tasks(participant: Any, count: int, capture: Any) -> list[Asset]:
    """``count`` assets whose checks were created but never queued (3 pending checks each)."""
    assets = [make_asset(participant) for _ in range(count)]
    with capture(execute=False):
        for asset in assets:
            authenticity.start(asset.pk)
    return assets


def _sweep(at: dt.datetime, capture: Any, **options: Any) -> dict[str, int]:
    """One sweep, its commit's callbacks (queueing the tasks) run."""
    with capture(execute=True):
        return authenticity.sweep(at, **options)


def _queued() -> list[dict[str, Any]]:
    """The ``run_checks`` tasks waiting in the database queue, oldest first."""
    from django_tasks_db.models import DBTaskResult

    rows = DBTaskResult.objects.filter(task_path=RUN_CHECKS, status="READY")
    return [r.args_kwargs for r in rows.order_by("enqueued_at", "id")]


def _work_the_queue() -> dict[str, int]:
    """What the workers do: run every queued ``run_checks`` task, in order."""
    from django_tasks_db.models import DBTaskResult

    from flexreg.assets import tasks

    done: Counter[str] = Counter()
    for job in _queued():
        done.update(tasks.run_checks.call(*job["args"], **job["kwargs"]))
    DBTaskResult.objects.filter(task_path=RUN_CHECKS).delete()
    return dict(done)


def test_one_sweep_runs_a_batch_and_queues_every_other_due_check(
    registrant: Any,
    asset_services: StubServer,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    monkeypatch.setattr(authenticity, "TASK_BATCH", 3)
    _, participant = registrant
    assets = _lost_tasks(participant, 3, django_capture_on_commit_callbacks)
    due = timezone.now() + dt.timedelta(minutes=11)
    assert len(authenticity.due_checks(due, limit=100)) == 9
    assert _sweep(due, django_capture_on_commit_callbacks, batch=2) == {"passed": 2, "queued": 7}
    assert authenticity.due_checks(due) == []  # claimed: the next sweep does not take them
    lease = (due + authenticity.QUEUED_LEASE).isoformat()
    jobs = _queued()
    assert [len(j["args"][0]) for j in jobs] == [3, 3, 1]
    assert {j["kwargs"]["lease"] for j in jobs} == {lease}
    assert _work_the_queue() == {"passed": 7}
    assert not AssetCheck.objects.filter(status=S.PENDING).exists()
    for asset in assets:
        asset.refresh_from_db()
        assert asset.status == "verified"


def test_the_scheduled_job_queues_what_it_does_not_run(
    registrant: Any,
    asset_services: StubServer,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    _, participant = registrant
    _lost_tasks(participant, 2, django_capture_on_commit_callbacks)
    monkeypatch.setattr(authenticity, "SWEEP_BATCH", 2)
    at = timezone.now() + dt.timedelta(minutes=11)
    with django_capture_on_commit_callbacks(execute=True):
        result = scheduler.run_due(now=at, only=RETRY_JOB)
    assert result["assets.retry_checks"] == {"passed": 2, "queued": 4}
    assert _work_the_queue() == {"passed": 4}


def test_a_sweep_queues_at_most_its_limit_and_the_next_goes_on(
    registrant: Any, asset_services: StubServer, django_capture_on_commit_callbacks: Any
) -> None:
    _, participant = registrant
    _lost_tasks(participant, 3, django_capture_on_commit_callbacks)
    due = timezone.now() + dt.timedelta(minutes=11)
    capture = django_capture_on_commit_callbacks
    assert _sweep(due, capture, batch=2, queue_limit=3) == {"passed": 2, "queued": 3}
    assert len(authenticity.due_checks(due)) == 4
    assert _sweep(due, capture, batch=2, queue_limit=3) == {"passed": 2, "queued": 2}
    assert _sweep(due, capture, batch=2, queue_limit=3) == {}
    assert _work_the_queue() == {"passed": 5}


def test_a_queued_check_keeps_its_backoff(
    registrant: Any, asset_services: StubServer, django_capture_on_commit_callbacks: Any
) -> None:
    _, participant = registrant
    _lost_tasks(participant, 2, django_capture_on_commit_callbacks)
    asset_services.set_mode("manufacturer", "down")
    due = timezone.now() + dt.timedelta(minutes=11)
    assert _sweep(due, django_capture_on_commit_callbacks, batch=1) == {"passed": 1, "queued": 5}
    assert _work_the_queue() == {"passed": 3, "error": 2}
    for check in AssetCheck.objects.filter(status=S.ERROR):
        assert check.attempts == 1
        # the next attempt follows the backoff from the run, not the sweep's claim
        wait = check.next_attempt_at - timezone.now()  # type: ignore[operator]
        assert dt.timedelta(seconds=0) < wait < dt.timedelta(minutes=2)
    calls = [line for line in asset_services.request_log if "manufacturer-registry" in line]
    assert len(calls) == 1  # found down once in the task: not called again in it


def test_a_check_queued_twice_runs_once(
    registrant: Any, asset_services: StubServer, django_capture_on_commit_callbacks: Any
) -> None:
    _, participant = registrant
    _lost_tasks(participant, 1, django_capture_on_commit_callbacks)
    asset_services.set_mode("dno_connection", "down")
    due = timezone.now() + dt.timedelta(minutes=11)
    capture = django_capture_on_commit_callbacks
    assert _sweep(due, capture, batch=1) == {"passed": 1, "queued": 2}
    # The workers are slow: the claim runs out and a later sweep queues the checks again.
    later = due + authenticity.QUEUED_LEASE + dt.timedelta(minutes=5)
    assert authenticity.due_checks(later) != []
    assert _sweep(later, capture, batch=1) == {"error": 1, "queued": 1}  # DNO here, then MFR
    # The first tasks find their claim gone (run here, or claimed again): they leave the
    # checks alone; the second runs the manufacturer check.
    assert _work_the_queue() == {"released": 2, "passed": 1}
    runs = dict(AssetCheck.objects.exclude(status=S.SKIPPED).values_list("validator", "attempts"))
    assert runs == {"meter_point": 1, "dno_connection": 1, "manufacturer": 1}


@pytest.mark.django_db(transaction=True)
def test_two_sweeps_at_once_run_each_check_once(
    registrant: Any, asset_services: StubServer
) -> None:
    _, participant = registrant
    assets = [make_asset(participant) for _ in range(4)]
    asset_services.set_mode("dno_connection", "down")
    for asset in assets:
        for pk in authenticity.start(asset.pk):
            authenticity.run(pk)
    checks = AssetCheck.objects.filter(status=S.ERROR)
    assert checks.count() == 4 and {c.attempts for c in checks} == {1}
    due = timezone.now() + dt.timedelta(hours=2)
    barrier = threading.Barrier(2)
    results: list[dict[str, int]] = []

    def sweep() -> None:
        barrier.wait()
        try:
            results.append(authenticity.sweep(due, batch=1))
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    here = sum(r.get("error", 0) for r in results)
    queued = sum(r.get("queued", 0) for r in results)
    assert here + queued == 4
    assert _work_the_queue() == {"error": queued}
    assert {c.attempts for c in AssetCheck.objects.filter(status=S.ERROR)} == {2}


@pytest.mark.django_db(transaction=True)
def test_the_sweep_skips_a_check_another_worker_holds(
    registrant: Any, asset_services: StubServer, django_capture_on_commit_callbacks: Any
) -> None:
    _, participant = registrant
    _lost_tasks(participant, 2, django_capture_on_commit_callbacks)
    held = [c.pk for c in AssetCheck.objects.filter(status=S.PENDING).order_by("pk")[:2]]
    locked, release = threading.Event(), threading.Event()

    def hold() -> None:
        try:
            with transaction.atomic():
                list(AssetCheck.objects.select_for_update().filter(pk__in=held))
                locked.set()
                release.wait(30)
        finally:
            connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        assert locked.wait(30)
        due = timezone.now() + dt.timedelta(minutes=11)
        assert authenticity.sweep(due, batch=2) == {"passed": 2, "queued": 2}
    finally:
        release.set()
        holder.join()
    untouched = AssetCheck.objects.filter(pk__in=held)
    assert {(c.status, c.next_attempt_at) for c in untouched} == {(S.PENDING, None)}
    assert _work_the_queue() == {"passed": 2}


def test_a_task_queued_at_creation_does_not_retry_a_check_before_its_time(
    registrant: Any, asset_services: StubServer, django_capture_on_commit_callbacks: Any
) -> None:
    """The sweep took a slow task's check for lost and ran it: the service was down, so the
    check waits for its retry time. When the original task runs at last it leaves the check
    to the sweep (``not_due``) instead of calling the service early and counting an attempt."""
    from flexreg.assets import tasks

    _, participant = registrant
    [asset] = _lost_tasks(participant, 1, django_capture_on_commit_callbacks)
    check = asset.checks.order_by("pk").first()
    assert check is not None
    retry_at = timezone.now() + dt.timedelta(minutes=2)
    AssetCheck.objects.filter(pk=check.pk).update(
        status=S.ERROR, attempts=1, next_attempt_at=retry_at
    )
    calls = len(asset_services.request_log)
    assert tasks.run_check.call(check.pk) == "not_due"
    assert tasks.run_checks.call([check.pk]) == {"not_due": 1}
    check.refresh_from_db()
    assert (check.status, check.attempts, check.next_attempt_at) == (S.ERROR, 1, retry_at)
    assert len(asset_services.request_log) == calls
    # The sweep's own run (leased) or an operator's explicit run still goes ahead.
    assert authenticity.run(check.pk) == "passed"
