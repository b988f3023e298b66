"""``flexreg eic import`` loads ENTSO-E's published EIC lists: every code validated, bad rows
counted and refused, the files' quirks tolerated, re-imports idempotent."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from flexreg.core.models import AuditEvent
from flexreg.entry import eic_register
from flexreg.entry.models import EicRecord
from flexreg.identifiers import eic_check_character

pytestmark = pytest.mark.django_db

FIXTURES = Path(eic_register.__file__).resolve().parents[1] / "devtools" / "eic_fixtures"
X_FILE = FIXTURES / "X_eicCodes.csv"
W_FILE = FIXTURES / "W_eicCodes.csv"
HEADER = (
    "EicCode;EicDisplayName;EicLongName;EicParent;EicResponsibleParty;EicStatus;"
    "MarketParticipantPostalCode;MarketParticipantIsoCountryCode;MarketParticipantVatCode;"
    "EicTypeFunctionList;type"
)


def _code(base: str) -> str:
    """A valid EIC starting with ``base`` (its last character changed if that base cannot be
    issued)."""
    for last in (base[-1], *"0123456789"):
        try:
            return base[:-1] + last + eic_check_character(base[:-1] + last)
        except ValueError:
            continue
    raise AssertionError(base)


def test_the_sample_lists_load_with_bad_rows_counted_and_refused() -> None:
    result = eic_register.import_files([X_FILE, W_FILE])
    assert result.read == 13 and result.bad == 3 and result.loaded == 13
    assert (result.new, result.changed, result.unchanged) == (13, 0, 0)
    reasons = result.as_dict()["bad_reasons"]
    assert reasons == {
        "eic.bad_check_character": 1,
        "eic.bad_length": 1,
        "eic.type_mismatch": 1,
    }
    assert EicRecord.objects.count() == 13
    assert not EicRecord.objects.filter(code__in=["48XBRIGHTWATT-FX", "48XTWINSMITHS-DT"])
    bright = EicRecord.objects.get(code="48XBRIGHTWATT-FE")  # BOM and CRLF in the X file
    assert (bright.object_type, bright.display_name, bright.status) == (
        "X",
        "BRIGHTWATT-FLEX",
        "Active",
    )
    assert bright.long_name == "BrightWatt Flex Ltd (SAMPLE)"
    assert bright.issuer == "48" and bright.vat_code == "GB980780684"
    assert bright.function_list == "Balance Responsible Party,Resource Provider"
    assert bright.source_file == "X_eicCodes.csv"
    assert EicRecord.objects.get(code="48XOLDGRID-STOR1").status == "Inactive"
    # The published files' quirks: "$amp;", a ";" inside a name, a name broken over two lines.
    smith = EicRecord.objects.get(code="48XSMITHJONES-TH")
    assert smith.long_name == "Smith & Jones Energy Trading LLP (Sample)"
    assert smith.vat_code == ""  # "n/a"
    assert EicRecord.objects.get(code="18XIBERFLEX-ES-Q").long_name == "Iberflex Energía; S.L."
    broken = EicRecord.objects.get(code="11XFLEXHANDEL-EY")
    assert broken.long_name == "Flexhandel Energie GmbH & Co. KG"
    assert broken.status == "Active" and broken.vat_code == "DE123456789"
    battery = EicRecord.objects.get(code="48WBRIGHTWATT01G")
    assert battery.object_type == "W" and battery.source_file == "W_eicCodes.csv"
    event = AuditEvent.objects.filter(action="eic_register.imported").latest("pk")
    assert event.changes["after"]["loaded"] == 13


def test_a_second_import_changes_nothing_and_a_new_list_updates_in_place(tmp_path: Path) -> None:
    eic_register.import_files([X_FILE, W_FILE])
    before = dict(EicRecord.objects.values_list("code", "long_name"))
    again = eic_register.import_files([X_FILE, W_FILE])
    assert (again.new, again.changed, again.unchanged, again.bad) == (0, 0, 13, 3)
    assert dict(EicRecord.objects.values_list("code", "long_name")) == before
    assert EicRecord.objects.count() == 13

    newer = X_FILE.read_text(encoding="utf-8-sig").replace(
        "Oldgrid Storage Limited (Sample);;;Inactive", "Oldgrid Storage Limited (Sample);;;Active"
    )
    extra = _code("48XNEWCOMER-FLX")
    newer += f"{extra};NEWCOMER;Newcomer Flex Limited;;;Active;;GB;;Producer;X\r\n"
    path = tmp_path / "X_eicCodes.csv"
    path.write_text(newer, encoding="utf-8")
    third = eic_register.import_files([path])
    assert (third.new, third.changed, third.unchanged) == (1, 1, 9)
    assert EicRecord.objects.get(code="48XOLDGRID-STOR1").status == "Active"
    assert EicRecord.objects.count() == 14


def test_prune_marks_codes_no_longer_published_for_the_imported_types(tmp_path: Path) -> None:
    eic_register.import_files([X_FILE, W_FILE])
    shorter = tmp_path / "X_eicCodes.csv"
    lines = X_FILE.read_text(encoding="utf-8-sig").splitlines()
    shorter.write_text("\n".join(line for line in lines if "GRIDSCALE" not in line) + "\n")
    kept = eic_register.import_files([shorter])
    assert kept.not_published == 0
    assert EicRecord.objects.get(code="48XGRIDSCALE-AG5").status == "Active"  # no --prune
    pruned = eic_register.import_files([shorter], prune=True)
    assert pruned.not_published == 1
    assert EicRecord.objects.get(code="48XGRIDSCALE-AG5").status == eic_register.NOT_PUBLISHED
    # W codes were not in these files: untouched.
    assert set(EicRecord.objects.filter(object_type="W").values_list("status", flat=True)) == {
        "Active"
    }


def test_header_variants_delimiters_quotes_and_encodings_are_tolerated(tmp_path: Path) -> None:
    one, two, three = _code("48XVARIANT-ONE-"), _code("48XVARIANT-TWO-"), _code("48XVARIANT-THRE")
    comma = tmp_path / "export.csv"
    comma.write_text(
        '\ufeff "EIC Code" , eic_display_name,"EIC Long Name",Status ,Type\r\n'
        f'{one.lower()},ONE,"Variant One, Limited",active,X\r\n'
        f'"{two}",TWO,"Variant ""Two"" Ltd",Active,\r\n',
        encoding="utf-8",
    )
    tabbed = tmp_path / "tabbed.txt"
    tabbed.write_bytes(
        f"EicCode\tEicLongName\tEicStatus\n{three}\tCafé Énergie Ltd\tActive\n".encode("cp1252")
    )
    result = eic_register.import_files([comma, tabbed])
    assert result.bad == 0 and result.loaded == 3
    assert EicRecord.objects.get(code=one).long_name == "Variant One, Limited"
    assert EicRecord.objects.get(code=one).status == "active"
    assert EicRecord.objects.get(code=two).long_name == 'Variant "Two" Ltd'
    assert EicRecord.objects.get(code=three).long_name == "Café Énergie Ltd"
    assert result.files[1].encoding == "windows-1252" and result.files[1].delimiter == "\t"


def test_short_rows_and_duplicates_are_reported(tmp_path: Path) -> None:
    code = _code("48XDUPLICATE-01")
    path = tmp_path / "X.csv"
    path.write_text(
        f"{HEADER}\n"
        f"{code};DUP;First Name Ltd;;;Active;;GB;;Producer;X\n"
        f"{code};DUP;Second Name Ltd;;;Active;;GB;;Producer;X\n"
        f"{_code('48XTRUNCATED-01')};TRUNC;Truncated\n"
        f"{_code('48XAFTERTRUNC-1')};AFTER;After The Truncated One Ltd;;;Active;;GB;;Producer;X\n"
        ";;;;;;;;;;\n"
    )
    result = eic_register.import_files([path])
    assert result.duplicates == 1 and result.loaded == 2
    assert EicRecord.objects.get(code=code).long_name == "Second Name Ltd"  # the last one wins
    assert result.as_dict()["bad_reasons"] == {"too_few_fields": 1, "eic.empty": 1}
    assert EicRecord.objects.filter(code=_code("48XAFTERTRUNC-1")).exists()


def test_a_file_without_a_code_column_is_refused_whole(tmp_path: Path) -> None:
    path = tmp_path / "wrong.csv"
    path.write_text("Name;Status\nSomething;Active\n")
    with pytest.raises(eic_register.EicFileError, match="no EicCode column"):
        eic_register.import_files([path])
    assert not EicRecord.objects.exists()


def test_a_zip_of_lists_loads_each_csv_member(tmp_path: Path) -> None:
    archive = tmp_path / "eic.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(X_FILE, "lists/X_eicCodes.csv")
        zf.write(W_FILE, "lists/W_eicCodes.csv")
        zf.writestr("lists/readme.txt", "not a list")
    result = eic_register.import_files([archive])
    assert [f.name for f in result.files] == ["X_eicCodes.csv", "W_eicCodes.csv"]
    assert result.loaded == 13


def test_a_full_sized_list_loads_in_one_go(tmp_path: Path) -> None:
    rows = []
    for n in range(20_000):
        code = _code(f"48X{n:011d}A")
        rows.append(f"{code};P{n};Party Number {n} Limited;;;Active;;GB;;Producer;X")
    path = tmp_path / "X_eicCodes.csv"
    path.write_text(HEADER + "\n" + "\n".join(rows) + "\n")
    result = eic_register.import_files([path])
    assert result.bad == 0 and result.new == len(set(rows)) == 20_000
    assert EicRecord.objects.count() == len(rows)


def test_the_command_prints_its_counts(tmp_path: Path) -> None:
    out = io.StringIO()
    call_command("eic", "import", str(X_FILE), str(W_FILE), stdout=out)
    text = out.getvalue()
    assert "X_eicCodes.csv: 13 rows, 3 refused" in text
    assert "W_eicCodes.csv: 3 rows, 0 refused" in text
    assert "loaded 13 codes: 13 new, 0 changed, 0 unchanged" in text
    assert "refused 3 rows" in text and "1: eic.bad_check_character" in text
    assert "X_eicCodes.csv line 13: eic.bad_check_character: 48XBRIGHTWATT-FX" in text
    with pytest.raises(CommandError, match="does not exist"):
        call_command("eic", "import", str(tmp_path / "missing.csv"), stdout=io.StringIO())


@pytest.mark.parametrize(
    ("legal", "published", "match"),
    [
        ("Brightwatt Flex Limited (Sample)", "BrightWatt Flex Ltd (SAMPLE)", True),
        ("Brightwatt Flex Limited", "BRIGHTWATT-FLEX", True),
        ("Brontë Heat Co-operative Limited", "Bronte Heat Co-operative Ltd.", True),
        ("Smith and Jones Energy Trading LLP", "Smith & Jones Energy Trading", True),
        ("The Grid Company PLC", "Grid Company Public Limited Company", True),
        ("Cwmni Ynni Cyfyngedig", "CWMNI YNNI CYF", True),
        ("Brightwatt Flex Limited", "Brightwatt Flex Trading Limited", False),
        ("Brightwatt Flex Limited", "Gridscale Aggregation PLC", False),
        ("Limited", "", False),
    ],
)
def test_holder_names_are_compared_after_normalising(
    legal: str, published: str, match: bool
) -> None:
    assert eic_register.names_match(legal, published) is match
