"""Never the same physical asset twice: each exact rule (with formatting variants of the same
MPAN and serial) answers 409 ``asset.duplicate`` naming the rule, and the existing Asset ID
only to a caller who may see it; near matches are flagged (status ``query``, candidates
listed), never merged; rejected assets block nothing."""

from __future__ import annotations

from typing import Any

import pytest

from flexreg.assets import rules, services
from flexreg.assets.models import Asset, AssetStatus, DuplicateFlag
from flexreg.assets.tests import helpers_registration
from flexreg.assets.tests.helpers_registration import (
    EXPORT_MPAN,
    IMPORT_MPAN,
    Registrant,
    hvac,
    record,
)
from flexreg.core.errors import DomainError

pytestmark = pytest.mark.django_db

# Fixtures shared by the registration tests.
fsp = helpers_registration.fsp
qualify = helpers_registration.qualify
rival = helpers_registration.rival

EIC = "48WTESTBESS0002E"


def duplicate(registrant: Registrant, rec: dict[str, Any]) -> DomainError:
    before = Asset.objects.count()
    with pytest.raises(DomainError) as caught:
        services.register(registrant.acting, rec)
    assert caught.value.code == "asset.duplicate"
    assert caught.value.status == 409
    assert Asset.objects.count() == before
    return caught.value


# --- manufacturer + serial ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("manufacturer", "serial"),
    [
        ("Acme Energy Ltd", "AB-1234-56"),
        ("ACME ENERGY", "ab123456"),
        ("Acme Energy Limited", "ab 1234 56"),
        ("acme energy ltd.", " AB.1234_56 "),
        ("Acme-Energy", "Ab - 12 34 56"),
    ],
)
def test_the_same_manufacturer_and_serial_in_any_format_is_refused(
    fsp: Registrant, manufacturer: str, serial: str
) -> None:
    first = services.register(
        fsp.acting, record(manufacturer="Acme Energy Ltd", serial_number="AB123456")
    )
    error = duplicate(fsp, record(manufacturer=manufacturer, serial_number=serial, name="Again"))
    assert error.extra["duplicates"] == [
        {
            "rule": "serial",
            "field": "serial_number",
            "asset_id": first.asset_id,
            "registered_elsewhere": False,
        }
    ]
    assert first.asset_id in error.detail
    assert [(e.field, e.code) for e in error.errors] == [
        ("serial_number", "asset.duplicate.serial")
    ]


def test_a_caller_who_may_not_see_the_asset_is_not_told_its_id(
    fsp: Registrant, rival: Registrant
) -> None:
    first = services.register(fsp.acting, record(serial_number="SN-777"))
    error = duplicate(rival, record(serial_number="sn777"))
    assert error.extra["duplicates"] == [
        {"rule": "serial", "field": "serial_number", "asset_id": None, "registered_elsewhere": True}
    ]
    assert first.asset_id not in str(error.extra) + error.detail
    assert "provider switch" in error.extra["next_steps"]


def test_the_same_serial_from_another_manufacturer_is_another_asset(fsp: Registrant) -> None:
    services.register(fsp.acting, record(manufacturer="Acme Energy", serial_number="X1"))
    other = services.register(
        fsp.acting,
        record(manufacturer="Zeta Power", serial_number="X1", site={"postcode": "LS1 4AP"}),
    )
    assert other.status == AssetStatus.PENDING_VALIDATION


# --- EIC and external identifiers --------------------------------------------------------------


def test_the_same_eic_is_refused_whatever_its_case(fsp: Registrant, rival: Registrant) -> None:
    services.register(fsp.acting, record(eic=EIC))
    error = duplicate(rival, record(eic=f" {EIC.lower()} "))
    assert [d["rule"] for d in error.extra["duplicates"]] == ["eic"]
    assert error.extra["duplicates"][0]["field"] == "eic"


def test_a_unique_external_id_is_refused_ignoring_case(fsp: Registrant) -> None:
    ids = [
        {"scheme": "BM_UNIT", "value": "E_ABCD-1"},
        {"scheme": "OCPP_CHARGE_POINT", "value": "cp-0001"},
    ]
    first = services.register(fsp.acting, record(external_ids=ids))
    again = [{"scheme": "OCPP_CHARGE_POINT", "value": "CP-0001"}]
    error = duplicate(fsp, record(external_ids=again))
    assert error.extra["duplicates"] == [
        {
            "rule": "external_id",
            "field": "external_ids.0",
            "asset_id": first.asset_id,
            "registered_elsewhere": False,
        }
    ]


def test_a_bm_unit_groups_many_assets(fsp: Registrant) -> None:
    bm = [{"scheme": "BM_UNIT", "value": "V__AFLEX001"}]
    services.register(fsp.acting, record(external_ids=bm))
    second = services.register(fsp.acting, record(external_ids=bm))
    assert second.external_ids.get().value == "V__AFLEX001"


def test_every_rule_broken_is_named(fsp: Registrant) -> None:
    ids = [{"scheme": "OCPP_CHARGE_POINT", "value": "CP-9"}]
    services.register(fsp.acting, record(serial_number="S-1", eic=EIC, external_ids=ids))
    error = duplicate(fsp, record(serial_number="S1", eic=EIC, external_ids=ids))
    assert sorted(d["rule"] for d in error.extra["duplicates"]) == ["eic", "external_id", "serial"]


# --- MPAN core + category for assets without a serial number ------------------------------------


@pytest.mark.parametrize(
    "variant",
    [
        IMPORT_MPAN,
        "10 1234 5678 903",
        "10-1234-5678-903",
        "S 01 801 100 / 10 1234 5678 903",  # the full 21-character MPAN as printed on a bill
        "018011001012345678903",
    ],
)
def test_one_anonymous_asset_of_a_category_per_meter_in_any_mpan_format(
    fsp: Registrant, variant: str
) -> None:
    first = services.register(fsp.acting, hvac())
    error = duplicate(fsp, hvac(name="Same plant", metering={"import_mpan": variant}))
    assert error.extra["duplicates"] == [
        {
            "rule": "meter",
            "field": "metering.import_mpan",
            "asset_id": first.asset_id,
            "registered_elsewhere": False,
        }
    ]


def test_another_category_or_a_serial_number_makes_another_asset_at_the_meter(
    fsp: Registrant,
) -> None:
    services.register(fsp.acting, hvac())
    refrigeration = hvac(category="REFRIGERATION", name="Cold store")
    assert services.register(fsp.acting, refrigeration).category == "REFRIGERATION"
    with_serial = hvac(manufacturer="Coolco", model="C1", serial_number="C-1")
    assert services.register(fsp.acting, with_serial).serial_key == "C1"


def test_a_rejected_asset_blocks_nothing(fsp: Registrant) -> None:
    first = services.register(fsp.acting, record(serial_number="R-1", eic=EIC))
    Asset.objects.filter(pk=first.pk).update(status=AssetStatus.REJECTED)
    again = services.register(fsp.acting, record(serial_number="R-1", eic=EIC))
    assert again.status == AssetStatus.PENDING_VALIDATION
    assert not DuplicateFlag.objects.filter(asset=again).exists()


# --- near matches: flagged, never merged --------------------------------------------------------


def flags(asset: Asset) -> set[tuple[str, str]]:
    return {(f.rule, f.candidate.asset_id) for f in DuplicateFlag.objects.filter(asset=asset)}


def test_same_postcode_category_and_similar_capacity_goes_to_query_with_the_candidates(
    fsp: Registrant, rival: Registrant
) -> None:
    first = services.register(fsp.acting, record(manufacturer="Acme", serial_number="A-1"))
    second = services.register(
        rival.acting,
        record(
            manufacturer="Other Make",
            serial_number="Z-9",
            capacity={"installed_kw": "5.4", "export_kw": "5", "import_kw": "5"},
            site={"postcode": "cb12ab"},
        ),
    )
    assert second.status == AssetStatus.QUERY
    assert "Possible duplicate of 1" in second.status_reason
    assert flags(second) == {("near_location", first.asset_id)}
    flag = DuplicateFlag.objects.get(asset=second)
    assert flag.detail == {"postcode": "CB1 2AB", "installed_kw": "5.00"}
    assert Asset.objects.filter(pk=first.pk, status=AssetStatus.PENDING_VALIDATION).exists()


@pytest.mark.parametrize(
    "change",
    [
        {"capacity": {"installed_kw": "5.6", "export_kw": "5", "import_kw": "5"}},  # +12%
        {"site": {"postcode": "CB1 2AD"}},
        {
            "category": "OTHER",
            "description": "A battery of sorts",
            "capacity": {"storage_kwh": "10"},
        },
    ],
)
def test_no_flag_when_capacity_postcode_or_category_differs(
    fsp: Registrant, change: dict[str, Any]
) -> None:
    services.register(fsp.acting, record(manufacturer="Acme", serial_number="A-1"))
    second = services.register(
        fsp.acting, record(manufacturer="Other", serial_number="B-2", **change)
    )
    assert second.status == AssetStatus.PENDING_VALIDATION
    assert flags(second) == set()


def test_the_capacity_band_is_configurable(fsp: Registrant, settings: Any) -> None:
    settings.ASSET_NEAR_CAPACITY_PCT = 25
    services.register(fsp.acting, record(manufacturer="Acme", serial_number="A-1"))
    capacity = {"installed_kw": "6", "export_kw": "5", "import_kw": "5"}  # +20%
    second = services.register(
        fsp.acting, record(manufacturer="Other", serial_number="B-2", capacity=capacity)
    )
    assert second.status == AssetStatus.QUERY


def at(lat: str, lon: str, postcode: str) -> dict[str, Any]:
    return {"latitude": lat, "longitude": lon, "postcode": postcode}


def test_within_the_distance_in_another_postcode_is_flagged(fsp: Registrant) -> None:
    first = services.register(
        fsp.acting,
        record(manufacturer="Acme", serial_number="A-1", site=at("52.2000", "0.1300", "CB1 2AB")),
    )
    # about 56 m north
    second = services.register(
        fsp.acting,
        record(manufacturer="Other", serial_number="B-2", site=at("52.2005", "0.1300", "CB1 3AA")),
    )
    assert flags(second) == {("near_location", first.asset_id)}
    distance = DuplicateFlag.objects.get(asset=second).detail["distance_m"]
    assert 50 < distance < 60


def test_beyond_the_distance_no_flag_unless_configured(fsp: Registrant, settings: Any) -> None:
    services.register(
        fsp.acting,
        record(manufacturer="Acme", serial_number="A-1", site=at("52.2000", "0.1300", "CB1 2AB")),
    )
    far = at("52.2000", "0.1350", "CB1 3AA")  # about 340 m east
    second = services.register(fsp.acting, record(manufacturer="B", serial_number="B-2", site=far))
    assert flags(second) == set()
    settings.ASSET_NEAR_METRES = 500
    third = services.register(fsp.acting, record(manufacturer="C", serial_number="C-3", site=far))
    assert {rule for rule, _ in flags(third)} == {"near_location"}
    assert len(flags(third)) == 2  # the first asset and the second (same postcode)


BIGGER = {"installed_kw": "8", "export_kw": "5", "import_kw": "5"}  # not a similar capacity
ELSEWHERE_SAME_METER = {"postcode": "LS1 4AP"}


@pytest.mark.parametrize(
    "serial",
    [
        "PC-123457",  # a character changed
        "PC-1234567",  # a character added
        "PC-12346",  # a character removed
        "PC-123465",  # two neighbours swapped
        "XPC-123456",  # added at the start
    ],
)
@pytest.mark.parametrize("site", [{}, ELSEWHERE_SAME_METER], ids=["same postcode", "same meter"])
def test_a_serial_one_edit_away_from_the_same_make_at_the_same_site_is_flagged(
    fsp: Registrant, serial: str, site: dict[str, str]
) -> None:
    first = services.register(fsp.acting, record(serial_number="PC-123456"))
    second = services.register(fsp.acting, record(serial_number=serial, capacity=BIGGER, site=site))
    assert second.status == AssetStatus.QUERY
    assert flags(second) == {("similar_serial", first.asset_id)}
    assert DuplicateFlag.objects.get(asset=second).detail == {"serial_number": "PC-123456"}


@pytest.mark.parametrize(
    ("manufacturer", "serial", "site", "metering"),
    [
        ("Acme Energy", "PC-123477", {}, {}),  # two edits
        ("Zeta Power", "PC-123457", {}, {}),  # another make
        # another site: manufacturers number serials in sequence
        ("Acme Energy", "PC-123457", ELSEWHERE_SAME_METER, {"import_mpan": EXPORT_MPAN}),
    ],
)
def test_no_serial_flag_for_two_edits_another_make_or_another_site(
    fsp: Registrant,
    manufacturer: str,
    serial: str,
    site: dict[str, str],
    metering: dict[str, str],
) -> None:
    services.register(fsp.acting, record(serial_number="PC-123456"))
    second = services.register(
        fsp.acting,
        record(
            manufacturer=manufacturer,
            serial_number=serial,
            capacity=BIGGER,
            site=site,
            metering=metering,
        ),
    )
    assert flags(second) == set()


@pytest.mark.parametrize(
    ("a", "b", "near"),
    [
        ("AB1", "XB1", True),
        ("AB1", "AX1", True),
        ("AB1", "AB", True),
        ("AB1", "B1", True),
        ("AB1", "AB12", True),
        ("AB1", "ZAB1", True),
        ("AB1", "BA1", True),
        ("AB1", "A1B", True),
        ("AB/1", "AB1", True),
        ("AB1", "AB1", False),
        ("AB1", "BA2", False),
        ("AB1", "B", False),
        ("AB12", "BA21", False),
        ("AB1", "AXY1", False),
        ("", "A", True),
    ],
)
def test_one_edit_apart(a: str, b: str, near: bool) -> None:
    assert rules.one_edit_apart(a, b) is near
    assert rules.one_edit_apart(b, a) is near


def test_lock_keys_cover_every_exact_key_in_one_order(db: Any) -> None:
    from flexreg.assets import conformance
    from flexreg.assets.catalogue import default_catalogue

    ids = [
        {"scheme": "OCPP_CHARGE_POINT", "value": "cp-1"},
        {"scheme": "BM_UNIT", "value": "E_X-1"},
    ]
    clean, errors = conformance.validate(record(serial_number="s-1", eic=EIC, external_ids=ids))
    assert clean is not None, errors
    keys = rules.lock_keys(clean, default_catalogue())
    assert keys == sorted(keys)
    assert set(keys) == {
        f"mpan:{IMPORT_MPAN}",
        "serial:ACMEENERGY:S1",
        f"eic:{EIC}",
        "external:OCPP_CHARGE_POINT:CP-1",
        "site:CB1 2AB",
    }


def _cell_keys(latitude: str, longitude: str) -> set[str]:
    from flexreg.assets import conformance
    from flexreg.assets.catalogue import default_catalogue

    rec = record(site={"latitude": latitude, "longitude": longitude})
    clean, errors = conformance.validate(rec)
    assert clean is not None, errors
    return {k for k in rules.lock_keys(clean, default_catalogue()) if k.startswith("cell:")}


@pytest.mark.parametrize(
    ("here", "there", "share"),
    [
        # ~90 m apart north-south, at a cell boundary or not: the distance rule matches them.
        (("52.20000", "0.12000"), ("52.20081", "0.12000"), True),
        (("52.19960", "0.12000"), ("52.20040", "0.12000"), True),
        # ~95 m apart east-west in Shetland, where a degree of longitude is shortest.
        (("60.40000", "-1.20000"), ("60.40000", "-1.19826"), True),
        # 5 km apart: no lock shared, they never wait for each other.
        (("52.20000", "0.12000"), ("52.24500", "0.12000"), False),
    ],
)
def test_assets_the_distance_rule_could_match_share_a_position_lock(
    here: tuple[str, str], there: tuple[str, str], share: bool
) -> None:
    """Two registrations within the near distance (100 m) of each other take at least one
    common ``cell:`` lock, so the second sees the first and is flagged even when both are
    registered at once and their postcodes differ."""
    first, second = _cell_keys(*here), _cell_keys(*there)
    assert len(first) == len(second) == 9
    assert bool(first & second) is share
    assert all(k.startswith("cell:BESS:") for k in first)  # another category: no wait
