"""The participant's answer form for one information request, built from the step's definition.

The form only collects what the participant typed or chose and shapes it for
``entry.services.answer``; every rule (required fields, formats, lengths, file types) is the
service's, whose ``FieldError`` paths (``text``, ``document_id``, ``form_data.<name>``) are
mapped back onto the inputs here so the page shows GOV.UK error messages and an error summary.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from django.conf import settings

from flexreg.core.errors import DomainError, FieldError
from flexreg.entry.models import InformationRequest, StepKind

# What an upload step's MIME types are called on the page, and the extensions a browser's file
# picker should offer for them (the service checks the content, not the name).
TYPE_NAMES = {"application/pdf": "PDF", "image/png": "PNG", "image/jpeg": "JPEG"}
TYPE_EXTENSIONS = {
    "application/pdf": [".pdf"],
    "image/png": [".png"],
    "image/jpeg": [".jpg", ".jpeg"],
}
ERROR_ANCHOR = "answer"  # the heading of the answer section: where whole-form errors point


@dataclass
class Input:
    """One input on the page, in the shape the templates render."""

    name: str
    kind: str  # text email tel url number eic date radios select confirm textarea file
    label: str
    hint: str = ""
    value: Any = ""
    error: str = ""
    options: list[str] = field(default_factory=list)
    parts: dict[str, str] = field(default_factory=dict)  # a date's day, month and year
    attrs: dict[str, Any] = field(default_factory=dict)

    @property
    def id(self) -> str:
        return f"{self.name}-day" if self.kind == "date" else self.name

    @property
    def described_by(self) -> str:
        ids = []
        if self.hint:
            ids.append(f"{self.name}-hint")
        if self.kind == "textarea" and self.attrs.get("maxlength"):
            ids.append(f"{self.name}-info")
        if self.error:
            ids.append(f"{self.name}-error")
        return " ".join(ids)


def answerable_by_form(request: InformationRequest) -> bool:
    """Whether the step has something for the participant to fill in or upload."""
    if request.answerer != "participant":
        return False
    if request.kind in (StepKind.DOCUMENT, StepKind.TEXT, StepKind.FORM):
        return True
    return request.kind == StepKind.CHECK and bool(request.definition.get("fields"))


def max_upload_bytes(step: Mapping[str, Any]) -> int:
    limit = int(getattr(settings, "UPLOAD_MAX_BYTES", 10 * 1024 * 1024))
    if step.get("max_size_mb"):
        limit = min(limit, int(step["max_size_mb"]) * 1024 * 1024)
    return limit


def _size(n: int) -> str:
    if n >= 1024 * 1024:
        return f"{n / (1024 * 1024):g}MB"
    return f"{max(n // 1024, 1)}KB"


def _input_for(spec: Mapping[str, Any], data: Mapping[str, Any] | None) -> Input:
    name = str(spec["name"])
    ftype = spec.get("type", "text")
    label = str(spec["label"])
    hint = str(spec.get("hint") or "")
    raw = (data or {}).get(name, "")
    made = Input(name=name, kind=ftype, label=label, hint=hint, value=raw)
    if ftype == "email":
        made.attrs = {"type": "email", "autocomplete": "email", "spellcheck": "false"}
    elif ftype == "phone":
        made.kind = "tel"
        made.attrs = {"type": "tel", "autocomplete": "tel", "width": "govuk-input--width-20"}
        made.hint = hint or "For international numbers include the country code, like +44."
    elif ftype == "url":
        made.attrs = {"type": "url", "spellcheck": "false"}
        made.hint = hint or "A secure address starting https://"
    elif ftype == "number":
        made.attrs = {"type": "text", "inputmode": "decimal", "width": "govuk-input--width-10"}
    elif ftype == "eic":
        made.attrs = {
            "type": "text",
            "spellcheck": "false",
            "autocapitalize": "characters",
            "width": "govuk-input--width-20",
        }
        made.hint = hint or "16 characters, for example 10X1001A1001A450"
    elif ftype == "date":
        made.parts = {
            part: str((data or {}).get(f"{name}-{part}", "")).strip()
            for part in ("day", "month", "year")
        }
        made.hint = hint or "For example, 27 3 2027"
    elif ftype == "select":
        options = [str(o) for o in spec.get("options", [])]
        made.options = options
        made.kind = "radios" if len(options) <= 7 else "select"
    elif ftype == "confirm":
        made.value = raw in ("on", "true", "yes", True)
    else:
        made.kind = "text"
        made.attrs = {"type": "text"}
    return made


class AnswerForm:
    """The inputs for one request's answer, their values and their errors."""

    def __init__(
        self,
        request: InformationRequest,
        data: Mapping[str, Any] | None = None,
        files: Mapping[str, Any] | None = None,
    ) -> None:
        self.request = request
        self.step: Mapping[str, Any] = request.definition or {}
        self.data = data
        self.files = files or {}
        self.is_bound = data is not None
        self.general: list[str] = []
        self.inputs: list[Input] = []
        kind = request.kind
        if kind == StepKind.DOCUMENT:
            accept = list(self.step.get("accept") or TYPE_NAMES)
            self.accept = accept
            names = [TYPE_NAMES.get(t, t) for t in accept]
            listed = names[0] if len(names) == 1 else ", ".join(names[:-1]) + " or " + names[-1]
            self.inputs.append(
                Input(
                    name="document",
                    kind="file",
                    label="Upload a file",
                    hint=f"The file must be a {listed} and smaller than "
                    f"{_size(max_upload_bytes(self.step))}.",
                    attrs={
                        "accept": ",".join(
                            [e for t in accept for e in TYPE_EXTENSIONS.get(t, [])] + accept
                        )
                    },
                )
            )
        elif kind == StepKind.TEXT:
            low = int(self.step.get("min_length") or 0)
            high = int(self.step.get("max_length") or 4000)
            hint = f"Write at least {low} characters." if low > 1 else "Write your answer in full."
            self.inputs.append(
                Input(
                    name="text",
                    kind="textarea",
                    label="Your answer",
                    hint=hint,
                    value=(data or {}).get("text", ""),
                    attrs={"maxlength": high, "minlength": low},
                )
            )
        else:
            for spec in self.step.get("fields", []):
                self.inputs.append(_input_for(spec, data))

    # --- what the service gets ----------------------------------------------------------------

    def form_data(self) -> dict[str, Any]:
        """The form's values as the service expects them (a date as YYYY-MM-DD)."""
        values: dict[str, Any] = {}
        for made in self.inputs:
            if made.kind == "date":
                day, month, year = (made.parts[p] for p in ("day", "month", "year"))
                if not (day or month or year):
                    values[made.name] = ""
                elif not (day and month and year):
                    missing = [p for p in ("day", "month", "year") if not made.parts[p]]
                    made.error = f"{made.label} must include a {' and '.join(missing)}"
                elif not (day.isdigit() and month.isdigit() and year.isdigit() and len(year) == 4):
                    made.error = f"{made.label} must be a real date"
                else:
                    values[made.name] = f"{int(year):04d}-{int(month):02d}-{int(day):02d}"
            elif made.kind == "confirm":
                values[made.name] = bool(made.value)
            else:
                values[made.name] = str(made.value or "")
        return values

    def text(self) -> str:
        return str((self.data or {}).get("text", ""))

    def uploaded(self) -> Any:
        """The uploaded file, or None with the input's error set."""
        found = self.files.get("document")
        if found is None or not getattr(found, "name", ""):
            self.input("document").error = "Select a file to upload"  # type: ignore[union-attr]
            return None
        if found.size == 0:
            self.input("document").error = "The selected file is empty"  # type: ignore[union-attr]
            return None
        limit = max_upload_bytes(self.step)
        if found.size > limit:
            self.input("document").error = (  # type: ignore[union-attr]
                f"The selected file must be smaller than {_size(limit)}"
            )
            return None
        return found

    # --- errors ---------------------------------------------------------------------------------

    def input(self, name: str) -> Input | None:
        return next((i for i in self.inputs if i.name == name), None)

    def has_errors(self) -> bool:
        return bool(self.general) or any(i.error for i in self.inputs)

    def _message(self, made: Input, error: FieldError) -> str:
        lowered = f"{made.label[0].lower()}{made.label[1:]}" if made.label else ""
        if error.code == "required" and made.kind not in ("radios", "select", "file"):
            return f"Enter {lowered}" if made.kind != "textarea" else "Enter your answer"
        if made.kind == "date" and error.code == "date.invalid":
            return f"{made.label} must be a real date"
        if made.kind == "confirm" and error.code == "entry.confirmation_required":
            return "Confirm this to continue"
        if made.kind in ("radios", "select") and error.code in ("required", "choice.invalid"):
            return f"Select {lowered}"
        return error.message.removesuffix(".")

    def add_error(self, exc: DomainError) -> None:
        """Put a service's errors on the inputs they name, the rest above the form."""
        if not exc.errors:
            self.general.append(exc.detail)
            return
        for error in exc.errors:
            target = self._target(error.field)
            if target is None:
                self.general.append(error.message)
            elif not target.error:
                target.error = self._message(target, error)

    def _target(self, path: str) -> Input | None:
        if not self.inputs:
            return None
        if self.request.kind == StepKind.DOCUMENT:
            return self.inputs[0]  # document_id, or the upload's own field names
        if path == "text":
            return self.input("text")
        if path.startswith("form_data."):
            return self.input(path.split(".", 2)[1])
        if path == "form_data":
            return self.inputs[0]
        return None

    def error_summary(self) -> list[dict[str, str]]:
        """``[{"href": "#id", "text": message}]``: whole-form problems first, then the inputs."""
        items = [{"href": f"#{ERROR_ANCHOR}", "text": text} for text in self.general]
        items += [{"href": f"#{i.id}", "text": i.error} for i in self.inputs if i.error]
        return items
