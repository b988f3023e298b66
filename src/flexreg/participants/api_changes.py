"""API: Participant changes."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Participant changes"])
