# FlexReg: two commands set everything up on a fresh machine.
#   make demo   install, start the embedded PostgreSQL, migrate, load demo data, serve
#   make test   install and run the whole suite
# Python 3.11+ and the package registries are all they assume.

SHELL := /bin/bash
UV := $(shell command -v uv 2>/dev/null || echo $(HOME)/.local/bin/uv)
STATIC := src/flexreg/static/govuk

.PHONY: demo test setup deps frontend browser lint check clean

demo: deps frontend
	$(UV) run flexreg demo

test: deps frontend browser
	bash scripts/test.sh

setup: deps frontend browser

deps:
	@command -v uv >/dev/null 2>&1 || [ -x "$(UV)" ] || python3 -m pip install --user --quiet uv || python3 -m pip install --quiet uv
	$(UV) sync --frozen --quiet

frontend: $(STATIC)/govuk-frontend.min.css

$(STATIC)/govuk-frontend.min.css: package.json package-lock.json Makefile
	npm ci --no-audit --no-fund --silent
	mkdir -p $(STATIC)/images
	cp node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.css node_modules/govuk-frontend/dist/govuk/govuk-frontend.min.js $(STATIC)/
	# No crown, crest or GDS Transport font: FlexReg is not a GOV.UK service. Without its
	# @font-face rules the stylesheet cannot make a browser fetch the font, whatever the
	# order in which the stylesheets arrive.
	python3 -c 'import re, sys; p = sys.argv[1]; css = open(p).read(); open(p, "w").write(re.sub(r"@font-face\{[^}]*\}", "", css))' $(STATIC)/govuk-frontend.min.css
	cp node_modules/govuk-frontend/dist/govuk/assets/images/favicon.svg $(STATIC)/images/
	touch $@

# Debian's Chromium for the browser tests (never Playwright's own download).
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  echo "installing Debian's chromium for the browser tests"; \
	  SUDO=$$( [ "$$(id -u)" = 0 ] || echo sudo ); \
	  $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq chromium >/dev/null; }

lint: deps
	$(UV) run ruff check .
	$(UV) run ruff format --check .
	$(UV) run mypy

check: lint test

clean:
	rm -rf $(STATIC) node_modules .venv
