#!/usr/bin/env bash
# Side-by-side pgbench: direct PostgreSQL vs PgBouncer vs schemaproxy, on one throwaway PostgreSQL 15.
# With --binary-b (or --workers-b), an A/B run: two schemaproxy instances side by side in the same rounds.
#
#   benchmarks/pgbench_compare.sh [options]
#     --rounds N          rounds per cell; targets alternate within a round (default 3)
#     --duration S        seconds per pgbench run (default 10)
#     --modes LIST        pgbench -M modes, comma-separated (default simple,extended)
#     --clients LIST      client counts, comma-separated (default 10,50)
#     --prepared          add a -M prepared row: direct vs schemaproxy (PgBouncer 1.18 cannot)
#     --mapped            add a schemaproxy instance whose mapping routes the 4 pgbench tables to
#                         public (the rewrite runs on every statement) beside the empty mapping
#     --metrics-off       add a schemaproxy instance without metrics_listen (no duration histograms
#                         recorded) beside the one with it: the cost of counting on the hot path
#     --scale N           pgbench -i scale (default 10)
#     --jobs N            pgbench -j (default 2)
#     --workers N         schemaproxy `workers` (event-loop threads); default: the proxy's own
#     --binary-b PATH     A/B: add a second schemaproxy instance ("schemaproxy B") running PATH, with the
#                         empty mapping, beside the first ("schemaproxy", A); the table adds B/A
#     --workers-b N       `workers` of instance B (default: --workers); without --binary-b, B runs A's
#                         binary, so `--workers 1 --workers-b 2` compares one thread with two
#     --detail            add each proxy's user and sys CPU per transaction (/proc/PID/stat fields 14 and
#                         15 apart) and preemptions per transaction (involuntary context switches, summed
#                         over its threads from /proc/PID/task/*/status)
#     --unix              pgbench reaches every target over its Unix-domain socket instead of TCP (PostgreSQL's
#                         socket directory, PgBouncer's unix_socket_dir, schemaproxy's socket directory in
#                         `listen`); the proxies still reach the server over TCP
#     --tls               clients use TLS to the proxies (pgbench with PGSSLMODE=require): schemaproxy with
#                         client_tls mode require, PgBouncer with client_tls_sslmode=require, one self-signed
#                         certificate made with the openssl CLI for both; direct PostgreSQL stays plaintext
#     --no-pgbouncer      leave PgBouncer out
#     --no-schemaproxy    leave schemaproxy out (e.g. to check the harness before it exists)
#     --out FILE          also write every run as TSV to FILE
#
# schemaproxy (A) is $SCHEMAPROXY_BIN, else .build/release/schemaproxy (built if missing).
# Every pool is in transaction mode with 20 server connections. CPU per transaction of a proxy is
# (utime + stime of its process, all threads, /proc/PID/stat fields 14+15, in clock ticks) / transactions.
# Everything listens on 127.0.0.1 only.
set -euo pipefail
. "$(dirname "$0")/../scripts/lib.sh"
cd "$SP_ROOT"

rounds=3 duration=10 modes=simple,extended clients=10,50 prepared="" mapped="" metrics_off="" scale=10 jobs=2
workers="" binary_b="" workers_b="" detail=""
use_pgb=1 use_spx=1 out="" unix="" tls=""
while [ $# -gt 0 ]; do
    case "$1" in
        --rounds) rounds=$2; shift ;;
        --duration) duration=$2; shift ;;
        --modes) modes=$2; shift ;;
        --clients) clients=$2; shift ;;
        --prepared) prepared=1 ;;
        --mapped) mapped=1 ;;
        --metrics-off) metrics_off=1 ;;
        --scale) scale=$2; shift ;;
        --jobs) jobs=$2; shift ;;
        --workers) workers=$2; shift ;;
        --binary-b) binary_b=$2; shift ;;
        --workers-b) workers_b=$2; shift ;;
        --detail) detail=1 ;;
        --unix) unix=1 ;;
        --tls) tls=1 ;;
        --no-pgbouncer) use_pgb="" ;;
        --no-schemaproxy) use_spx="" ;;
        --out) out=$2; shift ;;
        -h|--help) sed -n '2,38p' "$0"; exit 0 ;;
        *) die "unknown option: $1" ;;
    esac
    shift
done
[[ "$rounds" =~ ^[1-9][0-9]*$ && "$duration" =~ ^[1-9][0-9]*$ ]] || die "--rounds and --duration take positive integers"

ensure_packages

SPX_BIN=""
if [ -n "$use_spx" ]; then
    if [ -n "${SCHEMAPROXY_BIN:-}" ]; then
        SPX_BIN=$SCHEMAPROXY_BIN
    else
        SPX_BIN="$SP_ROOT/.build/release/schemaproxy"
        if [ ! -x "$SPX_BIN" ]; then
            log "swift build -c release"
            swift build -c release
        fi
    fi
    [ -x "$SPX_BIN" ] || die "no schemaproxy binary at $SPX_BIN"
fi
SPX_BIN_B=""
if [ -n "$binary_b" ] || [ -n "$workers_b" ]; then
    [ -n "$use_spx" ] || die "--binary-b / --workers-b need schemaproxy (drop --no-schemaproxy)"
    SPX_BIN_B=${binary_b:-$SPX_BIN}
    [ -x "$SPX_BIN_B" ] || die "no schemaproxy binary at $SPX_BIN_B (--binary-b)"
    workers_b=${workers_b:-$workers}
fi
PGBENCH="$PG_BIN/pgbench"
CLK_TCK=$(getconf CLK_TCK)

WORK=$(mktemp -d /tmp/pgbench-compare.XXXXXX)
chmod 755 "$WORK"
PIDS=()
cleanup() {
    local rc=$? p i
    trap - EXIT INT TERM
    for p in "${PIDS[@]}"; do
        kill -TERM "$p" 2>/dev/null || true
    done
    for p in "${PIDS[@]}"; do
        for ((i = 0; i < 100; i++)); do
            kill -0 "$p" 2>/dev/null || break
            sleep 0.1
        done
        kill -KILL "$p" 2>/dev/null || true
    done
    pg_stop "$WORK/pg"
    rm -rf "$WORK"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

BENCH_PW=$(random_token)
if [ -n "$tls" ]; then
    mkdir -p "$WORK/tls"
    openssl req -x509 -newkey rsa:2048 -nodes -days 2 -subj "/CN=127.0.0.1" \
        -addext "subjectAltName=IP:127.0.0.1,DNS:localhost" \
        -keyout "$WORK/tls/server.key" -out "$WORK/tls/server.crt" >/dev/null 2>&1 || die "openssl req failed"
    chmod 644 "$WORK/tls/server.key" "$WORK/tls/server.crt"
fi
pg_start "$WORK/pg"
log "pgbench -i -s $scale"
pg_create_bench "$BENCH_PW" "$scale"

# targets: name -> port, and the proxy pid for CPU accounting
# where pgbench connects: 127.0.0.1, or with --unix the target's socket directory
declare -A PORT PID HOST
TARGETS=(direct)
PORT[direct]=$PG_PORT
HOST[direct]=127.0.0.1
[ -n "$unix" ] && HOST[direct]=$PG_DIR

if [ -n "$use_pgb" ]; then
    mkdir -p "$WORK/pgbouncer" "$WORK/pgbouncer-socket"
    port=$(free_port)
    pgb_socket_dir=""
    [ -n "$unix" ] && pgb_socket_dir=$WORK/pgbouncer-socket
    cat >"$WORK/pgbouncer/pgbouncer.ini" <<EOF
[databases]
bench = host=127.0.0.1 port=$PG_PORT dbname=bench user=bench_user password=$BENCH_PW

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $port
unix_socket_dir = $pgb_socket_dir
auth_type = scram-sha-256
auth_file = $WORK/pgbouncer/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = 200
ignore_startup_parameters = extra_float_digits
log_connections = 0
log_disconnections = 0
stats_period = 600
EOF
    if [ -n "$tls" ]; then
        printf 'client_tls_sslmode = require\nclient_tls_key_file = %s\nclient_tls_cert_file = %s\n' \
            "$WORK/tls/server.key" "$WORK/tls/server.crt" >>"$WORK/pgbouncer/pgbouncer.ini"
    fi
    printf '"bench_user" "%s"\n' "$BENCH_PW" >"$WORK/pgbouncer/userlist.txt"
    if is_root; then
        chown -R postgres:postgres "$WORK/pgbouncer" "$WORK/pgbouncer-socket"
        # setpriv execs pgbouncer itself (no wrapper process), so $! is the pid to account CPU to
        setpriv --reuid=postgres --regid=postgres --init-groups pgbouncer "$WORK/pgbouncer/pgbouncer.ini" \
            >"$WORK/pgbouncer.log" 2>&1 &
    else
        pgbouncer "$WORK/pgbouncer/pgbouncer.ini" >"$WORK/pgbouncer.log" 2>&1 &
    fi
    PID[pgbouncer]=$!
    PIDS+=("${PID[pgbouncer]}")
    wait_for_port "$port" 30 "${PID[pgbouncer]}" || { cat "$WORK/pgbouncer.log" >&2; die "PgBouncer did not start"; }
    PORT[pgbouncer]=$port
    HOST[pgbouncer]=127.0.0.1
    [ -n "$unix" ] && HOST[pgbouncer]=$pgb_socket_dir
    TARGETS+=(pgbouncer)
fi

start_schemaproxy() {
    # start_schemaproxy NAME SCHEMAS_YAML [METRICS [BINARY [WORKERS]]]   METRICS: "off" leaves metrics_listen out
    local name=$1 schemas=$2 metrics=${3:-on} binary=${4:-$SPX_BIN} nworkers=${5-$workers} port mlisten="" listen
    port=$(free_port)
    listen="127.0.0.1:$port"
    if [ -n "$unix" ]; then
        mkdir -p "$WORK/$name-socket"
        listen="[127.0.0.1:$port, $WORK/$name-socket]"  # the socket is .s.PGSQL.$port there
    fi
    [ "$metrics" = off ] || mlisten="127.0.0.1:$(free_port)"
    cat >"$WORK/$name.yaml" <<EOF
listen: $listen
metrics_listen: $mlisten
max_client_connections: 500
admin:
  database: schemaproxy
  users: [admin]
auth:
  method: scram-sha-256
  users:
    bench_user: \${BENCH_PW}
    admin: \${BENCH_PW}
defaults:
  pool_mode: transaction
  pool_size: 20
services:
  bench:
    backend: postgresql://bench_user:\${BENCH_PW}@127.0.0.1:$PG_PORT/bench
    schemas: $schemas
EOF
    [ -n "$nworkers" ] && echo "workers: $nworkers" >>"$WORK/$name.yaml"
    if [ -n "$tls" ]; then
        printf 'client_tls:\n  mode: require\n  cert_file: %s\n  key_file: %s\n' \
            "$WORK/tls/server.crt" "$WORK/tls/server.key" >>"$WORK/$name.yaml"
    fi
    BENCH_PW=$BENCH_PW "$binary" --config "$WORK/$name.yaml" >"$WORK/$name.log" 2>&1 &
    PID[$name]=$!
    PIDS+=("${PID[$name]}")
    wait_for_port "$port" 30 "${PID[$name]}" || { cat "$WORK/$name.log" >&2; die "$name did not start"; }
    PORT[$name]=$port
    HOST[$name]=127.0.0.1
    [ -n "$unix" ] && HOST[$name]=$WORK/$name-socket
    TARGETS+=("$name")
}

if [ -n "$use_spx" ]; then
    start_schemaproxy schemaproxy '{}'
    if [ -n "$mapped" ]; then
        start_schemaproxy schemaproxy_mapped \
            '{public: [pgbench_accounts, pgbench_branches, pgbench_tellers, pgbench_history]}'
        # show that the mapped instance really rewrites pgbench's statement
        log "mapped rewrite: $(BENCH_PW=$BENCH_PW "$SPX_BIN" rewrite --config "$WORK/schemaproxy_mapped.yaml" \
            --service bench 'SELECT abalance FROM pgbench_accounts WHERE aid = $1' 2>&1)"
    fi
    if [ -n "$metrics_off" ]; then
        start_schemaproxy schemaproxy_nometrics '{}' off
    fi
    if [ -n "$SPX_BIN_B" ]; then
        start_schemaproxy schemaproxy_b '{}' on "$SPX_BIN_B" "$workers_b"
    fi
fi
log "targets: ${TARGETS[*]}"
AB_TITLE=""
if [ -n "$SPX_BIN_B" ]; then
    AB_TITLE="; A = $SPX_BIN (workers ${workers:-default}), B = $SPX_BIN_B (workers ${workers_b:-default})"
    log "A/B: A = $SPX_BIN (workers ${workers:-default}), B = $SPX_BIN_B (workers ${workers_b:-default})"
fi

proc_counters() {
    # "UTIME STIME PREEMPTIONS" of a process: fields 14 and 15 of /proc/PID/stat (all threads, clock ticks; the
    # comm field may hold spaces, so cut after ')'), and nonvoluntary_ctxt_switches summed over its threads
    local stat preempt=0 n f
    stat=$(<"/proc/$1/stat")
    stat=${stat##*) }
    for f in /proc/"$1"/task/*/status; do
        n=$(sed -n 's/^nonvoluntary_ctxt_switches:[[:space:]]*//p' "$f" 2>/dev/null) || n=0
        preempt=$((preempt + ${n:-0}))
    done
    # shellcheck disable=SC2086
    set -- $stat
    echo "${12} ${13} $preempt"
}

RESULTS="$WORK/results.tsv"
printf 'round\tmode\tclients\ttarget\ttps\ttransactions\tcpu_ticks\tclk_tck\tuser_ticks\tsys_ticks\tpreemptions\n' \
    >"$RESULTS"

run_one() {
    # run_one ROUND MODE CLIENTS TARGET
    local round=$1 mode=$2 c=$3 target=$4 log tps tx
    local before=(0 0 0) after=(0 0 0)
    log="$WORK/run-$round-$mode-$c-$target.log"
    [ -n "${PID[$target]:-}" ] && read -r -a before <<<"$(proc_counters "${PID[$target]}")"
    local sslmode=prefer
    [ -n "$tls" ] && [ "$target" != direct ] && sslmode=require
    if ! PGSSLMODE=$sslmode PGPASSWORD=$BENCH_PW "$PGBENCH" -S -n -T "$duration" -c "$c" -j "$jobs" -M "$mode" \
        -h "${HOST[$target]}" -p "${PORT[$target]}" -U bench_user bench >"$log" 2>&1; then
        log "pgbench failed: $target, -M $mode, -c $c:"
        tail -n 15 "$log" >&2
        printf '%s\t%s\t%s\t%s\tNA\tNA\tNA\t%s\tNA\tNA\tNA\n' "$round" "$mode" "$c" "$target" "$CLK_TCK" >>"$RESULTS"
        return 0
    fi
    [ -n "${PID[$target]:-}" ] && read -r -a after <<<"$(proc_counters "${PID[$target]}")"
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without initial connection time)$/\1/p' "$log")
    tx=$(sed -n 's/^number of transactions actually processed: \([0-9]*\).*/\1/p' "$log")
    local failed
    failed=$(sed -n 's/^number of failed transactions: \([0-9]*\).*/\1/p' "$log")
    if [ -z "$tps" ] || [ -z "$tx" ] || [ "${failed:-0}" != 0 ]; then
        log "could not read a clean result from pgbench ($target, -M $mode, -c $c):"
        tail -n 15 "$log" >&2
        tps=NA
    fi
    local cpu=NA user=NA sys=NA preempt=NA
    if [ -n "${PID[$target]:-}" ]; then
        user=$((after[0] - before[0]))
        sys=$((after[1] - before[1]))
        cpu=$((user + sys))
        preempt=$((after[2] - before[2]))
    fi
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$round" "$mode" "$c" "$target" "$tps" "${tx:-NA}" \
        "$cpu" "$CLK_TCK" "$user" "$sys" "$preempt" >>"$RESULTS"
    printf '  round %s  -M %-8s -c %-3s %-20s %10s tps\n' "$round" "$mode" "$c" "$target" "$tps" >&2
}

IFS=, read -r -a MODE_LIST <<<"$modes"
IFS=, read -r -a CLIENT_LIST <<<"$clients"
[ -n "$prepared" ] && MODE_LIST+=(prepared)

total=0
for mode in "${MODE_LIST[@]}"; do
    for c in "${CLIENT_LIST[@]}"; do
        for t in "${TARGETS[@]}"; do
            [ "$mode" = prepared ] && [ "$t" = pgbouncer ] && continue
            total=$((total + 1))
        done
    done
done
log "$((total * rounds)) runs of ${duration}s (about $((total * rounds * (duration + 1) / 60 + 1)) min)"

for ((r = 1; r <= rounds; r++)); do
    for mode in "${MODE_LIST[@]}"; do
        for c in "${CLIENT_LIST[@]}"; do
            # alternate the order of targets from round to round
            n=${#TARGETS[@]}
            for ((k = 0; k < n; k++)); do
                t=${TARGETS[$(((k + r - 1) % n))]}
                [ "$mode" = prepared ] && [ "$t" = pgbouncer ] && continue
                run_one "$r" "$mode" "$c" "$t"
            done
        done
    done
done

[ -n "$out" ] && cp "$RESULTS" "$out"
title="pgbench -S -n -T$duration -j$jobs, scale $scale, $rounds round(s), pool 20 transaction mode, $(nproc) cores"
[ -n "$unix" ] && title="$title, clients over Unix-domain sockets"
[ -n "$tls" ] && title="$title, clients over TLS to the proxies (direct in plaintext)"
python3 "$SP_ROOT/benchmarks/pgbench_summary.py" "$RESULTS" ${detail:+--detail} --title "$title$AB_TITLE"
