"""What participants tell other apps when a participant is off-boarded.

Sent inside the off-boarding transaction (``services_offboarding.offboard``), after the
participant was withdrawn (memberships, their tokens and sessions ended) and its people who
act for no one else were deactivated. ``accounts`` may react (e.g. disable the participant's
service accounts) without ``participants`` importing it. Receivers must not call external
services: their writes commit or roll back with the off-boarding.
"""

from __future__ import annotations

from django.dispatch import Signal

# kwargs: acting, participant, deactivated_user_ids (list[int]), reason.
participant_offboarded = Signal()
