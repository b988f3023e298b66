"""Start-up validation of the market-entry rules (Django system checks: run by ``flexreg
serve``, ``migrate`` and ``check``). A malformed rule file stops the service from starting,
with every problem listed."""

from __future__ import annotations

from typing import Any

from django.core.checks import Error, register

from flexreg.entry import ruleset


@register("flexreg")
def rules_are_valid(app_configs: Any = None, **kwargs: Any) -> list[Error]:
    from flexreg.entry.services import rules_file

    path = rules_file()
    try:
        ruleset.load_file(path)
    except FileNotFoundError:
        return [Error(f"The market-entry rule file {path} does not exist.", id="flexreg.E101")]
    except ruleset.RuleSetInvalid as exc:
        return [
            Error(f"Market-entry rules {path}: {problem}", id="flexreg.E102")
            for problem in exc.problems
        ]
    return []
