"""Which asset categories a role may register, and the extra information it must give.

These are rules, written in the market-entry rule set (``[assets.roles.<ROLE>]`` in
``entry/rulesets/default.toml`` or the file of ``FLEXREG_ENTRY_RULES``; ``docs/rules.md``
"Asset rules"), validated by ``flexreg.entry.ruleset.compile_rules``. A role that registers
assets but has no table there registers nothing.

* :func:`rules_for` gives a role's :class:`RoleAssetRules`: the categories it may register
  (``None``: every category, ``["*"]`` in the rules) and its extra fields (the same field
  specs as a form step's).
* :func:`check` (or :meth:`RoleAssetRules.check` when one role registers many assets, as a
  bulk import does) refuses a category the role may not register
  (``asset.category_not_allowed_for_role`` at ``category``) and validates the role's fields
  with the market-entry form validation (``entry.answers``), errors at
  ``role_details.<name>``; keys the rules do not ask for are refused.

Caching: this runs for every registration and every row of a bulk import, and compiling the
rule file takes milliseconds, so the compiled asset rules are kept in the process keyed by the
rule file's path, modification time and size (one ``stat``). Asset rules come from the file
alone: the central operator's rule additions (``entry.RuleAddition``) add market-entry steps,
never asset rules, so no query is needed. A file changed in place is read again at the next
registration; should the new file not compile, the error is logged and the last good rules
stay in force (start-up refuses an invalid file, see ``entry.system_checks``).
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from django.core.checks import Error, Tags, register
from django.core.checks import Warning as CheckWarning

from flexreg.assets.catalogue import Catalogue, default_catalogue
from flexreg.core.errors import DomainError, FieldError
from flexreg.core.permissions import ASSET_REGISTRANTS
from flexreg.core.roles import ROLES
from flexreg.entry import answers, ruleset

__all__ = [
    "CATEGORY_NOT_ALLOWED",
    "PREFIX",
    "RoleAssetRules",
    "check",
    "forget",
    "rules_for",
]

logger = logging.getLogger(__name__)

#: Where a role's extra fields sit in a registration record (and the prefix of their errors).
PREFIX: Final = "role_details"
CATEGORY_NOT_ALLOWED: Final = "asset.category_not_allowed_for_role"
# ``entry.answers`` reports a form's errors under ``form_data``; ours go under ``role_details``.
_FORM_PREFIX: Final = "form_data"


@dataclass(frozen=True, slots=True, eq=False)
class RoleAssetRules:
    """What one role may register and the extra fields it gives with each asset."""

    role: str
    #: The category codes the role may register; None: every category of the catalogue.
    categories: frozenset[str] | None
    #: The role's extra fields, as the rule set's compiled field specs, in order.
    fields: tuple[Mapping[str, Any], ...]

    @property
    def field_names(self) -> tuple[str, ...]:
        return tuple(str(f["name"]) for f in self.fields)

    @property
    def columns(self) -> tuple[str, ...]:
        """The role's CSV columns: ``role_details.<name>`` for each field."""
        return tuple(f"{PREFIX}.{name}" for name in self.field_names)

    def allows(self, category: str) -> bool:
        return self.categories is None or category in self.categories

    def allowed_in(self, catalogue: Catalogue) -> list[str]:
        """The catalogue's category codes the role may register (file order)."""
        return [code for code in catalogue.categories if self.allows(code)]

    def check(
        self, category: Any, raw_details: Any, catalogue: Catalogue | None = None
    ) -> tuple[dict[str, Any], list[FieldError]]:
        """``(clean role details, [])`` or ``({}, every error)``. ``category`` is the record's
        category as given (matched like conformance matches it); one the catalogue does not
        know is left to conformance to report."""
        errors: list[FieldError] = []
        if isinstance(category, str) and category.strip():
            catalogue = catalogue or default_catalogue()
            choice = catalogue.category_list.lookup(category)
            if choice is not None and not self.allows(choice.code):
                errors.append(self.refused(choice.code, choice.label, catalogue))
        details, detail_errors = self.clean(raw_details)
        errors += detail_errors
        return ({} if errors else details), errors

    def clean(self, raw_details: Any) -> tuple[dict[str, Any], list[FieldError]]:
        """The role's fields validated as a form step's answers are (``entry.answers``)."""
        if raw_details is None:
            raw_details = {}
        if not isinstance(raw_details, Mapping):
            return {}, [FieldError(PREFIX, "type_error", "Send the role's details as an object.")]
        if not self.fields and not raw_details:
            return {}, []
        known = set(self.field_names)
        errors = [
            FieldError(
                f"{PREFIX}.{name}",
                "unknown_field",
                f"Your role's rules ask for no such detail (they ask for: "
                f"{', '.join(self.field_names) or 'none'}).",
            )
            for name in sorted(str(k) for k in raw_details if k not in known)
        ]
        given = {k: v for k, v in raw_details.items() if k in known}
        cleaned, form_errors = answers.clean_form({"fields": self.fields}, given)
        errors += [
            FieldError(PREFIX + e.field.removeprefix(_FORM_PREFIX), e.code, e.message)
            for e in form_errors
        ]
        return cleaned, errors

    def refused(self, code: str, label: str, catalogue: Catalogue) -> FieldError:
        role = ROLES[self.role].name if self.role in ROLES else (self.role or "no role")
        allowed = [
            catalogue.categories[c].label
            for c in self.allowed_in(catalogue)
            if not catalogue.categories[c].retired
        ]
        if allowed:
            may = f"It may register: {', '.join(allowed)}."
        else:
            may = "It may not register assets itself."
        return FieldError(
            "category",
            CATEGORY_NOT_ALLOWED,
            f"Your role ({role}) may not register {label.lower()} assets ({code}). {may}",
        )


# --- the rules in force ---------------------------------------------------------------------


@dataclass(frozen=True, slots=True, eq=False)
class _Compiled:
    #: (path, modification time in ns, size) of the rule file read.
    key: tuple[str, int, int]
    #: The compiled rule set's ``assets`` table.
    assets: Mapping[str, Any]
    #: Each role's rules, made from ``assets`` when first asked for.
    by_role: dict[str, RoleAssetRules]


# The rules read last. A module global: assigning it is atomic; two threads reading a changed
# file at once only do the work twice.
_compiled: _Compiled | None = None


def _current() -> _Compiled:
    """The compiled asset rules of the rule file, compiled again only when it changed."""
    global _compiled
    from flexreg.entry.services import rules_file

    path = rules_file()
    compiled = _compiled
    key: tuple[str, int, int] | None = None
    try:
        stat = os.stat(path)
        key = (path, stat.st_mtime_ns, stat.st_size)
        if compiled is not None and compiled.key == key:
            return compiled
        assets = ruleset.load_file(path)["assets"]
    except (OSError, ruleset.RuleSetInvalid) as exc:
        if compiled is None:
            raise DomainError(
                code="asset.rules_unavailable",
                detail="The rules for registering assets cannot be read: try again later.",
                status=503,
                title="Service unavailable",
            ) from exc
        logger.error("Asset rules in %s cannot be read, the last good ones stay: %s", path, exc)
        if key is not None:  # not read again until the file changes again
            _compiled = _Compiled(key, compiled.assets, compiled.by_role)
        return compiled
    compiled = _Compiled(key, assets, {})
    _compiled = compiled
    return compiled


def rules_for(role: str | None) -> RoleAssetRules:
    """A role's asset rules as the rule file says now (nothing allowed for a role that has
    no table, or that does not register assets)."""
    compiled = _current()
    code = role or ""
    found = compiled.by_role.get(code)
    if found is not None:
        return found
    spec = compiled.assets["roles"].get(code) if code in ASSET_REGISTRANTS else None
    if spec is None:
        made = RoleAssetRules(code, frozenset(), ())
    else:
        categories = spec["categories"]
        made = RoleAssetRules(
            code,
            None if ruleset.ALL_CATEGORIES in categories else frozenset(categories),
            tuple(spec["fields"]),
        )
    compiled.by_role[code] = made
    return made


def check(
    role: str | None, category: Any, raw_details: Any, catalogue: Catalogue | None = None
) -> tuple[dict[str, Any], list[FieldError]]:
    """``rules_for(role).check(...)``: the clean role details, or every error."""
    return rules_for(role).check(category, raw_details, catalogue)


def forget() -> None:
    """Drop the cached rules (the next call reads the rule file again)."""
    global _compiled
    _compiled = None


# --- start-up check -------------------------------------------------------------------------


@register(Tags.compatibility)
def categories_exist(app_configs: Any = None, **kwargs: Any) -> list[Error | CheckWarning]:
    """Every category the asset rules name is in the asset catalogue (``categories.toml``);
    a role that registers assets but may register nothing is pointed out. A rule file that
    does not compile is ``entry.system_checks``' to report."""
    from flexreg.entry.services import rules_file

    path = rules_file()
    try:
        assets = ruleset.load_file(path)["assets"]
    except (OSError, ruleset.RuleSetInvalid):
        return []
    catalogue = default_catalogue()
    found: list[Error | CheckWarning] = []
    for role, spec in assets["roles"].items():
        for i, code in enumerate(spec["categories"]):
            if code != ruleset.ALL_CATEGORIES and code not in catalogue.categories:
                found.append(
                    Error(
                        f"Asset rules {path}: assets.roles.{role}.categories.{i}: {code!r} is "
                        "not a category of the asset catalogue.",
                        hint=f'Use one of {", ".join(catalogue.categories)}, or "*" for all.',
                        id="flexreg.E511",
                    )
                )
    for role in sorted(ASSET_REGISTRANTS - set(assets["roles"])):
        found.append(
            CheckWarning(
                f"Asset rules {path}: no [assets.roles.{role}] table, so the {role} role may "
                "register no asset.",
                hint=f"Add [assets.roles.{role}] with categories = [...] (or categories = [] to "
                "say so).",
                id="flexreg.W511",
            )
        )
    return found
