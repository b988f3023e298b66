"""Background tasks for participants (run by ``flexreg worker``)."""

from __future__ import annotations

from django_tasks import task


@task()
def retry_verification(verification_pk: int) -> str:
    from flexreg.participants import services

    return str(services.run_companies_house_check(verification_pk).status)


@task()
def sweep_due_verifications() -> int:
    """Safety net: anything pending whose retry time passed (e.g. a lost task) is run."""
    from flexreg.participants import services

    return services.retry_due_verifications()
