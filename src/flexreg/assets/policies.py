"""Which view of an asset a caller gets: the one policy for field redaction.

- ``full`` (``AssetFull``): oversight (``assets:read_all``) and the participants linked to the
  asset now (legal owner, operator, controlling FSP or aggregator, a suspended link included).
- ``draft`` (``AssetDraft``: the record as entered): a registration never submitted, which
  only the participant that saved it sees (``selectors.visible``).
- ``public`` (``AssetPublic``: Asset ID, category, status): any other caller that may see the
  asset at all, i.e. the registrant that is no longer linked (a former provider must not read
  its successor's contract or the consumer's consent).

Which assets a caller may see at all is the selectors' job (``selectors.visible``); within a
full view, a duplicate flag names its candidate only if the caller may see that asset, and what
matched only for oversight.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Literal

from flexreg.assets import schemas, selectors
from flexreg.assets.models import Asset
from flexreg.core.acting import Acting

View = Literal["full", "draft", "public"]


def view_of(acting: Acting, asset: Asset) -> View:
    if asset.effective_from is None:
        # Never submitted (a draft, or a discarded one): its registrant's (selectors.visible).
        return "draft"
    if acting.has(selectors.READ_ALL) or getattr(asset, "is_linked", False):
        return "full"
    return "public"


Presented = schemas.AssetFull | schemas.AssetDraft | schemas.AssetPublic


def present(acting: Acting, asset: Asset) -> Presented:
    return present_many(acting, [asset])[0]


def present_many(acting: Acting, assets: Iterable[Asset]) -> list[Presented]:
    """Each asset in the view the caller gets (one query for the flags' candidates)."""
    rows = list(assets)
    full = [a for a in rows if view_of(acting, a) == "full"]
    candidates = {f.candidate_id for a in full for f in a.duplicate_flags.all()}
    visible = selectors.visible_pks(acting, candidates)
    oversight = acting.has(selectors.READ_ALL)
    out: list[Presented] = []
    for a in rows:
        view = view_of(acting, a)
        if view == "full":
            out.append(schemas.full_out(a, visible_candidates=visible, oversight=oversight))
        elif view == "draft":
            out.append(schemas.draft_out(a))
        else:
            out.append(schemas.public_out(a))
    return out
