"""The real Companies House client against the local stub, over real HTTP.

No database and no Django settings are needed (except the ``client_from_settings`` test,
which patches ``django.conf.settings``).
"""

from __future__ import annotations

import base64
import email.utils
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from datetime import UTC, date, datetime, timedelta
from types import SimpleNamespace
from typing import Any

import httpx
import pytest

from flexreg.devtools.companies_house_stub import StubServer, load_fixtures, start_stub
from flexreg.participants import companies_house
from flexreg.participants.companies_house import (
    ALL_COMPANY_STATUSES,
    STATUS_ACTIVE,
    STATUS_DISSOLVED,
    STATUS_LIQUIDATION,
    CompaniesHouseAuthError,
    CompaniesHouseBadRequest,
    CompaniesHouseClient,
    CompaniesHouseError,
    CompaniesHouseInvalidResponse,
    CompaniesHouseUnavailable,
    CompanyNotFound,
    InvalidCompanyNumber,
    _normalise_company_number,
    _parse_retry_after,
    client_from_settings,
)
from flexreg.participants.officer_matching import check_declaration

KEY = "demo-key"


class SleepRecorder:
    def __init__(self) -> None:
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)


@pytest.fixture(scope="module")
def stub() -> Iterator[StubServer]:
    with start_stub() as server:
        yield server


@pytest.fixture(autouse=True)
def _fresh_stub(request: pytest.FixtureRequest) -> None:
    if "stub" in request.fixturenames:
        request.getfixturevalue("stub").reset()


@pytest.fixture
def sleeps() -> SleepRecorder:
    return SleepRecorder()


@pytest.fixture
def client(stub: StubServer, sleeps: SleepRecorder) -> Iterator[CompaniesHouseClient]:
    with CompaniesHouseClient(
        stub.url, KEY, timeout=2.0, max_retries=2, backoff_base=0.01, sleep=sleeps
    ) as ch:
        yield ch


def company_requests(stub: StubServer, number: str) -> list[str]:
    return [path for path in stub.request_log if path.startswith(f"/company/{number}")]


# --- profiles ---------------------------------------------------------------------------
def test_active_company_profile(client: CompaniesHouseClient) -> None:
    profile = client.get_company("99000001")
    assert profile.company_number == "99000001"
    assert profile.company_name == "BRIGHTWATT FLEX LIMITED (SAMPLE)"
    assert profile.company_status == STATUS_ACTIVE
    assert profile.is_active
    assert profile.company_type == "ltd"
    assert profile.date_of_creation == date(2019, 4, 2)
    assert profile.date_of_cessation is None
    assert profile.registered_office_address is not None
    assert profile.registered_office_address.postal_code == "RG1 1AA"
    assert profile.registered_office_address.address_line_2 is None


def test_company_numbers_are_normalised_before_use(
    client: CompaniesHouseClient, stub: StubServer
) -> None:
    assert client.get_company(" oc990004 ").company_number == "OC990004"
    assert stub.request_log == ["/company/OC990004"]


def test_dissolved_company(client: CompaniesHouseClient) -> None:
    profile = client.get_company("99000002")
    assert profile.company_status == STATUS_DISSOLVED
    assert profile.date_of_cessation == date(2023, 8, 29)
    assert not profile.is_active


def test_company_in_liquidation(client: CompaniesHouseClient) -> None:
    assert client.get_company("99000008").company_status == STATUS_LIQUIDATION


def test_every_fixture_profile_validates(client: CompaniesHouseClient) -> None:
    for number in load_fixtures()["companies"]:
        if number == "99000429":
            continue  # rate limited on purpose
        profile = client.get_company(number)
        assert profile.company_name.endswith("(SAMPLE)")
        assert profile.company_status in ALL_COMPANY_STATUSES


def test_unknown_company_is_not_found(client: CompaniesHouseClient, stub: StubServer) -> None:
    with pytest.raises(CompanyNotFound) as caught:
        client.get_company("99999999")
    assert caught.value.code == "companies_house.not_found"
    assert caught.value.status_code == 404
    assert len(stub.request_log) == 1  # never retried
    with pytest.raises(CompanyNotFound):
        client.list_officers("99999999")


# --- officers ---------------------------------------------------------------------------
def test_resigned_director(client: CompaniesHouseClient) -> None:
    officers = client.list_officers("99000003")
    by_name = {officer.name: officer for officer in officers}
    jane = by_name["SMITH, Jane Elizabeth"]
    assert jane.resigned_on == date(2023, 4, 30)
    assert not jane.is_current
    assert by_name["PATEL, Arjun"].is_current

    check = check_declaration(client.get_company("99000003"), officers, "Jane Smith")
    assert not check.passed
    assert check.codes == ("declarant.resigned",)


def test_happy_path_declaration_end_to_end(client: CompaniesHouseClient) -> None:
    check = check_declaration(
        client.get_company("99000001"), client.list_officers("99000001"), "Jane E. Smith"
    )
    assert check.passed
    assert check.matched_officer is not None
    assert check.matched_officer.name == "SMITH, Jane Elizabeth"


@pytest.mark.parametrize(
    ("number", "declarant", "codes"),
    [
        ("99000001", "Jane Smith", ()),
        ("99000001", "J Smith", ("declarant.partial_match",)),
        ("99000002", "Jane Smith", ("company.not_active",)),
        ("99000003", "Jane Smith", ("declarant.resigned",)),
        ("OC990004", "Owen Williams", ()),
        ("99000005", "Ruth Zephaniah", ()),
        ("99000006", "Anne Bronte", ()),
        ("99000006", "sean oneill", ()),
        ("99000007", "Peter Brown", ("declarant.role_cannot_bind",)),
        ("99000008", "Susan Clarke", ("company.not_active",)),
        ("99000009", "John Smith", ("declarant.ambiguous",)),
    ],
)
def test_sample_companies_behave_as_documented(
    client: CompaniesHouseClient, number: str, declarant: str, codes: tuple[str, ...]
) -> None:
    check = check_declaration(client.get_company(number), client.list_officers(number), declarant)
    assert check.codes == codes
    assert check.passed == (codes == ())


def test_llp_members(client: CompaniesHouseClient) -> None:
    assert client.get_company("OC990004").company_type == "llp"
    roles = {officer.name: officer.officer_role for officer in client.list_officers("OC990004")}
    assert roles["KHAN, Amira"] == "llp-designated-member"
    assert roles["EVANS, Carys"] == "llp-member"
    assert roles["SOLAR COMMONS NOMINEES LIMITED (SAMPLE)"] == "corporate-llp-designated-member"


def test_accented_names_survive_the_round_trip(client: CompaniesHouseClient) -> None:
    names = {officer.name for officer in client.list_officers("99000006")}
    assert {"BRONTË, Anne", "O'NEILL, Seán", "ØSTERGÅRD, Søren"} <= names


def test_officers_follow_every_page() -> None:
    with (
        start_stub(max_items_per_page=30) as small_pages,
        CompaniesHouseClient(small_pages.url, KEY, timeout=2.0) as ch,
    ):
        officers = ch.list_officers("99000005")
        log = list(small_pages.request_log)
    assert len(officers) == 65
    assert len({officer.name for officer in officers}) == 65
    assert officers[-1].name == "ZEPHANIAH, Ruth Abigail"
    assert log == [
        "/company/99000005/officers?items_per_page=100&start_index=0",
        "/company/99000005/officers?items_per_page=100&start_index=30",
        "/company/99000005/officers?items_per_page=100&start_index=60",
    ]


def test_stub_default_page_is_35(stub: StubServer) -> None:
    page = httpx.get(f"{stub.url}/company/99000005/officers", auth=(KEY, "")).json()
    assert page["items_per_page"] == 35
    assert len(page["items"]) == 35
    assert page["total_results"] == 65
    assert page["kind"] == "officer-list"
    assert page["active_count"] + page["resigned_count"] == 65
    assert page["items"][0]["links"]["officer"]["appointments"].startswith("/officers/")


# --- retries, rate limits, outages -----------------------------------------------------
def test_rate_limited_then_success_honours_retry_after(
    client: CompaniesHouseClient, stub: StubServer, sleeps: SleepRecorder
) -> None:
    profile = client.get_company("99000429")
    assert profile.company_name == "PATIENT RETRY ENERGY LIMITED (SAMPLE)"
    assert sleeps.delays == [1.0, 1.0]  # Retry-After: 1, twice
    assert len(company_requests(stub, "99000429")) == 3


def test_retry_after_is_capped_at_max_backoff(stub: StubServer, sleeps: SleepRecorder) -> None:
    with CompaniesHouseClient(stub.url, KEY, max_retries=3, max_backoff=0.25, sleep=sleeps) as ch:
        ch.get_company("99000429")
    assert sleeps.delays == [0.25, 0.25]


def test_rate_limit_outlasting_retries_is_unavailable(
    stub: StubServer, sleeps: SleepRecorder
) -> None:
    with (
        CompaniesHouseClient(stub.url, KEY, max_retries=1, sleep=sleeps) as ch,
        pytest.raises(CompaniesHouseUnavailable) as caught,
    ):
        ch.get_company("99000429")
    assert caught.value.status_code == 429
    assert "rate limited" in str(caught.value)


def test_persistent_500_gives_up_after_max_retries(
    client: CompaniesHouseClient, stub: StubServer, sleeps: SleepRecorder
) -> None:
    with pytest.raises(CompaniesHouseUnavailable) as caught:
        client.get_company("99000500")
    assert caught.value.code == "companies_house.unavailable"
    assert caught.value.status_code == 500
    assert len(company_requests(stub, "99000500")) == 3  # 1 + max_retries
    # exponential backoff with "equal jitter": base 0.01 then 0.02, each in [half, full]
    assert len(sleeps.delays) == 2
    assert 0.005 <= sleeps.delays[0] <= 0.01
    assert 0.01 <= sleeps.delays[1] <= 0.02


def test_timeout_is_unavailable(sleeps: SleepRecorder) -> None:
    with (
        start_stub(slow_seconds=3) as slow,
        CompaniesHouseClient(slow.url, KEY, timeout=0.2, max_retries=1, sleep=sleeps) as ch,
    ):
        started = time.monotonic()
        with pytest.raises(CompaniesHouseUnavailable) as caught:
            ch.get_company("99000504")
        elapsed = time.monotonic() - started
        assert len(slow.request_log) == 2
    assert "timed out" in str(caught.value)
    assert elapsed < 2
    assert len(sleeps.delays) == 1


def test_connection_refused_is_unavailable(sleeps: SleepRecorder) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with (
        CompaniesHouseClient(
            f"http://127.0.0.1:{port}", KEY, timeout=0.5, max_retries=2, sleep=sleeps
        ) as ch,
        pytest.raises(CompaniesHouseUnavailable),
    ):
        ch.get_company("99000001")
    assert len(sleeps.delays) == 2


# --- authentication ---------------------------------------------------------------------
def test_wrong_api_key_is_an_auth_error(stub: StubServer, sleeps: SleepRecorder) -> None:
    with (
        CompaniesHouseClient(stub.url, "not-the-key", sleep=sleeps) as ch,
        pytest.raises(CompaniesHouseAuthError) as caught,
    ):
        ch.get_company("99000001")
    assert caught.value.code == "companies_house.auth"
    assert caught.value.status_code == 401
    assert len(stub.request_log) == 1  # never retried
    assert sleeps.delays == []


def test_stub_rejects_a_password_and_missing_auth(stub: StubServer) -> None:
    assert httpx.get(f"{stub.url}/company/99000001", auth=(KEY, "secret")).status_code == 401
    refused = httpx.get(f"{stub.url}/company/99000001")
    assert refused.status_code == 401
    assert refused.json() == {"error": "Invalid Authorization", "type": "ch:service"}


def test_stub_without_a_key_accepts_any_user_name() -> None:
    with start_stub(api_key=None) as anyone:
        with CompaniesHouseClient(anyone.url, "whatever") as ch:
            assert ch.get_company("99000001").company_number == "99000001"
        assert httpx.get(f"{anyone.url}/company/99000001", auth=("", "")).status_code == 401


def test_empty_api_key_fails_without_a_request(stub: StubServer) -> None:
    with CompaniesHouseClient(stub.url, "") as ch, pytest.raises(CompaniesHouseAuthError):
        ch.get_company("99000001")
    assert stub.request_log == []


# --- invalid responses ------------------------------------------------------------------
def test_truncated_json_is_an_invalid_response(
    client: CompaniesHouseClient, stub: StubServer
) -> None:
    with pytest.raises(CompaniesHouseInvalidResponse) as caught:
        client.get_company("99000520")
    assert caught.value.code == "companies_house.invalid_response"
    assert len(stub.request_log) == 1


def test_body_missing_required_fields_is_an_invalid_response(
    client: CompaniesHouseClient,
) -> None:
    with pytest.raises(CompaniesHouseInvalidResponse, match="company_status"):
        client.get_company("99000521")
    with pytest.raises(CompaniesHouseInvalidResponse, match="name"):
        client.list_officers("99000521")


# --- the stub's other endpoints ---------------------------------------------------------
def test_stub_search_and_psc(stub: StubServer) -> None:
    found = httpx.get(f"{stub.url}/search/companies", params={"q": "brontë"}, auth=(KEY, ""))
    body = found.json()
    assert body["kind"] == "search#companies"
    assert body["total_results"] == 1
    assert body["items"][0]["company_number"] == "99000006"
    assert body["items"][0]["kind"] == "searchresults#company"
    psc = httpx.get(
        f"{stub.url}/company/99000001/persons-with-significant-control", auth=(KEY, "")
    ).json()
    assert psc["items"] == []
    assert psc["total_results"] == 0
    missing = httpx.get(f"{stub.url}/company/99999999", auth=(KEY, ""))
    assert missing.status_code == 404
    assert missing.json() == {
        "errors": [{"error": "company-profile-not-found", "type": "ch:service"}]
    }


def test_stub_runs_as_a_module() -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "flexreg.devtools.companies_house_stub", "--port", "0"],
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stderr is not None
        banner = process.stderr.readline()
        assert "SAMPLE data" in banner
        url = banner.split(" on ", 1)[1].split(" ", 1)[0]
        with CompaniesHouseClient(url, KEY) as ch:
            assert ch.get_company("99000001").company_number == "99000001"
    finally:
        process.terminate()
        process.wait(timeout=5)


# --- unit tests with a mock transport ---------------------------------------------------
def mock_client(
    handler: Callable[[httpx.Request], httpx.Response], **kwargs: Any
) -> CompaniesHouseClient:
    kwargs.setdefault("sleep", SleepRecorder())
    return CompaniesHouseClient(
        "https://ch.invalid", "the-key", transport=httpx.MockTransport(handler), **kwargs
    )


PROFILE: dict[str, Any] = {
    "company_number": "00000123",
    "company_name": "X (SAMPLE)",
    "company_status": "active",
}


def test_auth_is_basic_with_the_key_as_user_and_an_empty_password() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=PROFILE)

    with mock_client(handler, timeout=3.5) as ch:
        ch.get_company("123")
    request = seen[0]
    assert request.url.path == "/company/00000123"
    assert request.headers["Authorization"] == "Basic " + base64.b64encode(b"the-key:").decode()
    assert request.extensions["timeout"] == {
        "connect": 3.5,
        "read": 3.5,
        "write": 3.5,
        "pool": 3.5,
    }


def test_other_client_errors_are_never_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        return httpx.Response(400 if "00000001" in request.url.path else 403)

    with mock_client(handler) as ch:
        with pytest.raises(CompaniesHouseBadRequest) as caught:
            ch.get_company("1")
        assert caught.value.code == "companies_house.bad_request"
        with pytest.raises(CompaniesHouseAuthError):
            ch.get_company("2")
    assert len(calls) == 2


def test_transport_errors_are_retried() -> None:
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) < 3:
            raise httpx.ConnectError("refused", request=request)
        return httpx.Response(200, json=PROFILE)

    with mock_client(handler, max_retries=3) as ch:
        assert ch.get_company("123").company_name == "X (SAMPLE)"
    assert len(calls) == 3


def test_retry_after_as_an_http_date() -> None:
    when = datetime.now(UTC) + timedelta(seconds=3)
    header = email.utils.format_datetime(when, usegmt=True)
    delay = _parse_retry_after(header)
    assert delay is not None and 1.5 <= delay <= 3.0
    assert _parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0  # in the past
    assert _parse_retry_after("2") == 2.0
    assert _parse_retry_after("soon") is None
    assert _parse_retry_after(None) is None


def test_retry_after_http_date_is_honoured_by_the_client() -> None:
    sleeps = SleepRecorder()
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        if len(calls) == 1:
            later = email.utils.format_datetime(
                datetime.now(UTC) + timedelta(seconds=4), usegmt=True
            )
            return httpx.Response(503, headers={"Retry-After": later})
        return httpx.Response(200, json=PROFILE)

    with mock_client(handler, sleep=sleeps) as ch:
        ch.get_company("123")
    assert len(sleeps.delays) == 1 and 2.5 <= sleeps.delays[0] <= 4.0


def test_officer_paging_stops_on_an_empty_page() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        start = int(request.url.params["start_index"])
        items = [{"name": "SMITH, Jane", "officer_role": "director"}] if start == 0 else []
        return httpx.Response(200, json={"items": items, "total_results": 500})

    with mock_client(handler) as ch:
        assert len(ch.list_officers("123")) == 1


def test_officer_paging_rejects_a_server_that_ignores_start_index() -> None:
    page = {
        "items": [{"name": "SMITH, Jane", "officer_role": "director"}],
        "start_index": 0,
        "total_results": 10_000,
    }
    with (
        mock_client(lambda request: httpx.Response(200, json=page)) as ch,
        pytest.raises(CompaniesHouseInvalidResponse, match="index"),
    ):
        ch.list_officers("123")


def test_officer_paging_is_bounded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(companies_house, "MAX_OFFICER_PAGES", 5)
    calls: list[int] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(1)
        items = [{"name": f"SMITH, Jane {i}", "officer_role": "director"} for i in range(100)]
        return httpx.Response(200, json={"items": items})  # never says when it ends

    with mock_client(handler) as ch, pytest.raises(CompaniesHouseInvalidResponse):
        ch.list_officers("123")
    assert len(calls) == 5


def test_profile_for_another_company_is_rejected() -> None:
    with (
        mock_client(lambda request: httpx.Response(200, json=PROFILE)) as ch,
        pytest.raises(CompaniesHouseInvalidResponse, match="00000124"),
    ):
        ch.get_company("124")


def test_extra_fields_are_ignored_and_types_checked() -> None:
    body = {**PROFILE, "date_of_creation": "not a date"}
    with (
        mock_client(lambda request: httpx.Response(200, json=body)) as ch,
        pytest.raises(CompaniesHouseInvalidResponse, match="date_of_creation"),
    ):
        ch.get_company("123")
    body = {**PROFILE, "something_new": {"nested": True}, "date_of_creation": "2020-01-02"}
    with mock_client(lambda request: httpx.Response(200, json=body)) as ch:
        assert ch.get_company("123").date_of_creation == date(2020, 1, 2)


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("123", "00000123"),
        (" 01234567 ", "01234567"),
        ("sc12345", "SC012345"),
        ("SC 123456", "SC123456"),
        ("oc301540", "OC301540"),
        ("R0000123", "R0000123"),
        ("IP28746R", "IP28746R"),
    ],
)
def test_company_number_normalisation(raw: str, expected: str) -> None:
    assert _normalise_company_number(raw) == expected


@pytest.mark.parametrize("raw", ["", "ABC", "123456789", "../etc/passwd", "SC1234567", "99-12"])
def test_impossible_company_numbers_are_refused(raw: str) -> None:
    with pytest.raises(InvalidCompanyNumber) as caught:
        _normalise_company_number(raw)
    assert isinstance(caught.value, CompaniesHouseError)
    assert isinstance(caught.value, ValueError)


def test_client_from_settings(monkeypatch: pytest.MonkeyPatch, stub: StubServer) -> None:
    import django.conf

    monkeypatch.setattr(
        django.conf,
        "settings",
        SimpleNamespace(
            COMPANIES_HOUSE_API_URL=stub.url, COMPANIES_HOUSE_API_KEY=KEY, COMPANIES_HOUSE_TIMEOUT=1
        ),
    )
    with client_from_settings() as ch:
        assert ch.get_company("99000001").company_number == "99000001"
    monkeypatch.setattr(django.conf, "settings", SimpleNamespace())
    with client_from_settings() as ch:
        assert "api.company-information.service.gov.uk" in repr(ch)
