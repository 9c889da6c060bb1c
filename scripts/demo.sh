#!/usr/bin/env bash
# schemaproxy demo: a throwaway PostgreSQL 15 with the heal7 schemas, schemaproxy in front of it,
# and a few queries through it with psql.
#
#   scripts/demo.sh            build, start, run the queries, then keep running until Ctrl-C
#   scripts/demo.sh --once     run the queries and exit (also the default when stdin is not a terminal)
#
# Environment:
#   SCHEMAPROXY_BIN   use this binary instead of building (.build/release/schemaproxy)
#   APP_PASSWORD, ADMIN_PASSWORD, DB_PASSWORD   secrets (random when unset)
#   DB_PORT           port for the throwaway PostgreSQL (a free one when unset)
set -euo pipefail
. "$(dirname "$0")/lib.sh"
cd "$SP_ROOT"

once=""
for arg in "$@"; do
    case "$arg" in
        --once) once=1 ;;
        -h|--help) sed -n '2,12p' "$0"; exit 0 ;;
        *) die "unknown argument: $arg" ;;
    esac
done
[ -t 0 ] || once=1

ensure_packages

if [ -n "${SCHEMAPROXY_BIN:-}" ]; then
    BIN=$SCHEMAPROXY_BIN
    [ -x "$BIN" ] || die "SCHEMAPROXY_BIN=$BIN is not executable"
else
    log "swift build -c release"
    swift build -c release
    BIN="$SP_ROOT/.build/release/schemaproxy"
fi

CONFIG=conf/heal7.yaml
[ -f "$CONFIG" ] || CONFIG=scripts/conf/heal7.yaml

export APP_PASSWORD="${APP_PASSWORD:-$(random_token)}"
export ADMIN_PASSWORD="${ADMIN_PASSWORD:-$(random_token)}"
export DB_PASSWORD="${DB_PASSWORD:-$(random_token)}"
export DB_PORT="${DB_PORT:-$(free_port)}"

if (exec 3<>/dev/tcp/127.0.0.1/6432) 2>/dev/null; then
    die "127.0.0.1:6432 is already in use (the demo config listens there); stop what holds it first"
fi

WORK=$(mktemp -d /tmp/schemaproxy-demo.XXXXXX)
chmod 755 "$WORK"  # the postgres user must reach $WORK/pg
PROXY_PID=""
cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    if [ -n "$PROXY_PID" ] && kill -0 "$PROXY_PID" 2>/dev/null; then
        kill -TERM "$PROXY_PID" 2>/dev/null || true
        local i
        for ((i = 0; i < 100; i++)); do
            kill -0 "$PROXY_PID" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$PROXY_PID" 2>/dev/null || true
        wait "$PROXY_PID" 2>/dev/null || true
    fi
    pg_stop "$WORK/pg"
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

pg_start "$WORK/pg" "$DB_PORT"
pg_load_heal7 "$DB_PASSWORD"
log "loaded the heal7 example (role heal7_app, search_path = pg_catalog)"

"$BIN" check --config "$CONFIG" || die "schemaproxy check rejected $CONFIG"
"$BIN" --config "$CONFIG" 2>"$WORK/proxy.log" &
PROXY_PID=$!
if ! wait_for_port 6432 30 "$PROXY_PID"; then
    tail -n 40 "$WORK/proxy.log" >&2 || true
    die "schemaproxy did not start listening on 127.0.0.1:6432"
fi
log "schemaproxy (pid $PROXY_PID) listening on 127.0.0.1:6432 with $CONFIG"

failures=0
shell_words() {
    # print arguments the way one would type them: quoted only where needed
    local a out=""
    for a in "$@"; do
        if [[ "$a" =~ ^[A-Za-z0-9_./:=@%+,-]+$ ]]; then
            out+="$a "
        else
            out+="'${a//\'/\'\\\'\'}' "
        fi
    done
    printf '%s' "${out% }"
}
show() {
    # show DESCRIPTION CMD...: print the command (passwords masked), run it, count failures
    local desc=$1 shown
    shift
    shown=$(shell_words "$@")
    shown=${shown//"$APP_PASSWORD"/***}
    shown=${shown//"$ADMIN_PASSWORD"/***}
    shown=${shown//"$DB_PASSWORD"/***}
    printf '\n\033[1m== %s\033[0m\n$ %s\n' "$desc" "$shown"
    if ! "$@"; then
        failures=$((failures + 1))
        printf '(failed)\n'
    fi
}

APP_URL="postgresql://app:$APP_PASSWORD@127.0.0.1:6432"
direct_users_fails() {
    # Succeeds when PostgreSQL itself rejects the unqualified name, as it must for heal7_app.
    local out
    if out=$(PGPASSWORD=$DB_PASSWORD psql -X "postgresql://heal7_app@127.0.0.1:$DB_PORT/heal7" \
        -c 'SELECT * FROM users' 2>&1); then
        printf '%s\nunexpected: the query worked without the proxy\n' "$out"
        return 1
    fi
    printf '%s\n' "$out"
    grep -q 'does not exist' <<<"$out"
}
show "Directly on PostgreSQL, heal7_app cannot see unqualified tables (search_path = pg_catalog)" \
    direct_users_fails
show "Through schemaproxy, service saju_service: users is routed to shared_common" \
    psql -X -P pager=off "$APP_URL/saju_service" -c 'SELECT id, name, email FROM users ORDER BY id'
show "saju_service: kasi_cache and saju_charts live in schema saju_service" \
    psql -X -P pager=off "$APP_URL/saju_service" -c 'SELECT cache_key, payload FROM kasi_cache ORDER BY cache_key' \
    -c 'SELECT u.name, c.pillars FROM saju_charts c JOIN users u ON u.id = c.user_id ORDER BY c.id'
show "Service dream_service: dreams and their interpretations" \
    psql -X -P pager=off "$APP_URL/dream_service" -c 'SELECT d.content, i.interpretation FROM dreams d JOIN dream_interpretations i ON i.dream_id = d.id ORDER BY d.id'
show "String literals are left alone" \
    psql -X -P pager=off "$APP_URL/saju_service" -c "SELECT 'users' AS literal, count(*) AS users FROM users"
show "What the server receives (schemaproxy rewrite)" \
    "$BIN" rewrite --config "$CONFIG" --service saju_service \
    "SELECT u.name, c.birth_at FROM users u JOIN saju_charts c ON c.user_id = u.id WHERE u.email = 'users@example.com'"
show "Admin console" \
    psql -X -P pager=off "postgresql://admin:$ADMIN_PASSWORD@127.0.0.1:6432/schemaproxy" -c 'SHOW POOLS'
show "The mapping, discovered from the live catalog (schemaproxy mapping discover)" \
    "$BIN" mapping discover --config "$CONFIG" --service saju_service --schemas shared_common,saju_service
show "Each service's mapping checked against its backend (schemaproxy check --live)" \
    "$BIN" check --live --config "$CONFIG"
unmapped_name_fails() {
    # dream_service does not map kasi_cache: the name is left alone (and PostgreSQL cannot find it).
    local out
    if out=$(psql -X "$APP_URL/dream_service" -c 'SELECT count(*) FROM kasi_cache' 2>&1); then
        printf '%s\nunexpected: the unmapped name resolved\n' "$out"
        return 1
    fi
    printf '%s\n' "$out"
    grep -q 'does not exist' <<<"$out"
}
show "dream_service reads a table its mapping leaves out" unmapped_name_fails
show "What the migration has not covered yet (SHOW UNMAPPED)" \
    psql -X -P pager=off "postgresql://admin:$ADMIN_PASSWORD@127.0.0.1:6432/schemaproxy" -c 'SHOW UNMAPPED'
show "Health endpoint" \
    python3 -c 'import urllib.request as u; r = u.urlopen("http://127.0.0.1:9930/health", timeout=5); print(r.status, r.read().decode().strip())'

if [ -n "$once" ]; then
    if [ "$failures" -gt 0 ]; then
        log "$failures demo step(s) failed; proxy log:"
        tail -n 40 "$WORK/proxy.log" >&2 || true
        exit 1
    fi
    log "demo finished"
    exit 0
fi

cat <<EOF

schemaproxy is running. Try:
  psql 'postgresql://app:$APP_PASSWORD@127.0.0.1:6432/saju_service'
  psql 'postgresql://app:$APP_PASSWORD@127.0.0.1:6432/dream_service'
  psql 'postgresql://admin:$ADMIN_PASSWORD@127.0.0.1:6432/schemaproxy' -c 'SHOW SERVICES'
  psql 'postgresql://admin:$ADMIN_PASSWORD@127.0.0.1:6432/schemaproxy' -c 'SHOW UNMAPPED'
  curl http://127.0.0.1:9930/metrics
Proxy log: $WORK/proxy.log
Press Ctrl-C to stop (PostgreSQL and the proxy are cleaned up).
EOF
wait "$PROXY_PID" || true
log "schemaproxy exited; proxy log:"
tail -n 40 "$WORK/proxy.log" >&2 || true
