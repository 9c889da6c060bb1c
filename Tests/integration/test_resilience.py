"""Faults: the server restarts under load, its connections are terminated, it hangs or goes away, it fails over
to a promoted standby, the proxy is stopped mid-transaction. Each test checks afterwards that nothing a client
saw committed was lost. Tests that stop or restart a server use throwaway clusters of their own.

Each test prints one line starting with `RESILIENCE` (what clients saw); run with -s to read them."""
from __future__ import annotations

import os
import secrets
import signal
import threading
import time
from collections import Counter
from dataclasses import dataclass, field

import psycopg
import psycopg.errors
import pytest
import yaml

from conftest import HEAL7_SCHEMAS_DREAM, HEAL7_SCHEMAS_SAJU, free_port, lib, remove_cluster, start_cluster, wait_until
from tcprelay import TcpRelay
from test_operations import http_get, metric


def report(line: str) -> None:
    print(f"\nRESILIENCE {line}", flush=True)


def backend_up(px, service: str, port: int) -> float | None:
    return metric(http_get(px.metrics_port, "/metrics")[1], "schemaproxy_backend_up",
                  service=service, host=f"127.0.0.1:{port}")


def run_with_timeout(fn, timeout: float):
    """fn() in a thread; its result, or AssertionError when it has not returned within `timeout` (a hang)."""
    box: dict = {}

    def target():
        try:
            box["value"] = fn()
        except BaseException as e:  # noqa: BLE001 - re-raised below
            box["error"] = e
    t = threading.Thread(target=target, daemon=True)
    t.start()
    t.join(timeout)
    if t.is_alive():
        raise AssertionError(f"no answer within {timeout}s")
    if "error" in box:
        raise box["error"]
    return box["value"]


def process_cpu_seconds(pid: int) -> float:
    fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --------------------------------------------------------------------------- a pgbench database of its own

@dataclass
class BenchDB:
    cluster: object
    password: str

    def backend(self, port: int | None = None) -> str:
        return f"postgresql://bench_user:{self.password}@127.0.0.1:{port or self.cluster.port}/bench"

    def check_nothing_lost(self, acked: list[int]) -> dict:
        """TPC-B invariants (every committed transaction moved the same delta everywhere and left one history row
        and one ack row) and every acknowledged commit present."""
        (accounts, tellers, branches, history, n_history, n_acks, found), = self.cluster.exec(
            "SELECT (SELECT coalesce(sum(abalance), 0) FROM pgbench_accounts),"
            " (SELECT coalesce(sum(tbalance), 0) FROM pgbench_tellers),"
            " (SELECT coalesce(sum(bbalance), 0) FROM pgbench_branches),"
            " (SELECT coalesce(sum(delta), 0) FROM pgbench_history),"
            " (SELECT count(*) FROM pgbench_history), (SELECT count(*) FROM acks),"
            " (SELECT count(*) FROM acks WHERE id = ANY(%s))", dbname="bench", params=(acked,))
        assert accounts == tellers == branches == history, (accounts, tellers, branches, history)
        assert n_history == n_acks, (n_history, n_acks)
        assert found == len(acked), f"{len(acked) - found} acknowledged commits are missing"
        return {"committed_rows": n_acks, "acknowledged": len(acked)}


def make_bench(cluster) -> BenchDB:
    password = secrets.token_hex(10)
    lib(f"pg_create_bench {password} 1", cluster.env())
    cluster.exec("CREATE TABLE acks (id bigint PRIMARY KEY, at timestamptz DEFAULT now()); "
                 "ALTER TABLE acks OWNER TO bench_user", dbname="bench")
    return BenchDB(cluster, password)


@pytest.fixture(scope="module")
def bench_db():
    cluster = start_cluster()
    try:
        yield make_bench(cluster)
    finally:
        remove_cluster(cluster)


@pytest.fixture
def bench(bench_db):
    """The module's bench cluster, running again after the test whatever the test did to it."""
    yield bench_db
    if not bench_db.cluster.is_running():
        bench_db.cluster.start()


# --------------------------------------------------------------------------- load

@dataclass
class Load:
    """`clients` threads, each running TPC-B transactions (plus an ack row) through the proxy in a loop, reconnecting
    after an error. Records when each transaction started and ended and how it ended."""
    px: object
    clients: int
    service: str = "bench"
    acked: list = field(default_factory=list)
    commits: list = field(default_factory=list)   # (client, started, ended)
    errors: list = field(default_factory=list)    # (client, started, ended, sqlstate, message)
    reconnect_errors: list = field(default_factory=list)
    stop_event: threading.Event = field(default_factory=threading.Event)
    threads: list = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def start(self) -> None:
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(self.clients)]
        for t in self.threads:
            t.start()

    def stop(self) -> None:
        self.stop_event.set()
        for t in self.threads:
            t.join(60)
        assert not any(t.is_alive() for t in self.threads), "a client thread hung"

    def commits_of(self, client: int, after: float = 0.0) -> int:
        with self.lock:
            return sum(1 for c, s, _ in self.commits if c == client and s >= after)

    def connect(self, client: int):
        while not self.stop_event.is_set():
            try:
                # No server-side prepared statements: transaction pooling cannot carry them yet (issue 4).
                return self.px.connect(self.service, autocommit=False, prepare_threshold=None)
            except psycopg.Error as e:
                with self.lock:
                    self.reconnect_errors.append((client, time.monotonic(), getattr(e, "sqlstate", None), str(e)))
                time.sleep(0.05)
        return None

    def run(self, client: int) -> None:
        conn = self.connect(client)
        seq = 0
        while conn is not None and not self.stop_event.is_set():
            seq += 1
            ack = client * 1_000_000 + seq
            aid, tid, bid, delta = secrets.randbelow(100_000) + 1, secrets.randbelow(10) + 1, 1, secrets.randbelow(10_001) - 5_000
            started = time.monotonic()
            try:
                conn.execute("UPDATE pgbench_accounts SET abalance = abalance + %s WHERE aid = %s", (delta, aid))
                conn.execute("UPDATE pgbench_tellers SET tbalance = tbalance + %s WHERE tid = %s", (delta, tid))
                conn.execute("UPDATE pgbench_branches SET bbalance = bbalance + %s WHERE bid = %s", (delta, bid))
                conn.execute("INSERT INTO pgbench_history (tid, bid, aid, delta, mtime) "
                             "VALUES (%s, %s, %s, %s, now())", (tid, bid, aid, delta))
                conn.execute("INSERT INTO acks (id) VALUES (%s)", (ack,))
                conn.commit()
                with self.lock:
                    self.acked.append(ack)
                    self.commits.append((client, started, time.monotonic()))
            except psycopg.Error as e:
                with self.lock:
                    self.errors.append((client, started, time.monotonic(), getattr(e, "sqlstate", None),
                                        str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__))
                if conn.closed or conn.broken:
                    conn = self.connect(client)
                else:
                    try:
                        conn.rollback()
                    except psycopg.Error:
                        conn.close()
                        conn = self.connect(client)
        if conn is not None:
            conn.close()


def bench_proxy(proxy, bench: BenchDB, **service):
    return proxy(services={"bench": {"backend": bench.backend(), **service}}, pool_size=5, checkout_timeout="15s")


# --------------------------------------------------------------------------- the server restarts under load

def test_server_restart_under_load(proxy, bench):
    # A retry budget (20 attempts, 50 ms doubling up to 500 ms: several seconds) longer than a fast restart, so a
    # transaction that starts while the server is down waits for it instead of failing.
    px = bench_proxy(proxy, bench, retry={"attempts": 20, "initial_backoff": "50ms", "max_backoff": "500ms"},
                     health_check={"interval": "500ms", "timeout": "1s"})
    pid = px.proc.pid
    load = Load(px, clients=10)
    load.start()
    try:
        wait_until(lambda: all(load.commits_of(i) >= 3 for i in range(10)), 60, what="every client committing")
        down = time.monotonic()
        bench.cluster.restart()
        up = time.monotonic()
        wait_until(lambda: all(load.commits_of(i, after=up) >= 1 for i in range(10)), 30,
                   what="every client committing after the restart")
        time.sleep(1)
    finally:
        load.stop()
    recovery = max(min(e for c, s, e in load.commits if c == i and s >= up) for i in range(10)) - up
    by_state = Counter(f"{sqlstate} {message}" for _, _, _, sqlstate, message in load.errors)
    per_client = Counter(c for c, *_ in load.errors)
    late = [e for e in load.errors if e[1] >= up]
    report(f"restart: server down for {up - down:.2f}s (pg_ctl restart -m fast); {len(load.errors)} failed "
           f"transactions {dict(by_state)} over {len(per_client)} of 10 clients, max {max(per_client.values(), default=0)} "
           f"per client; {len(load.reconnect_errors)} failed reconnects; every client committed again "
           f"{recovery:.2f}s after the server was back; {len(load.acked)} commits")
    assert px.alive() and px.proc.pid == pid, "the proxy restarted or died"
    assert late == [], f"transactions started after the server was back failed: {late[:3]}"
    assert max(per_client.values(), default=0) <= 1, f"more than the transaction in flight failed: {load.errors}"
    assert load.reconnect_errors == [], load.reconnect_errors[:3]
    report(f"restart: nothing lost: {bench.check_nothing_lost(load.acked)}")


# --------------------------------------------------------------------------- server connections terminated

def show_servers(px) -> list[dict]:
    with psycopg.connect(px.url("schemaproxy", user="admin", password=px.admin_password), autocommit=True) as a:
        cur = a.execute("SHOW SERVERS")
        cols = [d.name for d in cur.description]
        return [dict(zip(cols, r)) for r in cur.fetchall()]


def test_terminated_idle_server_connections_are_dropped_and_replaced(proxy, pg):
    px = proxy(pool_size=4)
    clients = [px.connect(autocommit=False) for _ in range(4)]
    try:
        # Four transactions at once: the pool opens four server connections; then all are idle again.
        for c in clients:
            c.execute("SELECT 1")
        for c in clients:
            c.commit()
        pids = [int(s["backend_pid"]) for s in show_servers(px) if s["service"] == "saju_service"]
        assert len(pids) == 4, pids
        pg.super_exec("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE pid = ANY(%s)", params=(pids,))
        wait_until(lambda: not pg.super_exec("SELECT pid FROM pg_stat_activity WHERE pid = ANY(%s)", params=(pids,)),
                   10, what="the terminated backends to exit")
        # The server sent each of them FATAL 57P01: the proxy closes them as they arrive.
        wait_until(lambda: not any(s["service"] == "saju_service" for s in show_servers(px)), 5,
                   what="the proxy to drop the terminated server connections")
        new_pids = set()
        for c in clients:  # every idle client's next transaction works, on a new server connection
            new_pids.add(c.execute("SELECT pg_backend_pid()").fetchone()[0])
            c.commit()
        assert not new_pids & set(pids)
        report(f"terminate: {len(pids)} idle server connections terminated; 0 client errors; "
               f"next transactions ran on {len(new_pids)} new server connection(s)")
    finally:
        for c in clients:
            c.close()


def test_pre_lend_check_replaces_a_silently_dead_connection(proxy, pg):
    """A server connection that stopped answering without closing (a network partition) is found by the check
    before lending (server_check_delay 0 = every time) and replaced; without the check the query would hang."""
    relay = TcpRelay(pg.port)
    try:
        px = proxy(pool_size=2, services={"saju_service": {
            "backend": f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{relay.port}/heal7",
            "schemas": HEAL7_SCHEMAS_SAJU, "server_check_delay": "0",
            "health_check": {"interval": "0", "timeout": "500ms"}}})
        c = px.connect()
        first = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        relay.freeze()  # the idle server connection now swallows everything, silently
        t0 = time.monotonic()
        second = run_with_timeout(lambda: c.execute("SELECT pg_backend_pid()").fetchone()[0], 15)
        assert second != first
        report(f"pre-lend check: a silently dead idle connection was replaced; the client's query answered after "
               f"{time.monotonic() - t0:.2f}s (health_check.timeout 500ms), no error")
        c.close()
    finally:
        relay.close()


# --------------------------------------------------------------------------- a hung host, a dead backend

def test_hung_host_costs_one_connect_timeout_then_is_skipped(proxy, pg):
    hung = TcpRelay(pg.port)
    hung.blackhole = True  # accepts TCP connections and never says a word
    try:
        px = proxy(pool_size=4, checkout_timeout="10s", services={"saju_service": {
            "backend": f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{hung.port},127.0.0.1:{pg.port}/heal7",
            "schemas": HEAL7_SCHEMAS_SAJU, "connect_timeout": "1s", "health_check": {"interval": "0"}}})
        t0 = time.monotonic()
        with px.connect() as c:  # connect_timeout bounds the login too, then the next host
            assert c.execute("SELECT inet_server_port()").fetchone() == (pg.port,)
        first = time.monotonic() - t0
        assert hung.accepted == 1  # one attempt at the hung host ...
        # ... that cost one connect_timeout (1s): at least the timeout, and far less than a second one plus
        # backoff would (generous: a login on a loaded 2-core machine can take a second or two).
        assert 0.9 <= first < 6, f"the first client waited {first:.2f}s; connect_timeout is 1s"
        assert backend_up(px, "saju_service", hung.port) == 0
        assert backend_up(px, "saju_service", pg.port) == 1
        # New server connections go to the live host first now.
        conns = [px.connect(autocommit=False) for _ in range(4)]
        try:
            for c in conns:
                assert c.execute("SELECT inet_server_port()").fetchone() == (pg.port,)
        finally:
            for c in conns:
                c.close()
        assert len([s for s in show_servers(px) if s["service"] == "saju_service"]) == 4
        assert hung.accepted == 1, "a new connection tried the host known to be down first"
        report(f"hung host: the first client waited {first:.2f}s (connect_timeout 1s) and got the next host; "
               f"3 more server connections opened without trying the hung host")
    finally:
        hung.close()


def test_backend_gone_fast_errors_backend_up_and_recovery(proxy, bench):
    # max_backoff 60s: after a failed round new clients fail at once for a minute, unless a health check sees
    # the server come back (which is what this test waits for).
    px = bench_proxy(proxy, bench, retry={"attempts": 3, "initial_backoff": "100ms", "max_backoff": "60s"},
                     health_check={"interval": "300ms", "timeout": "1s"})
    port = bench.cluster.port
    with px.connect("bench") as c:
        c.execute("SELECT 1")
    wait_until(lambda: backend_up(px, "bench", port) == 1, 10, what="backend_up 1")
    bench.cluster.stop()
    wait_until(lambda: backend_up(px, "bench", port) == 0, 10, interval=0.1, what="backend_up 0 after the stop")
    fds, cpu = len(os.listdir(f"/proc/{px.proc.pid}/fd")), process_cpu_seconds(px.proc.pid)
    timings, states = [], []
    for _ in range(5):
        t0 = time.monotonic()
        with px.connect("bench") as c:  # logging in needs no server connection once the parameters are known
            with pytest.raises(psycopg.OperationalError) as e:
                c.execute("SELECT 1")
        timings.append(time.monotonic() - t0)
        states.append(e.value.sqlstate)
        assert "bench" in str(e.value), str(e.value)
    assert states == ["08006"] * 5, states
    assert max(timings) < 7.5, f"half of checkout_timeout is the sanity bound: {timings}"
    time.sleep(3)  # ten probe intervals against a dead server
    fds_after, cpu_after = len(os.listdir(f"/proc/{px.proc.pid}/fd")), process_cpu_seconds(px.proc.pid)
    assert fds_after <= fds + 2, f"file descriptors grew from {fds} to {fds_after}: probes leak"
    assert cpu_after - cpu < 1.0, f"{cpu_after - cpu:.2f}s of CPU in 3s with the backend gone: something spins"
    bench.cluster.start()
    back = time.monotonic()
    wait_until(lambda: backend_up(px, "bench", port) == 1, 10, interval=0.1, what="backend_up 1 after the start")

    def works():
        try:
            with px.connect("bench") as c:
                return c.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False
    wait_until(works, 10, interval=0.1, what="queries to work again")
    report(f"backend gone: new queries failed with {states[0]} in {min(timings):.3f}..{max(timings):.3f}s "
           f"(checkout_timeout 15s); backend_up 0; fds {fds}->{fds_after}, CPU {cpu_after - cpu:.2f}s in 3s; "
           f"queries worked again {time.monotonic() - back:.2f}s after the server was back")
    assert px.alive()


def reload(px, cfg: dict) -> None:
    before = metric(http_get(px.metrics_port, "/metrics")[1], "schemaproxy_config_reloads_total", result="success") or 0
    px.config_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
    px.proc.send_signal(signal.SIGHUP)
    wait_until(lambda: (metric(http_get(px.metrics_port, "/metrics")[1], "schemaproxy_config_reloads_total",
                               result="success") or 0) > before, 10, what="the reload")


def test_prober_follows_reloads(proxy, pg):
    relay = TcpRelay(pg.port)  # counts saju_service's connections: no client uses it, so they are all probes
    clock = TcpRelay(pg.port)  # dream_service's probes after the first reload: the prober's own clock
    dead = free_port()
    app = "postgresql://heal7_app:${ITEST_DB_PASSWORD}@127.0.0.1"
    try:
        px = proxy(services={
            "saju_service": {"backend": f"{app}:{relay.port}/heal7", "schemas": HEAL7_SCHEMAS_SAJU,
                             "health_check": {"interval": "1h"}},
            "dream_service": {"backend": f"{app}:{dead},127.0.0.1:{pg.port}/heal7", "schemas": HEAL7_SCHEMAS_DREAM,
                              "health_check": {"interval": "200ms"}},
        })
        wait_until(lambda: backend_up(px, "dream_service", dead) == 0 and backend_up(px, "dream_service", pg.port) == 1,
                   10, what="the probes of dream_service's two hosts")
        assert relay.accepted == 0, "saju_service probed before its first interval (1h)"
        cfg = px.config
        cfg["services"]["saju_service"]["health_check"]["interval"] = "200ms"
        cfg["services"]["dream_service"]["backend"] = f"{app}:{clock.port}/heal7"
        reload(px, cfg)
        wait_until(lambda: relay.accepted >= 2, 10, what="probes at the new interval")
        assert backend_up(px, "saju_service", relay.port) == 1
        wait_until(lambda: backend_up(px, "dream_service", dead) is None, 5, what="the removed host's gauge to go")
        wait_until(lambda: backend_up(px, "dream_service", clock.port) == 1, 5, what="dream_service's new host probed")
        del cfg["services"]["saju_service"]
        reload(px, cfg)
        probes = relay.accepted
        # Not a fixed sleep: wait until the remaining service, probing at the same interval, has probed five more
        # times; the removed one's prober would have probed about as often by then.
        ticks = clock.accepted
        wait_until(lambda: clock.accepted >= ticks + 5, 15, interval=0.05, what="five more probes of dream_service")
        assert relay.accepted <= probes + 1, "a removed service kept probing"  # + one that was on its way
        assert px.alive()
    finally:
        relay.close()
        clock.close()


# --------------------------------------------------------------------------- failover

def test_failover_to_promoted_standby_under_load(proxy, clusters):
    primary = clusters()
    db = make_bench(primary)
    standby = clusters(standby_of=primary)
    wait_until(lambda: standby.exec("SELECT count(*) FROM pg_stat_wal_receiver WHERE status = 'streaming'")[0][0] == 1,
               30, interval=0.2, what="the standby to stream")
    backend = (f"postgresql://bench_user:{db.password}@127.0.0.1:{primary.port},127.0.0.1:{standby.port}/bench"
               "?target_session_attrs=read-write")
    px = proxy(services={"bench": {"backend": backend, "health_check": {"interval": "300ms", "timeout": "1s"},
                                   "retry": {"attempts": 10, "initial_backoff": "100ms", "max_backoff": "1s"}}},
               pool_size=3, checkout_timeout="15s")
    with px.connect("bench") as c:
        assert c.execute("SELECT inet_server_port()").fetchone() == (primary.port,)
    wait_until(lambda: backend_up(px, "bench", standby.port) == 1, 10, what="the standby probed up")
    load = Load(px, clients=3)
    load.start()
    try:
        wait_until(lambda: all(load.commits_of(i) >= 3 for i in range(3)), 30, what="every client committing")
        primary.stop()
        stopped = time.monotonic()
        standby.promote()
        promoted = time.monotonic()
        wait_until(lambda: all(load.commits_of(i, after=promoted) >= 1 for i in range(3)), 30,
                   what="every client committing on the promoted standby")
    finally:
        load.stop()
    with px.connect("bench") as c:
        assert c.execute("SELECT inet_server_port()").fetchone() == (standby.port,)
    wait_until(lambda: backend_up(px, "bench", primary.port) == 0, 10, what="the old primary probed down")
    recovery = max(min(e for c, s, e in load.commits if c == i and s >= promoted) for i in range(3)) - promoted
    report(f"failover: primary stopped, standby promoted {promoted - stopped:.2f}s later; "
           f"{len(load.errors)} failed transactions "
           f"{dict(Counter(f'{e[3]} {e[4]}' for e in load.errors))}, {len(load.reconnect_errors)} failed reconnects; "
           f"every client committed on the new primary {recovery:.2f}s after the promotion; {len(load.acked)} commits")
    assert [e for e in load.errors if e[1] >= promoted] == [], "transactions started after the promotion failed"
    report(f"failover: nothing lost: {BenchDB(standby, db.password).check_nothing_lost(load.acked)}")


# --------------------------------------------------------------------------- SIGTERM mid-transaction

def test_sigterm_commits_the_transaction_in_flight(proxy, pg):
    table = "itest.r_" + secrets.token_hex(4)
    pg.super_exec(f"CREATE TABLE {table} (n int); ALTER TABLE {table} OWNER TO heal7_app")
    try:
        px = proxy(top_extra={"shutdown_timeout": "10s"})
        c = px.connect(autocommit=False)
        c.execute(f"INSERT INTO {table} VALUES (1)")
        px.proc.send_signal(signal.SIGTERM)
        wait_until(lambda: http_get(px.metrics_port, "/health")[0] != 200, 5, what="/health to stop answering 200")
        with pytest.raises(psycopg.OperationalError):
            px.connect()  # no new clients while draining
        c.execute(f"INSERT INTO {table} VALUES (2)")
        c.commit()
        c.close()
        px.proc.wait(timeout=15)
        assert px.proc.returncode == 0
        assert pg.super_exec(f"SELECT n FROM {table} ORDER BY n") == [(1,), (2,)]
    finally:
        pg.super_exec(f"DROP TABLE IF EXISTS {table}")
