"""`flexreg companies import FILE` and its use when the Companies House API cannot be used."""

from __future__ import annotations

import zipfile
from pathlib import Path
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from conftest import organisation_payload
from flexreg.participants.models import RegisteredCompany

pytestmark = pytest.mark.django_db

SAMPLE = Path(__file__).parent / "data" / "basic_company_data_sample.csv"


def test_import_loads_the_real_header_and_counts_bad_rows(capsys: Any) -> None:
    call_command("companies", "import", str(SAMPLE))
    out = capsys.readouterr().out
    assert RegisteredCompany.objects.count() > 0
    assert "loaded" in out and "skipped" in out
    statuses = set(RegisteredCompany.objects.values_list("status", flat=True))
    assert "active" in statuses and "dissolved" in statuses


def test_import_is_idempotent_and_reads_zips(tmp_path: Path) -> None:
    call_command("companies", "import", str(SAMPLE))
    first = RegisteredCompany.objects.count()
    archive = tmp_path / "BasicCompanyData-2026-11-01.zip"
    with zipfile.ZipFile(archive, "w") as zf:
        zf.write(SAMPLE, "BasicCompanyDataAsOneFile-2026-11-01.csv")
    call_command("companies", "import", str(archive), "--batch-size", "2")
    assert RegisteredCompany.objects.count() == first


def test_import_refuses_a_file_without_the_columns(tmp_path: Path) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text("name,number\nA,1\n")
    with pytest.raises(CommandError):
        call_command("companies", "import", str(bad))
    with pytest.raises(CommandError):
        call_command("companies", "import", str(tmp_path / "missing.csv"))


def test_without_an_api_key_verification_uses_the_bulk_data_and_goes_to_review(
    registered: Any, settings: Any
) -> None:
    RegisteredCompany.objects.create(
        company_number="99000001",
        company_name="BRIGHTWATT FLEX LIMITED (SAMPLE)",
        status="active",
        status_label="Active",
    )
    settings.COMPANIES_HOUSE_API_KEY = ""
    _, body, _ = registered(organisation_payload())
    verification = body["verification"]
    assert verification["status"] == "needs_review"
    assert verification["reasons"][0]["code"] == "companies_house.not_configured"
    assert verification["company"]["company_status"] == "active"
    assert verification["company"]["source"] == "basic_company_data"
