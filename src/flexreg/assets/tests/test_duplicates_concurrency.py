"""Two concurrent registrations of the same asset: exactly one succeeds, the other gets a
clear 409 (the advisory locks serialise them; the unique indexes are the backstop)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import pytest
from django.db import connection

from flexreg.assets.models import Asset, AssetStatus, DuplicateFlag
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import EXPORT_MPAN, Registrant, hvac, record

pytestmark = pytest.mark.django_db(transaction=True)

# Fixtures shared by the registration tests.
fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
rival = helpers_registration.rival


def race(*calls: Callable[[], Any]) -> list[Any]:
    barrier = threading.Barrier(len(calls))
    results: list[Any] = []

    def attempt(call: Callable[[], Any]) -> None:
        barrier.wait()
        try:
            results.append(call())
        finally:
            connection.close()

    threads = [threading.Thread(target=attempt, args=(c,)) for c in calls]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


@pytest.mark.parametrize("repeat", range(3))
def test_two_participants_registering_one_serial_at_once_exactly_one_wins(
    fsp: Registrant, rival: Registrant, repeat: int
) -> None:
    rec = record(serial_number="RACE-1")
    responses = race(lambda: fsp.api.post("/assets", rec), lambda: rival.api.post("/assets", rec))
    assert sorted(r.status_code for r in responses) == [201, 409]
    loser = next(r for r in responses if r.status_code == 409).json()
    assert loser["code"] == "asset.duplicate"
    assert [d["rule"] for d in loser["duplicates"]] == ["serial"]
    assert Asset.objects.count() == 1


def test_the_same_anonymous_asset_at_one_meter_at_once_exactly_one_wins(
    fsp: Registrant,
) -> None:
    responses = race(
        lambda: fsp.api.post("/assets", hvac()),
        lambda: fsp.api.post("/assets", hvac(metering={"import_mpan": "10 1234 5678 903"})),
    )
    assert sorted(r.status_code for r in responses) == [201, 409]
    winner = next(r for r in responses if r.status_code == 201).json()
    loser = next(r for r in responses if r.status_code == 409).json()
    # the same participant may see the asset it collided with
    assert loser["duplicates"][0]["asset_id"] == winner["asset_id"]
    assert Asset.objects.count() == 1


def test_near_matches_registered_at_once_are_still_flagged(fsp: Registrant) -> None:
    responses = race(
        lambda: fsp.api.post("/assets", record(manufacturer="Acme", serial_number="N-1")),
        lambda: fsp.api.post("/assets", record(manufacturer="Zeta", serial_number="N-2")),
    )
    assert [r.status_code for r in responses] == [201, 201]
    # the second to take the lock sees the first: exactly one of them is flagged
    [flag] = DuplicateFlag.objects.select_related("asset", "candidate")
    assert flag.rule == "near_location"
    assert flag.asset.created_at > flag.candidate.created_at
    assert flag.asset.status == AssetStatus.QUERY


@pytest.mark.parametrize("repeat", range(2))
def test_near_matches_by_distance_registered_at_once_are_still_flagged(
    fsp: Registrant, repeat: int
) -> None:
    """Two similar batteries 45 m apart, at different postcodes and meters: they share no key
    but a position cell (``rules.cells_around``), so the second waits for the first and is
    flagged, whichever wins."""
    here = {"postcode": "CB1 2AB", "latitude": "52.20000", "longitude": "0.12000"}
    there = {"postcode": "CB1 3AA", "latitude": "52.20040", "longitude": "0.12000"}
    responses = race(
        lambda: fsp.api.post("/assets", record(manufacturer="Acme", site=here)),
        lambda: fsp.api.post(
            "/assets",
            record(manufacturer="Zeta", site=there, metering={"import_mpan": EXPORT_MPAN}),
        ),
    )
    assert [r.status_code for r in responses] == [201, 201], [r.content for r in responses]
    [flag] = DuplicateFlag.objects.select_related("asset", "candidate")
    assert flag.rule == "near_location"
    assert flag.asset.created_at > flag.candidate.created_at


def test_the_unique_index_is_the_backstop_for_a_writer_that_skips_the_locks(
    fsp: Registrant,
) -> None:
    """Another writer (say a bulk load) holds an uncommitted row with the same serial: the
    registration does not see it, waits on the unique index, then answers the same 409."""
    import time

    from django.db import transaction

    from flexreg.assets import conformance, services

    rec = record(serial_number="BACKSTOP-1")
    clean, _ = conformance.validate(rec)
    assert clean is not None
    inserted = threading.Event()

    def other_writer() -> None:
        try:
            with transaction.atomic():
                Asset.objects.create(
                    asset_id="A-BACKSTOP01",
                    registered_by_id=fsp.participant_pk,
                    registered_by_role="FSP",
                    **services.asset_fields(clean),
                )
                inserted.set()
                time.sleep(1.0)
        finally:
            connection.close()

    thread = threading.Thread(target=other_writer)
    thread.start()
    assert inserted.wait(10)
    started = time.monotonic()
    response = fsp.api.post("/assets", rec)
    waited = time.monotonic() - started
    thread.join()
    assert waited > 0.5  # it waited on the index for the other writer to commit
    assert response.status_code == 409, response.content
    problem = response.json()
    assert problem["code"] == "asset.duplicate"
    assert problem["duplicates"][0]["asset_id"] == "A-BACKSTOP01"
    assert Asset.objects.count() == 1
