"""The Basic Company Data bulk CSV parser, on a small sample in the real format."""

from __future__ import annotations

import zipfile
from datetime import date
from pathlib import Path

import pytest

from flexreg.participants.basic_company_data import (
    BASIC_COMPANY_DATA_HEADER,
    BasicCompanyDataError,
    BasicCompanyRecord,
    iter_basic_company_data,
    status_from_label,
)

SAMPLE = Path(__file__).parent / "data" / "basic_company_data_sample.csv"


def sample_text() -> str:
    with SAMPLE.open(encoding="utf-8-sig", newline="") as handle:
        return handle.read()


def read_all(path: Path) -> tuple[list[BasicCompanyRecord], dict[str, int], int]:
    with iter_basic_company_data(path) as rows:
        records = list(rows)
        return records, dict(rows.skip_reasons), rows.rows_read


def by_number(records: list[BasicCompanyRecord]) -> dict[str, BasicCompanyRecord]:
    return {record.company_number: record for record in records}


def test_sample_is_in_the_real_format() -> None:
    raw = SAMPLE.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")  # a byte-order mark, as some downloads have
    header = raw[3:].split(b"\r\n", 1)[0].decode()
    assert header == BASIC_COMPANY_DATA_HEADER
    assert len(header.split(",")) == 55
    assert " CompanyNumber" in header.split(",")


def test_reads_the_sample() -> None:
    records, skipped, rows_read = read_all(SAMPLE)
    assert rows_read == 15
    assert len(records) == 12
    assert skipped == {"bad_company_number": 1, "bad_date": 1, "wrong_field_count": 1}

    first = records[0]
    assert first == BasicCompanyRecord(
        company_number="99100001",
        company_name="BRIGHTWATT FLEX LIMITED (SAMPLE)",
        status="active",
        status_label="Active",
        category="Private Limited Company",
        incorporation_date=date(2019, 4, 2),
        dissolution_date=None,
        address_line_1="UNIT 1",
        address_line_2="SAMPLE BUSINESS PARK",
        post_town="READING",
        county="BERKSHIRE",
        country="ENGLAND",
        postcode="RG1 1AA",
    )


def test_quoted_fields_with_commas_and_quotes() -> None:
    records = by_number(read_all(SAMPLE)[0])
    watts = records["99100002"]
    assert watts.company_name == "WATTS, VOLTS & AMPS (SAMPLE) LIMITED"
    assert watts.address_line_1 == "UNIT 4, THE YARD"
    assert watts.county is None
    assert records["99100012"].company_name == 'QUOTED EVERYWHERE "GRID" LIMITED (SAMPLE)'


def test_statuses_are_mapped_and_labels_kept() -> None:
    records = by_number(read_all(SAMPLE)[0])
    assert (records["99100002"].status, records["99100002"].status_label) == (
        "active",
        "Active - Proposal to Strike off",
    )
    dissolved = records["99100003"]
    assert dissolved.status == "dissolved"
    assert dissolved.dissolution_date == date(2023, 8, 29)
    assert records["99100004"].status == "liquidation"
    assert records["99100005"].status == "administration"
    assert records["99100006"].status == "receivership"
    assert records["99100007"].status == "receivership"
    assert records["SC991002"].status == "voluntary-arrangement"
    assert records["OC991001"].category == "Limited Liability Partnership"
    unknown = records["99100009"]
    assert unknown.status is None
    assert unknown.status_label == "Some Future Status"


def test_utf8_names() -> None:
    records = by_number(read_all(SAMPLE)[0])
    assert records["99100008"].company_name == "CAFÉ BRONTË ENERGY (SAMPLE) LTD"


def test_counts_and_examples_are_exposed() -> None:
    rows = iter_basic_company_data(SAMPLE)
    assert sum(1 for _ in rows) == 12
    assert rows.yielded == 12
    assert rows.skipped == 3
    assert [reason for _, reason in rows.skipped_examples] == [
        "bad_company_number",
        "bad_date",
        "wrong_field_count",
    ]
    assert rows.skipped_examples[0][0] == 13  # the line in the file
    assert rows.unknown_status_labels == {"Some Future Status": 1}
    assert next(rows, None) is None  # exhausted and closed


def test_zipped_file(tmp_path: Path) -> None:
    archive = tmp_path / "BasicCompanyDataAsOneFile-2026-11-01.zip"
    with zipfile.ZipFile(archive, "w", compression=zipfile.ZIP_DEFLATED) as zipped:
        zipped.write(SAMPLE, "BasicCompanyDataAsOneFile-2026-11-01.csv")
    records, skipped, _ = read_all(archive)
    assert records == read_all(SAMPLE)[0]
    assert sum(skipped.values()) == 3


def test_zip_must_hold_exactly_one_csv(tmp_path: Path) -> None:
    archive = tmp_path / "two.zip"
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.write(SAMPLE, "part1.csv")
        zipped.write(SAMPLE, "part2.csv")
    with pytest.raises(BasicCompanyDataError, match="exactly one"):
        iter_basic_company_data(archive)
    empty = tmp_path / "none.zip"
    with zipfile.ZipFile(empty, "w") as zipped:
        zipped.writestr("README.txt", "no csv here")
    with pytest.raises(BasicCompanyDataError, match="holds 0"):
        iter_basic_company_data(empty)


def test_without_bom_and_with_lf_line_endings(tmp_path: Path) -> None:
    text = sample_text().replace("\r\n", "\n")
    assert "\r" not in text
    plain = tmp_path / "plain.csv"
    plain.write_text(text, encoding="utf-8", newline="")
    assert read_all(plain)[0] == read_all(SAMPLE)[0]


def test_header_missing_columns_is_named(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    header = BASIC_COMPANY_DATA_HEADER.replace("CompanyStatus,", "Status,").replace(
        " CompanyNumber,", "Number,"
    )
    bad.write_text(header + "\r\n", encoding="utf-8")
    with pytest.raises(BasicCompanyDataError) as caught:
        iter_basic_company_data(bad)
    assert "CompanyNumber" in str(caught.value)
    assert "CompanyStatus" in str(caught.value)


def test_empty_and_missing_files(tmp_path: Path) -> None:
    empty = tmp_path / "empty.csv"
    empty.write_bytes(b"")
    with pytest.raises(BasicCompanyDataError, match="empty"):
        iter_basic_company_data(empty)
    with pytest.raises(BasicCompanyDataError, match="not a file"):
        iter_basic_company_data(tmp_path / "nowhere.csv")


def test_streams_without_reading_everything(tmp_path: Path) -> None:
    body = sample_text().split("\r\n")
    header, first_row = body[0], body[1]
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8", newline="") as out:
        out.write(header + "\r\n")
        for _ in range(20_000):
            out.write(first_row + "\r\n")
    rows = iter_basic_company_data(big)
    first = next(rows)
    assert first.company_number == "99100001"
    assert rows.rows_read == 1  # one row read so far, not the whole file
    rows.close()
    assert next(rows, None) is None


def test_undecodable_bytes_do_not_stop_the_import(tmp_path: Path) -> None:
    raw = SAMPLE.read_bytes().replace("CAFÉ".encode(), b"CAF\xc9")  # latin-1 "É"
    broken = tmp_path / "latin1.csv"
    broken.write_bytes(raw)
    records = by_number(read_all(broken)[0])
    assert records["99100008"].company_name == "CAF\ufffd BRONTË ENERGY (SAMPLE) LTD"


def test_a_stray_quote_is_skipped_not_fatal(tmp_path: Path) -> None:
    lines = sample_text().split("\r\n")
    lines.insert(2, '"BROKEN "QUOTE" LIMITED",99100099' + "," * 53)
    broken = tmp_path / "quote.csv"
    broken.write_text("\r\n".join(lines), encoding="utf-8", newline="")
    records, skipped, _ = read_all(broken)
    assert len(records) == 12
    assert skipped.get("unparseable_csv") == 1


@pytest.mark.parametrize(
    ("label", "status"),
    [
        ("Active", "active"),
        ("ACTIVE", "active"),
        ("Active - Proposal to Strike off", "active"),
        ("Liquidation", "liquidation"),
        ("In Administration", "administration"),
        ("ADMINISTRATION ORDER", "administration"),
        ("In Administration/Administrative Receiver", "administration"),
        ("In Administration/Receiver Manager", "administration"),
        ("Voluntary Arrangement", "voluntary-arrangement"),
        ("VOLUNTARY ARRANGEMENT / ADMINISTRATIVE RECEIVER", "voluntary-arrangement"),
        ("Receivership", "receivership"),
        ("RECEIVERSHIP", "receivership"),
        ("Receiver Action", "receivership"),
        ("ADMINISTRATIVE RECEIVER", "receivership"),
        ("RECEIVER MANAGER / ADMINISTRATIVE RECEIVER", "receivership"),
        ("Live but Receiver Manager on at least one charge", "receivership"),
        ("Dissolved", "dissolved"),
        ("Converted/Closed", "converted-closed"),
        ("Insolvency Proceedings", "insolvency-proceedings"),
        ("Something else", None),
    ],
)
def test_status_from_label(label: str, status: str | None) -> None:
    assert status_from_label(label) == status
