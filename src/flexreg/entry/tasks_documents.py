"""Background work for uploaded documents (run by ``flexreg worker``): the malware scan queued
after each upload, and a periodic job that retries scans still without a verdict.

The periodic job registers when this module is imported: ``EntryConfig.ready`` imports it.
"""

from __future__ import annotations

import datetime as dt

from django_tasks import task

from flexreg.core import scheduler


@task()
def scan_document(document_pk: int) -> str:
    """Scan one uploaded document (queued by ``services_documents.upload`` after commit)."""
    from flexreg.entry import services_documents

    return services_documents.scan(document_pk)


@scheduler.periodic("entry.rescan_documents", every=dt.timedelta(minutes=5))
def rescan_documents(now: dt.datetime) -> dict[str, int]:
    """Retry scans that failed (scanner down) or never ran (a lost task), older than a minute."""
    from flexreg.entry import services_documents

    return services_documents.rescan_due(now)
