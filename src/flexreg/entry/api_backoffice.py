"""API: Central operator: market entry."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Central operator: market entry"])
