# shellcheck shell=bash
# Shared helpers for schemaproxy's scripts. Source it:  . "$(dirname "$0")/lib.sh"
#
#   ensure_packages [EXTRA...]      apt-get install what is missing (PostgreSQL 15, pgbouncer, libpg_query, OpenSSL, EXTRA)
#   ensure_python_packages          pip install pytest, psycopg 3, psycopg2, asyncpg, SQLAlchemy 2 (+ greenlet) if missing
#   ensure_test_tool CMD PACKAGE    install Debian PACKAGE if CMD is missing; a failure ends the run under CI=true
#   is_ci                           true when CI=true (CI runs .ci/run with it)
#   free_port                       print a TCP port that is free on 127.0.0.1 right now
#   pg_start DIR [PORT]             initdb + start a throwaway PostgreSQL 15 in DIR (sets PG_DIR, PG_PORT)
#   pg_stop DIR                     stop it (fast) and remove DIR
#   pg_psql ARGS...                 psql as the superuser over the cluster's unix socket
#   pg_load_heal7 PASSWORD          create the heal7 example (scripts/sql/heal7_example.sql)
#   pg_create_bench PASSWORD [SCALE]  role bench_user + database bench, pgbench -i (if SCALE given)
#
# Everything listens on 127.0.0.1 only. Nothing here touches a system-wide cluster.

SP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
PG_BIN="${PG_BIN:-/usr/lib/postgresql/15/bin}"
# Roles whose host logins use md5 (password stored as md5 too), so server-side md5 auth can be tested.
PG_MD5_ROLES="${PG_MD5_ROLES:-heal7_md5}"

log() { printf '[%s] %s\n' "$(date +%H:%M:%S)" "$*" >&2; }
die() { log "error: $*"; exit 1; }

is_root() { [ "$(id -u)" = 0 ]; }

# Run a command as the postgres user when we are root (initdb and postgres refuse to run as root).
as_pg() {
    if is_root; then
        runuser -u postgres -- "$@"
    else
        "$@"
    fi
}

_pkg_installed() {
    dpkg-query -W -f='${Status}' "$1" 2>/dev/null | grep -q 'install ok installed'
}

ensure_packages() {
    local wanted=(postgresql-15 postgresql-client-15 pgbouncer libpg-query-dev libpq-dev libssl-dev openssl procps iproute2
                  "$@")
    local missing=() p
    for p in "${wanted[@]}"; do
        _pkg_installed "$p" || missing+=("$p")
    done
    if [ "${#missing[@]}" -eq 0 ]; then
        return 0
    fi
    is_root || die "missing Debian packages (${missing[*]}) and not root: install them first"
    log "installing: ${missing[*]}"
    # Do not let package scripts create/start a system cluster or a pgbouncer on 6432.
    local made_policy=""
    if [ ! -e /usr/sbin/policy-rc.d ]; then
        printf '#!/bin/sh\nexit 101\n' >/usr/sbin/policy-rc.d
        chmod 755 /usr/sbin/policy-rc.d
        made_policy=1
    fi
    if ! _pkg_installed postgresql-common; then
        mkdir -p /etc/postgresql-common/createcluster.d
        echo 'create_main_cluster = false' >/etc/postgresql-common/createcluster.d/schemaproxy-no-main.conf
    fi
    local rc=0
    DEBIAN_FRONTEND=noninteractive apt-get update -qq || rc=$?
    if [ "$rc" -eq 0 ]; then
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}" || rc=$?
    fi
    [ -n "$made_policy" ] && rm -f /usr/sbin/policy-rc.d
    [ "$rc" -eq 0 ] || die "apt-get failed (exit $rc)"
    # A packaged pgbouncer or prometheus may have been started anyway (systemd); pgbouncer would hold 6432.
    # The scripts start their own, on free ports.
    local unit
    for unit in pgbouncer prometheus; do
        if command -v systemctl >/dev/null 2>&1 && systemctl is-active --quiet "$unit" 2>/dev/null; then
            systemctl stop "$unit" || true
        fi
    done
}

is_ci() {
    case "${CI:-}" in
        true | TRUE | True | 1 | yes) return 0 ;;
        *) return 1 ;;
    esac
}

# A tool some integration tests need. Without it those tests skip locally (with a warning here and the reason in
# pytest's summary); under CI a tool that cannot be installed fails the run: a green CI must mean they ran.
ensure_test_tool() {
    local cmd=$1 package=$2
    command -v "$cmd" >/dev/null 2>&1 && return 0
    (ensure_packages "$package") || true
    command -v "$cmd" >/dev/null 2>&1 && return 0
    if is_ci; then
        die "could not install $cmd (Debian package $package): under CI the tests that need it must run"
    fi
    log "warning: could not install $cmd (Debian package $package); the tests that need it will be skipped"
}

ensure_python_packages() {
    local py="${PYTHON:-python3}" missing=()
    "$py" -c 'import pytest' 2>/dev/null || missing+=(pytest)
    "$py" -c 'import psycopg; from psycopg import pq' 2>/dev/null || missing+=('psycopg[binary]')
    "$py" -c 'import psycopg2' 2>/dev/null || missing+=(psycopg2-binary)
    "$py" -c 'import asyncpg' 2>/dev/null || missing+=(asyncpg)
    "$py" -c 'import sqlalchemy, sys; sys.exit(int(sqlalchemy.__version__.split(".")[0]) < 2)' 2>/dev/null \
        || missing+=('sqlalchemy>=2')
    "$py" -c 'import greenlet' 2>/dev/null || missing+=(greenlet)   # SQLAlchemy's asyncio extension
    "$py" -c 'import yaml' 2>/dev/null || missing+=(pyyaml)
    "$py" -c 'import pytest_timeout' 2>/dev/null || missing+=(pytest-timeout)
    if [ "${#missing[@]}" -gt 0 ]; then
        log "pip installing: ${missing[*]}"
        "$py" -m pip install -q --disable-pip-version-check --root-user-action=ignore "${missing[@]}" \
            || die "pip install failed"
    fi
}

free_port() {
    "${PYTHON:-python3}" -c 'import socket
s = socket.socket()
s.bind(("127.0.0.1", 0))
print(s.getsockname()[1])
s.close()'
}

# Wait (bounded) until something accepts TCP connections on 127.0.0.1:PORT.
wait_for_port() {
    local port=$1 timeout=${2:-30} pid=${3:-} i
    for ((i = 0; i < timeout * 10; i++)); do
        if (exec 3<>"/dev/tcp/127.0.0.1/$port") 2>/dev/null; then
            return 0
        fi
        if [ -n "$pid" ] && ! kill -0 "$pid" 2>/dev/null; then
            return 1
        fi
        sleep 0.1
    done
    return 1
}

pg_start() {
    local dir=$1 port=${2:-}
    [ -n "$dir" ] || die "pg_start: no directory"
    [ -x "$PG_BIN/initdb" ] || die "PostgreSQL 15 not found in $PG_BIN (run ensure_packages)"
    [ -n "$port" ] || port=$(free_port)
    mkdir -p "$dir"
    chmod 700 "$dir"
    if is_root; then
        chown postgres:postgres "$dir"
    fi
    local data="$dir/data"
    as_pg "$PG_BIN/initdb" -D "$data" -U postgres -E UTF8 --locale=C \
        --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
        || { cat "$dir/initdb.log" >&2; die "initdb failed"; }
    as_pg tee -a "$data/postgresql.conf" >/dev/null <<EOF

# --- throwaway test cluster (scripts/lib.sh) ---
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
max_connections = 200
password_encryption = 'scram-sha-256'
fsync = off
synchronous_commit = off
full_page_writes = off
shared_buffers = 128MB
log_min_messages = warning
log_connections = off
EOF
    {
        echo "local all all trust"
        local r
        for r in $PG_MD5_ROLES; do
            echo "host all $r 127.0.0.1/32 md5"
        done
        echo "host all all 127.0.0.1/32 scram-sha-256"
    } | as_pg tee "$data/pg_hba.conf" >/dev/null
    as_pg "$PG_BIN/pg_ctl" -D "$data" -l "$dir/postgres.log" -w -t 60 -s start \
        || { tail -n 30 "$dir/postgres.log" >&2; die "PostgreSQL did not start"; }
    PG_DIR=$dir
    PG_PORT=$port
    export PG_DIR PG_PORT
    printf 'PG_DIR=%q\nPG_PORT=%q\n' "$dir" "$port" | as_pg tee "$dir/pg.env" >/dev/null
    log "PostgreSQL 15 running on 127.0.0.1:$port (data in $data)"
}

pg_stop() {
    local dir=${1:-${PG_DIR:-}}
    [ -n "$dir" ] && [ -d "$dir/data" ] || return 0
    if [ -f "$dir/data/postmaster.pid" ]; then
        as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m fast -w -t 30 -s stop >/dev/null 2>&1 \
            || as_pg "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w -t 10 -s stop >/dev/null 2>&1 || true
    fi
    if [ -z "${PG_KEEP:-}" ]; then
        rm -rf "$dir"
    fi
}

pg_psql() {
    "$PG_BIN/psql" -X -q -h "${PG_DIR:?}" -p "${PG_PORT:?}" -U postgres -v ON_ERROR_STOP=1 "$@"
}

pg_load_heal7() {
    local password=${1:?password for heal7_app}
    pg_psql -d postgres -v app_password="$password" -f "$SP_ROOT/scripts/sql/heal7_example.sql" >/dev/null
}

# role bench_user (scram) owning database bench; optional pgbench -i -s SCALE (direct, over TCP).
pg_create_bench() {
    local password=${1:?password for bench_user} scale=${2:-}
    pg_psql -d postgres -v pw="$password" >/dev/null <<'EOF'
SET client_min_messages = warning;
DROP DATABASE IF EXISTS bench;
DROP ROLE IF EXISTS bench_user;
CREATE ROLE bench_user LOGIN PASSWORD :'pw';
CREATE DATABASE bench OWNER bench_user;
EOF
    if [ -n "$scale" ]; then
        PGPASSWORD=$password "$PG_BIN/pgbench" -i -q -s "$scale" -h 127.0.0.1 -p "$PG_PORT" -U bench_user bench \
            >"$PG_DIR/pgbench-init.log" 2>&1 || { cat "$PG_DIR/pgbench-init.log" >&2; die "pgbench -i failed"; }
    fi
}

# Generate a random password-ish token (alphanumeric).
random_token() {
    "${PYTHON:-python3}" -c 'import secrets; print(secrets.token_hex(12))'
}
