"""API: Central operator: market entry."""


from ninja import Router

router = Router(tags=["Central operator: market entry"])
