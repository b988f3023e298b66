"""Benchmark: conformance validation of asset records, pure Python, single-threaded.

    uv run python bench/asset_conformance.py [--n 100000] [--csv] [--bad 0.0]

Generates N realistic records across every category and all 14 DNO licence areas (valid
MPANs and postcodes, capacities, coordinates, external IDs) and times
``flexreg.assets.conformance.Validator`` over them, printing rows per second. ``--csv``
starts from flat CSV rows (strings, through ``flatten_csv_row``) as a bulk import does;
``--bad`` makes that fraction of rows invalid (several errors each). No database.
"""

from __future__ import annotations

import argparse
import datetime as dt
import random
import sys
import time
import timeit
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from flexreg.assets.conformance import Validator, flatten_csv_row
from flexreg.identifiers import DISTRIBUTORS, mpan_check_digit

DNO_IDS = [d for d, dist in DISTRIBUTORS.items() if not dist.is_idno]
OUTWARD = ["CB1", "SW1A", "M1", "LS2", "EH1", "AB10", "CF10", "BS1", "B2", "NE1", "L1", "SO14"]
CATEGORIES: dict[str, dict[str, Any]] = {
    "BESS": {"storage": True, "export": True, "imp": True, "source": "GRID"},
    "SOLAR_PV": {"export": True, "source": "SOLAR"},
    "WIND_TURBINE": {"export": True, "source": "WIND"},
    "CHP": {"export": True, "source": "NATURAL_GAS"},
    "EV_CHARGER": {"imp": True, "import_mpan": True},
    "HEAT_PUMP": {"imp": True, "import_mpan": True},
    "ELECTRIC_BOILER": {"imp": True, "import_mpan": True},
    "HVAC": {"imp": True, "import_mpan": True},
    "REFRIGERATION": {"imp": True, "import_mpan": True},
    "INDUSTRIAL_LOAD": {"imp": True, "import_mpan": True},
    "OTHER": {"imp": True, "description": True},
}


def mpan(rng: random.Random, distributor: str) -> str:
    base = distributor + f"{rng.randrange(10**10):010d}"
    return base + mpan_check_digit(base)


def record(rng: random.Random, i: int) -> dict[str, Any]:
    category = rng.choice(list(CATEGORIES))
    spec = CATEGORIES[category]
    installed = rng.choice([3.6, 5, 7.4, 11, 22, 50, 250, 1000, 4999.99])
    distributor = rng.choice(DNO_IDS)
    rec: dict[str, Any] = {
        "name": f"Asset {i}",
        "category": category,
        "manufacturer": rng.choice(["Tesla, Inc.", "GivEnergy Ltd", "SMA Solar Technology AG"]),
        "model": "Model X-" + str(rng.randrange(100)),
        "serial_number": f"SN-{i:08d}-{rng.randrange(10**6):06d}",
        "capacity": {"installed_kw": str(installed)},
        "flexibility_direction": rng.choice(["up", "down", "both"]),
        "metering": {"import_mpan": mpan(rng, distributor)},
        "site": {
            "address_line1": f"{rng.randrange(1, 300)} High Street",
            "town": "Anytown",
            "postcode": f"{rng.choice(OUTWARD)} {rng.randrange(10)}"
            f"{rng.choice('ABDEFGHJ')}{rng.choice('LNPQRSTU')}",
            "latitude": f"{rng.uniform(50.5, 57.5):.5f}",
            "longitude": f"{rng.uniform(-4.5, 1.2):.5f}",
        },
        "network": {
            "dno": distributor,
            "connection_status": "CONNECTED",
            "connection_type": rng.choice(["FIRM", "NON_FIRM"]),
            "voltage_level": "LV",
        },
        "commissioning_date": "2022-06-01",
    }
    if spec.get("export"):
        rec["capacity"]["export_kw"] = str(installed)
        if not spec.get("import_mpan"):
            rec["metering"]["export_mpan"] = mpan(rng, distributor)
    if spec.get("imp"):
        rec["capacity"]["import_kw"] = str(installed)
    if spec.get("storage"):
        rec["capacity"]["storage_kwh"] = str(installed * 2)
    if "source" in spec:
        rec["energy_source"] = spec["source"]
    if spec.get("description"):
        rec["description"] = "Pumped heat store"
    if category == "EV_CHARGER":
        rec["external_ids"] = [{"scheme": "OCPP_CHARGE_POINT", "value": f"CP-{i:08d}"}]
    return rec


def spoil(rng: random.Random, rec: dict[str, Any]) -> None:
    rec["metering"]["import_mpan"] = rec["metering"]["import_mpan"][:-1] + "0"
    rec["capacity"]["installed_kw"] = "1,000"
    rec["site"]["postcode"] = "QX1 1AA"
    rec.pop("name")


def flat(rec: dict[str, Any]) -> dict[str, str]:
    row: dict[str, str] = {}
    for key, value in rec.items():
        if isinstance(value, dict):
            for sub, inner in value.items():
                row[f"{key}.{sub}"] = str(inner)
        elif key == "external_ids":
            row[key] = ";".join(f"{x['scheme']}:{x['value']}" for x in value)
        else:
            row[key] = str(value)
    return row


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--csv", action="store_true", help="start from flat CSV rows")
    parser.add_argument("--bad", type=float, default=0.0, help="fraction of invalid rows")
    args = parser.parse_args()
    rng = random.Random(5)
    records = [record(rng, i) for i in range(args.n)]
    for rec in records:
        if rng.random() < args.bad:
            spoil(rng, rec)
    rows = [flat(r) for r in records] if args.csv else None
    validator = Validator(today=dt.date(2026, 12, 1))
    # Warm up (imports, caches), then time.
    for rec in records[:1000]:
        validator.validate(rec)
    # Time in chunks: a shared machine's load comes and goes, so the best chunk is the
    # figure for an unloaded core and the total the figure for this run.
    chunk = 5_000
    items: list[Any] = rows if rows is not None else records
    accepted = 0
    best = float("inf")
    elapsed = 0.0
    for begin in range(0, len(items), chunk):
        part = items[begin : begin + chunk]
        start = time.perf_counter()
        if rows is not None:
            for row in part:
                clean, _ = validator.validate(flatten_csv_row(row))
                accepted += clean is not None
        else:
            for rec in part:
                clean, _ = validator.validate(rec)
                accepted += clean is not None
        took = time.perf_counter() - start
        elapsed += took
        best = min(best, took / len(part))
    source = "CSV rows" if args.csv else "records"
    # A reference loop, to compare figures between machines and loads (about 0.6 µs on an
    # idle 2020s x86 core with CPython 3.11).
    reference = min(timeit.repeat("sum(range(100))", number=20_000, repeat=5)) / 20_000 * 1e6
    print(f"reference loop sum(range(100)): {reference:.2f} µs (best of 5)")
    print(
        f"{args.n} {source} in {elapsed:.2f} s: {args.n / elapsed:,.0f} rows/s "
        f"({elapsed / args.n * 1e6:.1f} µs/row), {accepted} accepted, "
        f"{args.n - accepted} rejected"
    )
    print(f"best chunk of {chunk}: {1 / best:,.0f} rows/s ({best * 1e6:.1f} µs/row)")


if __name__ == "__main__":
    main()
