"""API: Market-entry rules."""

from __future__ import annotations

from ninja import Router

router = Router(tags=["Market-entry rules"])
