"""What participants tell other apps, inside the service's transaction.

Apps above ``participants`` (market entry, assets) react to these without ``participants``
importing them: the dependency points one way. Receivers run in the sender's transaction, so
their writes commit or roll back with it; a receiver must not call external services.
"""

from __future__ import annotations

from django.dispatch import Signal

# A role was asked for (new) or asked for again (reopened). kwargs: acting, held.
role_requested = Signal()
# A role changed status (approve, reject, withdraw, ...). kwargs: acting, held, before, after,
# transition, reason.
role_status_changed = Signal()
# A participant changed status (verify, reject, suspend, reinstate, withdraw, reapply).
# kwargs: acting, participant, before, after, transition, reason.
participant_status_changed = Signal()
