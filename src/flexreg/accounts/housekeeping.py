"""Periodic housekeeping for credentials: expired machine tokens and used client-assertion
identifiers are deleted once they can no longer matter (a day after they expired)."""

from __future__ import annotations

import datetime as dt

from flexreg.accounts.models import ClientAssertionJti, ServiceAccountToken
from flexreg.core.scheduler import periodic

GRACE = dt.timedelta(days=1)


@periodic("accounts.prune_expired_credentials", every=dt.timedelta(hours=1))
def prune_expired_credentials(now: dt.datetime) -> dict[str, int]:
    tokens, _ = ServiceAccountToken.objects.filter(expires_at__lt=now - GRACE).delete()
    jtis, _ = ClientAssertionJti.objects.filter(expires_at__lt=now - GRACE).delete()
    return {"service_account_tokens": tokens, "client_assertion_jtis": jtis}
