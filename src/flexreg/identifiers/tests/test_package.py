"""The package as a whole: pure Python, one error type, an honest catalogue of codes."""

from __future__ import annotations

import pickle
import re
import subprocess
import sys
from pathlib import Path

import pytest

import flexreg.identifiers as identifiers
from flexreg.identifiers import ERROR_CODES, IdentifierError

PACKAGE_DIR = Path(identifiers.__file__).parent


def test_importing_pulls_in_no_django() -> None:
    code = (
        "import sys, flexreg.identifiers; "
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in {'django', 'ninja'}); "
        "print(bad); sys.exit(1 if bad else 0)"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_public_names_exist() -> None:
    for name in identifiers.__all__:
        assert hasattr(identifiers, name), name


def test_every_code_used_is_in_the_catalogue_and_vice_versa() -> None:
    families = "|".join(sorted({code.split(".")[0] for code in ERROR_CODES}))
    pattern = re.compile(rf'"((?:{families})\.[a-z_]+)"')
    used: set[str] = set()
    for path in PACKAGE_DIR.glob("*.py"):
        if path.name != "errors.py":
            used |= set(pattern.findall(path.read_text()))
    assert used == set(ERROR_CODES)


def test_identifier_error() -> None:
    error = IdentifierError("mpan.bad_check_digit", "Nope.")
    assert isinstance(error, ValueError)
    assert (error.code, error.message, str(error)) == ("mpan.bad_check_digit", "Nope.", "Nope.")
    assert error.identifier == "mpan"
    assert "mpan.bad_check_digit" in repr(error)
    default = IdentifierError("eic.empty")
    assert default.message == ERROR_CODES["eic.empty"]
    copy = pickle.loads(pickle.dumps(error))
    assert (copy.code, copy.message) == (error.code, error.message)


def test_unregistered_codes_are_a_programming_error() -> None:
    with pytest.raises(KeyError):
        IdentifierError("mpan.made_up")


@pytest.mark.parametrize(
    ("parse", "raw"),
    [
        (identifiers.EIC.parse, "10YGB----------A"),
        (identifiers.MPANCore.parse, "1234567890126"),
        (identifiers.CompanyNumber.parse, "00445790"),
        (identifiers.Postcode.parse, "SW1A 1AA"),
        (identifiers.GSPGroup.parse, "_C"),
        (identifiers.ParticipantId.parse, "P-XVAKNDBJKCC"),
    ],
)
def test_value_objects_are_frozen_and_hashable(parse: object, raw: str) -> None:
    assert callable(parse)
    value = parse(raw)
    assert str(value) == raw
    assert hash(value) == hash(parse(raw))
    with pytest.raises(AttributeError):
        value.value = "x"
