"""API: Participant changes."""


from ninja import Router

router = Router(tags=["Participant changes"])
