"""Background work for bulk registration (run by ``flexreg worker``): the import queued after
each upload, the start of the authenticity checks queued as each chunk commits, and a periodic
job that resumes what a lost task or worker left behind.

The periodic job registers when this module is imported (``AssetsConfig.ready`` imports it).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from django_tasks import task

from flexreg.core import scheduler


@task()
def run_asset_import(import_pk: int) -> dict[str, Any]:
    """Process one import (queued by ``services_imports.start`` after commit)."""
    from flexreg.assets import services_imports

    batch = services_imports.run(import_pk)
    return {
        "status": batch.status,
        "processed_rows": batch.processed_rows,
        "accepted": batch.accepted,
        "rejected": batch.rejected,
        "flagged": batch.flagged,
    }


@task()
def start_checks(asset_pks: list[int]) -> int:
    """Start the authenticity checks of a chunk of imported assets (queued as it commits)."""
    from flexreg.assets import services_imports

    return services_imports.start_checks(asset_pks)


@scheduler.periodic("assets.resume_imports", every=dt.timedelta(minutes=5))
def resume_imports(now: dt.datetime) -> dict[str, int]:
    """Queue again the imports no worker holds that have waited too long, start the checks
    of imported assets whose start was lost, and tell the importers whose notice was lost."""
    from flexreg.assets import services_imports

    return {
        "queued": services_imports.resume_stalled(now),
        "checks_started": services_imports.start_missing_checks(now),
        "importers_told": services_imports.conclude_finished(now),
    }
