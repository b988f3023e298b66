"""The stylesheets the portal serves name no web font a browser could fetch.

FlexReg is not a GOV.UK service and must not use the GDS Transport typeface. GOV.UK
Frontend's stylesheet declares it with ``@font-face``; ``make frontend`` strips those rules,
so no page can request the font whichever stylesheet the browser applies first.
"""

import re

import pytest
from django.contrib.staticfiles import finders

STYLESHEETS = ["govuk/govuk-frontend.min.css", "flexreg/flexreg.css"]


@pytest.mark.parametrize("name", STYLESHEETS)
def test_stylesheet_declares_no_web_font(name: str) -> None:
    path = finders.find(name)
    assert path, f"{name} is not built: run make frontend"
    with open(path, encoding="utf-8") as stylesheet:
        css = stylesheet.read()
    assert "@font-face" not in css
    assert not re.search(r"url\([^)]*\.(woff2?|ttf|otf|eot)\b", css)
