"""The asset catalogue in force: ``categories.toml`` plus the central operator's stored changes.

Every ``CatalogueEntry`` row is one value's table (a controlled-list value, an external
identifier scheme or a category) merged over the file's entry for that code, so the operator
can add values, relabel them, retire and restore them, and never delete one (an asset keeps the
code it was registered with). :func:`current_catalogue` compiles the file with every row as
one overlay (:func:`flexreg.assets.catalogue.compile_catalogue`).

It sits on the registration hot path, so the compiled catalogue is kept in the process and
keyed by a generation read in one cheap query (``count(*)`` and ``max(updated_at)`` of the
table): it is compiled again only when a row was added or changed, in this process or any
other. ``services_catalogue`` stamps ``updated_at`` from the database's clock and always later
than the previous change, so the generation moves on whatever the web servers' clocks say;
anything else that edits the table by hand must move ``updated_at`` forward too. With no rows
at all the file's own catalogue (:func:`~flexreg.assets.catalogue.default_catalogue`) is the
answer. Should the stored rows somehow stop compiling (a release that changed the file under
them), the error is logged once per generation and the last good catalogue stays in force (a
process that never had one keeps, oldest first, every stored change that still compiles):
registrations are never refused with a 500 because of the catalogue.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from functools import lru_cache
from typing import Any, Final

from django.db import connection

from flexreg.assets.catalogue import (
    DEFAULT_FILE,
    LIST_NAMES,
    Catalogue,
    CatalogueInvalid,
    ChoiceList,
    compile_catalogue,
    default_catalogue,
    parse,
)
from flexreg.assets.models import CatalogueEntry

__all__ = [
    "SECTIONS",
    "choices_of",
    "compile_with",
    "current_catalogue",
    "entries",
    "file_raw",
    "forget",
    "overlay_of",
    "overlay_path",
]

logger = logging.getLogger(__name__)

#: Where a change can be made: the controlled lists, the identifier schemes, the categories.
SECTIONS: Final[tuple[str, ...]] = (*LIST_NAMES, "external_id_schemes", "categories")
assert set(SECTIONS) == set(CatalogueEntry.Section.values)

_GENERATION_SQL: Final = f'SELECT count(*), max(updated_at) FROM "{CatalogueEntry._meta.db_table}"'  # noqa: S608

# (generation, catalogue) compiled last. A module global: each assignment is atomic, and two
# threads that compile the same generation at once only do the work twice.
_compiled: tuple[Any, Catalogue] | None = None


@lru_cache(maxsize=1)
def file_raw() -> Mapping[str, Any]:
    """The parsed ``categories.toml`` (read once; treat it as read-only)."""
    return parse(DEFAULT_FILE.read_text(encoding="utf-8"))


def overlay_path(section: str) -> tuple[str, ...]:
    """Where a section's values sit in the catalogue's text: ``lists.<name>`` for the
    controlled lists, ``external_id_schemes`` and ``categories`` at the top."""
    if section in LIST_NAMES:
        return ("lists", section)
    if section in SECTIONS:
        return (section,)
    raise ValueError(f"unknown catalogue section {section!r}")


def overlay_of(rows: Iterable[tuple[str, str, Mapping[str, Any]]]) -> dict[str, Any]:
    """One overlay from ``(section, code, value)`` rows (in the order given: a new value
    comes after the file's values, in the order it was added)."""
    overlay: dict[str, Any] = {}
    for section, code, value in rows:
        target = overlay
        for part in overlay_path(section):
            target = target.setdefault(part, {})
        target[code] = dict(value)
    return overlay


def choices_of(catalogue: Catalogue, section: str) -> ChoiceList:
    """The values of a section (codes, labels, hints, retired flags)."""
    if section in LIST_NAMES:
        return catalogue.lists[section]
    if section == "external_id_schemes":
        return catalogue.scheme_list
    if section == "categories":
        return catalogue.category_list
    raise ValueError(f"unknown catalogue section {section!r}")


def entries() -> list[tuple[str, str, dict[str, Any]]]:
    """Every stored change as ``(section, code, value)``, oldest first."""
    return [
        (section, code, value)
        for section, code, value in CatalogueEntry.objects.order_by("created_at", "pk").values_list(
            "section", "code", "value"
        )
    ]


def compile_with(rows: Iterable[tuple[str, str, Mapping[str, Any]]]) -> Catalogue:
    """The file compiled with ``rows`` over it; raises ``CatalogueInvalid``."""
    return compile_catalogue(file_raw(), [overlay_of(rows)])


def _generation() -> tuple[int, Any]:
    with connection.cursor() as cur:
        cur.execute(_GENERATION_SQL)
        count, latest = cur.fetchone()
    return int(count), latest


def current_catalogue() -> Catalogue:
    """The catalogue in force now: the file with the operator's changes (one query when
    nothing changed since the last call in this process).

    Stored changes that no longer compile (a release made the file disagree with one) are
    logged and left out: the catalogue is the file with every change, oldest first, that
    compiles with those kept before it — the same in every process, and worked out again at
    each new change, so the operator's later changes still take effect."""
    global _compiled
    generation = _generation()
    if generation[0] == 0:
        return default_catalogue()
    compiled = _compiled
    if compiled is not None and compiled[0] == generation:
        return compiled[1]
    rows = entries()
    try:
        catalogue = compile_with(rows)
    except CatalogueInvalid as exc:
        logger.error(
            "the asset catalogue's stored changes do not all compile; leaving out those that "
            "do not: %s",
            "; ".join(exc.problems),
        )
        catalogue = _as_much_as_compiles(rows)
    _compiled = (generation, catalogue)
    return catalogue


def _as_much_as_compiles(rows: list[tuple[str, str, dict[str, Any]]]) -> Catalogue:
    """The file with every stored row, oldest first, that still compiles with those kept
    before it (every process keeps the same ones)."""
    kept: list[tuple[str, str, dict[str, Any]]] = []
    catalogue = default_catalogue()
    for row in rows:
        try:
            catalogue = compile_with([*kept, row])
        except CatalogueInvalid:
            logger.error("asset catalogue: the stored change %s.%s is left out", row[0], row[1])
            continue
        kept.append(row)
    return catalogue


def forget() -> None:
    """Drop what this process remembers, as if it had just started (tests)."""
    global _compiled
    _compiled = None
    file_raw.cache_clear()
