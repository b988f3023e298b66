"""Benchmark: participant registration and reads, in-process, on a real PostgreSQL.

    FLEXREG_ENV=development DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        uv run python bench/participants.py [--n 300]

Creates a throw-away database (flexreg_bench_participants), migrates it, seeds N organisations
through the API (each verified against the local Companies House stand-in over HTTP), then times:
registration end to end, a single participant read, and a registry page of 50 with a name
filter. Prints p50/p95/max in milliseconds of server time (Django test client, no network
between client and app). Drops the database at the end.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "flexreg.config.settings")
os.environ.setdefault("FLEXREG_ENV", "development")


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"{name:<42} n={len(ms):<5} p50={statistics.median(ms):7.2f} ms  "
        f"p95={_pct(ms, 95):7.2f} ms  max={max(ms):7.2f} ms"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=300)
    args = parser.parse_args()

    import django
    from django.test.utils import get_runner  # noqa: F401

    django.setup()
    from django.conf import settings
    from django.db import connection
    from django.test.utils import setup_test_environment

    setup_test_environment()
    settings.DATABASES["default"]["TEST"]["NAME"] = "flexreg_bench_participants"
    old_name = connection.creation.create_test_db(verbosity=0, autoclobber=True)
    try:
        run(args.n)
    finally:
        connection.creation.destroy_test_db(old_name, verbosity=0)


def run(n: int) -> None:
    from django.conf import settings

    from conftest import Api, organisation_payload
    from flexreg.accounts import services as accounts
    from flexreg.accounts.models import User
    from flexreg.core.acting import Acting
    from flexreg.devtools.companies_house_stub import start_stub
    from flexreg.participants.models import Membership

    stub = start_stub()
    settings.COMPANIES_HOUSE_API_URL = stub.url
    settings.COMPANIES_HOUSE_API_KEY = "demo-key"
    system = Acting.system("bench")
    register_times: list[float] = []
    ids: list[str] = []
    reader: Api | None = None
    for i in range(n):
        user = User.objects.create_user(email=f"bench{i}@example.test")
        _, token = accounts.issue_token(system, user, name="bench", membership=None)
        api = Api(token)
        # Sample company 99000001 is the one that verifies; the rest of the numbers are free
        # of the stand-in (404 -> operator review), which still exercises the whole path.
        number = "99000001" if i == 0 else f"{10000000 + i:08d}"
        body: dict[str, Any] = organisation_payload(company_number=number)
        if i:
            body["legal_name"] = f"Bench Energy {i} Limited"
        started = time.perf_counter()
        response = api.post("/participants", body)
        register_times.append(time.perf_counter() - started)
        assert response.status_code == 201, response.content
        ids.append(response.json()["participant_id"])
        if i == 0:
            membership = Membership.objects.filter(user=user).first()
            _, own = accounts.issue_token(system, user, name="reader", membership=membership)
            reader = Api(own)
    assert reader is not None
    read_times = []
    for _ in range(min(200, n)):
        started = time.perf_counter()
        assert reader.get(f"/participants/{ids[0]}").status_code == 200
        read_times.append(time.perf_counter() - started)
    list_times = []
    for _ in range(50):
        started = time.perf_counter()
        assert reader.get("/participants", name="bright", limit=50).status_code == 200
        list_times.append(time.perf_counter() - started)
    stub.stop()
    print(f"participants seeded: {n}")
    report("POST /participants (incl. CH check over HTTP)", register_times)
    report("GET /participants/{id} (own, full view)", read_times)
    report("GET /participants?name=&limit=50", list_times)


if __name__ == "__main__":
    main()
