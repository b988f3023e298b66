"""Market-entry rules as data: load, validate and compile a rule set.

The rules live in a TOML file in the repository (``rulesets/default.toml``, or the file named
by ``FLEXREG_ENTRY_RULES``) plus the central operator's additions stored in the database. This
module is pure: it turns text into a validated, normalised dict (the *compiled* rule set) or
raises ``RuleSetInvalid`` listing every problem with its path. ``docs/rules.md`` describes the
format.

The rule set also says which asset categories each role that registers assets may register,
and the extra information it gives with each asset (``[assets.roles.<ROLE>]``: the assets app
reads it through ``flexreg.assets.role_rules``, and checks at start-up that every category named
is in the asset catalogue, which this module does not know).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
import tomllib
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from flexreg.core.permissions import ASSET_REGISTRANTS
from flexreg.core.roles import INDIVIDUAL_ROLES, ROLES

SCHEMA = 1
DEFAULT_FILE = Path(__file__).parent / "rulesets" / "default.toml"

PARTICIPANT_KINDS = ("organisation", "individual", "non_uk")
STEP_KINDS = ("document", "form", "text", "check", "review")
REVIEWERS = ("operator", "none")
FIELD_TYPES = ("text", "email", "phone", "date", "number", "url", "select", "confirm", "eic")
# Checks the service knows how to run (entry.checks registers their runners).
CHECKS = ("participant_verified", "companies_house_status", "eic_register", "api_connectivity")
# Content types an upload step may accept (sniffed from the content, see entry.uploads).
DOCUMENT_TYPES = ("application/pdf", "image/png", "image/jpeg")
# Kinds of notification the rules may make mandatory by email (notifications.kinds lists all).
MANDATORY_NOTIFICATION_KINDS = (
    "entry.request_raised",
    "entry.answer_reviewed",
    "entry.case_qualified",
    "entry.case_rejected",
    "entry.request_reminder",
    "entry.request_overdue",
    "entry.request_escalated",
    "participant.suspended",
    "participant.change_reviewed",
)

_KEY = re.compile(r"^[a-z][a-z0-9_]{1,59}$")
_TOP_KEYS = {
    "schema",
    "name",
    "revision",
    "service_levels",
    "notifications",
    "steps",
    "roles",
    "assets",
}
_STEP_KEYS = {
    "title",
    "why",
    "kind",
    "kinds",
    "after",
    "review",
    "due_days",
    "required",
    "accept",
    "max_size_mb",
    "fields",
    "check",
    "min_length",
    "max_length",
}
_FIELD_KEYS = {"name", "label", "type", "required", "max_length", "pattern", "options", "hint"}
_SERVICE_LEVEL_KEYS = {
    "review_working_days",
    "reminder_days_before_due",
    "escalate_after_days",
    "bank_holidays",
}
SELF_REQUESTABLE = tuple(code for code, role in ROLES.items() if role.self_requestable)
# Roles that register assets; ``[assets.roles.<ROLE>]`` says which categories each may register.
ASSET_ROLES = tuple(code for code in ROLES if code in ASSET_REGISTRANTS)
#: ``categories = ["*"]``: every category of the asset catalogue, present and future.
ALL_CATEGORIES = "*"
# A category code as the asset catalogue writes it (whether it exists is checked by the assets
# app at start-up: this module does not know the catalogue).
_CATEGORY = re.compile(r"^[A-Z0-9][A-Z0-9_]{0,39}$")


class RuleSetInvalid(Exception):
    """Every problem found, each as ``path: message``."""

    def __init__(self, problems: list[str]) -> None:
        self.problems = problems
        super().__init__("; ".join(problems))


class _Problems:
    def __init__(self) -> None:
        self.items: list[str] = []

    def add(self, path: str, message: str) -> None:
        self.items.append(f"{path}: {message}")


def _unknown_keys(p: _Problems, path: str, given: Iterable[str], allowed: set[str]) -> None:
    for key in sorted(set(given) - allowed):
        p.add(f"{path}.{key}", f"unknown setting (allowed: {', '.join(sorted(allowed))})")


def _positive_int(p: _Problems, path: str, value: Any, maximum: int = 3650) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 0 < value <= maximum:
        p.add(path, f"must be a whole number from 1 to {maximum}")
        return None
    return value


def _text(p: _Problems, path: str, value: Any, *, required: bool, limit: int) -> str:
    if value is None:
        if required:
            p.add(path, "is required")
        return ""
    if not isinstance(value, str) or (required and not value.strip()):
        p.add(path, "must be non-empty text")
        return ""
    if len(value) > limit:
        p.add(path, f"must be at most {limit} characters")
    return value.strip()


def _str_list(
    p: _Problems, path: str, value: Any, allowed: Iterable[str] | None = None
) -> list[str]:
    if value is None:
        return []
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        p.add(path, "must be a list of text values")
        return []
    if allowed is not None:
        allowed = tuple(allowed)
        for v in value:
            if v not in allowed:
                p.add(path, f"{v!r} is not one of {', '.join(allowed)}")
    if len(set(value)) != len(value):
        p.add(path, "lists a value twice")
    return list(value)


def _field(p: _Problems, path: str, raw: Any) -> dict[str, Any]:
    if not isinstance(raw, Mapping):
        p.add(path, "must be a table with name, label and type")
        return {}
    _unknown_keys(p, path, raw, _FIELD_KEYS)
    name = raw.get("name")
    if not isinstance(name, str) or not _KEY.match(name):
        p.add(
            f"{path}.name",
            "must be lower-case letters, digits and _ (2-60), starting with a letter",
        )
    ftype = raw.get("type", "text")
    if ftype not in FIELD_TYPES:
        p.add(f"{path}.type", f"{ftype!r} is not one of {', '.join(FIELD_TYPES)}")
    field: dict[str, Any] = {
        "name": name,
        "label": _text(p, f"{path}.label", raw.get("label"), required=True, limit=200),
        "type": ftype,
        "required": raw.get("required", True),
        "hint": _text(p, f"{path}.hint", raw.get("hint"), required=False, limit=500),
    }
    if not isinstance(field["required"], bool):
        p.add(f"{path}.required", "must be true or false")
    if "max_length" in raw:
        field["max_length"] = _positive_int(p, f"{path}.max_length", raw["max_length"], 10000)
    if "pattern" in raw:
        try:
            re.compile(str(raw["pattern"]))
            field["pattern"] = str(raw["pattern"])
        except re.error as exc:
            p.add(f"{path}.pattern", f"is not a valid regular expression ({exc})")
    if ftype == "select":
        options = _str_list(p, f"{path}.options", raw.get("options"))
        if not options:
            p.add(f"{path}.options", "a select field needs at least one option")
        field["options"] = options
    elif "options" in raw:
        p.add(f"{path}.options", "only select fields have options")
    return field


def validate_step(p: _Problems, path: str, key: str, raw: Any) -> dict[str, Any]:
    """One step definition, normalised (used for file steps and operator additions alike)."""
    if not _KEY.match(key):
        p.add(path, "a step key is lower-case letters, digits and _ (2-60), starting with a letter")
    if not isinstance(raw, Mapping):
        p.add(path, "must be a table")
        return {"key": key}
    _unknown_keys(p, path, raw, _STEP_KEYS)
    kind = raw.get("kind")
    if kind not in STEP_KINDS:
        p.add(f"{path}.kind", f"{kind!r} is not one of {', '.join(STEP_KINDS)}")
    review = raw.get("review", "operator")
    if review not in REVIEWERS:
        p.add(f"{path}.review", f"{review!r} is not one of {', '.join(REVIEWERS)}")
    step: dict[str, Any] = {
        "key": key,
        "title": _text(p, f"{path}.title", raw.get("title"), required=True, limit=200),
        "why": _text(p, f"{path}.why", raw.get("why"), required=False, limit=2000),
        "kind": kind,
        "kinds": _str_list(p, f"{path}.kinds", raw.get("kinds"), PARTICIPANT_KINDS)
        or list(PARTICIPANT_KINDS),
        "after": _str_list(p, f"{path}.after", raw.get("after")),
        "review": review,
        "due_days": _positive_int(p, f"{path}.due_days", raw.get("due_days"), 365),
        "required": raw.get("required", True),
    }
    if not isinstance(step["required"], bool):
        p.add(f"{path}.required", "must be true or false")
    if key in step["after"]:
        p.add(f"{path}.after", "a step cannot wait for itself")
    raw_fields = raw.get("fields")
    if raw_fields is not None:
        if kind not in ("form", "check") or not isinstance(raw_fields, list):
            p.add(f"{path}.fields", "only form and check steps have a list of fields")
        else:
            step["fields"] = [_field(p, f"{path}.fields.{i}", f) for i, f in enumerate(raw_fields)]
            names = [f.get("name") for f in step["fields"]]
            if len(set(names)) != len(names):
                p.add(f"{path}.fields", "two fields have the same name")
    if kind == "form" and not step.get("fields"):
        p.add(f"{path}.fields", "a form step needs at least one field")
    if kind == "document":
        accept = _str_list(p, f"{path}.accept", raw.get("accept"), DOCUMENT_TYPES)
        step["accept"] = accept or list(DOCUMENT_TYPES)
        step["max_size_mb"] = _positive_int(p, f"{path}.max_size_mb", raw.get("max_size_mb"), 50)
    else:
        for name in ("accept", "max_size_mb"):
            if name in raw:
                p.add(f"{path}.{name}", "only document steps take uploads")
    if kind == "text":
        step["min_length"] = _positive_int(p, f"{path}.min_length", raw.get("min_length"), 10000)
        step["max_length"] = (
            _positive_int(p, f"{path}.max_length", raw.get("max_length"), 20000) or 4000
        )
        if step["min_length"] and step["min_length"] > step["max_length"]:
            p.add(f"{path}.min_length", "is larger than max_length")
    else:
        for name in ("min_length", "max_length"):
            if name in raw:
                p.add(f"{path}.{name}", "only text steps have a length")
    if kind == "check":
        check = raw.get("check")
        if check not in CHECKS:
            p.add(f"{path}.check", f"{check!r} is not one of {', '.join(CHECKS)}")
        step["check"] = check
        if check == "eic_register" and not any(
            f.get("type") == "eic" for f in step.get("fields", [])
        ):
            p.add(f"{path}.fields", "the eic_register check needs a field of type eic")
    elif "check" in raw:
        p.add(f"{path}.check", "only check steps name a check")
    if kind == "review" and review != "operator":
        p.add(f"{path}.review", "a review step is reviewed by the operator")
    return step


def _after_is_acyclic(p: _Problems, steps: dict[str, dict[str, Any]]) -> None:
    state: dict[str, int] = {}

    def visit(key: str, trail: list[str]) -> None:
        if state.get(key) == 2:
            return
        if state.get(key) == 1:
            p.add(
                f"steps.{key}.after", f"steps wait for each other in a circle: {' -> '.join(trail)}"
            )
            return
        state[key] = 1
        for dep in steps[key].get("after", []):
            if dep in steps:
                visit(dep, [*trail, dep])
        state[key] = 2

    for key in steps:
        visit(key, [key])


def _asset_rules(p: _Problems, raw: Any) -> dict[str, Any]:
    """``[assets]``: which asset categories each registrant role may register, and the extra
    fields (same spec as a form step's) it must give with each asset. A registrant role
    without a table registers nothing."""
    if raw is None:
        raw = {}
    if not isinstance(raw, Mapping):
        p.add("assets", "must be a table")
        return {"roles": {}}
    _unknown_keys(p, "assets", raw, {"roles"})
    raw_roles = raw.get("roles", {})
    if not isinstance(raw_roles, Mapping):
        p.add("assets.roles", "must be a table of roles")
        return {"roles": {}}
    roles: dict[str, dict[str, Any]] = {}
    for code, value in raw_roles.items():
        path = f"assets.roles.{code}"
        if code not in ASSET_ROLES:
            p.add(path, f"{code!r} is not a role that registers assets ({', '.join(ASSET_ROLES)})")
            continue
        if not isinstance(value, Mapping):
            p.add(path, "must be a table with categories and fields")
            continue
        _unknown_keys(p, path, value, {"categories", "fields"})
        if "categories" not in value:
            p.add(f"{path}.categories", 'is required: category codes, or ["*"] for all')
        categories = _str_list(p, f"{path}.categories", value.get("categories"))
        if ALL_CATEGORIES in categories and len(categories) > 1:
            p.add(f"{path}.categories", '"*" (every category) stands alone')
        for i, category in enumerate(categories):
            if category != ALL_CATEGORIES and not _CATEGORY.match(category):
                p.add(
                    f"{path}.categories.{i}",
                    f"{category!r} is not a category code (upper-case letters, digits and _)",
                )
        raw_fields = value.get("fields", [])
        fields: list[dict[str, Any]] = []
        if not isinstance(raw_fields, list):
            p.add(f"{path}.fields", "must be a list of fields")
        else:
            fields = [_field(p, f"{path}.fields.{i}", f) for i, f in enumerate(raw_fields)]
            names = [f.get("name") for f in fields]
            if len(set(names)) != len(names):
                p.add(f"{path}.fields", "two fields have the same name")
        roles[code] = {"categories": sorted(categories), "fields": fields}
    return {"roles": roles}


def compile_rules(
    raw: Mapping[str, Any], additions: Iterable[Mapping[str, Any]] = ()
) -> dict[str, Any]:
    """Validate and normalise a parsed rule set (plus additions: ``{key, roles, step}``)."""
    p = _Problems()
    _unknown_keys(p, "rules", raw, _TOP_KEYS)
    if raw.get("schema") != SCHEMA:
        p.add("schema", f"must be {SCHEMA}")
    compiled: dict[str, Any] = {
        "schema": SCHEMA,
        "name": _text(p, "name", raw.get("name"), required=True, limit=200),
        "revision": _text(p, "revision", raw.get("revision"), required=True, limit=100),
    }
    sl = raw.get("service_levels", {})
    if not isinstance(sl, Mapping):
        p.add("service_levels", "must be a table")
        sl = {}
    _unknown_keys(p, "service_levels", sl, _SERVICE_LEVEL_KEYS)
    reminders = sl.get("reminder_days_before_due", [7, 1])
    if not isinstance(reminders, list) or not all(
        isinstance(d, int) and not isinstance(d, bool) and 0 < d <= 365 for d in reminders
    ):
        p.add("service_levels.reminder_days_before_due", "must be a list of days from 1 to 365")
        reminders = []
    holidays = _str_list(p, "service_levels.bank_holidays", sl.get("bank_holidays"))
    for i, day in enumerate(holidays):
        try:
            dt.date.fromisoformat(day)
        except ValueError:
            p.add(f"service_levels.bank_holidays.{i}", f"{day!r} is not a date (YYYY-MM-DD)")
    compiled["service_levels"] = {
        "review_working_days": _positive_int(
            p, "service_levels.review_working_days", sl.get("review_working_days", 2), 60
        )
        or 2,
        "reminder_days_before_due": sorted(set(reminders), reverse=True),
        "escalate_after_days": _positive_int(
            p, "service_levels.escalate_after_days", sl.get("escalate_after_days", 5), 365
        )
        or 5,
        "bank_holidays": sorted(holidays),
    }
    notes = raw.get("notifications", {})
    if not isinstance(notes, Mapping):
        p.add("notifications", "must be a table")
        notes = {}
    _unknown_keys(p, "notifications", notes, {"email_mandatory"})
    compiled["notifications"] = {
        "email_mandatory": _str_list(
            p,
            "notifications.email_mandatory",
            notes.get("email_mandatory"),
            MANDATORY_NOTIFICATION_KINDS,
        )
    }
    raw_steps = raw.get("steps", {})
    if not isinstance(raw_steps, Mapping) or not raw_steps:
        p.add("steps", "must be a table of at least one step")
        raw_steps = {}
    steps = {key: validate_step(p, f"steps.{key}", key, value) for key, value in raw_steps.items()}
    raw_roles = raw.get("roles", {})
    if not isinstance(raw_roles, Mapping):
        p.add("roles", "must be a table")
        raw_roles = {}
    roles: dict[str, dict[str, Any]] = {}
    for code, value in raw_roles.items():
        path = f"roles.{code}"
        if code not in SELF_REQUESTABLE:
            p.add(
                path, f"{code!r} is not a role participants ask for ({', '.join(SELF_REQUESTABLE)})"
            )
            continue
        if not isinstance(value, Mapping):
            p.add(path, "must be a table with steps")
            continue
        _unknown_keys(p, path, value, {"steps", "final_review"})
        listed = _str_list(p, f"{path}.steps", value.get("steps"))
        for key in listed:
            if key not in steps:
                p.add(f"{path}.steps", f"names an unknown step {key!r}")
        final = value.get("final_review", False)
        if not isinstance(final, bool):
            p.add(f"{path}.final_review", "must be true or false")
        roles[code] = {"steps": listed, "final_review": bool(final)}
    for code in SELF_REQUESTABLE:
        if code not in raw_roles:
            p.add(f"roles.{code}", "is missing: every role participants may ask for needs rules")
    assets = _asset_rules(p, raw.get("assets"))
    for i, addition in enumerate(additions):
        key = str(addition.get("key", ""))
        path = f"additions.{key or i}"
        if key in steps:
            p.add(path, "a step with this key already exists")
            continue
        steps[key] = validate_step(p, path, key, addition.get("step"))
        for code in _str_list(p, f"{path}.roles", addition.get("roles"), SELF_REQUESTABLE):
            if code in roles:
                roles[code]["steps"].append(key)
    for key, step in steps.items():
        for dep in step.get("after", []):
            if dep not in steps:
                p.add(f"steps.{key}.after", f"names an unknown step {dep!r}")
    _after_is_acyclic(p, steps)
    for code, role in roles.items():
        for kind in PARTICIPANT_KINDS:
            if kind == "individual" and code not in INDIVIDUAL_ROLES:
                continue
            applicable = [k for k in role["steps"] if k in steps and kind in steps[k]["kinds"]]
            if not any(steps[k].get("check") == "participant_verified" for k in applicable):
                p.add(
                    f"roles.{code}.steps",
                    f"has no participant_verified check for a participant of kind {kind}",
                )
    if p.items:
        raise RuleSetInvalid(p.items)
    compiled["steps"] = steps
    compiled["roles"] = roles
    compiled["assets"] = assets
    return compiled


def parse(text: str) -> dict[str, Any]:
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise RuleSetInvalid([f"rules: not valid TOML ({exc})"]) from exc


def load_file(path: Path | str) -> dict[str, Any]:
    """Parse and compile a rule file (no additions)."""
    return compile_rules(parse(Path(path).read_text(encoding="utf-8")))


def checksum(compiled: Mapping[str, Any]) -> str:
    canonical = json.dumps(compiled, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def participant_kind(kind: str, organisation_type: str) -> str:
    """The rules' kind of participant: organisation, individual or non_uk."""
    if kind == "individual":
        return "individual"
    return "non_uk" if organisation_type == "non_uk" else "organisation"


def steps_for(compiled: Mapping[str, Any], role: str, kind: str) -> list[dict[str, Any]]:
    """The steps a participant of ``kind`` follows for ``role``, in order, with ``after``
    narrowed to the steps that apply."""
    spec = compiled["roles"].get(role)
    if spec is None:
        return []
    steps = compiled["steps"]
    chosen = [steps[k] for k in spec["steps"] if kind in steps[k]["kinds"]]
    keys = {s["key"] for s in chosen}
    return [{**s, "after": [a for a in s["after"] if a in keys]} for s in chosen]
