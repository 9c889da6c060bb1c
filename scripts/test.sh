#!/usr/bin/env bash
# Build schemaproxy, run its unit tests, then the integration suite (Tests/integration, pytest) against
# the release binary with real clients and a throwaway PostgreSQL 15.
#
#   scripts/test.sh [PYTEST ARGS...]     e.g. scripts/test.sh -k pgbench
#
# Environment:
#   SCHEMAPROXY_BIN    test this binary; skips swift build / swift test
#   SKIP_UNIT_TESTS=1  skip `swift build` + `swift test` (still builds the release binary)
# Exits non-zero if any step fails.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

ensure_packages
# promtool and prometheus (Debian's prometheus: ~23 MB download, ~320 MB installed with its web UI's
# JavaScript libraries) for Tests/integration/test_prometheus.py, which skips without them.
if ! command -v promtool >/dev/null 2>&1 || ! command -v prometheus >/dev/null 2>&1; then
    (ensure_packages prometheus) || log "warning: could not install prometheus; the promtool tests will be skipped"
fi
ensure_python_packages

unit_rc=0
if [ -n "${SCHEMAPROXY_BIN:-}" ]; then
    [ -x "$SCHEMAPROXY_BIN" ] || die "SCHEMAPROXY_BIN=$SCHEMAPROXY_BIN is not executable"
    log "using SCHEMAPROXY_BIN=$SCHEMAPROXY_BIN (no swift build, no unit tests)"
else
    if [ -z "${SKIP_UNIT_TESTS:-}" ]; then
        log "swift build"
        swift build
        log "swift test"
        swift test || unit_rc=$?
        [ "$unit_rc" -eq 0 ] || log "unit tests FAILED (exit $unit_rc); running the integration suite anyway"
    fi
    log "swift build -c release"
    swift build -c release
    SCHEMAPROXY_BIN="$SP_ROOT/.build/release/schemaproxy"
    export SCHEMAPROXY_BIN
fi

log "integration tests (pytest) against $SCHEMAPROXY_BIN"
it_rc=0
"${PYTHON:-python3}" -m pytest Tests/integration -p no:cacheprovider --durations=10 "$@" || it_rc=$?

if [ "$unit_rc" -ne 0 ] || [ "$it_rc" -ne 0 ]; then
    log "FAILED: unit tests exit $unit_rc, integration tests exit $it_rc"
    exit 1
fi
log "all tests passed"
