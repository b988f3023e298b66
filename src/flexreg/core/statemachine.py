"""A tiny explicit state machine: named transitions from allowed states to one target state."""

from __future__ import annotations

from dataclasses import dataclass

from flexreg.core.errors import IllegalTransition


@dataclass(frozen=True)
class Transition:
    name: str
    sources: frozenset[str]
    target: str


class StateMachine:
    def __init__(self, name: str, states: list[str], transitions: list[Transition]) -> None:
        self.name = name
        self.states = tuple(states)
        self.transitions = {t.name: t for t in transitions}
        for t in transitions:
            unknown = (t.sources | {t.target}) - set(states)
            if unknown:
                raise ValueError(f"{name}.{t.name} refers to unknown states {sorted(unknown)}")

    def target(self, state: str, transition: str) -> str:
        """The state after ``transition`` from ``state``, or a coded IllegalTransition."""
        t = self.transitions.get(transition)
        if t is None or state not in t.sources:
            raise IllegalTransition(self.name, transition, state)
        return t.target

    def allowed(self, state: str) -> list[str]:
        return [t.name for t in self.transitions.values() if state in t.sources]
