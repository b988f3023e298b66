#!/usr/bin/env bash
# The whole suite against the machine's PostgreSQL at 127.0.0.1:5432 when one answers (the
# CI machines have one), plus the embedded-server smoke tests with DATABASE_URL unset, so both
# paths stay working. Without a server on 5432 everything runs on the embedded server.
set -uo pipefail
cd "$(dirname "$0")/.."
UV=$(command -v uv || echo "$HOME/.local/bin/uv")
export FLEXREG_ENV=development
# make test installs Chromium: a missing browser is a failure here, not a skip.
export FLEXREG_REQUIRE_BROWSER=1
status=0

run_pytest() {
  "$UV" run pytest "$@"
  local rc=$?
  # pytest exits 5 when it collected no tests: that is not a failure of the suite.
  if [ $rc -eq 5 ]; then rc=0; fi
  return $rc
}

port_answers() {
  python3 -c 'import socket,sys; s=socket.socket(); s.settimeout(1); sys.exit(s.connect_ex(("127.0.0.1",5432)))' 2>/dev/null
}
if [ -z "${DATABASE_URL:-}" ] && port_answers; then
  export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
fi

if [ -n "${DATABASE_URL:-}" ]; then
  echo "== full suite against ${DATABASE_URL%%\?*} (${FLEXREG_TEST_WORKERS:-2} workers)"
  # pytest-xdist: each worker gets its own test database (test_flexreg_gw0, ...).
  run_pytest -m "not embedded" -n "${FLEXREG_TEST_WORKERS:-2}" "$@" || status=1
  echo "== embedded PostgreSQL smoke tests"
  ( unset DATABASE_URL; export FLEXREG_DATA_DIR="${FLEXREG_TEST_DATA_DIR:-var/test-embedded}"; run_pytest -m embedded -p no:randomly ) || status=1
else
  echo "== full suite against the embedded PostgreSQL server"
  export FLEXREG_DATA_DIR="${FLEXREG_TEST_DATA_DIR:-var/test-embedded}"
  run_pytest "$@" || status=1
fi
exit $status
