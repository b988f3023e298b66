"""Bulk registration (asset imports): a 10,000-row file with good, bad, duplicate and
near-duplicate rows, re-uploads, JSON Lines, results, templates, resumption and races.

Runs the real engine on PostgreSQL (COPY, temporary tables, set-wise SQL); the task runs at
once (django-tasks' immediate backend) when the upload's transaction commits.
"""

from __future__ import annotations

import csv
import io
import json
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import transaction

from conftest import Api, organisation_payload
from flexreg.assets import conformance, imports, services, services_imports
from flexreg.assets.models import (
    Asset,
    AssetCheck,
    AssetExternalId,
    AssetImport,
    AssetImportRow,
    AssetLink,
    AssetStatus,
    DuplicateFlag,
)
from flexreg.core.acting import Acting
from flexreg.core.models import AuditEvent
from flexreg.identifiers import AssetId, mpan_check_digit
from flexreg.identifiers.eic import eic_check_character

IMMEDIATE = {"default": {"BACKEND": "django_tasks.backends.immediate.ImmediateBackend"}}
DUMMY = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
DECLARATION = {
    "declarant_name": "Jane Smith",
    "declarant_is_applicant": True,
    "statement_accepted": True,
}
RIVAL_COMPANY = {
    "company_number": "OC990004",
    "legal_name": "Solar Commons LLP (Sample)",
    "organisation_type": "llp",
    "declaration": {**DECLARATION, "declarant_name": "Amira Khan"},
    "requested_roles": ["FSP", "ASSET_OWNER"],
}
# Inward codes: a digit and two letters of Royal Mail's alphabet for the last two.
_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"


# --- who imports ------------------------------------------------------------------------------


class Importer:
    def __init__(self, user: Any, membership: Any, api: Api, acting: Acting) -> None:
        self.user = user
        self.membership = membership
        self.api = api
        self.acting = acting

    @property
    def participant_pk(self) -> int:
        return int(self.acting.participant_pk or 0)


def _qualified(user: Any, participant_id: str, role: str, api_for: Any) -> Importer:
    from flexreg.accounts.acting import acting_for
    from flexreg.participants import services as participants
    from flexreg.participants.models import Membership

    membership = Membership.objects.select_related("participant_role__participant").get(
        user=user,
        participant_role__participant__participant_id=participant_id,
        participant_role__role=role,
    )
    with transaction.atomic():
        participants.set_role_qualified(Acting.system("t"), membership.participant_role, True, "t")
    membership = Membership.objects.select_related("participant_role__participant").get(
        pk=membership.pk
    )
    return Importer(
        user, membership, api_for(user, membership), acting_for(user, membership, via="token")
    )


@pytest.fixture
def tasks_now(settings: Any) -> None:
    settings.TASKS = IMMEDIATE


@pytest.fixture
def fsp(registered: Any, api_for: Any, tasks_now: None) -> Importer:
    user, body, _ = registered()
    return _qualified(user, body["participant_id"], "FSP", api_for)


@pytest.fixture
def rival(registered: Any, api_for: Any, tasks_now: None) -> Importer:
    user, body, _ = registered(organisation_payload(**RIVAL_COMPANY))
    return _qualified(user, body["participant_id"], "FSP", api_for)


# --- files ------------------------------------------------------------------------------------


def mpan(distributor: str, n: int) -> str:
    base = f"{distributor}{n:010d}"
    return base + mpan_check_digit(base)


def postcode(i: int) -> str:
    """A different valid postcode for each i below 36,000."""
    outward = f"CB{1 + i % 9}"
    rest = i // 9
    return f"{outward} {rest % 10}{_LETTERS[(rest // 10) % 20]}{_LETTERS[(rest // 200) % 20]}"


def battery(i: int, **cells: str) -> dict[str, str]:
    """A flat CSV row of a valid home battery, different in every key for each i."""
    row = {
        "name": f"Battery {i}",
        "category": "BESS",
        "manufacturer": "Acme Energy Ltd",
        "model": "PowerCube 13",
        "serial_number": f"SN-{i:06d}",
        "capacity.installed_kw": "5",
        "capacity.export_kw": "5",
        "capacity.import_kw": "5",
        "capacity.storage_kwh": "13.5",
        "flexibility_direction": "both",
        "metering.import_mpan": mpan("10", i),
        "site.address_line1": f"{i} Station Road",
        "site.town": "Cambridge",
        "site.postcode": postcode(i),
        "network.connection_status": "CONNECTED",
        "commissioning_date": "2024-01-15",
    }
    row.update(cells)
    return row


def charger(i: int, ocpp: str, **cells: str) -> dict[str, str]:
    row = battery(i, category="EV_CHARGER", external_ids=f"OCPP_CHARGE_POINT:{ocpp}")
    for key in ("capacity.export_kw", "capacity.storage_kwh"):
        row.pop(key)
    row.update(cells)
    return row


def hvac(i: int, meter: str, **cells: str) -> dict[str, str]:
    row = battery(i, category="HVAC", **{"metering.import_mpan": meter})
    for key in ("manufacturer", "model", "serial_number", "capacity.export_kw"):
        row.pop(key)
    row.pop("capacity.storage_kwh")
    row.update(cells)
    return row


def record_of(row: dict[str, str]) -> dict[str, Any]:
    """The nested record of a flat row (for the single registration)."""
    return conformance.flatten_csv_row(row)


def csv_bytes(rows: list[dict[str, str]]) -> bytes:
    columns = [*conformance.ALL_CSV_COLUMNS, imports.CONTRACT_REFERENCE]
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=columns)
    writer.writeheader()
    for row in rows:
        writer.writerow(row)
    return out.getvalue().encode()


def jsonl_bytes(records: list[Any]) -> bytes:
    return "".join((r if isinstance(r, str) else json.dumps(r)) + "\n" for r in records).encode()


def upload(who: Importer, content: bytes, name: str = "assets.csv") -> Any:
    """POST the file as multipart; the import runs when the request's transaction commits."""
    return who.api.client.post(
        "/api/v1/asset-imports",
        {"file": SimpleUploadedFile(name, content, "text/csv")},
        headers={"Authorization": f"Bearer {who.api.token}"},
    )


def run_upload(who: Importer, content: bytes, capture: Any, name: str = "assets.csv") -> Any:
    with capture(execute=True):
        response = upload(who, content, name)
    return response


def outcomes(batch: AssetImport) -> dict[int, AssetImportRow]:
    return {r.row_number: r for r in AssetImportRow.objects.filter(batch=batch)}


def flagged_against(asset: Asset) -> set[tuple[str, str]]:
    return {
        (f.rule, f.candidate.asset_id)
        for f in DuplicateFlag.objects.filter(asset=asset).select_related("candidate")
    }


def read_csv(response: Any) -> list[dict[str, str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.DictReader(io.StringIO(body)))


# --- the 10,000-row import --------------------------------------------------------------------


EXISTING_EIC = "48W00000000001" + "2" + eic_check_character("48W000000000012")


@pytest.fixture
def existing(fsp: Importer, rival: Importer) -> dict[str, Asset]:
    """Assets registered one by one before the import: the importer's and a rival's."""
    from flexreg.identifiers import EIC

    eic = EIC.parse(EXISTING_EIC).value
    return {
        "own_battery": services.register(
            fsp.acting,
            record_of(
                battery(
                    90_001,
                    serial_number="EX-OWN-0001",
                    **{"site.postcode": "CB10 1AA", "capacity.installed_kw": "5"},
                )
            ),
        ),
        "rival_battery": services.register(
            rival.acting, record_of(battery(90_002, serial_number="EX-RIV-0002"))
        ),
        "rival_charger": services.register(
            rival.acting, record_of(charger(90_003, "CP-RIVAL-0003"))
        ),
        "own_hvac": services.register(fsp.acting, record_of(hvac(90_004, mpan("12", 90_004)))),
        "own_eic": services.register(
            fsp.acting, record_of(battery(90_005, serial_number="EX-EIC-0005", eic=eic))
        ),
    }


def mixed_rows(n: int = 10_000) -> tuple[list[dict[str, str]], dict[int, str]]:
    """n rows and the outcome each must get (row i is the i-th record)."""
    rows: list[dict[str, str]] = []
    expected: dict[int, str] = {}
    for i in range(1, n + 1):
        outcome = "accepted"
        if i % 10 == 3:  # conformance: a mistyped MPAN
            mp = mpan("10", i)
            row = battery(i, **{"metering.import_mpan": mp[:-1] + str((int(mp[-1]) + 1) % 10)})
            outcome = "rejected"
        elif i % 50 == 7:  # conformance: no name, a capacity with a unit
            row = battery(i, name="", **{"capacity.installed_kw": "5 kW"})
            outcome = "rejected"
        elif i % 100 == 11:  # the importer's own asset, serial written differently
            row = battery(i, serial_number=" ex own 0001 ", manufacturer="ACME ENERGY")
            outcome = "rejected"
        elif i % 100 == 21:  # a rival's asset
            row = battery(i, serial_number="ex-riv-0002")
            outcome = "rejected"
        elif i % 100 == 31:  # the row before it again, in the same chunk
            row = battery(i, serial_number=f"sn {i - 1:06d}")
            outcome = "rejected"
        elif i % 1000 == 41 and 5000 < i < 9000:  # a row of the first chunk again
            row = battery(i, serial_number=f"SN{i - 4000:06d}")
            outcome = "rejected"
        elif i % 100 == 51:  # near the importer's battery at CB10 1AA (and each other)
            row = battery(i, **{"site.postcode": "cb101aa", "capacity.installed_kw": "5.25"})
            outcome = "flagged"
        elif i % 100 == 62:  # near the row before it
            row = battery(i, **{"site.postcode": postcode(i - 1), "capacity.installed_kw": "5.4"})
            outcome = "flagged"
        elif i % 200 == 71:  # the rival's charge point
            row = charger(i, "cp-rival-0003")
            outcome = "rejected"
        elif i % 200 == 171:  # another HVAC without a serial behind the importer's meter
            row = hvac(i, mpan("12", 90_004))
            outcome = "rejected"
        elif i % 500 == 81:  # the EIC of the importer's asset
            row = battery(i, eic=EXISTING_EIC.lower())
            outcome = "rejected"
        elif i % 100 == 91:  # a charge point of its own
            row = charger(i, f"CP-{i:06d}", contract_reference=f"C-{i}")
        else:
            row = battery(i)
        rows.append(row)
        expected[i] = outcome
    return rows, expected


@pytest.mark.django_db
def test_a_ten_thousand_row_import_ends_every_row_accepted_rejected_or_flagged(
    fsp: Importer,
    rival: Importer,
    existing: dict[str, Asset],
    django_capture_on_commit_callbacks: Any,
) -> None:
    rows, expected = mixed_rows()
    before = Asset.objects.count()
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = upload(fsp, csv_bytes(rows))
    assert response.status_code == 202, response.content
    assert len(queued) == 1  # the task, queued once the upload commits
    body = response.json()
    assert response["Location"] == f"/api/v1/asset-imports/{body['import_id']}"
    assert body["status"] == "queued" and body["total_rows"] == 10_000
    assert fsp.api.get(f"/asset-imports/{body['import_id']}").json()["percent"] == 0
    # The task's body (its authenticity starts are queued per chunk, not run here).
    services_imports.run(AssetImport.objects.get(public_id=body["import_id"]).pk)

    progress = fsp.api.get(f"/asset-imports/{body['import_id']}").json()
    counts = {
        o: sum(1 for v in expected.values() if v == o) for o in ("accepted", "rejected", "flagged")
    }
    assert progress["status"] == "done", progress
    assert progress["percent"] == 100 and progress["processed_rows"] == 10_000
    batch = AssetImport.objects.get(public_id=body["import_id"])
    done = outcomes(batch)
    assert {n: r.outcome for n, r in done.items() if r.outcome != expected[n]} == {}
    assert {k: progress[k] for k in counts} == counts
    assert counts["accepted"] > 7_000 and counts["flagged"] >= 200
    assert Asset.objects.count() == before + counts["accepted"] + counts["flagged"]

    # Accepted: a permanent Asset ID, pending validation, the importer controls it.
    first = done[1]
    asset = Asset.objects.get(asset_id=first.asset_id)
    AssetId.parse(first.asset_id)
    assert asset.status == AssetStatus.PENDING_VALIDATION
    assert asset.import_batch_id == batch.pk and asset.registered_by_id == fsp.participant_pk
    assert asset.serial_key == "SN000001" and asset.dno_licence_area and asset.gsp_group == "_A"
    link = AssetLink.objects.get(asset=asset)
    assert link.participant_id == fsp.participant_pk and link.relationship == "controller"
    assert link.valid_during.upper is None
    charger_asset = Asset.objects.get(asset_id=done[91].asset_id)
    assert AssetLink.objects.get(asset=charger_asset).contract_reference == "C-91"
    assert list(
        AssetExternalId.objects.filter(asset=charger_asset).values_list("value", flat=True)
    ) == ["CP-000091"]

    # Rejected by conformance: every error, with paths and codes.
    codes = {e["code"] for e in done[3].errors}
    assert any(c.startswith("mpan.") for c in codes) and done[3].asset_id == ""
    assert {(e["field"], e["code"]) for e in done[7].errors} >= {
        ("name", "required"),
        ("capacity.installed_kw", "decimal.invalid"),
    }

    # Rejected as duplicates: the key named; the Asset ID only where the importer may see it.
    own = existing["own_battery"].asset_id
    [dup] = done[11].errors
    assert dup["code"] == "asset.duplicate" and dup["field"] == "serial_number"
    assert own in dup["message"]
    [hidden] = done[21].errors
    assert hidden["field"] == "serial_number"
    assert existing["rival_battery"].asset_id not in hidden["message"]
    assert "another participant" in hidden["message"]
    [again] = done[31].errors
    assert "Row 30 of this file" in again["message"] and done[30].asset_id in again["message"]
    [earlier] = done[5041].errors
    assert (
        done[1041].asset_id in earlier["message"]
        and "earlier row of this file" in earlier["message"]
    )
    [ocpp] = done[71].errors
    assert (
        ocpp["field"] == "external_ids.0"
        and existing["rival_charger"].asset_id not in ocpp["message"]
    )
    [meter] = done[171].errors
    assert (
        meter["field"] == "metering.import_mpan"
        and existing["own_hvac"].asset_id in meter["message"]
    )
    [eic] = done[81].errors
    assert eic["field"] == "eic" and existing["own_eic"].asset_id in eic["message"]

    # Flagged: registered in query with the candidates for the operator.
    near = Asset.objects.get(asset_id=done[51].asset_id)
    assert near.status == AssetStatus.QUERY and near.status_reason
    flags = DuplicateFlag.objects.filter(asset=near)
    assert [f.candidate_id for f in flags] == [existing["own_battery"].pk]
    assert flags[0].rule == "near_location" and flags[0].detail["postcode"] == "CB10 1AA"
    assert done[51].errors[0]["code"] == "asset.possible_duplicate"
    later = Asset.objects.get(asset_id=done[151].asset_id)
    assert flagged_against(later) == {
        ("near_location", existing["own_battery"].asset_id),
        ("near_location", done[51].asset_id),
        ("similar_serial", done[51].asset_id),  # SN-000151 and SN-000051 at one postcode
    }
    pair = Asset.objects.get(asset_id=done[62].asset_id)
    assert flagged_against(pair) == {
        ("near_location", done[61].asset_id),
        ("similar_serial", done[61].asset_id),
    }
    assert done[61].outcome == "accepted"

    # One audit event per chunk (two chunks of 5,000), not one per row.
    events = AuditEvent.objects.filter(action="asset.bulk_registered", object_id=body["import_id"])
    assert events.count() == 2
    assert sum(e.changes["after"]["accepted"] for e in events) == counts["accepted"]

    # The results as CSV.
    results = fsp.api.get(f"/asset-imports/{body['import_id']}/results")
    assert results.status_code == 200 and results["Content-Type"].startswith("text/csv")
    lines = read_csv(results)
    assert len(lines) == 10_000 and list(lines[0]) == ["row", "outcome", "asset_id", "errors"]
    assert lines[0] == {"row": "1", "outcome": "accepted", "asset_id": first.asset_id, "errors": ""}
    assert lines[10]["outcome"] == "rejected" and "[asset.duplicate]" in lines[10]["errors"]
    assert lines[10]["errors"].startswith("serial_number [asset.duplicate] Already registered as")


@pytest.mark.django_db
def test_the_same_file_uploaded_again_creates_nothing_new(
    fsp: Importer, django_capture_on_commit_callbacks: Any
) -> None:
    content = csv_bytes([battery(i) for i in range(1, 21)])
    first = run_upload(fsp, content, django_capture_on_commit_callbacks)
    assert first.status_code == 202
    assets = Asset.objects.count()
    again = run_upload(fsp, content, django_capture_on_commit_callbacks, name="renamed.csv")
    assert again.status_code == 200
    assert again.json()["import_id"] == first.json()["import_id"]
    assert again.json()["status"] == "done" and again.json()["accepted"] == 20
    assert AssetImport.objects.count() == 1 and Asset.objects.count() == assets == 20
    # Another file with the same rows registers nothing twice: every row is a duplicate.
    other = run_upload(fsp, content + b"\n", django_capture_on_commit_callbacks)
    assert other.status_code == 202
    progress = fsp.api.get(f"/asset-imports/{other.json()['import_id']}").json()
    assert progress["rejected"] == 20 and Asset.objects.count() == 20


@pytest.mark.django_db
def test_json_lines(fsp: Importer, django_capture_on_commit_callbacks: Any) -> None:
    good = record_of(battery(1))
    good["contract_reference"] = "CONTRACT-1"
    lines = [
        good,
        "{not json",
        "",
        ["a list"],
        {**record_of(battery(2)), "colour": "red"},
        record_of(battery(3)),
    ]
    response = run_upload(fsp, jsonl_bytes(lines), django_capture_on_commit_callbacks, "a.jsonl")
    assert response.status_code == 202, response.content
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    assert batch.file_format == "jsonl" and batch.total_rows == 5
    done = outcomes(batch)
    assert [done[n].outcome for n in range(1, 6)] == [
        "accepted",
        "rejected",
        "rejected",
        "rejected",
        "accepted",
    ]
    assert done[2].errors[0]["code"] == "asset_import.invalid_json"
    assert done[3].errors[0]["code"] == "type_error"
    assert done[4].errors == [
        {
            "field": "colour",
            "code": "unknown_field",
            "message": "colour is not a field of an asset record.",
        }
    ]
    asset = Asset.objects.get(asset_id=done[1].asset_id)
    assert AssetLink.objects.get(asset=asset).contract_reference == "CONTRACT-1"


@pytest.mark.django_db
def test_template_of_a_category(fsp: Importer) -> None:
    response = fsp.api.get("/asset-imports/templates/ev_charger")
    assert response.status_code == 200
    assert response["Content-Disposition"] == 'attachment; filename="flexreg-assets-ev_charger.csv"'
    [header] = read_csv_rows(response)
    assert header == [*conformance.csv_columns("EV_CHARGER"), "contract_reference"]
    assert "capacity.storage_kwh" not in header and "v2g" in header
    assert fsp.api.get("/asset-imports/templates/SPACESHIP").status_code == 404


def read_csv_rows(response: Any) -> list[list[str]]:
    body = b"".join(response.streaming_content).decode()
    return list(csv.reader(io.StringIO(body)))


@pytest.mark.django_db
def test_a_file_filled_in_from_a_template_imports(
    fsp: Importer, django_capture_on_commit_callbacks: Any
) -> None:
    [header] = read_csv_rows(fsp.api.get("/asset-imports/templates/BESS"))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=header)
    writer.writeheader()
    writer.writerow(battery(1))
    response = run_upload(
        fsp, out.getvalue().encode("utf-8-sig"), django_capture_on_commit_callbacks
    )
    assert response.status_code == 202, response.content
    assert fsp.api.get(f"/asset-imports/{response.json()['import_id']}").json()["accepted"] == 1


@pytest.mark.django_db
def test_near_identical_serials_at_the_same_site_are_flagged(
    fsp: Importer, rival: Importer, django_capture_on_commit_callbacks: Any
) -> None:
    meter = mpan("14", 777)
    theirs = services.register(
        rival.acting,
        record_of(
            battery(
                700,
                serial_number="AB-1234",
                **{"site.postcode": "B1 1AA", "metering.import_mpan": meter},
            )
        ),
    )
    rows = [
        # digits swapped, same postcode, another category (no near_location)
        charger(701, "CP-701", serial_number="ab 1243", **{"site.postcode": "B1 1AA"}),
        # one digit changed, another postcode, behind the same meter
        battery(702, serial_number="AB1235", **{"metering.import_mpan": meter}),
        # one digit changed at another site: not a candidate
        battery(703, serial_number="AB-1236"),
        # the same manufacturer's next serial, written in the file twice over: one edit apart
        battery(704, serial_number="ZZ-0001", **{"site.postcode": "B2 2BB"}),
        charger(705, "CP-705", serial_number="ZZ-0002", **{"site.postcode": "B2 2BB"}),
    ]
    response = run_upload(fsp, csv_bytes(rows), django_capture_on_commit_callbacks)
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    done = outcomes(batch)
    assert [done[n].outcome for n in range(1, 6)] == [
        "flagged",
        "flagged",
        "accepted",
        "accepted",
        "flagged",
    ]
    for n in (1, 2):
        asset = Asset.objects.get(asset_id=done[n].asset_id)
        assert flagged_against(asset) == {("similar_serial", theirs.asset_id)}
        [note] = done[n].errors
        assert note["code"] == "asset.possible_duplicate"
        assert "serial one character apart" in note["message"]
        assert theirs.asset_id not in note["message"]  # the rival's asset is not named
    flag = DuplicateFlag.objects.get(asset__asset_id=done[1].asset_id)
    assert flag.detail == {"serial_number": "AB-1234"}
    last = Asset.objects.get(asset_id=done[5].asset_id)
    assert flagged_against(last) == {("similar_serial", done[4].asset_id)}
    assert done[4].asset_id in done[5].errors[0]["message"]


@pytest.mark.django_db
def test_the_checks_of_imported_assets_start_once_each_chunk_commits(
    fsp: Importer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        response = upload(fsp, csv_bytes([battery(i) for i in range(1, 6)]))
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    with django_capture_on_commit_callbacks(execute=True):
        services_imports.run(batch.pk, chunk_size=2)
    assets = Asset.objects.filter(import_batch=batch)
    assert assets.count() == 5
    for asset in assets:
        assert AssetCheck.objects.filter(asset=asset).exists()
        # No checking service is configured in tests: every check is skipped, so verified.
        assert asset.status == AssetStatus.VERIFIED


@pytest.mark.django_db
def test_checks_whose_start_was_lost_are_started_later(
    fsp: Importer, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime as dt

    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=False):
        response = upload(fsp, csv_bytes([battery(1), battery(2)]))
    batch = services_imports.run(
        AssetImport.objects.get(public_id=response.json()["import_id"]).pk
    )  # the start tasks are lost: their on-commit callbacks never run
    assert not AssetCheck.objects.filter(asset__import_batch=batch).exists()
    assert services_imports.start_missing_checks(timezone.now()) == 0  # too recent to tell
    later = timezone.now() + dt.timedelta(minutes=11)
    assert services_imports.start_missing_checks(later) == 2
    assert (
        AssetCheck.objects.filter(asset__import_batch=batch).values("asset").distinct().count() == 2
    )
    assert services_imports.start_missing_checks(later) == 0


@pytest.mark.django_db
def test_assets_close_by_at_another_postcode_are_flagged(
    fsp: Importer, rival: Importer, django_capture_on_commit_callbacks: Any
) -> None:
    def at(lat: str, lon: str) -> dict[str, str]:
        return {"site.latitude": lat, "site.longitude": lon}

    theirs = services.register(rival.acting, record_of(battery(800, **at("52.200000", "0.120000"))))
    rows = [
        battery(801, **at("52.200360", "0.120000"), **{"capacity.installed_kw": "5.2"}),  # 40 m
        battery(802, **at("52.202700", "0.120000")),  # 300 m: not near
        battery(803, **at("51.500000", "-0.100000")),
        battery(804, **at("51.500300", "-0.100300")),  # 40 m from row 3, another postcode
        charger(805, "CP-805", **at("52.200100", "0.120000")),  # close, another category
    ]
    response = run_upload(fsp, csv_bytes(rows), django_capture_on_commit_callbacks)
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    done = outcomes(batch)
    assert [done[n].outcome for n in range(1, 6)] == [
        "flagged",
        "accepted",
        "accepted",
        "flagged",
        "accepted",
    ]
    first = DuplicateFlag.objects.get(asset__asset_id=done[1].asset_id)
    assert (first.candidate_id, first.rule) == (theirs.pk, "near_location")
    assert 39 < first.detail["distance_m"] < 41 and first.detail["installed_kw"] == "5.00"
    fourth = DuplicateFlag.objects.get(asset__asset_id=done[4].asset_id)
    assert fourth.candidate.asset_id == done[3].asset_id and fourth.rule == "near_location"
    assert "close by" in done[4].errors[0]["message"]


# --- who may ----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_a_role_not_qualified_may_not_import(registered: Any, tasks_now: None) -> None:
    _, _, api = registered()
    response = api.client.post(
        "/api/v1/asset-imports",
        {"file": SimpleUploadedFile("a.csv", csv_bytes([battery(1)]), "text/csv")},
        headers={"Authorization": f"Bearer {api.token}"},
    )
    assert response.status_code == 403
    assert response.json()["code"] == "permission_denied"
    assert AssetImport.objects.count() == 0


@pytest.mark.django_db
def test_another_participant_cannot_see_an_import(
    fsp: Importer, rival: Importer, operator_api: Api, django_capture_on_commit_callbacks: Any
) -> None:
    response = run_upload(fsp, csv_bytes([battery(1)]), django_capture_on_commit_callbacks)
    import_id = response.json()["import_id"]
    assert rival.api.get(f"/asset-imports/{import_id}").status_code == 404
    assert rival.api.get(f"/asset-imports/{import_id}/results").status_code == 404
    assert rival.api.get("/asset-imports/not-a-uuid").status_code == 404
    assert operator_api.get(f"/asset-imports/{import_id}").status_code == 200
    # The same file from another participant is its own import (and a duplicate, row by row).
    theirs = run_upload(rival, csv_bytes([battery(1)]), django_capture_on_commit_callbacks)
    assert theirs.status_code == 202 and theirs.json()["import_id"] != import_id
    assert rival.api.get(f"/asset-imports/{theirs.json()['import_id']}").json()["rejected"] == 1


@pytest.mark.django_db
def test_the_job_runs_with_the_importers_authority_now(
    fsp: Importer, django_capture_on_commit_callbacks: Any
) -> None:
    with django_capture_on_commit_callbacks(execute=False):
        response = upload(fsp, csv_bytes([battery(1)]))
    fsp.membership.is_active = False
    fsp.membership.save()
    batch = services_imports.run(AssetImport.objects.get(public_id=response.json()["import_id"]).pk)
    assert batch.status == "failed" and "may no longer register" in batch.error
    assert Asset.objects.count() == 0


# --- the file ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("content", "code"),
    [
        (b"", "asset_import.empty"),
        (b"   \n", "asset_import.empty"),
        (b"name,colour\nx,red\n", "asset_import.no_header"),
        (b"name,category,colour\nx,BESS,red\n", "asset_import.unknown_columns"),
        (b"name,category\n", "asset_import.no_rows"),
        (b"name,category\n\xff\xfe,BESS\n", "asset_import.not_utf8"),
        (b"\x00\x01\x02", "asset_import.not_text"),
    ],
)
@pytest.mark.django_db
def test_files_that_cannot_be_imported(fsp: Importer, content: bytes, code: str) -> None:
    response = upload(fsp, content)
    assert response.status_code == 422, response.content
    assert response.json()["code"] == code
    assert response.json()["errors"][0]["field"] == "file"
    assert AssetImport.objects.count() == 0


@pytest.mark.django_db
def test_limits(fsp: Importer, settings: Any, monkeypatch: Any) -> None:
    monkeypatch.setattr(imports, "MAX_ROWS", 3)
    response = upload(fsp, csv_bytes([battery(i) for i in range(1, 5)]))
    assert response.status_code == 422 and response.json()["code"] == "asset_import.too_many_rows"
    settings.ASSET_IMPORT_MAX_BYTES = 200
    response = upload(fsp, csv_bytes([battery(1)]))
    assert response.status_code == 422 and response.json()["code"] == "asset_import.too_large"
    missing = fsp.api.post("/asset-imports", {"file": "not a file"})
    assert missing.status_code == 422 and missing.json()["errors"][0]["field"] == "file"


# --- resumption and races ---------------------------------------------------------------------


@pytest.mark.django_db
def test_an_import_that_stopped_resumes_after_its_last_chunk(
    fsp: Importer, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    rows = [battery(i) for i in range(1, 26)]
    rows[12] = battery(13, name="")  # one bad row
    with django_capture_on_commit_callbacks(execute=False):
        response = upload(fsp, csv_bytes(rows))
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    real = imports.Engine.process_validated
    calls = {"n": 0}

    def crash_on_third(self: imports.Engine, rows: list[Any]) -> Any:
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("worker lost")
        return real(self, rows)

    monkeypatch.setattr(imports.Engine, "process_validated", crash_on_third)
    with pytest.raises(RuntimeError):
        services_imports.run(batch.pk, chunk_size=10)
    batch.refresh_from_db()
    assert batch.status == "failed" and batch.processed_rows == 20 and batch.accepted == 19
    monkeypatch.setattr(imports.Engine, "process_validated", real)
    # Uploading the same file again resumes it.
    again = run_upload(fsp, csv_bytes(rows), django_capture_on_commit_callbacks)
    assert again.status_code == 200
    batch.refresh_from_db()
    assert batch.status == "done" and batch.processed_rows == 25
    assert (batch.accepted, batch.rejected, batch.flagged) == (24, 1, 0)
    assert AssetImportRow.objects.filter(batch=batch).count() == 25
    assert Asset.objects.count() == 24
    # Running a finished import again does nothing.
    services_imports.run(batch.pk)
    assert Asset.objects.count() == 24


@pytest.mark.django_db
def test_a_registration_that_wins_the_race_rejects_the_row(
    fsp: Importer, rival: Importer, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    """A single registration commits between the import's checks and its insert: the unique
    index decides, and the row is rejected naming what it collided with."""
    with django_capture_on_commit_callbacks(execute=False):
        response = upload(fsp, csv_bytes([battery(1), battery(2), charger(3, "CP-RACE")]))
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    real = imports.Engine._within_chunk

    def meanwhile(self: imports.Engine, rows: list[Any], earlier: Any = ()) -> None:
        services.register(rival.acting, record_of(battery(2)))
        services.register(rival.acting, record_of(charger(4, "cp-race")))
        real(self, rows, earlier)

    monkeypatch.setattr(imports.Engine, "_within_chunk", meanwhile)
    batch = services_imports.run(batch.pk)
    done = outcomes(batch)
    assert [done[n].outcome for n in (1, 2, 3)] == ["accepted", "rejected", "rejected"]
    assert done[2].errors[0]["code"] == "asset.duplicate"
    assert done[3].errors[0]["field"] == "external_ids.0"
    assert not Asset.objects.filter(import_batch=batch, serial_key="SN000003").exists()
    assert (batch.accepted, batch.rejected) == (1, 2)


@pytest.mark.django_db
def test_an_asset_id_clash_takes_a_new_id(
    fsp: Importer, django_capture_on_commit_callbacks: Any, monkeypatch: Any
) -> None:
    first = run_upload(fsp, csv_bytes([battery(1)]), django_capture_on_commit_callbacks)
    taken = Asset.objects.get().asset_id
    real = imports.new_asset_ids
    calls = {"n": 0}

    def clash_once(n: int) -> list[str]:
        calls["n"] += 1
        return [taken] * n if calls["n"] == 1 else real(n)

    monkeypatch.setattr(imports, "new_asset_ids", clash_once)
    second = run_upload(fsp, csv_bytes([battery(2)]), django_capture_on_commit_callbacks)
    assert first.status_code == second.status_code == 202
    assert fsp.api.get(f"/asset-imports/{second.json()['import_id']}").json()["accepted"] == 1
    assert Asset.objects.count() == 2 and calls["n"] == 2


@pytest.mark.django_db(transaction=True)
def test_chunks_on_several_connections_keep_the_files_order(fsp: Importer, settings: Any) -> None:
    """Chunks of three rows on three connections at once: a key taken by a row of a chunk
    still in flight, a near duplicate of one, and a similar serial are decided as one by one."""
    rows = [battery(i) for i in range(1, 19)]
    rows[3] = battery(4, serial_number="sn-000002")  # chunk 2: row 2 (chunk 1) again
    rows[4] = battery(5, **{"site.postcode": postcode(3), "capacity.installed_kw": "5.2"})
    rows[9] = battery(10, serial_number="SN-000009")  # chunk 4: row 9 (chunk 3) again
    rows[10] = battery(11, serial_number="SN-000019", **{"site.postcode": postcode(9)})
    rows[16] = battery(17, serial_number="SN-000015")  # chunk 6: row 15 (chunk 5) again
    settings.TASKS = DUMMY  # the upload commits for real here: its task is not run
    response = upload(fsp, csv_bytes(rows))
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    engine = imports.Engine(batch, services_imports.importer(batch))
    with batch.file.open("rb") as handle:
        imports.process_file(engine, handle, chunk_size=3, connections=3)
    done = outcomes(batch)
    assert {n: r.outcome for n, r in done.items()} == {
        **dict.fromkeys(range(1, 19), "accepted"),
        4: "rejected",
        5: "flagged",
        10: "rejected",
        11: "flagged",
        17: "rejected",
    }
    assert "Row 2 of this file" in done[4].errors[0]["message"] or (
        "earlier row of this file" in done[4].errors[0]["message"]
    )
    assert flagged_against(Asset.objects.get(asset_id=done[5].asset_id)) == {
        ("near_location", done[3].asset_id),
        ("similar_serial", done[3].asset_id),  # SN-000005 and SN-000003 at one postcode
    }
    assert flagged_against(Asset.objects.get(asset_id=done[11].asset_id)) >= {
        ("similar_serial", done[9].asset_id)
    }
    batch.refresh_from_db()
    assert (batch.processed_rows, batch.accepted, batch.rejected, batch.flagged) == (18, 13, 3, 2)
    assert Asset.objects.filter(import_batch=batch).count() == 15
    seqs = list(
        AuditEvent.objects.filter(action="asset.bulk_registered", object_id=str(batch.public_id))
        .order_by("seq")
        .values_list("changes__after__rows", flat=True)
    )
    assert seqs == ["1-3", "4-6", "7-9", "10-12", "13-15", "16-18"]  # committed in file order


@pytest.mark.django_db(transaction=True)
def test_a_failing_chunk_stops_the_chunks_in_flight(
    fsp: Importer, settings: Any, monkeypatch: Any
) -> None:
    rows = [battery(i) for i in range(1, 13)]
    settings.TASKS = DUMMY
    response = upload(fsp, csv_bytes(rows))
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    real = imports.Engine._results

    def fail_third(self: imports.Engine, cur: Any, rows: list[Any]) -> None:
        if rows[0].number == 7:
            raise RuntimeError("disk full")
        real(self, cur, rows)

    monkeypatch.setattr(imports.Engine, "_results", fail_third)
    engine = imports.Engine(batch, services_imports.importer(batch))
    with batch.file.open("rb") as handle, pytest.raises(RuntimeError, match="disk full"):
        imports.process_file(engine, handle, chunk_size=3, connections=2)
    batch.refresh_from_db()
    assert batch.processed_rows == 6  # a prefix: the chunks after the failing one rolled back
    assert Asset.objects.filter(import_batch=batch).count() == 6
    monkeypatch.setattr(imports.Engine, "_results", real)
    engine = imports.Engine(batch, services_imports.importer(batch))
    with batch.file.open("rb") as handle:
        imports.process_file(engine, handle, start_after=6, chunk_size=3, connections=2)
    batch.refresh_from_db()
    assert (batch.processed_rows, batch.accepted) == (12, 12)
    assert Asset.objects.filter(import_batch=batch).count() == 12


def test_asset_ids_are_valid_and_random() -> None:
    ids = imports.new_asset_ids(2_000)
    assert len(set(ids)) == 2_000
    for value in ids[:200]:
        assert str(AssetId.parse(value)) == value


@pytest.mark.django_db
def test_stalled_imports_are_queued_again(
    fsp: Importer, django_capture_on_commit_callbacks: Any
) -> None:
    import datetime as dt

    from django.utils import timezone

    with django_capture_on_commit_callbacks(execute=False):
        response = upload(fsp, csv_bytes([battery(1)]))
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    assert services_imports.resume_stalled(timezone.now()) == 0
    assert services_imports.resume_stalled(timezone.now() + dt.timedelta(minutes=11)) == 1
    batch.refresh_from_db()
    assert batch.status == "done" and batch.accepted == 1
