"""Portal pages: the inbox (``/inbox/``) and the channel choices (``/inbox/preferences/``).

Personal pages: any signed-in person (``permissions.REGISTER``), each for their own inbox.
Views only translate: parse, call a selector or a service, render.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.views.decorators.http import require_POST

from flexreg.accounts.forms import GovukForm
from flexreg.accounts.portal_auth import portal_requires
from flexreg.core import permissions
from flexreg.core.acting import Acting
from flexreg.core.errors import DomainError
from flexreg.notifications import kinds as catalogue
from flexreg.notifications import selectors, services
from flexreg.notifications.models import Channel

PAGE = 25


def _acting(request: HttpRequest) -> Acting:
    return request.acting  # type: ignore[attr-defined]


def _safe_link(link: str) -> str:
    """Only paths inside the portal are followed (no open redirect)."""
    return link if link.startswith("/") and not link.startswith("//") and "\\" not in link else ""


@portal_requires(permissions.REGISTER)
def inbox(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    unread = request.GET.get("unread") == "1"
    cursor = request.GET.get("cursor") or None
    rows, next_cursor = selectors.inbox(acting, unread=unread, cursor=cursor, limit=PAGE)
    items = [
        {
            "id": n.public_id,
            "subject": n.subject,
            "body": n.body_text,
            "link": _safe_link(n.link),
            "created_at": n.created_at,
            "unread": n.read_at is None,
            "participant_id": n.participant_id,
        }
        for n in rows
    ]
    return render(
        request,
        "notifications/inbox.html",
        {
            "items": items,
            "unread_only": unread,
            "next_cursor": next_cursor,
            "paged": cursor is not None,
            "unread_count": selectors.unread_count(acting.user_id),
            "nav": "inbox",
        },
    )


def _back(request: HttpRequest) -> HttpResponse:
    return redirect("/inbox/?unread=1" if request.POST.get("unread") == "1" else "/inbox/")


@require_POST
@portal_requires(permissions.REGISTER)
def read(request: HttpRequest, notification_id: str) -> HttpResponse:
    services.mark_read(_acting(request), notification_id)
    return _back(request)


@require_POST
@portal_requires(permissions.REGISTER)
def open_(request: HttpRequest, notification_id: str) -> HttpResponse:
    """Mark it read and go to the thing it is about."""
    n = services.mark_read(_acting(request), notification_id)
    link = _safe_link(n.link)
    return redirect(link) if link else _back(request)


@require_POST
@portal_requires(permissions.REGISTER)
def read_all(request: HttpRequest) -> HttpResponse:
    marked = services.mark_all_read(_acting(request))
    if marked:
        messages.success(request, f"{marked} notification{'s' if marked != 1 else ''} marked read")
    return _back(request)


def _field_name(kind: str) -> str:
    return kind.replace(".", "__")


class PreferencesForm(GovukForm):
    """One GOV.UK radios group per kind the user may choose for."""

    def __init__(self, *args: Any, rows: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.kinds: dict[str, str] = {}
        for row in rows:
            if row["mandatory"]:
                continue
            name = _field_name(row["kind"])
            self.kinds[name] = row["kind"]
            self.fields[name] = forms.ChoiceField(
                label=row["label"],
                help_text=row["description"],
                choices=Channel.choices,
                error_messages={
                    "required": f"Choose how you hear about: {row['label'].lower()}",
                    "invalid_choice": f"Choose how you hear about: {row['label'].lower()}",
                },
            )
            self.initial[name] = row["channel"]


@portal_requires(permissions.REGISTER)
def preferences(request: HttpRequest) -> HttpResponse:
    acting = _acting(request)
    rows = selectors.preferences(acting)
    form = PreferencesForm(request.POST or None, rows=rows)
    if request.method == "POST" and form.is_valid():
        names = list(form.kinds)
        choices = [(form.kinds[name], form.cleaned_data[name]) for name in names]
        try:
            services.set_preferences(acting, choices)
        except DomainError as exc:
            if exc.status in (401, 403, 404):
                raise
            for error in exc.errors or []:
                parts = error.field.split(".")
                index = int(parts[1]) if len(parts) > 1 and parts[1].isdigit() else 0
                form.add_error(names[index] if index < len(names) else None, error.message)
            if not exc.errors:
                form.add_error(None, exc.detail)
        else:
            messages.success(request, "Your choices are saved")
            return redirect("notification-preferences")
    return render(
        request,
        "notifications/preferences.html",
        {
            "form": form,
            "mandatory": [r for r in rows if r["mandatory"]],
            "groups": [
                (
                    "About your participants",
                    [form[n] for n in form.kinds if _audience(form.kinds[n]) != "operators"],
                ),
                (
                    "For the central operator",
                    [form[n] for n in form.kinds if _audience(form.kinds[n]) == "operators"],
                ),
            ],
            "errors": form.error_summary(),
            "nav": "inbox",
        },
    )


def _audience(kind: str) -> str:
    return catalogue.KINDS[kind].audience
