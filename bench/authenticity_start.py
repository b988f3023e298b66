"""Benchmark: starting the authenticity checks of imported assets with no checking service
configured (development, ``make demo``), where ``authenticity.start_many`` concludes them on
the spot.

    FLEXREG_ENV=development DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres \
        uv run python bench/authenticity_start.py [--db flexreg_bench_checks] [--n 10000]

Creates and migrates ``--db`` if needed (``--fresh`` drops it first), seeds a few verified
providers (``assets_seed.seed_participants``), imports an ``--n``-row CSV through the real
engine (``services_imports.start`` + ``run``; background tasks are not run, so the import's
own start of the checks is left out), then times ``authenticity.start_many`` for the import's
assets with every checking service unset: the checks are created ``skipped`` and the assets
concluded. Prints the time, assets/s, the SQL statements it ran and how the assets ended.
Each run adds its assets to the database (new keys every run).
"""

from __future__ import annotations

import argparse
import random
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from assets_seed import seed_participants, setup


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--db", default="flexreg_bench_checks")
    parser.add_argument("--fresh", action="store_true", help="drop and recreate the database")
    parser.add_argument("--n", type=int, default=10_000, help="rows in the imported file")
    parser.add_argument("--seed", type=int, default=17)
    args = parser.parse_args()
    setup(args.db, fresh=args.fresh)
    from assets_bench import bulk_file, conditions, provider
    from django.conf import settings
    from django.db import connection

    from flexreg.assets import authenticity, services_imports
    from flexreg.assets.models import Asset, AssetCheck
    from flexreg.assets.validators import VALIDATORS

    settings.TASKS = {"default": {"BACKEND": "django_tasks.backends.dummy.DummyBackend"}}
    for spec in VALIDATORS.values():
        setattr(settings, spec.url_setting, "")  # development: no checking service
    seed_participants(3)
    conditions()
    with connection.cursor() as cur:
        cur.execute("SELECT coalesce(max(id), 0) FROM assets_asset")
        (top,) = cur.fetchone()
    base = 200_000_000 + 2 * int(top)
    rng = random.Random(args.seed + int(top))
    acting = provider()

    from django.core.files.uploadedfile import SimpleUploadedFile

    content = bulk_file(rng, base, args.n)
    started = time.perf_counter()
    batch, _ = services_imports.start(acting, SimpleUploadedFile("bench.csv", content, "text/csv"))
    batch = services_imports.run(batch.pk)
    assert batch.status == "done", batch.error
    pks = list(Asset.objects.filter(import_batch=batch).order_by("pk").values_list("pk", flat=True))
    print(
        f"imported {len(pks):,} assets ({batch.accepted:,} accepted, {batch.flagged:,} flagged) "
        f"in {time.perf_counter() - started:.1f} s; none has checks yet: "
        f"{not AssetCheck.objects.filter(asset_id__in=pks[:1000]).exists()}",
        flush=True,
    )
    statements = 0

    def count(execute, sql, params, many, context):  # type: ignore[no-untyped-def]
        nonlocal statements
        statements += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(count):
        started = time.perf_counter()
        authenticity.start_many(pks)
        took = time.perf_counter() - started
    print(
        f"authenticity.start_many, no service configured: {len(pks):,} assets in {took:.2f} s "
        f"= {len(pks) / took:,.0f} assets/s ({took / len(pks) * 1000:.2f} ms per asset); "
        f"{statements:,} SQL statements",
        flush=True,
    )
    print(f"  assets now: {authenticity.batch_outcome(batch.pk)}", flush=True)
    conditions()


if __name__ == "__main__":
    main()
