"""Seed a benchmark database with realistic assets, fast (PostgreSQL COPY).

    FLEXREG_ENV=development DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        uv run python bench/assets_seed.py --n 1000000 [--db flexreg_bench] [--fresh]

Creates the database ``--db`` on DATABASE_URL's server if it does not exist (``--fresh``
drops it first), migrates it, then adds:

- ``--participants`` (default 3,000) verified organisations set-wise, each with one qualified
  role: two in three FSPs or aggregators (the providers), one in three asset owners;
- N assets across all 14 DNO licence areas: valid MPAN cores of the area's distributor (check
  digit computed), real outward codes of the area with random inward codes, coordinates near
  the area's centre for half of them, a category mix weighted to domestic assets (EV chargers,
  heat pumps, batteries, solar), manufacturers, models and serial numbers, OCPP charge point
  IDs for chargers, EICs for the large ones;
- a controlling link to a provider for every asset, and a legal owner for two in five.

Assets are registered ``pending_validation``/``verified`` as if by their provider. The
generator (:func:`asset_row`) is shared with ``bench/assets_bench.py``, whose bulk file it makes.
Rows are random but reproducible (``--seed``); a second run adds N more (new keys).
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import random
import sys
import time
import uuid
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT))

from flexreg.identifiers import mpan_check_digit  # noqa: E402
from flexreg.identifiers.eic import eic_check_character  # noqa: E402

# --- the 14 licence areas: distributor ID -> (outward code areas, centre latitude, longitude) --
AREAS: dict[str, tuple[tuple[str, ...], float, float]] = {
    "10": (("CB", "IP", "NR", "CO", "CM", "SG"), 52.4, 0.9),  # Eastern
    "11": (("NG", "LE", "DE", "NN"), 52.8, -1.2),  # East Midlands
    "12": (("E", "N", "SE", "SW", "W", "NW"), 51.5, -0.12),  # London
    "13": (("L", "CH", "LL"), 53.2, -3.2),  # Merseyside and North Wales
    "14": (("B", "CV", "WV", "WS", "DY"), 52.5, -1.9),  # West Midlands
    "15": (("NE", "SR", "DH", "TS"), 54.8, -1.6),  # North East
    "16": (("M", "BL", "OL", "PR", "WN"), 53.6, -2.5),  # North West
    "17": (("AB", "IV", "PH", "DD"), 57.3, -3.8),  # North Scotland
    "18": (("G", "EH", "KA", "ML"), 55.8, -3.9),  # South Scotland
    "19": (("BN", "CT", "ME", "TN", "RH"), 51.1, 0.5),  # South Eastern
    "20": (("SO", "PO", "RG", "OX", "SL"), 51.3, -1.2),  # Southern
    "21": (("CF", "SA", "NP"), 51.7, -3.5),  # South Wales
    "22": (("EX", "PL", "TR", "BS", "TA"), 50.8, -3.6),  # South Western
    "23": (("LS", "BD", "HU", "S", "YO"), 53.8, -1.3),  # Yorkshire
}
INWARD_LETTERS = "ABDEFGHJLNPQRSTUWXYZ"
TOWNS = {
    "10": "Cambridge",
    "11": "Nottingham",
    "12": "London",
    "13": "Liverpool",
    "14": "Birmingham",
    "15": "Newcastle upon Tyne",
    "16": "Manchester",
    "17": "Aberdeen",
    "18": "Glasgow",
    "19": "Brighton",
    "20": "Reading",
    "21": "Cardiff",
    "22": "Exeter",
    "23": "Leeds",
}
STREETS = ("High Street", "Station Road", "Church Lane", "Mill Road", "Park Avenue", "Green Lane")
# category -> (weight, manufacturers, installed kW choices, spec)
CATEGORIES: dict[str, tuple[int, tuple[str, ...], tuple[str, ...], dict[str, Any]]] = {
    "EV_CHARGER": (
        30,
        ("Wallbox Chargers SL", "Pod Point Ltd", "Ohme Technologies", "myenergi Ltd"),
        ("3.6", "7.4", "11", "22"),
        {"imp": True, "ocpp": True, "source": "GRID"},
    ),
    "HEAT_PUMP": (
        20,
        ("Mitsubishi Electric", "Daikin", "Vaillant", "Samsung"),
        ("5", "8.5", "12", "16"),
        {"imp": True, "source": "GRID"},
    ),
    "BESS": (
        20,
        ("Tesla, Inc.", "GivEnergy Ltd", "Powervault Ltd", "SolarEdge"),
        ("3.6", "5", "10", "50", "500", "2000"),
        {"imp": True, "exp": True, "storage": True, "source": "GRID"},
    ),
    "SOLAR_PV": (
        20,
        ("SMA Solar Technology AG", "Fronius", "SolarEdge", "Huawei"),
        ("3", "4", "6", "50", "250", "1000"),
        {"exp": True, "export_mpan": True, "source": "SOLAR"},
    ),
    "HVAC": (3, (), ("20", "45", "120"), {"imp": True, "anonymous": True, "source": "GRID"}),
    "ELECTRIC_BOILER": (2, ("Heatrae Sadia", "Thermaltech"), ("9", "12", "24"), {"imp": True}),
    "INDUSTRIAL_LOAD": (2, (), ("250", "800", "3000"), {"imp": True, "anonymous": True}),
    "WIND_TURBINE": (1, ("Vestas", "Enercon"), ("500", "2000", "3600"), {"exp": True}),
    "CHP": (1, ("Edina", "Centrica"), ("100", "400", "1500"), {"exp": True, "fuel": True}),
    "REFRIGERATION": (1, (), ("15", "60"), {"imp": True, "anonymous": True}),
}
_CAT_NAMES = list(CATEGORIES)
_CAT_WEIGHTS = [CATEGORIES[c][0] for c in _CAT_NAMES]
SERIAL_ALPHABET = "0123456789ABCDEFGHJKLMNPQRSTUVWXYZ"
# A multiplier coprime with 10**10: i -> i * K mod 10**10 is a permutation (unique MPAN bodies).
_SCRAMBLE = 7_919_731_853


def _postcode(rng: random.Random, distributor: str) -> str:
    prefixes = AREAS[distributor][0]
    prefix = rng.choice(prefixes)
    district = rng.randint(1, 20 if len(prefix) == 2 else 9)
    inward = f"{rng.randrange(10)}{rng.choice(INWARD_LETTERS)}{rng.choice(INWARD_LETTERS)}"
    return f"{prefix}{district} {inward}"


def mpan(distributor: str, n: int) -> str:
    base = f"{distributor}{(n * _SCRAMBLE) % 10**10:010d}"
    return base + mpan_check_digit(base)


def eic(n: int) -> str:
    """A valid resource (W) EIC made from n (a base whose check character would be '-' is
    skipped: the last digit moves to a letter)."""
    base = f"48W{n:012d}"
    try:
        return base + eic_check_character(base)
    except ValueError:
        base = base[:-1] + "X"
        return base + eic_check_character(base)


def asset_row(rng: random.Random, n: int) -> dict[str, str]:
    """A flat CSV row (the bulk template's columns) of a valid asset; ``n`` makes its MPANs,
    serial, OCPP ID and EIC unique (use each n once per database)."""
    category = rng.choices(_CAT_NAMES, _CAT_WEIGHTS)[0]
    _, makers, ratings, spec = CATEGORIES[category]
    distributor = rng.choice(list(AREAS))
    installed = rng.choice(ratings)
    postcode = _postcode(rng, distributor)
    row: dict[str, str] = {
        "name": f"{category.replace('_', ' ').title()} {n}",
        "category": category,
        "capacity.installed_kw": installed,
        "flexibility_direction": rng.choice(("up", "down", "both")),
        "site.address_line1": f"{rng.randint(1, 250)} {rng.choice(STREETS)}",
        "site.town": TOWNS[distributor],
        "site.postcode": postcode,
        "network.connection_status": "CONNECTED",
        "network.connection_type": rng.choice(("FIRM", "FIRM", "NON_FIRM")),
        "network.voltage_level": "LV" if float(installed) < 100 else "HV",
        "commissioning_date": f"20{rng.randint(15, 25)}-{rng.randint(1, 12):02d}-15",
    }
    if makers and not spec.get("anonymous"):
        row["manufacturer"] = rng.choice(makers)
        row["model"] = f"M{rng.randint(1, 40)}"
        body = "".join(rng.choice(SERIAL_ALPHABET) for _ in range(8))
        row["serial_number"] = f"{body[:4]}-{body[4:]}-{n:07d}"
    if spec.get("imp") or not spec.get("export_mpan"):
        row["metering.import_mpan"] = mpan(distributor, 2 * n)
    if spec.get("export_mpan") or (spec.get("exp") and rng.random() < 0.3):
        row["metering.export_mpan"] = mpan(distributor, 2 * n + 1)
    if spec.get("imp"):
        row["capacity.import_kw"] = installed
    if spec.get("exp"):
        row["capacity.export_kw"] = installed
    if spec.get("storage"):
        row["capacity.storage_kwh"] = str(round(float(installed) * 2, 2))
    if spec.get("fuel"):
        row["energy_source"] = "NATURAL_GAS"
    elif category in ("SOLAR_PV", "WIND_TURBINE"):
        row["energy_source"] = "SOLAR" if category == "SOLAR_PV" else "WIND"
    if spec.get("ocpp"):
        row["external_ids"] = f"OCPP_CHARGE_POINT:CP{n:09d}"
    if float(installed) >= 1000:
        row["eic"] = eic(n)
    if rng.random() < 0.5:
        _, lat, lon = AREAS[distributor]
        row["site.latitude"] = f"{lat + rng.uniform(-0.4, 0.4):.5f}"
        row["site.longitude"] = f"{lon + rng.uniform(-0.4, 0.4):.5f}"
    return row


# --- database set-up --------------------------------------------------------------------------


def database_url(name: str) -> str:
    base = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    parts = urlsplit(base)
    return urlunsplit(parts._replace(path=f"/{name}"))


def setup(name: str, *, fresh: bool = False) -> None:
    """Create (``fresh``: drop first) and migrate the benchmark database, then set Django up
    on it. Call before importing anything that touches Django."""
    import psycopg

    admin_url = os.environ.get("DATABASE_URL") or "postgres://postgres@127.0.0.1:5432/postgres"
    with psycopg.connect(admin_url, autocommit=True) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
        if exists and fresh:
            conn.execute(f'DROP DATABASE "{name}" WITH (FORCE)')
            exists = None
        if not exists:
            conn.execute(f'CREATE DATABASE "{name}"')
    os.environ["DATABASE_URL"] = database_url(name)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexreg.config.settings")
    os.environ.setdefault("FLEXREG_ENV", "development")
    import django

    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)


def seed_participants(count: int) -> tuple[list[int], list[int]]:
    """``count`` verified organisations with a qualified role each, set-wise. Returns the
    primary keys of (providers, asset owners), including those seeded before."""
    from django.db import connection, transaction

    from flexreg.identifiers import new_participant_id

    with transaction.atomic(), connection.cursor() as cur:
        cur.execute(
            "SELECT count(*) FROM participants_participant WHERE legal_name LIKE 'Bench %%'"
        )
        (have,) = cur.fetchone()
        ids = [str(new_participant_id()) for _ in range(max(0, count - have))]
        if ids:
            cur.execute(
                """
                INSERT INTO participants_participant (participant_id, kind, status, legal_name,
                    trading_name, organisation_type, company_number, non_uk_country,
                    non_uk_registry, non_uk_registration_number, registered_address, vat_number,
                    website, email_domains, eic_code, created_at, updated_at, verified_at,
                    status_reason, version)
                SELECT p, 'organisation', 'active', 'Bench Energy ' || (n + %s) || ' Limited',
                    '', 'company', lpad((20000000 + n + %s)::text, 8, '0'), '', '', '',
                    '{"line1": "1 Bench Street", "town": "London", "postcode": "SW1A 1AA"}',
                    '', '', '{}', '', now(), now(), now(), '', 1
                  FROM unnest(%s::text[]) WITH ORDINALITY AS t(p, n)
                """,
                [have, have, ids],
            )
            cur.execute(
                """
                INSERT INTO participants_participantrole (participant_id, role, status,
                    requested_at, status_changed_at, status_reason, qualified_at)
                SELECT id, CASE WHEN id %% 3 = 0 THEN 'ASSET_OWNER'
                                WHEN id %% 3 = 1 THEN 'FSP' ELSE 'AGGREGATOR' END,
                       'active', now(), now(), '', now()
                  FROM participants_participant
                 WHERE participant_id = ANY(%s)
                """,
                [ids],
            )
        cur.execute(
            "SELECT r.participant_id, r.role FROM participants_participantrole r "
            "JOIN participants_participant p ON p.id = r.participant_id "
            "WHERE p.legal_name LIKE 'Bench %%' ORDER BY r.participant_id"
        )
        rows = cur.fetchall()
    providers = [pk for pk, role in rows if role != "ASSET_OWNER"]
    owners = [pk for pk, role in rows if role == "ASSET_OWNER"]
    return providers, owners


def seed_assets(n: int, providers: list[int], owners: list[int], seed: int, batch: int) -> float:
    """COPY n assets with their links and external IDs; returns seconds taken."""
    from django.db import connection, transaction

    from flexreg.assets import conformance, imports, services

    rng = random.Random(seed)
    validator = conformance.Validator(today=dt.date(2026, 12, 1))
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM assets_asset")
        (offset,) = cur.fetchone()
    # Unique numbers for the keys: after any seeded before (and far from the bench's files).
    base = 10_000_000 + int(offset)
    started = time.perf_counter()
    done = 0
    now = dt.datetime.now(dt.UTC)
    link_range = f'["{now.isoformat()}",)'
    fields: tuple[str, ...] = ()
    while done < n:
        size = min(batch, n - done)
        with transaction.atomic():
            raw = connection.connection
            with raw.cursor() as cur:
                cur.execute(
                    "SELECT nextval(pg_get_serial_sequence('assets_asset', 'id')) "
                    "FROM generate_series(1, %s)",
                    [size],
                )
                pks = [pk for (pk,) in cur.fetchall()]
                ids = imports.new_asset_ids(size)
                assets: list[tuple[Any, ...]] = []
                links: list[tuple[Any, ...]] = []
                externals: list[tuple[Any, ...]] = []
                for pk, asset_id, k in zip(pks, ids, range(done, done + size), strict=True):
                    clean, errors = validator.validate(
                        conformance.flatten_csv_row(asset_row(rng, base + k))
                    )
                    assert clean is not None, errors
                    values = services.asset_fields(clean)
                    if not fields:
                        fields = tuple(values)
                    provider = providers[k % len(providers)]
                    status = "verified" if rng.random() < 0.7 else "pending_validation"
                    assets.append(
                        (
                            pk,
                            asset_id,
                            status,
                            "",
                            *[values[f] for f in fields],
                            provider,
                            "FSP",
                            now,
                            now,
                            1,
                            "bench",
                        )
                    )
                    links.append(
                        (uuid.uuid4(), pk, provider, "controller", "", "", link_range, "", now)
                    )
                    if owners and rng.random() < 0.4:
                        owner = owners[k % len(owners)]
                        links.append(
                            (uuid.uuid4(), pk, owner, "legal_owner", "", "", link_range, "", now)
                        )
                    for scheme, value in clean.external_ids:
                        externals.append((pk, scheme, value, scheme == "OCPP_CHARGE_POINT"))
                columns = ", ".join(
                    [
                        "id",
                        "asset_id",
                        "status",
                        "status_reason",
                        *fields,
                        "registered_by_id",
                        "registered_by_role",
                        "created_at",
                        "updated_at",
                        "version",
                        "catalogue_checksum",
                    ]
                )
                with cur.copy(f"COPY assets_asset ({columns}) FROM STDIN") as copy:
                    for row in assets:
                        copy.write_row(row)
                with cur.copy(
                    "COPY assets_assetlink (public_id, asset_id, participant_id, relationship, "
                    "contract_reference, consent_reference, valid_during, suspended_reason, "
                    "created_at) FROM STDIN"
                ) as copy:
                    for row in links:
                        copy.write_row(row)
                with cur.copy(
                    "COPY assets_assetexternalid (asset_id, scheme, value, is_unique) FROM STDIN"
                ) as copy:
                    for row in externals:
                        copy.write_row(row)
        done += size
        took = time.perf_counter() - started
        print(f"  {done:>9,} assets  {took:7.1f} s  ({done / took:,.0f}/s)", flush=True)
    with connection.cursor() as cur:
        for table in ("assets_asset", "assets_assetlink", "assets_assetexternalid"):
            cur.execute(f"ANALYZE {table}")
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=100_000, help="assets to add")
    parser.add_argument("--db", default="flexreg_bench", help="database name")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    parser.add_argument("--participants", type=int, default=3_000)
    parser.add_argument("--batch", type=int, default=50_000, help="assets per transaction")
    parser.add_argument("--seed", type=int, default=5)
    args = parser.parse_args()
    started = time.perf_counter()
    setup(args.db, fresh=args.fresh)
    print(f"database {args.db} ready in {time.perf_counter() - started:.1f} s")
    providers, owners = seed_participants(args.participants)
    print(f"participants: {len(providers)} providers, {len(owners)} asset owners")
    took = seed_assets(args.n, providers, owners, args.seed, args.batch)
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT count(*) FROM assets_asset")
        (total,) = cur.fetchone()
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        (size,) = cur.fetchone()
    print(f"seeded {args.n:,} assets in {took:.1f} s; {total:,} assets in {args.db} ({size})")


if __name__ == "__main__":
    main()
