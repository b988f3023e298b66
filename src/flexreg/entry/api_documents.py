"""API: Market entry documents."""


from ninja import Router

router = Router(tags=["Market entry documents"])
