"""Benchmark: asset registration, bulk registration and reads at the seeded size.

    FLEXREG_ENV=development DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        uv run python bench/assets_bench.py [--db flexreg_bench] [--singles 300] \
        [--bulk 20000] [--reads 1000]

Seed the database first (``bench/assets_seed.py --n 1000000``). In-process, on the real
services, as a provider (FSP) of the seeded participants:

- single registration: ``assets.services.register`` (conformance, duplicate rules under their
  advisory locks, insert, link, flags, audit), one transaction each;
- bulk registration: a CSV file of ``--bulk`` rows (2% with conformance errors, 1% duplicates
  of seeded assets, the rest new) through ``services_imports.start`` (hash, format, count,
  store) and ``services_imports.run`` (the set-wise engine, chunks of 5,000), in assets/s;
- single read: ``selectors.asset_for`` + ``policies.present`` + JSON (what ``GET
  /api/v1/assets/{asset_id}`` does after authentication) for the provider's own assets.

Prints p50/p95/max in milliseconds, and the machine's conditions. Adds the registered assets
to the database (every run uses new keys).
"""

from __future__ import annotations

import argparse
import csv
import io
import os
import platform
import random
import statistics
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

from assets_seed import asset_row, setup


def backend_cpu() -> float:
    """CPU seconds used so far by this connection's PostgreSQL backend (same machine only)."""
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SELECT pg_backend_pid()")
        (pid,) = cur.fetchone()
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return float("nan")
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def cpu_now() -> tuple[float, float]:
    """(this process's CPU seconds, its database backend's CPU seconds)."""
    return time.process_time(), backend_cpu()


def _pct(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def report(name: str, samples: list[float]) -> None:
    ms = [s * 1000 for s in samples]
    print(
        f"{name:<48} n={len(ms):<5} p50={statistics.median(ms):7.2f} ms  "
        f"p95={_pct(ms, 95):7.2f} ms  max={max(ms):7.2f} ms",
        flush=True,
    )


def conditions() -> None:
    from django.db import connection

    with connection.cursor() as cur:
        cur.execute("SHOW server_version")
        (version,) = cur.fetchone()
        cur.execute("SHOW shared_buffers")
        (buffers,) = cur.fetchone()
        cur.execute("SELECT count(*) FROM assets_asset")
        (assets,) = cur.fetchone()
        cur.execute("SELECT count(*) FROM assets_assetlink")
        (links,) = cur.fetchone()
        cur.execute("SELECT pg_size_pretty(pg_database_size(current_database()))")
        (size,) = cur.fetchone()
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg())
    print(
        f"machine: {os.cpu_count()} CPUs, load average {load}; Python {platform.python_version()}; "
        f"PostgreSQL {version} (shared_buffers {buffers})"
    )
    print(f"database: {assets:,} assets, {links:,} links, {size}", flush=True)


def provider() -> Any:
    """An Acting for a seeded provider's qualified FSP role (registers and reads its assets)."""
    from flexreg.core.acting import Acting
    from flexreg.participants.models import ParticipantRole

    held = (
        ParticipantRole.objects.select_related("participant")
        .filter(role="FSP", participant__legal_name__startswith="Bench ")
        .order_by("participant_id")
        .first()
    )
    assert held is not None, "seed the database first: bench/assets_seed.py"
    return Acting(
        user_id=None,
        user_label="system:bench",
        via="system",
        participant_pk=held.participant_id,
        participant_id=held.participant.participant_id,
        role="FSP",
        permissions=frozenset({"assets:register", "assets:read"}),
    )


def bench_singles(acting: Any, rng: random.Random, base: int, count: int) -> None:
    from flexreg.assets import conformance, services

    times = []
    records = [conformance.flatten_csv_row(asset_row(rng, base + i)) for i in range(count)]
    before = cpu_now()
    for record in records:
        started = time.perf_counter()
        services.register(acting, record)
        times.append(time.perf_counter() - started)
    after = cpu_now()
    report("single registration (services.register)", times)
    per = ((after[0] - before[0]) + (after[1] - before[1])) / count * 1000
    print(f"  CPU per registration (Python + PostgreSQL backend): {per:.1f} ms", flush=True)


def bulk_file(rng: random.Random, base: int, count: int) -> bytes:
    from flexreg.assets import conformance, imports
    from flexreg.assets.models import Asset

    existing = list(
        Asset.objects.exclude(serial_key="")
        .order_by("?")
        .values_list("manufacturer", "serial_number")[: max(1, count // 100)]
    )
    rows = []
    for i in range(count):
        row = asset_row(rng, base + i)
        roll = rng.random()
        if roll < 0.02:  # conformance errors
            row["metering.import_mpan"] = "1200000000000"
            row["capacity.installed_kw"] = "lots"
        elif roll < 0.03 and existing and row.get("serial_number"):  # a seeded asset again
            row["manufacturer"], row["serial_number"] = existing[i % len(existing)]
        rows.append(row)
    out = io.StringIO()
    writer = csv.DictWriter(
        out, fieldnames=[*conformance.ALL_CSV_COLUMNS, imports.CONTRACT_REFERENCE]
    )
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue().encode()


def bench_bulk(acting: Any, rng: random.Random, base: int, count: int, chunk: int) -> None:
    from django.core.files.uploadedfile import SimpleUploadedFile

    from flexreg.assets import imports, services_imports

    content = bulk_file(rng, base, count)
    chunk_times: list[float] = []
    chunk_db_cpu: list[float] = []
    real_process = imports.Engine.process_validated

    def timed(self: imports.Engine, *args: Any, **kwargs: Any) -> Any:
        started, db_before = time.perf_counter(), backend_cpu()  # this thread's connection
        try:
            return real_process(self, *args, **kwargs)
        finally:
            chunk_times.append(time.perf_counter() - started)
            chunk_db_cpu.append(backend_cpu() - db_before)

    imports.Engine.process_validated = timed  # type: ignore[method-assign]
    cpu_before = cpu_now()
    started = time.perf_counter()
    batch, _ = services_imports.start(acting, SimpleUploadedFile("bench.csv", content, "text/csv"))
    uploaded = time.perf_counter()
    batch = services_imports.run(batch.pk, chunk_size=chunk)
    finished = time.perf_counter()
    cpu_after = cpu_now()
    imports.Engine.process_validated = real_process  # type: ignore[method-assign]
    assert batch.status == "done", batch.error
    took = finished - started
    print(
        f"bulk registration: {count:,} rows ({len(content) / 1e6:.1f} MB CSV) in {took:.2f} s = "
        f"{count / took:,.0f} rows/s end to end (upload checks {uploaded - started:.2f} s, "
        f"engine {finished - uploaded:.2f} s); accepted {batch.accepted:,}, "
        f"flagged {batch.flagged:,}, rejected {batch.rejected:,}",
        flush=True,
    )
    registered = batch.accepted + batch.flagged
    print(
        f"  {registered / took:,.0f} assets registered/s; chunks of {chunk:,}: "
        + ", ".join(f"{t:.2f} s" for t in chunk_times),
        flush=True,
    )
    from flexreg.assets.models import Asset

    pks = list(Asset.objects.filter(import_batch=batch).order_by("pk").values_list("pk", flat=True))
    started = time.perf_counter()
    for first in range(0, len(pks), imports.CHUNK_SIZE):  # as the tasks would, one by one
        services_imports.start_checks(pks[first : first + imports.CHUNK_SIZE])
    took_checks = time.perf_counter() - started
    print(
        f"  then, in the background (a task per chunk): authenticity start_many for the "
        f"{len(pks):,} new assets in {took_checks:.2f} s = {len(pks) / took_checks:,.0f} assets/s",
        flush=True,
    )
    cpus = os.cpu_count() or 1
    app_cpu = cpu_after[0] - cpu_before[0]
    db_cpu = cpu_after[1] - cpu_before[1] + sum(chunk_db_cpu)
    print(
        f"  CPU: Python {app_cpu:.2f} s (all threads) + PostgreSQL {db_cpu:.2f} s (all "
        f"connections) = {(app_cpu + db_cpu) / count * 1e6:,.0f} µs per row; on {cpus} idle "
        f"CPUs at best {count / (app_cpu + db_cpu) * cpus:,.0f} rows/s; "
        f"{imports.workers()} database connections, chunks of {chunk:,}",
        flush=True,
    )


def bench_reads(acting: Any, rng: random.Random, count: int) -> None:
    from flexreg.assets import policies, selectors
    from flexreg.assets.models import AssetLink

    own = list(
        AssetLink.objects.filter(
            participant_id=acting.participant_pk, relationship="controller"
        ).values_list("asset__asset_id", flat=True)[:2000]
    )
    times = []
    before = cpu_now()
    for _ in range(count):
        asset_id = rng.choice(own)
        started = time.perf_counter()
        out = policies.present(acting, selectors.asset_for(acting, asset_id))
        out.model_dump_json()
        times.append(time.perf_counter() - started)
    after = cpu_now()
    report("single read (selector + policy + JSON)", times)
    per = ((after[0] - before[0]) + (after[1] - before[1])) / count * 1000
    print(f"  CPU per read (Python + PostgreSQL backend): {per:.2f} ms", flush=True)


def bench_http_reads(acting: Any, rng: random.Random, count: int) -> None:
    """``GET /api/v1/assets/{asset_id}`` through Django's test client with a bearer token of a
    member of the provider (authentication, permission, selector, policy, JSON)."""
    from django.test import Client

    from flexreg.accounts import services as accounts
    from flexreg.accounts.models import User
    from flexreg.assets.models import AssetLink
    from flexreg.core.acting import Acting
    from flexreg.participants.models import Membership, ParticipantRole

    user, _ = User.objects.get_or_create(email="bench-reader@example.test")
    held = ParticipantRole.objects.get(participant_id=acting.participant_pk, role="FSP")
    membership, _ = Membership.objects.get_or_create(
        user=user, participant_role=held, defaults={"permissions": ["assets:read"]}
    )
    _, token = accounts.issue_token(
        Acting.system("bench"), user, name="bench", membership=membership
    )
    client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
    own = list(
        AssetLink.objects.filter(
            participant_id=acting.participant_pk, relationship="controller"
        ).values_list("asset__asset_id", flat=True)[:2000]
    )
    times = []
    for _ in range(count):
        asset_id = rng.choice(own)
        started = time.perf_counter()
        response = client.get(f"/api/v1/assets/{asset_id}")
        times.append(time.perf_counter() - started)
        assert response.status_code == 200, response.content
    report("GET /api/v1/assets/{id} (token, full view)", times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="flexreg_bench")
    parser.add_argument("--singles", type=int, default=300)
    parser.add_argument("--bulk", type=int, default=20_000)
    parser.add_argument("--reads", type=int, default=1_000)
    parser.add_argument("--seed", type=int, default=11)
    parser.add_argument("--chunk", type=int, default=5_000, help="rows per chunk")
    parser.add_argument("--connections", type=int, default=2, help="connections per import")
    args = parser.parse_args()
    setup(args.db)
    from django.conf import settings
    from django.db import connection

    # Nothing runs in the background: the bench runs the import itself. The checking services
    # are "configured" as in production, so checks are created pending and queued for workers
    # (never run here) rather than skipped and concluded on the spot.
    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    from flexreg.assets.validators import VALIDATORS

    for spec in VALIDATORS.values():
        setattr(settings, spec.url_setting, "http://127.0.0.1:9")
    conditions()
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM assets_asset")
        (top,) = cur.fetchone()
    base = 100_000_000 + 2 * int(top)  # keys no run used before
    rng = random.Random(args.seed + int(top))
    acting = provider()
    if args.reads:
        bench_reads(acting, rng, min(100, args.reads))  # warm-up
        bench_reads(acting, rng, args.reads)
        bench_http_reads(acting, rng, args.reads)
    if args.singles:
        bench_singles(acting, rng, base, args.singles)
    if args.bulk:
        settings.ASSET_IMPORT_CONNECTIONS = args.connections
        bench_bulk(acting, rng, base + args.singles + 1, args.bulk, args.chunk)
    conditions()


if __name__ == "__main__":
    main()
