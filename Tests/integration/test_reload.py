"""Reload (SIGHUP) while clients work: PRODUCT.md "Reload" under pgbench load, a burst of reloads,
credential rotation, `${ENV}` at reload, and a removed service that comes back while its clients are connected.

pgbench runs TPC-B (-c 6) through the proxy's `bench` service for the whole of each load test, and must end
with exit status 0 and no failed transaction: no reload may drop or break a client."""
from __future__ import annotations

import copy
import os
import socket
import subprocess
import time

import psycopg
import psycopg.errors
import pytest

from conftest import (connect_error, free_port, http_get, metric, pgbench_command, pgbench_counts,
                      wait_until)


class Load:
    """pgbench in the background against the proxy's bench service."""

    def __init__(self, px, seconds: int, clients: int = 6):
        env = {**os.environ, "PGPASSWORD": px.app_password}
        self.seconds = seconds
        self.proc = subprocess.Popen(pgbench_command(px.port, seconds=seconds, clients=clients),
                                     stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env)

    def running(self) -> bool:
        return self.proc.poll() is None

    def finish(self) -> tuple[int, str]:
        """Waits for pgbench; returns (processed transactions, output); fails on any failed transaction."""
        out, _ = self.proc.communicate(timeout=self.seconds + 60)
        processed, failed = pgbench_counts(self.proc.returncode, out)
        assert failed == 0, out
        return processed, out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.communicate()


@pytest.fixture
def load():
    started: list[Load] = []

    def start(px, seconds: int, clients: int = 6) -> Load:
        lo = Load(px, seconds, clients)
        started.append(lo)
        return lo
    yield start
    for lo in started:
        lo.stop()


def transactions(px, service: str = "bench") -> float:
    return metric(px.metrics(), "schemaproxy_transactions_total", service=service) or 0


def wait_for_progress(px, what: str, service: str = "bench") -> None:
    """Waits until the service completes more transactions than now: the load goes on through the reload."""
    before = transactions(px, service)
    wait_until(lambda: transactions(px, service) > before + 10, 10, interval=0.1, what=f"pgbench progress {what}")


def wait_reloaded(px, result: str, before: float) -> None:
    wait_until(lambda: px.reload_count(result) > before, 10, interval=0.05, what=f"a reload counted as {result}")


def bench_backends(pg) -> int:
    return pg.backends(role="bench_user", db="bench")


def interpretations(pg) -> tuple[int]:
    """The row count of dream_service.dream_interpretations, read directly (not through the proxy)."""
    (row,) = pg.super_exec("SELECT count(*) FROM dream_service.dream_interpretations")
    assert row[0] > 0, "the heal7 example has interpretations: a count of 0 would prove nothing"
    return tuple(row)


def test_reload_under_pgbench_load(proxy, pg, load):
    px = proxy(pool_size=4)
    cfg = copy.deepcopy(px.config)
    lo = load(px, seconds=14)
    wait_for_progress(px, "before the first reload")
    held = px.connect()  # a saju_service client kept across every reload below
    assert held.execute("SELECT count(*) FROM users").fetchone() == (3,)

    # 1. mapping change: bench starts routing pgbench's tables (to public, where they are), from the next
    #    statement of the clients already running; saju_service's held client sees its new mapping too.
    ok = px.reload_count("success")
    cfg["services"]["bench"]["schemas"] = {
        "public": ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]}
    cfg["services"]["saju_service"]["schemas"] = {"shared_common": ["users"], "dream_service": ["dreams"]}
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    rewritten = metric(px.metrics(), "schemaproxy_rewrites_total", service="bench", result="rewritten") or 0
    wait_until(lambda: (metric(px.metrics(), "schemaproxy_rewrites_total", service="bench",
                               result="rewritten") or 0) > rewritten + 10, 10, interval=0.1,
               what="pgbench's running clients to get the new mapping")
    assert held.execute("SELECT count(*) FROM dreams").fetchone() == (2,)  # the next statement is routed
    with pytest.raises(psycopg.errors.UndefinedTable):
        held.execute("SELECT * FROM kasi_cache")  # no longer mapped

    # 2. pool resize under load: down to 2 (surplus server connections close as they go idle), then up to 5
    ok = px.reload_count("success")
    cfg["services"]["bench"]["pool_size"] = 2
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    assert str(px.pools()["bench"]["pool_size"]) == "2"
    wait_until(lambda: bench_backends(pg) <= 2, 10, interval=0.1, what="bench's server connections to shrink to 2")
    wait_for_progress(px, "on the smaller pool")
    assert bench_backends(pg) <= 2
    ok = px.reload_count("success")
    cfg["services"]["bench"]["pool_size"] = 5
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    assert str(px.pools()["bench"]["pool_size"]) == "5"
    wait_until(lambda: bench_backends(pg) > 2, 10, interval=0.1, what="bench to use the larger pool")

    # 3. a service added: usable at once
    ok = px.reload_count("success")
    cfg["services"]["extra"] = copy.deepcopy(cfg["services"]["dream_service"])
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    extra = px.connect("extra", autocommit=False)
    assert extra.execute("SELECT count(*) FROM dreams").fetchone() == (2,)  # extra's mapping, in a transaction

    # 4. ... and removed: its client inside a transaction finishes; new clients get 3D000
    ok = px.reload_count("success")
    del cfg["services"]["extra"]
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    assert connect_error(px.url("extra")).sqlstate == "3D000"
    # Still extra's mapping: unqualified, dream_interpretations is only found in dream_service.
    assert extra.execute("SELECT count(*) FROM dream_interpretations").fetchone() == interpretations(pg)
    extra.commit()
    assert extra.execute("SELECT 'still served'").fetchone() == ("still served",)  # its next transaction too
    extra.rollback()
    extra.close()
    wait_until(lambda: "extra" not in px.pools(), 10, interval=0.1, what="the removed service to close")

    # 5. an invalid file: counted as a failure, the running config stays
    bad = px.reload_count("failure")
    ok = px.reload_count("success")
    px.reload("services:\n  bench: {pool_size: -1}\n")
    wait_reloaded(px, "failure", bad)
    assert px.reload_count("success") == ok
    assert str(px.pools()["bench"]["pool_size"]) == "5"
    assert held.execute("SELECT count(*) FROM dreams").fetchone() == (2,)  # the mapping of step 1 still applies

    wait_for_progress(px, "after the invalid file")
    assert lo.running(), "pgbench ended before the last reload: the steps above were not all under load"
    processed, out = lo.finish()
    assert processed > 100, out
    held.close()
    assert px.alive()


def test_sighup_storm_under_load(proxy, pg, load):
    """Ten reloads within a second, alternating pool sizes and mappings, while pgbench runs; the last file's
    config (pool size and mapping) is the one in force afterwards."""
    # Ten schemas storm_0..storm_9, each with a table storm_marker holding its own number: reload i maps
    # storm_marker to storm_i, so `SELECT n FROM storm_marker` through bench tells which mapping is in force.
    with pg.super_conn("bench") as c:
        for i in range(10):
            c.execute(f"CREATE SCHEMA IF NOT EXISTS storm_{i} AUTHORIZATION bench_user")
            c.execute(f"CREATE TABLE IF NOT EXISTS storm_{i}.storm_marker (n int)")
            c.execute(f"ALTER TABLE storm_{i}.storm_marker OWNER TO bench_user")
            c.execute(f"TRUNCATE storm_{i}.storm_marker")
            c.execute(f"INSERT INTO storm_{i}.storm_marker VALUES ({i})")
    px = proxy(pool_size=4)
    cfg = copy.deepcopy(px.config)
    lo = load(px, seconds=8)
    wait_for_progress(px, "before the storm")
    ok, bad = px.reload_count("success"), px.reload_count("failure")
    pgbench_tables = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]
    for i in range(10):
        cfg["services"]["bench"]["pool_size"] = 3 + i % 3
        cfg["services"]["bench"]["schemas"] = {f"storm_{i}": ["storm_marker"],
                                               **({"public": pgbench_tables} if i % 2 else {})}
        px.reload(cfg)
        time.sleep(0.09)  # ~10 signals in one second

    def marker() -> int | None:
        try:
            with px.connect("bench") as c:
                return c.execute("SELECT n FROM storm_marker").fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return None
    # The last file written is the one in force (signals may coalesce, but the last one is never lost): its pool
    # size, and its mapping (storm_marker in storm_9, pgbench's tables in public).
    last_pool_size = str(cfg["services"]["bench"]["pool_size"])
    wait_until(lambda: str(px.pools()["bench"]["pool_size"]) == last_pool_size and marker() == 9, 10,
               interval=0.1, what="the last config of the storm (pool size and mapping) to be in force")
    in_force = {r["schema"]: r["tables"] for r in px.admin_rows("SHOW SERVICES") if r["service"] == "bench"}
    assert in_force == {"storm_9": "storm_marker", "public": ", ".join(pgbench_tables)}, in_force
    assert px.reload_count("success") > ok
    assert px.reload_count("failure") == bad  # files are replaced atomically: no reload saw half a file
    assert http_get(px.metrics_port, "/health")[0] == 200
    with px.connect() as c:
        assert c.execute("SELECT count(*) FROM users").fetchone() == (3,)
    wait_for_progress(px, "after the storm")
    assert lo.running(), "pgbench ended before the storm was over"
    processed, out = lo.finish()
    assert processed > 100, out
    assert px.alive()


def test_password_rotation_on_reload(proxy):
    px = proxy()
    old_pw = px.app_password
    session = px.connect()  # logged in with the old password
    assert session.execute("SELECT 1").fetchone() == (1,)
    cfg = copy.deepcopy(px.config)
    new_pw = "rotated-" + old_pw
    cfg["auth"]["users"]["app"] = new_pw
    ok = px.reload_count("success")
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    assert connect_error(px.url(password=old_pw)).sqlstate == "28P01"  # new logins with the old password
    with psycopg.connect(**px.kw(password=new_pw), connect_timeout=10, autocommit=True) as c:
        assert c.execute("SELECT count(*) FROM users").fetchone() == (3,)
    # the session that logged in before the rotation is not affected
    assert session.execute("SELECT count(*) FROM users").fetchone() == (3,)
    session.close()


def test_env_values_come_from_the_proxys_own_environment(proxy):
    """`${NAME}` is resolved again at every reload, from the environment the proxy was started with: a
    variable exported afterwards (here: in the shell that sends SIGHUP) is not seen, so such a reload fails
    and the old config stays; changing a secret in the environment needs a restart."""
    px = proxy()
    cfg = copy.deepcopy(px.config)
    os.environ["ITEST_ROTATED_PASSWORD"] = "only-in-the-senders-environment"
    try:
        cfg["auth"]["users"]["app"] = "${ITEST_ROTATED_PASSWORD}"
        bad = px.reload_count("failure")
        px.reload(cfg)
        wait_reloaded(px, "failure", bad)
    finally:
        del os.environ["ITEST_ROTATED_PASSWORD"]
    assert "ITEST_ROTATED_PASSWORD" in px.stderr_text()  # the log names the variable
    with px.connect() as c:  # the old password (from ${ITEST_APP_PASSWORD}) still works
        assert c.execute("SELECT 1").fetchone() == (1,)
    assert connect_error(px.url(password="only-in-the-senders-environment")).sqlstate == "28P01"

    # A valid reload substitutes the proxy's own variables again, with the values it was started with.
    ok = px.reload_count("success")
    cfg["auth"]["users"]["app"] = "${ITEST_APP_PASSWORD}"
    cfg["services"]["saju_service"]["pool_size"] = 3
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    assert str(px.pools()["saju_service"]["pool_size"]) == "3"
    with px.connect() as c:
        assert c.execute("SELECT count(*) FROM users").fetchone() == (3,)


def test_removed_service_added_again_keeps_its_clients(proxy, pg):
    """Removed, then back in the next reload while a client still holds a transaction: that client goes on
    (its commit and its next transactions), and new clients are admitted again."""
    px = proxy()
    cfg = copy.deepcopy(px.config)
    client = px.connect("dream_service", autocommit=False)
    assert client.execute("SELECT count(*) FROM dreams").fetchone() == (2,)
    removed = copy.deepcopy(cfg)
    del removed["services"]["dream_service"]
    ok = px.reload_count("success")
    px.reload(removed)
    wait_reloaded(px, "success", ok)
    assert connect_error(px.url("dream_service")).sqlstate == "3D000"
    ok = px.reload_count("success")
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    # Its mapping still applies: unqualified, dream_interpretations is only found in dream_service.
    assert client.execute("SELECT count(*) FROM dream_interpretations").fetchone() == interpretations(pg)
    client.commit()
    for _ in range(3):  # later transactions need the pool again
        assert client.execute("SELECT count(*) FROM dreams").fetchone() == (2,)
        client.commit()
    with px.connect("dream_service") as other:
        assert other.execute("SELECT count(*) FROM dreams").fetchone() == (2,)
    client.close()
    status, text = http_get(px.metrics_port, "/metrics")
    assert metric(text, "schemaproxy_queries_total", service="dream_service") >= 5


DEBUG_LOGIN_LINE = "client logged in"  # what the proxy logs at debug level for each login


def test_restart_only_settings_are_reported_and_kept(proxy):
    """listen and log_level changed in the file: the reload succeeds, says they need a restart, and the
    proxy goes on listening where it did (not on the new port) and logging at the level it started with."""
    px = proxy()
    cfg = copy.deepcopy(px.config)
    cfg["listen"] = f"127.0.0.1:{free_port()}"
    cfg["log_level"] = "debug"
    ok = px.reload_count("success")
    px.reload(cfg)
    wait_reloaded(px, "success", ok)
    wait_until(lambda: "listen/metrics_listen/workers/log_level changed" in px.stderr_text(), 5,
               what="the reload to report the restart-only change")
    with px.connect() as c:  # still on the old port
        assert c.execute("SELECT 1").fetchone() == (1,)
    new_port = int(cfg["listen"].rsplit(":", 1)[1])
    with pytest.raises(ConnectionRefusedError):  # and not on the new one
        socket.create_connection(("127.0.0.1", new_port), timeout=5).close()
    # log_level is still info: the login above logged nothing at debug level ...
    assert DEBUG_LOGIN_LINE not in px.stderr_text()
    # ... which a proxy started with log_level: debug does, so the check above can fail.
    debug = proxy(top_extra={"log_level": "debug"})
    with debug.connect() as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    wait_until(lambda: DEBUG_LOGIN_LINE in debug.stderr_text(), 5, what="a debug-level login line at log_level debug")


def test_changed_backend_retires_old_connections_as_they_go_idle(proxy, pg):
    """A reload that changes a service's backend: a transaction open on an old server connection finishes
    there, new transactions use the new backend, and the old connections close as they go idle."""
    px = proxy(pool_size=2, defaults_extra={"health_check": {"interval": "0s"}})  # no probes in the count
    cfg = copy.deepcopy(px.config)
    held = px.connect("dream_service", autocommit=False)
    assert held.execute("SELECT current_user").fetchone() == ("heal7_app",)  # a transaction stays open
    other = px.connect("dream_service")
    assert other.execute("SELECT current_user").fetchone() == ("heal7_app",)
    assert pg.backends(role="heal7_app") >= 1

    cfg["services"]["dream_service"]["backend"] = f"postgresql://heal7_md5:{pg.md5_password}@127.0.0.1:{pg.port}/heal7"
    ok = px.reload_count("success")
    px.reload(cfg)
    wait_reloaded(px, "success", ok)

    assert held.execute("SELECT current_user").fetchone() == ("heal7_app",)  # still its old connection
    assert other.execute("SELECT current_user").fetchone() == ("heal7_md5",)
    held.commit()
    assert held.execute("SELECT current_user").fetchone() == ("heal7_md5",)
    held.commit()
    wait_until(lambda: pg.backends(role="heal7_app") == 0, 10, interval=0.1,
               what="the old backend's server connections to close")
    held.close()
    other.close()
