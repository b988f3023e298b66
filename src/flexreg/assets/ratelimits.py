"""Rate limit on the asset look-up (``POST /api/v1/assets/lookup``), which answers whether an
asset is registered by MPAN, serial number, external ID or EIC: without a limit a caller could
probe the register meter by meter.

Each participant (whoever acts for it: its users in any role, its service accounts, a platform
acting for it) may look up ``ASSET_LOOKUP_RATE`` times per window (``<count>/<seconds>``,
default ``120/60``; ``FLEXREG_ASSET_LOOKUP_RATE``); a caller acting for no participant is
counted per service account or user. Over
the limit: 429 ``rate_limited`` with ``Retry-After``. The counters are the shared PostgreSQL ones
of ``core.ratelimit`` (they hold across every web process), and the limit is applied when rate
limits are on (``RATE_LIMITS_ENABLED``, i.e. ``FLEXREG_RATE_LIMITS``: production by default).
"""

from __future__ import annotations

import logging
from typing import Final

from django.conf import settings

from flexreg.core import ratelimit
from flexreg.core.acting import Acting

logger = logging.getLogger(__name__)

DEFAULT_LOOKUP_RATE: Final = "120/60"


def lookup_rate() -> ratelimit.Limit:
    """``ASSET_LOOKUP_RATE`` (a malformed value is logged and the default used)."""
    text = str(getattr(settings, "ASSET_LOOKUP_RATE", DEFAULT_LOOKUP_RATE) or DEFAULT_LOOKUP_RATE)
    try:
        return ratelimit.Limit.parse(text)
    except ValueError:
        logger.error(
            "ASSET_LOOKUP_RATE %r is not <count>/<seconds>: using %s", text, DEFAULT_LOOKUP_RATE
        )
        return ratelimit.Limit.parse(DEFAULT_LOOKUP_RATE)


def lookup_key(acting: Acting) -> str | None:
    """The counter of the caller: the participant it acts for (all its users, roles and
    service accounts together, so more accounts do not mean more look-ups), else its service
    account, else its user (None for the system, which is never limited)."""
    if acting.participant_pk is not None:
        return f"rl:asset-lookup:p:{acting.participant_pk}"
    if acting.service_account_id is not None:
        return f"rl:asset-lookup:sa:{acting.service_account_id}"
    if acting.user_id is not None:
        return f"rl:asset-lookup:u:{acting.user_id}"
    return None


def check_lookup(acting: Acting) -> None:
    """Count one look-up for the caller; raise ``ratelimit.RateLimited`` (429, ``Retry-After``)
    once it is over ``ASSET_LOOKUP_RATE`` in the current window."""
    if not getattr(settings, "RATE_LIMITS_ENABLED", False):
        return
    key = lookup_key(acting)
    if key is None:
        return
    limit = lookup_rate()
    decision = ratelimit.hit(key, limit.count, limit.seconds)
    if not decision.allowed:
        logger.warning(
            "asset look-up limit exceeded by %s (%s/%ss)", key, limit.count, limit.seconds
        )
        raise ratelimit.RateLimited(
            decision.retry_after,
            f"Too many asset look-ups: at most {limit.count} every {limit.seconds} seconds. "
            f"Try again in {decision.retry_after} second(s).",
        )
