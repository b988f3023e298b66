"""Portal pages: the inbox (unread marked, mark as read, open the thing) and the channel
choices (GOV.UK radios per kind; kinds the rules make mandatory shown fixed)."""

from __future__ import annotations

from typing import Any

import pytest
from django.template import Context, Template
from django.test import Client, RequestFactory

from flexreg.notifications import services
from flexreg.notifications.models import Notification, NotificationPreference

pytestmark = pytest.mark.django_db


@pytest.fixture
def person(make_user: Any) -> Any:
    return make_user("reader@example.test", "Rita Reader")


@pytest.fixture
def browser(person: Any) -> Client:
    client = Client()
    client.force_login(person)
    return client


def _tell(user: Any, subject: str, link: str = "/participants/") -> Notification:
    services.notify(
        "entry.case_qualified",
        [user.pk],
        subject=subject,
        context={"role": "FSP", "reason": "All <b>in</b> order."},
        link=link,
        dedupe_key=subject,
    )
    return Notification.objects.get(recipient=user, dedupe_key=subject)


def test_anonymous_visitors_are_sent_to_sign_in() -> None:
    response = Client().get("/inbox/")
    assert response.status_code == 302 and response["Location"].startswith("/sign-in/")


def test_the_inbox_marks_unread_and_escapes_bodies(browser: Client, person: Any) -> None:
    _tell(person, "Old news")
    _tell(person, "Fresh news")
    Notification.objects.filter(subject="Old news").update(read_at="2027-01-01T00:00Z")
    page = browser.get("/inbox/").content.decode()
    assert "You have 1 unread notification." in page
    assert page.index("Fresh news") < page.index("Old news")  # newest first
    assert page.count(">Unread</strong>") == 1
    assert "All &lt;b&gt;in&lt;/b&gt; order." in page and "<b>in</b>" not in page
    only_unread = browser.get("/inbox/?unread=1").content.decode()
    assert "Fresh news" in only_unread and "Old news" not in only_unread


def test_mark_as_read_open_and_mark_all(browser: Client, person: Any, make_user: Any) -> None:
    first = _tell(person, "First", link="/participants/FR123/")
    second = _tell(person, "Second")
    third = _tell(person, "Third", link="//evil.example/")
    response = browser.post(f"/inbox/{second.public_id}/read/")
    assert response.status_code == 302 and response["Location"] == "/inbox/"
    second.refresh_from_db()
    assert second.read_at is not None
    opened = browser.post(f"/inbox/{first.public_id}/open/")
    assert opened.status_code == 302 and opened["Location"] == "/participants/FR123/"
    first.refresh_from_db()
    assert first.read_at is not None
    # only links inside the portal are followed
    assert browser.post(f"/inbox/{third.public_id}/open/")["Location"] == "/inbox/"
    # someone else's notification: not found
    theirs = _tell(make_user(), "Theirs")
    assert browser.post(f"/inbox/{theirs.public_id}/read/").status_code == 404
    _tell(person, "Fourth")
    browser.post("/inbox/read-all/")
    assert not Notification.objects.filter(recipient=person, read_at__isnull=True).exists()
    assert browser.get(f"/inbox/{first.public_id}/read/").status_code == 405  # POST only


def test_older_pages(browser: Client, person: Any) -> None:
    for i in range(30):
        _tell(person, f"Event {i:02d}")
    page = browser.get("/inbox/")
    text = page.content.decode()
    assert "Event 29" in text and "Event 04" not in text and "Older" in text
    cursor = page.context["next_cursor"]
    older = browser.get(f"/inbox/?cursor={cursor}").content.decode()
    assert "Event 04" in older and "Event 29" not in older


def test_preferences_show_radios_and_fixed_mandatory_kinds(browser: Client, person: Any) -> None:
    page = browser.get("/inbox/preferences/").content.decode()
    assert 'name="entry__request_raised"' in page
    assert 'name="entry__request_overdue"' not in page  # mandatory by email: not a choice
    assert "Always sent by email" in page and "Overdue request" in page
    chosen = {
        "entry__request_raised": "inbox",
        "entry__answer_reviewed": "email",
        "entry__case_qualified": "email",
        "entry__request_reminder": "inbox",
        "participant__change_reviewed": "email",
        "entry__case_ready": "inbox",
        "entry__request_escalated": "email",
        "participant__company_status": "email",
        "assets__validated": "email",
        "assets__consent_revoked": "email",
        "assets__decommissioned": "email",
        "assets__linked": "email",
        "assets__link_ended": "email",
        "assets__decided": "email",
        "assets__import_validated": "email",
    }
    response = browser.post("/inbox/preferences/", chosen)
    assert response.status_code == 302, response.content.decode()
    saved = dict(NotificationPreference.objects.filter(user=person).values_list("kind", "channel"))
    assert saved == {"entry.request_raised": "inbox", "entry.request_reminder": "inbox"}
    again = browser.get("/inbox/preferences/").content.decode()
    checked = 'name="entry__request_raised" type="radio" value="inbox" checked'
    assert checked in again


def test_preferences_missing_a_choice_show_an_error_summary(browser: Client) -> None:
    response = browser.post("/inbox/preferences/", {"entry__request_raised": "pigeon"})
    assert response.status_code == 200
    text = response.content.decode()
    assert "There is a problem" in text
    assert 'href="#entry__request_raised"' in text


def test_the_unread_count_tag_for_the_header(person: Any, make_user: Any) -> None:
    _tell(person, "One")
    _tell(person, "Two")
    request = RequestFactory().get("/")
    request.user = person
    tag = Template("{% load notifications %}{% unread_notifications as n %}{{ n }}")
    assert tag.render(Context({"request": request})) == "2"
    from django.contrib.auth.models import AnonymousUser

    label = Template("{% load notifications %}{% inbox_label as text %}{{ text }}")
    assert label.render(Context({"request": request})) == "Inbox (2 unread)"
    request.user = AnonymousUser()
    assert tag.render(Context({"request": request})) == "0"
    assert label.render(Context({"request": request})) == "Inbox"
