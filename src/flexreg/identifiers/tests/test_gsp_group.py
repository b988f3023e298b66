"""GSP group IDs: the 14 groups, normalisation and rejects."""

from __future__ import annotations

import pytest

from flexreg.identifiers import DISTRIBUTORS, GSPGroup, IdentifierError, is_valid_gsp_group
from flexreg.identifiers.gsp_group import GSP_GROUP_NAMES


def test_exactly_fourteen_groups_without_i_and_o() -> None:
    ids = [str(g) for g in GSPGroup.all()]
    assert ids == [f"_{c}" for c in "ABCDEFGHJKLMNP"]
    assert len(ids) == 14


@pytest.mark.parametrize(
    ("group_id", "name"),
    [
        ("_A", "Eastern"),
        ("_B", "East Midlands"),
        ("_C", "London"),
        ("_D", "Merseyside & North Wales"),
        ("_E", "West Midlands"),
        ("_F", "North East"),
        ("_G", "North West"),
        ("_H", "Southern"),
        ("_J", "South Eastern"),
        ("_K", "South Wales"),
        ("_L", "South Western"),
        ("_M", "Yorkshire"),
        ("_N", "South Scotland"),
        ("_P", "North Scotland"),
    ],
)
def test_names(group_id: str, name: str) -> None:
    group = GSPGroup.parse(group_id)
    assert group.name == name
    assert group.letter == group_id[1]
    assert str(group) == group_id


@pytest.mark.parametrize(("raw", "expected"), [("A", "_A"), ("a", "_A"), (" _p ", "_P")])
def test_normalisation(raw: str, expected: str) -> None:
    assert str(GSPGroup.parse(raw)) == expected
    assert is_valid_gsp_group(raw)


@pytest.mark.parametrize(
    ("raw", "code"),
    [
        ("", "gsp_group.empty"),
        ("  ", "gsp_group.empty"),
        ("_I", "gsp_group.unknown"),
        ("_O", "gsp_group.unknown"),
        ("I", "gsp_group.unknown"),
        ("_Q", "gsp_group.unknown"),
        ("_Z", "gsp_group.unknown"),
        ("__A", "gsp_group.unknown"),
        ("_AB", "gsp_group.unknown"),
        ("A_", "gsp_group.unknown"),
        ("1", "gsp_group.unknown"),
        ("_" * 100, "gsp_group.unknown"),
    ],
)
def test_known_bad(raw: str, code: str) -> None:
    with pytest.raises(IdentifierError) as excinfo:
        GSPGroup.parse(raw)
    assert excinfo.value.code == code
    assert not is_valid_gsp_group(raw)


def test_names_agree_with_the_dno_table() -> None:
    for distributor in DISTRIBUTORS.values():
        if distributor.gsp_group_id is not None:
            assert GSP_GROUP_NAMES[distributor.gsp_group_id] == distributor.name


def test_ordering_and_equality() -> None:
    assert GSPGroup("_A") < GSPGroup("_B")
    assert GSPGroup.parse("c") == GSPGroup("_C")
    assert len({GSPGroup("_C"), GSPGroup.parse("_c")}) == 1
