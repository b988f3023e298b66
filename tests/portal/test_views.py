"""The portal through Django's test client: pages, forms, error summaries, access control."""

from __future__ import annotations

import html as htmllib
import re
from html.parser import HTMLParser
from typing import Any

import pytest
from django.test import Client, RequestFactory
from django.urls import URLPattern, URLResolver

from flexreg import portal_urls
from flexreg.accounts.middleware import SESSION_KEY
from flexreg.accounts.portal_auth import PUBLIC
from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.participants import services
from flexreg.participants.models import Membership, Participant, Verification
from flexreg.participants.schemas import OrganisationIn
from tests.signin import helpers as signin_helpers
from tests.signin.helpers import enrol_totp, verify_email

pytestmark = pytest.mark.django_db

# The password the root conftest's ``make_user`` gives every user (read from that conftest:
# ``import conftest`` would be ambiguous next to tests/browser/conftest.py).
PASSWORD = ""


@pytest.fixture(autouse=True)
def _root_password(pytestconfig: pytest.Config) -> None:
    global PASSWORD
    root = pytestconfig.pluginmanager.get_plugin(str(pytestconfig.rootpath / "conftest.py"))
    PASSWORD = root.PASSWORD


ORGANISATION = {
    "legal_name": "Brightwatt Flex Limited (Sample)",
    "trading_name": "Brightwatt",
    "organisation_type": "company",
    "company_number": "99000001",
    "address_line1": "1 Sample Street",
    "address_town": "London",
    "address_postcode": "sw1a 1aa",
    "vat_number": "GB980780684",
    "website": "https://brightwatt.example",
    "primary_name": "Jane Smith",
    "primary_email": "jane@brightwatt.example",
    "primary_phone": "+44 20 7946 0000",
    "technical_name": "Tech Desk",
    "technical_email": "tech@brightwatt.example",
    "technical_phone": "+44 7911 123456",
    "email_domains": "brightwatt.example, Brightwatt.co.uk",
}
HANDOVER = {
    **ORGANISATION,
    "legal_name": "Handover Heat Pumps Limited (Sample)",
    "company_number": "99000003",
    "trading_name": "",
    "vat_number": "",
    "email_domains": "handover.example",
}


# --- helpers ----------------------------------------------------------------------------------


class _Forms(HTMLParser):
    """Collects each <form>: its method, action and the names of its inputs."""

    def __init__(self) -> None:
        super().__init__()
        self.forms: list[dict[str, Any]] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        a = dict(attrs)
        if tag == "form":
            self.forms.append(
                {
                    "method": (a.get("method") or "get").lower(),
                    "action": a.get("action"),
                    "inputs": [],
                }
            )
        elif tag in ("input", "button", "textarea", "select") and self.forms:
            self.forms[-1]["inputs"].append(a.get("name"))


def forms_of(html: str) -> list[dict[str, Any]]:
    parser = _Forms()
    parser.feed(html)
    return parser.forms


def error_links(html: str) -> dict[str, str]:
    """The error summary's links: {href: text}."""
    summary = re.search(r'<div class="govuk-error-summary".*?</ul>', html, re.S)
    assert summary, "no error summary on the page"
    return {
        htmllib.unescape(href): htmllib.unescape(re.sub(r"\s+", " ", text).strip())
        for href, text in re.findall(r'<a href="([^"]+)">(.*?)</a>', summary.group(0), re.S)
    }


def text_of(response: Any) -> str:
    return response.content.decode()


def sign_in(client: Client, user: Any, totp_secret: str | None = None) -> Client:
    """A confirmed email address, then /sign-in/ (and the TOTP step for elevated users)."""
    verify_email(user)
    signin_helpers.sign_in(client, user, PASSWORD, totp_secret=totp_secret)
    return client


def register_via_portal(
    client: Client,
    organisation: dict[str, str],
    declarant: str = "Jane Smith",
    roles: tuple[str, ...] = ("FSP", "ASSET_OWNER"),
) -> Any:
    assert client.post("/register/organisation/", organisation).status_code == 302
    response = client.post(
        "/register/declaration/",
        {
            "declarant_name": declarant,
            "declarant_is_applicant": "yes",
            "statement_accepted": "on",
        },
    )
    assert response.status_code == 302, text_of(response)
    assert client.post("/register/roles/", {"requested_roles": list(roles)}).status_code == 302
    return client.post("/register/check/")


@pytest.fixture
def user(make_user: Any) -> Any:
    return make_user("applicant@example.test", "Alex Applicant")


@pytest.fixture
def signed_in(client: Client, user: Any) -> Client:
    # A registrant becomes an Authorised Person on verification, so needs TOTP: enrolled up
    # front and used at sign-in, so the session has its second factor.
    return sign_in(client, user, totp_secret=enrol_totp(user))


@pytest.fixture
def operator_client(operator: Any) -> Client:
    # Central operators hold elevated permissions: TOTP is required.
    return sign_in(Client(), operator[0], totp_secret=enrol_totp(operator[0]))


@pytest.fixture
def registered(signed_in: Client, user: Any) -> Participant:
    """The user's organisation, 99000001, verified and active."""
    response = register_via_portal(signed_in, ORGANISATION)
    assert response.status_code == 302, text_of(response)
    return Participant.objects.get(company_number="99000001")


def _all_patterns(patterns: list[Any] | None = None) -> list[URLPattern]:
    """Every portal URL pattern, descending into included modules."""
    found: list[URLPattern] = []
    for entry in portal_urls.urlpatterns if patterns is None else patterns:
        if isinstance(entry, URLResolver):
            found += _all_patterns(entry.url_patterns)
        else:
            found.append(entry)
    return found


# --- every page ---------------------------------------------------------------------------------


def test_every_portal_view_declares_its_permission() -> None:
    for pattern in _all_patterns():
        declared = getattr(pattern.callback, "required_permission", None)
        assert declared is not None, f"{pattern.pattern} declares no permission"
        assert declared in (PUBLIC, permissions.REGISTER) or declared in permissions.CATALOGUE


@pytest.mark.parametrize("url", ["/", "/sign-in/", "/create-account/"])
def test_public_pages_render_with_the_layout(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 200
    html = text_of(response)
    assert '<html lang="en-GB"' in html
    assert re.search(r"<title>[^<]+ – FlexReg</title>", html)
    assert 'href="#main-content"' in html
    assert '<main class="govuk-main-wrapper" id="main-content">' in html
    assert "govuk-phase-banner" in html and "Beta" in html
    assert "govuk-frontend.min.css" in html and 'type="module"' in html
    # CSP: no inline scripts or styles; not a GOV.UK service.
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html)
    assert "style=" not in html
    assert "GOV.UK" not in html and "govuk-header__logotype" not in html


@pytest.mark.parametrize(
    "url",
    [
        "/register/",
        "/register/organisation/",
        "/register/declaration/",
        "/register/roles/",
        "/register/check/",
        "/register/individual/",
        "/participants/",
        "/participants/ABC123/",
        "/operator/verifications/",
        "/operator/verifications/00000000-0000-0000-0000-000000000000/",
    ],
)
def test_anonymous_users_are_sent_to_sign_in(client: Client, url: str) -> None:
    response = client.get(url)
    assert response.status_code == 302
    assert response["Location"] == f"/sign-in/?next={url}"


def test_pages_render_for_a_signed_in_applicant(signed_in: Client) -> None:
    for url in [
        "/",
        "/register/",
        "/register/organisation/",
        "/register/roles/",
        "/register/individual/",
        "/participants/",
    ]:
        response = signed_in.get(url)
        assert response.status_code == 200, url
        assert "Sign out" in text_of(response)


def test_every_form_carries_a_csrf_token(
    client: Client, signed_in: Client, registered: Participant, operator_client: Client
) -> None:
    review = Verification.objects.create(
        participant=registered, method="manual", status="needs_review"
    )
    pages = [
        (Client(), "/sign-in/"),
        (Client(), "/create-account/"),
        (signed_in, "/register/organisation/"),
        (signed_in, "/register/roles/"),
        (signed_in, "/register/individual/"),
        (signed_in, "/participants/"),
        (signed_in, f"/participants/{registered.participant_id}/"),
        (operator_client, "/operator/verifications/"),
        (operator_client, f"/operator/verifications/{review.public_id}/"),
    ]
    for page_client, url in pages:
        response = page_client.get(url)
        assert response.status_code == 200, url
        post_forms = [f for f in forms_of(text_of(response)) if f["method"] == "post"]
        assert post_forms, f"{url} has no form"
        for form in post_forms:
            assert "csrfmiddlewaretoken" in form["inputs"], f"{url}: {form}"


def test_a_post_without_the_csrf_token_is_refused(user: Any) -> None:
    strict = Client(enforce_csrf_checks=True)
    response = strict.post("/sign-in/", {"email": user.email, "password": PASSWORD})
    assert response.status_code == 403


def test_unknown_pages_get_the_styled_404(client: Client) -> None:
    response = client.get("/no-such-page/")
    assert response.status_code == 404
    html = text_of(response)
    assert "<title>Page not found – FlexReg</title>" in html
    assert "Traceback" not in html


def test_the_500_page_never_shows_a_stack_trace() -> None:
    from flexreg.accounts.views import server_error

    response = server_error(RequestFactory().get("/register/"))
    assert response.status_code == 500
    html = response.content.decode()
    assert "Sorry, there is a problem with the service" in html
    assert "Traceback" not in html


def test_the_csrf_failure_page_is_styled() -> None:
    from flexreg.accounts.views import csrf_failure

    response = csrf_failure(RequestFactory().post("/sign-in/"))
    assert response.status_code == 403
    assert "Your form could not be sent – FlexReg" in response.content.decode()


# --- accounts -----------------------------------------------------------------------------------


def test_sign_in_rotates_the_session(client: Client, user: Any) -> None:
    verify_email(user)
    client.get("/sign-in/")
    client.session.save()
    before = client.session.session_key
    response = client.post(
        "/sign-in/?next=/register/",
        {"email": "APPLICANT@example.test", "password": PASSWORD, "next": "/register/"},
    )
    assert response.status_code == 302 and response["Location"] == "/register/"
    assert client.session.session_key != before


def test_sign_in_with_a_wrong_password_shows_an_error_summary(client: Client, user: Any) -> None:
    response = client.post("/sign-in/", {"email": user.email, "password": "wrong"})
    assert response.status_code == 200
    html = text_of(response)
    assert error_links(html) == {"#email": "Enter a correct email address and password"}
    assert "<title>Error: Sign in – FlexReg</title>" in html
    assert "_auth_user_id" not in client.session


def test_sign_in_refuses_an_external_next_url(client: Client, user: Any) -> None:
    verify_email(user)
    response = client.post(
        "/sign-in/", {"email": user.email, "password": PASSWORD, "next": "https://evil.example/"}
    )
    assert response["Location"] == "/participants/"


def test_sign_out_is_post_only(signed_in: Client) -> None:
    assert signed_in.get("/sign-out/").status_code == 405
    response = signed_in.post("/sign-out/")
    assert response.status_code == 302
    assert signed_in.get("/register/").status_code == 302


def test_create_account_signs_the_new_user_in_once_the_email_is_confirmed(
    client: Client, mailoutbox: Any
) -> None:
    response = client.post(
        "/create-account/",
        {
            "full_name": "Nia New",
            "email": "Nia@Example.test",
            "password": PASSWORD,
        },
    )
    assert response.status_code == 302 and response["Location"] == "/accounts/confirm-email/"
    assert client.get("/register/").status_code == 302  # not signed in yet
    (message,) = mailoutbox
    assert message.to == ["nia@example.test"]
    link = re.search(r"https?://[^/\s]+(/accounts/confirm-email/[^\s]+/)", message.body)
    assert link, message.body
    assert "Confirm your email address" in text_of(client.get(link.group(1)))
    response = client.post(link.group(1))
    assert response.status_code == 302 and response["Location"] == "/register/"
    assert client.get("/register/").status_code == 200


def test_create_account_errors(client: Client, user: Any) -> None:
    response = client.post(
        "/create-account/", {"full_name": "", "email": "not-an-email", "password": "short"}
    )
    links = error_links(text_of(response))
    assert links["#full_name"] == "Enter your full name"
    assert links["#email"] == "Enter an email address like name@example.com"
    response = client.post(
        "/create-account/", {"full_name": "Dup", "email": user.email, "password": "short"}
    )
    assert "#password" in error_links(text_of(response))
    response = client.post(
        "/create-account/", {"full_name": "Dup", "email": user.email, "password": PASSWORD}
    )
    assert error_links(text_of(response)) == {
        "#email": "An account with this email address already exists"
    }


# --- the registration journey ------------------------------------------------------------------


def test_bad_organisation_details_show_an_error_summary_linked_to_fields(signed_in: Client) -> None:
    response = signed_in.post("/register/organisation/", {"organisation_type": "company"})
    assert response.status_code == 200
    html = text_of(response)
    links = error_links(html)
    assert links["#legal_name"] == "Enter the organisation's legal name"
    assert links["#company_number"] == "Enter the company number"
    assert links["#address_line1"].startswith("Enter address line 1")
    assert links["#address_postcode"] == "Enter the postcode"
    assert links["#primary_email"] == "Enter the primary contact's email address"
    assert links["#email_domains"] == "Enter at least one email domain"
    # Inline messages next to the fields, and the page title says there is an error.
    assert 'id="legal_name-error"' in html and "govuk-input--error" in html
    assert html.count("<title>Error: ") == 1
    assert "registration_draft" not in signed_in.session


def test_schema_messages_reach_the_fields(signed_in: Client) -> None:
    response = signed_in.post(
        "/register/organisation/",
        {
            **ORGANISATION,
            "address_postcode": "NOT A POSTCODE",
            "primary_phone": "020 7946 0000",
            "vat_number": "GB123",
            "website": "http://plain.example",
            "email_domains": "not a domain",
            "technical_name": "Only A Name",
            "technical_email": "",
            "technical_phone": "",
        },
    )
    links = error_links(text_of(response))
    assert set(links) == {
        "#address_postcode",
        "#primary_phone",
        "#vat_number",
        "#website",
        "#email_domains",
        "#technical_email",
        "#technical_phone",
    }
    assert "international format" in links["#primary_phone"]
    assert links["#website"] == "Enter a web address starting https://"


def test_no_type_chosen_and_llp_numbers(signed_in: Client) -> None:
    response = signed_in.post("/register/organisation/", {**ORGANISATION, "organisation_type": ""})
    assert error_links(text_of(response)) == {
        "#organisation_type": "Select the type of organisation"
    }
    response = signed_in.post(
        "/register/organisation/",
        {
            **ORGANISATION,
            "organisation_type": "llp",
            "company_number": "",
            "llp_number": "",
        },
    )
    assert error_links(text_of(response)) == {"#llp_number": "Enter the LLP number"}


def test_task_list_tracks_the_draft(signed_in: Client) -> None:
    html = text_of(signed_in.get("/register/"))
    assert "govuk-task-list" in html and html.count("Cannot start yet") == 2
    assert signed_in.get("/register/check/")["Location"] == "/register/"
    signed_in.post("/register/organisation/", ORGANISATION)
    draft = signed_in.session["registration_draft"]["organisation"]
    assert draft["address_postcode"] == "SW1A 1AA"
    assert draft["email_domains"] == "brightwatt.example, brightwatt.co.uk"
    assert draft["primary_phone"] == "+442079460000"
    html = text_of(signed_in.get("/register/"))
    assert "Completed" in html and html.count("Cannot start yet") == 1
    # Nothing is written before the applicant submits.
    assert not Participant.objects.exists()
    # The saved answers come back when the section is opened again.
    assert 'value="SW1A 1AA"' in text_of(signed_in.get("/register/organisation/"))


def test_declaration_and_roles_validate(signed_in: Client) -> None:
    signed_in.post("/register/organisation/", ORGANISATION)
    links = error_links(text_of(signed_in.post("/register/declaration/", {})))
    assert links == {
        "#declarant_name": "Enter the full name of the declaring officer",
        "#declarant_is_applicant": "Select yes if you are the declaring officer",
        "#statement_accepted": "The declaration statement must be accepted",
    }
    links = error_links(text_of(signed_in.post("/register/roles/", {})))
    assert links == {"#requested_roles": "Select at least one role"}
    links = error_links(
        text_of(signed_in.post("/register/roles/", {"requested_roles": ["MARKET_FACILITATOR"]}))
    )
    assert links == {"#requested_roles": "Select roles from the list"}


def test_no_declaration_for_organisations_without_a_company_number(signed_in: Client) -> None:
    signed_in.post("/register/organisation/", {**ORGANISATION, "organisation_type": "charity"})
    assert "Not needed" in text_of(signed_in.get("/register/"))
    assert signed_in.get("/register/declaration/")["Location"] == "/register/"


def test_full_journey_ends_with_an_active_participant(signed_in: Client, user: Any) -> None:
    assert signed_in.post("/register/organisation/", ORGANISATION)["Location"] == "/register/"
    signed_in.post(
        "/register/declaration/",
        {
            "declarant_name": "Jane Smith",
            "declarant_is_applicant": "yes",
            "statement_accepted": "on",
        },
    )
    signed_in.post("/register/roles/", {"requested_roles": ["FSP", "ASSET_OWNER"]})
    check = text_of(signed_in.get("/register/check/"))
    assert "govuk-summary-list" in check and "Brightwatt Flex Limited (Sample)" in check
    assert "/register/organisation/?from=check#company_number" in check
    assert "csrfmiddlewaretoken" in check

    response = signed_in.post("/register/check/")
    participant = Participant.objects.get(company_number="99000001")
    assert response.status_code == 302
    assert response["Location"] == f"/participants/{participant.participant_id}/"
    assert participant.status == "active"
    assert "registration_draft" not in signed_in.session
    membership = Membership.objects.get(pk=signed_in.session[SESSION_KEY])
    assert membership.user == user and membership.is_authorised_person

    html = text_of(signed_in.get(response["Location"]))
    assert participant.participant_id in html
    assert 'id="participant-status">Active<' in html
    assert re.search(r'data-role="FSP">Active<', html)
    assert re.search(r'data-role="ASSET_OWNER">Active<', html)
    assert "Passed automatically" in html
    assert "SMITH, Jane Elizabeth" in html
    assert "jane@brightwatt.example" in html  # the full view shows contacts


def test_change_links_return_to_check_answers(signed_in: Client, registered: Participant) -> None:
    register_via_portal_steps = {
        **ORGANISATION,
        "company_number": "99000006",
        "legal_name": "Other Ltd",
    }
    signed_in.post("/register/organisation/", register_via_portal_steps)
    signed_in.post(
        "/register/declaration/",
        {
            "declarant_name": "Anne Bronte",
            "declarant_is_applicant": "no",
            "statement_accepted": "on",
        },
    )
    signed_in.post("/register/roles/", {"requested_roles": ["FSP"]})
    response = signed_in.post("/register/roles/?from=check", {"requested_roles": ["AGGREGATOR"]})
    assert response["Location"] == "/register/check/"
    assert "Aggregator" in text_of(signed_in.get("/register/check/"))


def test_a_company_already_registered_is_reported_on_check_answers(
    registered: Participant, make_user: Any
) -> None:
    other = sign_in(Client(), make_user("second@example.test"))
    response = register_via_portal(other, ORGANISATION)
    assert response.status_code == 422
    links = error_links(text_of(response))
    assert list(links) == ["/register/organisation/?from=check#company_number"]
    assert registered.participant_id in links["/register/organisation/?from=check#company_number"]
    assert Participant.objects.filter(company_number="99000001").count() == 1


def test_individual_registration(signed_in: Client) -> None:
    response = signed_in.post("/register/individual/", {"requested_roles": ["ASSET_OWNER"]})
    links = error_links(text_of(response))
    assert {"#given_name", "#family_name", "#address_line1", "#email", "#phone"} <= set(links)
    response = signed_in.post(
        "/register/individual/",
        {
            "given_name": "Alex",
            "family_name": "Householder",
            "address_line1": "2 Home Lane",
            "address_town": "Leeds",
            "address_postcode": "ls1 1aa",
            "email": "alex@home.example",
            "phone": "+44 7911 123456",
            "requested_roles": ["ASSET_OWNER", "FSP"],
        },
    )
    participant = Participant.objects.get(kind="individual")
    assert response["Location"] == f"/participants/{participant.participant_id}/"
    html = text_of(signed_in.get(response["Location"]))
    assert "Pending verification" in html and "Alex Householder" in html


# --- participants and acting ------------------------------------------------------------------


def test_my_participants_lists_memberships(signed_in: Client, registered: Participant) -> None:
    html = text_of(signed_in.get("/participants/"))
    assert f'href="/participants/{registered.participant_id}/"' in html
    assert f"{registered.participant_id}/FSP" in html and "Authorised Person" in html


def test_switching_acting_membership(signed_in: Client, registered: Participant) -> None:
    response = signed_in.post("/acting/", {"membership": f"{registered.participant_id}/FSP"})
    assert response.status_code == 302
    chosen = Membership.objects.get(pk=signed_in.session[SESSION_KEY])
    assert chosen.participant_role.role == "FSP"
    assert signed_in.get("/acting/").status_code == 405


def test_switching_to_someone_elses_membership_is_refused(
    registered: Participant, make_user: Any
) -> None:
    other = sign_in(Client(), make_user("stranger@example.test"))
    response = other.post("/acting/", {"membership": f"{registered.participant_id}/FSP"})
    assert response.status_code == 400
    assert error_links(text_of(response)) == {"#membership": "Select one of your participant roles"}
    assert SESSION_KEY not in other.session


def test_a_participant_someone_may_not_see_answers_404(
    registered: Participant, make_user: Any
) -> None:
    stranger = make_user("pending@example.test")
    data = OrganisationIn.model_validate(
        {
            "kind": "organisation",
            "legal_name": "Somebody Else Ltd",
            "organisation_type": "charity",
            "registered_address": {"line1": "1 Road", "town": "York", "postcode": "YO1 7HH"},
            "contacts": {
                "primary": {"name": "S E", "email": "s@e.example", "phone": "+44 20 7946 0001"}
            },
            "email_domains": ["e.example"],
            "requested_roles": ["FSP"],
        }
    )
    services.register(Acting(user_id=stranger.pk, user_label=stranger.email, via="test"), data)
    client = sign_in(Client(), stranger)
    response = client.get(f"/participants/{registered.participant_id}/")
    assert response.status_code == 404
    assert "Page not found" in text_of(response)
    # Without any membership there is no participant:read at all.
    nobody = sign_in(Client(), make_user("nobody@example.test"))
    assert nobody.get(f"/participants/{registered.participant_id}/").status_code == 403


# --- the central operator ---------------------------------------------------------------------


def test_the_review_queue_is_refused_to_others(signed_in: Client, registered: Participant) -> None:
    review = Verification.objects.create(
        participant=registered, method="manual", status="needs_review"
    )
    for url in ["/operator/verifications/", f"/operator/verifications/{review.public_id}/"]:
        response = signed_in.get(url)
        assert response.status_code == 403
        assert "You do not have access to this page" in text_of(response)
    assert (
        signed_in.post(
            f"/operator/verifications/{review.public_id}/",
            {"decision": "approve", "reason": "Looks fine"},
        ).status_code
        == 403
    )
    review.refresh_from_db()
    assert review.status == "needs_review"


def test_an_unknown_verification_is_404_for_the_operator(operator_client: Client) -> None:
    assert operator_client.get("/operator/verifications/not-a-uuid/").status_code == 404
    assert (
        operator_client.get(
            "/operator/verifications/00000000-0000-0000-0000-000000000000/"
        ).status_code
        == 404
    )


def test_operator_approves_a_mismatched_registration(
    signed_in: Client, operator_client: Client
) -> None:
    response = register_via_portal(signed_in, HANDOVER, roles=("FSP",))
    participant = Participant.objects.get(company_number="99000003")
    assert participant.status == "pending_verification"
    html = text_of(signed_in.get(response["Location"]))
    assert "with the central operator" in html.lower()
    assert "Pending verification" in html

    queue = text_of(operator_client.get("/operator/verifications/"))
    verification = Verification.objects.get(participant=participant, status="needs_review")
    assert participant.participant_id in queue and "99000003" in queue
    assert f"/operator/verifications/{verification.public_id}/" in queue

    url = f"/operator/verifications/{verification.public_id}/"
    detail = text_of(operator_client.get(url))
    assert "HANDOVER HEAT PUMPS LIMITED (SAMPLE)" in detail and "active" in detail
    assert "resigned" in detail.lower()

    response = operator_client.post(url, {"decision": "approve", "reason": ""})
    assert error_links(text_of(response)) == {"#reason": "Enter the reason for your decision"}
    response = operator_client.post(url, {"reason": "ok"})
    links = error_links(text_of(response))
    assert links["#decision"] == "Select approve or reject"
    assert links["#reason"] == "Reason for your decision must be at least 3 characters"

    response = operator_client.post(
        url, {"decision": "approve", "reason": "Checked the board minutes by phone."}
    )
    assert response.status_code == 302 and response["Location"] == "/operator/verifications/"
    assert "Approved" in text_of(operator_client.get("/operator/verifications/"))
    participant.refresh_from_db()
    assert participant.status == "active"
    html = text_of(signed_in.get(f"/participants/{participant.participant_id}/"))
    assert 'id="participant-status">Active<' in html
    assert "Checked the board minutes by phone." in html
    # Deciding twice is refused with a message, not an error page.
    response = operator_client.post(url, {"decision": "reject", "reason": "Changed my mind"})
    assert response.status_code == 200
    assert "already approved" in text_of(response)
