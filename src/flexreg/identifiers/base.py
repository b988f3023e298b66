"""The shape every identifier value object shares."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Self

from flexreg.identifiers.errors import IdentifierError


@dataclass(frozen=True, slots=True)
class Identifier:
    """A normalised identifier, validated on construction (so an instance is always valid).

    Subclasses set ``normalise`` and ``validate`` (module functions wrapped in
    ``staticmethod``); ``parse`` runs both, ``is_valid`` answers without raising and ``str()``
    is the normalised form, the one to store under a unique index.
    """

    value: str

    @staticmethod
    def normalise(raw: str) -> str:
        return raw.strip()

    @staticmethod
    def validate(value: str) -> None:
        """Raise :class:`IdentifierError` unless ``value`` is valid and normalised."""

    def __post_init__(self) -> None:
        type(self).validate(self.value)

    @classmethod
    def parse(cls, raw: str) -> Self:
        return cls(cls.normalise(raw))

    @classmethod
    def is_valid(cls, raw: str) -> bool:
        try:
            cls.parse(raw)
        except IdentifierError:
            return False
        return True

    def __str__(self) -> str:
        return self.value
