#!/usr/bin/env bash
# Build schemaproxy, run its unit tests, then the integration suite (Tests/integration, pytest) against
# the release binary with real clients and a throwaway PostgreSQL 15.
#
#   scripts/test.sh [PYTEST ARGS...]     e.g. scripts/test.sh -k pgbench
#
# Environment:
#   SCHEMAPROXY_BIN    test this binary; skips swift build / swift test
#   SKIP_UNIT_TESTS=1  skip `swift build` + `swift test` (still builds the release binary)
#   CI=true            a tool the suite needs that cannot be installed fails the run (locally: a warning, and
#                      the tests that need it are skipped)
# Exits non-zero if any step fails. Ends with the skipped tests and why, then one line
# `total: N passed, N failed, N skipped` over the unit and integration tests.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

ensure_packages
# Tools that integration tests need beyond ensure_packages:
# - promtool and prometheus (Debian's prometheus: ~23 MB download, ~320 MB installed with its web UI's
#   JavaScript libraries) for Tests/integration/test_prometheus.py;
# - systemd-analyze (Debian's systemd) for test_deploy.py's check of the systemd unit.
ensure_test_tool promtool prometheus
ensure_test_tool prometheus prometheus
ensure_test_tool systemd-analyze systemd
ensure_python_packages

# The corpus tests (Swift Testing) read PostgreSQL's regression scripts from ../shared/corpus, outside the
# repository. Without it they are reported as skipped; with it they must run: SCHEMAPROXY_REQUIRE_CORPUS=1
# makes a corpus the tests cannot find a failure, never a skip.
corpus_dir=${SCHEMAPROXY_CORPUS_DIR:-$SP_ROOT/../shared/corpus/postgres_regress}
if [ -d "$corpus_dir" ]; then
    export SCHEMAPROXY_REQUIRE_CORPUS=1
else
    log "warning: no PostgreSQL regression corpus at $corpus_dir; the corpus tests will be skipped"
fi

# JUnit XML of both runners (and the unit tests' console output, for the reasons of skips) for the summary.
results="$SP_ROOT/.build/test-results"
rm -rf "$results"
mkdir -p "$results"

unit_rc=0
if [ -n "${SCHEMAPROXY_BIN:-}" ]; then
    [ -x "$SCHEMAPROXY_BIN" ] || die "SCHEMAPROXY_BIN=$SCHEMAPROXY_BIN is not executable"
    log "using SCHEMAPROXY_BIN=$SCHEMAPROXY_BIN (no swift build, no unit tests)"
else
    if [ -z "${SKIP_UNIT_TESTS:-}" ]; then
        log "swift build"
        swift build
        log "swift test"
        swift test --xunit-output "$results/unit.xml" 2>&1 | tee "$results/unit.log" || unit_rc=$?
        [ "$unit_rc" -eq 0 ] || log "unit tests FAILED (exit $unit_rc); running the integration suite anyway"
    fi
    log "swift build -c release"
    swift build -c release
    SCHEMAPROXY_BIN="$SP_ROOT/.build/release/schemaproxy"
    export SCHEMAPROXY_BIN
fi

log "integration tests (pytest) against $SCHEMAPROXY_BIN"
it_rc=0
"${PYTHON:-python3}" -m pytest Tests/integration -p no:cacheprovider --durations=10 \
    --junitxml="$results/integration.xml" "$@" || it_rc=$?

if [ "$unit_rc" -ne 0 ] || [ "$it_rc" -ne 0 ]; then
    log "FAILED: unit tests exit $unit_rc, integration tests exit $it_rc"
else
    log "all tests passed"
fi
# Last: what was skipped and why, and the totals (the run's closing line).
"${PYTHON:-python3}" scripts/test_summary.py "$results" || log "warning: could not summarise $results"
if [ "$unit_rc" -ne 0 ] || [ "$it_rc" -ne 0 ]; then
    exit 1
fi
