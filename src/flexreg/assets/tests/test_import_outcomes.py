"""What becomes of the assets of a bulk registration: with no checking service configured
their checks are concluded set-wise (one UPDATE, one audit event per batch); the import's
progress resource and page count them by status; the importer is told once, when the last of
them leaves "pending validation" (and never one asset at a time), while single registrations
are still told one by one. Also: oversight (``assets:read_all`` without ``assets:read``) reads
the asset pages of the portal.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from tests.signin import helpers as signin_helpers

from flexreg.assets import authenticity, services, services_imports
from flexreg.assets.models import Asset, AssetImport, AssetStatus
from flexreg.assets.tests import helpers_authenticity, helpers_registration
from flexreg.assets.tests.helpers_authenticity import IMMEDIATE, RETRY_JOB, make_asset
from flexreg.assets.tests.helpers_registration import IMPORT_MPAN, Registrant, record
from flexreg.assets.tests.test_imports import battery, csv_bytes
from flexreg.core import scheduler
from flexreg.core.models import AuditEvent
from flexreg.devtools.asset_services_stub import StubServer
from flexreg.notifications.models import Notification

pytestmark = pytest.mark.django_db

asset_stub = helpers_authenticity.asset_stub
services_up = helpers_authenticity.services
registrant = helpers_authenticity.registrant
fsp = helpers_registration.fsp
qualify = helpers_registration.qualify

TOLD = authenticity.IMPORT_VALIDATED_KIND
DUPLICATE_REASON = (
    "Possible duplicate of 1 registered asset(s): the central operator will check before its "
    "authenticity is confirmed."
)


def _import(participant: Any, user: Any, **fields: Any) -> AssetImport:
    values: dict[str, Any] = {
        "participant": participant,
        "role": "FSP",
        "created_by": user,
        "file_name": "assets.csv",
        "file_format": "csv",
        "sha256": "0" * 64,
        "file": "asset-imports/assets.csv",
    }
    values.update(fields)
    return AssetImport.objects.create(**values)


def _fresh(asset: Asset) -> Asset:
    asset.refresh_from_db()
    return asset


def _told(kind: str = TOLD) -> list[Notification]:
    return list(Notification.objects.filter(kind=kind).order_by("pk"))


def _portal(user: Any, membership: Any) -> Client:
    return signin_helpers.portal_client(user, membership)


def _sweep(at: dt.datetime) -> dict[str, int]:
    return dict(scheduler.run_due(now=at, only=RETRY_JOB).get("assets.retry_checks", {}))


# --- set-wise conclusion without checking services ---------------------------------------------


def test_without_services_a_batch_is_concluded_set_wise(
    registrant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user, participant = registrant
    small = _import(participant, user)
    large = _import(participant, user, sha256="1" * 64)
    few = [make_asset(participant, user, import_batch=small) for _ in range(2)]
    many = [make_asset(participant, user, import_batch=large) for _ in range(11)]
    flagged = make_asset(
        participant,
        user,
        import_batch=large,
        status=AssetStatus.QUERY,
        status_reason=DUPLICATE_REASON,
    )
    statements = []
    for assets in (few, [*many, flagged]):
        with (
            django_capture_on_commit_callbacks(execute=True),
            CaptureQueriesContext(connection) as queries,
        ):
            assert authenticity.start_many([a.pk for a in assets]) == 0  # nothing to queue
        statements.append(len(queries.captured_queries))
    # Set-wise: the statements do not grow with the assets (per asset: several each).
    assert statements[0] == statements[1], statements
    assert {_fresh(a).status for a in [*few, *many]} == {AssetStatus.VERIFIED}
    assert {a.status_reason for a in [*few, *many]} == {""}
    assert _fresh(flagged).status == AssetStatus.QUERY  # the operator decides a duplicate
    assert flagged.status_reason == f"{DUPLICATE_REASON}\n\nAuthenticity checks: all passed."
    events = AuditEvent.objects.filter(action="asset.authenticity_concluded").order_by("seq")
    assert [e.object_type for e in events] == ["asset_batch", "asset_batch"]
    after = events[1].changes["after"]
    assert after["assets"] == 12
    assert after["transitions"] == {
        "pending_validation->verified": [a.asset_id for a in many],
        "query->query": [flagged.asset_id],
    }
    assert after["status_reasons"] == {flagged.asset_id: flagged.status_reason}
    assert events[1].subject_participant_id == participant.participant_id
    # Imported assets are not told one by one; these imports are not done: nobody told yet.
    assert _told(authenticity.VALIDATED_KIND) == [] and _told() == []
    # Again: nothing changes.
    before = AuditEvent.objects.count()
    with django_capture_on_commit_callbacks(execute=True):
        assert authenticity.start_many([a.pk for a in [*few, *many, flagged]]) == 0
    assert AuditEvent.objects.count() == before


def test_assets_registered_one_by_one_are_still_told_one_by_one(
    registrant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user, participant = registrant
    single = make_asset(participant, user)
    imported = make_asset(participant, user, import_batch=_import(participant, user))
    with django_capture_on_commit_callbacks(execute=True):
        authenticity.start_many([single.pk, imported.pk])
    assert _fresh(single).status == _fresh(imported).status == AssetStatus.VERIFIED
    told = _told(authenticity.VALIDATED_KIND)
    assert [(n.recipient_id, n.link) for n in told] == [(user.pk, f"/assets/{single.asset_id}/")]
    assert single.asset_id in told[0].subject and "verified" in told[0].subject.lower()


# --- the importer is told once -------------------------------------------------------------------


def test_an_import_tells_its_importer_once_its_assets_are_checked(
    fsp: Registrant, settings: Any, django_capture_on_commit_callbacks: Any, mailoutbox: Any
) -> None:
    settings.TASKS = IMMEDIATE
    content = csv_bytes([battery(1), battery(2), battery(3), battery(4, **{"site.postcode": "X"})])
    with django_capture_on_commit_callbacks(execute=True):
        response = fsp.api.client.post(
            "/api/v1/asset-imports",
            {"file": SimpleUploadedFile("my-batteries.csv", content, "text/csv")},
            headers={"Authorization": f"Bearer {fsp.api.token}"},
        )
    assert response.status_code == 202, response.content
    batch = AssetImport.objects.get(public_id=response.json()["import_id"])
    assert batch.status == AssetImport.Status.DONE, batch.error
    assert (batch.accepted, batch.rejected) == (3, 1)
    told = _told()
    assert len(told) == 1
    notice = told[0]
    assert notice.recipient_id == fsp.user.pk
    assert notice.subject == "Checks finished for your upload: 3 of 3 assets verified"
    assert notice.link == f"/assets/imports/{batch.public_id}/"
    assert notice.participant_id == fsp.participant_id
    assert "my-batteries.csv" in notice.body_text and "- Verified: 3" in notice.body_text
    # Emailed too (the kind's default channel): once.
    emails = [m for m in mailoutbox if m.subject.endswith(notice.subject)]
    assert [m.to for m in emails] == [[fsp.user.email]]
    assert f"/assets/imports/{batch.public_id}/" in emails[0].body
    assert _told(authenticity.VALIDATED_KIND) == []  # never one notice per imported asset
    assert (
        AuditEvent.objects.filter(
            action="asset_import.validated", object_id=str(batch.public_id)
        ).count()
        == 1
    )

    progress = fsp.api.get(f"/asset-imports/{batch.public_id}")
    assert progress.status_code == 200
    validation = progress.json()["validation"]
    assert validation.pop("concluded_at") is not None
    assert validation == {
        "pending_validation": 0,
        "verified": 3,
        "query": 0,
        "rejected": 0,
        "decommissioned": 0,
    }
    page = _portal(fsp.user, fsp.membership).get(f"/assets/imports/{batch.public_id}/")
    html = page.content.decode()
    assert 'id="validation-verified">3<' in html and 'id="validation-pending">0<' in html
    assert 'id="validation-done"' in html and "Refresh" not in page

    # Told once: whatever runs again, and the same file uploaded again.
    assert services_imports.conclude_checks(batch.pk) is False
    pks = list(Asset.objects.filter(import_batch=batch).values_list("pk", flat=True))
    with django_capture_on_commit_callbacks(execute=True):
        authenticity.start_many(pks)
        again = fsp.api.client.post(
            "/api/v1/asset-imports",
            {"file": SimpleUploadedFile("my-batteries.csv", content, "text/csv")},
            headers={"Authorization": f"Bearer {fsp.api.token}"},
        )
    assert again.status_code == 200
    assert len(_told()) == 1
    assert len([m for m in mailoutbox if m.subject.endswith(notice.subject)]) == 1


def test_the_importer_is_told_when_the_last_check_concludes(
    registrant: Any,
    services_up: StubServer,
    settings: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    settings.TASKS = IMMEDIATE
    user, participant = registrant
    batch = _import(participant, user, status=AssetImport.Status.DONE, accepted=3)
    assets = [make_asset(participant, user, import_batch=batch) for _ in range(2)]
    stolen = make_asset(participant, user, import_batch=batch, serial_number="PC-999999")
    services_up.set_mode("dno_connection", "down")
    with django_capture_on_commit_callbacks(execute=True):
        authenticity.start_many([a.pk for a in [*assets, stolen]])
    # The DNO check waits for its service: every asset still pending, nobody told.
    assert {_fresh(a).status for a in [*assets, stolen]} == {AssetStatus.PENDING_VALIDATION}
    assert _told() == []
    from flexreg.assets import selectors_imports

    waiting = selectors_imports.validation(batch)
    assert (waiting.pending_validation, waiting.concluded_at) == (3, None)

    services_up.set_mode("dno_connection", "up")
    with django_capture_on_commit_callbacks(execute=True):
        assert _sweep(timezone.now() + dt.timedelta(minutes=10)) == {"passed": 3}
    assert [_fresh(a).status for a in [*assets, stolen]] == [
        AssetStatus.VERIFIED,
        AssetStatus.VERIFIED,
        AssetStatus.QUERY,
    ]
    told = _told()
    assert [(n.recipient_id, n.subject) for n in told] == [
        (user.pk, "Checks finished for your upload: 2 of 3 assets verified")
    ]
    assert "- In query: with the central operator: 1" in told[0].body_text
    assert "central operator will look at the assets in query" in told[0].body_text
    done = selectors_imports.validation(batch)
    assert (done.pending_validation, done.verified, done.query) == (0, 2, 1)
    assert done.concluded_at is not None
    # Later sweeps and calls tell nobody again.
    with django_capture_on_commit_callbacks(execute=True):
        _sweep(timezone.now() + dt.timedelta(minutes=20))
        assert authenticity.conclude_import(batch.pk) is False
    assert len(_told()) == 1


def test_an_import_waits_for_assets_whose_checks_have_not_started(
    registrant: Any, django_capture_on_commit_callbacks: Any
) -> None:
    user, participant = registrant
    batch = _import(participant, user, status=AssetImport.Status.DONE)
    first, second = (make_asset(participant, user, import_batch=batch) for _ in range(2))
    with django_capture_on_commit_callbacks(execute=True):
        authenticity.start_many([first.pk])  # the start of the second's checks was lost
    assert _fresh(first).status == AssetStatus.VERIFIED
    assert _told() == []
    assert authenticity.conclude_import(batch.pk) is False
    with django_capture_on_commit_callbacks(execute=True):
        authenticity.start_many([second.pk])
    assert len(_told()) == 1
    assert authenticity.conclude_import(batch.pk) is False
    assert len(_told()) == 1


def test_a_lost_notice_is_sent_by_the_periodic_job(registrant: Any) -> None:
    user, participant = registrant
    finished = timezone.now() - dt.timedelta(minutes=30)
    batch = _import(participant, user, status=AssetImport.Status.DONE, finished_at=finished)
    batch.accepted = 1
    batch.save(update_fields=["accepted"])
    make_asset(participant, user, import_batch=batch, status=AssetStatus.VERIFIED)
    # Its checks concluded, but the process died before the notice (an on-commit callback).
    assert services_imports.conclude_finished() == 1
    assert [n.recipient_id for n in _told()] == [user.pk]
    assert services_imports.conclude_finished() == 0
    assert len(_told()) == 1


def test_an_import_not_done_or_without_assets_tells_nobody(registrant: Any) -> None:
    user, participant = registrant
    running = _import(participant, user, status=AssetImport.Status.RUNNING)
    make_asset(participant, user, import_batch=running, status=AssetStatus.VERIFIED)
    empty = _import(participant, user, status=AssetImport.Status.DONE, sha256="2" * 64)
    assert authenticity.conclude_import(running.pk) is False
    assert authenticity.conclude_import(empty.pk) is False
    assert _told() == []


# --- oversight in the portal ---------------------------------------------------------------------


def test_oversight_reads_the_asset_pages_with_read_all_only(
    fsp: Registrant, operator: Any, settings: Any, django_capture_on_commit_callbacks: Any
) -> None:
    from flexreg.participants.policies import effective_permissions

    settings.TASKS = IMMEDIATE
    asset = services.register(fsp.acting, record(name="Garage battery"))
    with django_capture_on_commit_callbacks(execute=True):
        response = fsp.api.client.post(
            "/api/v1/asset-imports",
            {"file": SimpleUploadedFile("a.csv", csv_bytes([battery(7)]), "text/csv")},
            headers={"Authorization": f"Bearer {fsp.api.token}"},
        )
    import_id = response.json()["import_id"]
    user, membership = operator
    held = effective_permissions(membership)
    assert "assets:read_all" in held and "assets:read" not in held
    client = _portal(user, membership)
    listing = client.get("/assets/")
    assert listing.status_code == 200
    assert asset.asset_id in listing.content.decode()
    page = client.get(f"/assets/{asset.asset_id}/")
    assert page.status_code == 200
    assert IMPORT_MPAN in page.content.decode()  # the full view
    upload = client.get(f"/assets/imports/{import_id}/")
    assert upload.status_code == 200
    assert 'id="validation-verified">1<' in upload.content.decode()


def test_a_member_who_may_not_read_assets_is_refused(fsp: Registrant, make_user: Any) -> None:
    from flexreg.participants import services_access
    from flexreg.participants.models import Membership, Participant

    asset = services.register(fsp.acting, record())
    clerk = make_user("clerk@brightwatt.example")
    participant = Participant.objects.get(pk=fsp.participant_pk)
    services_access.grant(
        fsp.acting, participant, email=clerk.email, role="FSP", permissions_=["participant:read"]
    )
    membership = Membership.objects.get(user=clerk)
    client = _portal(clerk, membership)
    assert client.get("/assets/").status_code == 403
    assert client.get(f"/assets/{asset.asset_id}/").status_code == 403
    assert AuditEvent.objects.filter(
        action="authorisation.denied", object_id="assets:read"
    ).exists()
