"""Operating the proxy: admin console, /metrics and /health, SIGHUP reload, SIGTERM shutdown."""
import asyncio
import threading
import signal
import time

import asyncpg
import psycopg
import psycopg.errors
import pytest

from conftest import http_get, metric, wait_until


def test_admin_console(proxy):
    px = proxy()
    with px.connect() as c:
        c.execute("SELECT 1")
    out = px.psql("-c", "SHOW POOLS", service="schemaproxy", user="admin", password=px.admin_password).stdout
    assert "saju_service" in out
    out = px.psql("-c", "SHOW SERVICES", service="schemaproxy", user="admin", password=px.admin_password).stdout
    assert "saju_service" in out and "kasi_cache" in out


def test_admin_console_refuses_other_users(proxy):
    px = proxy()

    async def main():
        try:
            c = await asyncpg.connect(px.url("schemaproxy"), statement_cache_size=0, timeout=10)
        except asyncpg.PostgresError as e:
            return e.sqlstate
        try:
            await c.fetch("SHOW POOLS")
        except asyncpg.PostgresError as e:
            return e.sqlstate
        finally:
            await c.close()
        return None
    assert asyncio.run(main()) in ("28000", "42501")


def test_health_and_metrics(proxy):
    px = proxy()
    assert http_get(px.metrics_port, "/health")[0] == 200
    status, before = http_get(px.metrics_port, "/metrics")
    assert status == 200
    q0 = metric(before, "schemaproxy_queries_total", service="saju_service") or 0
    with px.connect() as c:
        for _ in range(5):
            c.execute("SELECT 1")
    status, after = http_get(px.metrics_port, "/metrics")
    q1 = metric(after, "schemaproxy_queries_total", service="saju_service")
    assert q1 is not None and q1 - q0 >= 5, (q0, q1)
    for name in ("schemaproxy_client_connections", "schemaproxy_server_connections",
                 "schemaproxy_transactions_total", "schemaproxy_backend_up"):
        assert name in after, f"{name} missing from /metrics"


def test_sighup_reload_pool_size_and_invalid_file(proxy):
    px = proxy(pool_size=4)
    held = px.connect()
    assert held.execute("SELECT 1").fetchone() == (1,)
    assert str(px.pools()["saju_service"]["pool_size"]) == "4"
    cfg = px.config
    cfg["defaults"]["pool_size"] = 7
    px.reload(cfg)
    wait_until(lambda: str(px.pools()["saju_service"]["pool_size"]) == "7", 10, interval=0.1,
               what="pool_size 7 after SIGHUP")
    ok = metric(http_get(px.metrics_port, "/metrics")[1], "schemaproxy_config_reloads_total", result="success")
    assert ok is not None and ok >= 1
    # an invalid file is rejected and the running config stays
    px.reload("listen: [this is not valid\n")
    wait_until(lambda: (metric(http_get(px.metrics_port, "/metrics")[1], "schemaproxy_config_reloads_total",
                               result="failure") or 0) >= 1, 10, what="a failed reload to be counted")
    assert str(px.pools()["saju_service"]["pool_size"]) == "7"
    assert held.execute("SELECT 2").fetchone() == (2,)  # no client dropped by either reload
    assert px.alive()
    held.close()


def test_sighup_reload_applies_mapping_and_keeps_clients(proxy):
    px = proxy()
    held = px.connect()
    assert held.execute("SELECT count(*) FROM users").fetchone() == (3,)
    cfg = px.config
    cfg["services"]["saju_service"]["schemas"] = {"shared_common": ["users"], "dream_service": ["dreams"]}
    px.reload(cfg)

    def dreams_visible():
        try:
            return held.execute("SELECT count(*) FROM dreams").fetchone() == (2,)
        except psycopg.errors.UndefinedTable:
            return False
    wait_until(dreams_visible, 10, interval=0.1, what="the reloaded mapping")
    with pytest.raises(psycopg.errors.UndefinedTable):
        held.execute("SELECT * FROM kasi_cache")  # no longer mapped
    assert px.alive()
    held.close()


def test_reloaded_mapping_applies_to_a_statement_the_client_repeats(proxy, pg):
    """A client that sends the same statement again and again (each a Parse of the same text, as drivers do)
    gets it rewritten with the mapping in force when it is sent, not as it was rewritten the time before."""
    with pg.super_conn("heal7") as c:
        for schema in ("saju_service", "dream_service"):
            c.execute(f"CREATE TABLE {schema}.memo_probe (v text)")
            c.execute(f"INSERT INTO {schema}.memo_probe VALUES (%s)", [schema])
            c.execute(f"GRANT SELECT ON {schema}.memo_probe TO heal7_app")
    px = proxy()
    cfg = px.config
    cfg["services"]["saju_service"]["schemas"] = {"saju_service": ["memo_probe"]}
    px.reload(cfg)
    # Parameters: the extended protocol. Never prepared by psycopg, so the same unnamed Parse each time.
    held = px.connect(prepare_threshold=None)
    query = "SELECT v FROM memo_probe WHERE %s"

    def probe():
        try:
            return held.execute(query, [True]).fetchone()[0]
        except psycopg.errors.UndefinedTable:
            return None
    wait_until(lambda: probe() == "saju_service", 10, interval=0.1, what="the first mapping")
    for _ in range(20):
        assert probe() == "saju_service"
    cfg["services"]["saju_service"]["schemas"] = {"dream_service": ["memo_probe"]}
    px.reload(cfg)
    wait_until(lambda: probe() == "dream_service", 10, interval=0.1, what="the reloaded mapping")
    for _ in range(20):
        assert probe() == "dream_service"
    held.close()


def test_sigterm_lets_open_transaction_finish(proxy, pg):
    px = proxy(top_extra={"shutdown_timeout": "10s"})
    c = px.connect(autocommit=False)
    c.execute("SELECT 1")
    px.proc.send_signal(signal.SIGTERM)
    # new clients are refused while draining: /health says so, and a new connection fails
    wait_until(lambda: http_get(px.metrics_port, "/health")[0] != 200, 5, what="/health to stop answering 200")

    def new_client_refused() -> bool:
        try:
            psycopg.connect(**px.kw(), connect_timeout=5).close()
            return False
        except psycopg.OperationalError:
            return True
    wait_until(new_client_refused, 5, interval=0.1, what="a new client to be refused")
    assert px.alive(), "the proxy exited with a transaction still open"
    assert c.execute("SELECT 'finishing'").fetchone() == ("finishing",)
    c.commit()
    c.close()
    px.proc.wait(timeout=15)
    assert px.proc.returncode == 0


def test_backend_failover_to_second_host(proxy, pg):
    from conftest import HEAL7_SCHEMAS_SAJU, free_port
    dead = free_port()
    px = proxy(services={"saju_service": {
        "backend": f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{dead},127.0.0.1:{pg.port}/heal7",
        "schemas": HEAL7_SCHEMAS_SAJU,
        "retry": {"attempts": 2, "initial_backoff": "50ms", "max_backoff": "100ms"}}})
    with px.connect() as c:
        assert c.execute("SELECT inet_server_port()").fetchone() == (pg.port,)


def test_service_search_path(proxy, pg):
    from conftest import HEAL7_SCHEMAS_SAJU
    backend = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{pg.port}/heal7"
    px = proxy(services={
        "with_path": {"backend": backend, "search_path": ["dream_service", "shared_common"],
                      "schemas": HEAL7_SCHEMAS_SAJU},
        "without_path": {"backend": backend, "schemas": HEAL7_SCHEMAS_SAJU},
    })
    with px.connect("with_path") as c:
        # written "a, b" or "a,b" depending on how the proxy sets it; the same path either way
        assert c.execute("SHOW search_path").fetchone()[0].replace('"', "").replace(" ", "") == \
            "dream_service,shared_common"
        assert c.execute("SELECT count(*) FROM dreams").fetchone() == (2,)  # unmapped, found via search_path
    with px.connect("without_path") as c:
        assert c.execute("SHOW search_path").fetchone() == ("pg_catalog",)  # the role's own setting


def admin_pool(admin: psycopg.Connection, service: str) -> dict:
    """The SHOW POOLS row of `service`, as text values by column name."""
    cur = admin.execute("SHOW POOLS")
    columns = [d.name for d in cur.description]
    return next(dict(zip(columns, row)) for row in cur.fetchall() if row[0] == service)


def test_pause_and_resume(proxy):
    px = proxy()
    # prepare_threshold=None: the admin console takes simple queries only, and psycopg would prepare the polled
    # SHOW POOLS after a few runs.
    admin = psycopg.connect(px.url("schemaproxy", user="admin", password=px.admin_password), autocommit=True,
                            prepare_threshold=None)
    try:
        admin.execute("PAUSE saju_service")
        done = threading.Event()

        def query():
            with px.connect() as c:
                c.execute("SELECT 1")
            done.set()
        t = threading.Thread(target=query)
        t.start()
        # Not a fixed sleep: wait until the proxy holds the client, waiting for a server connection, then check.
        wait_until(lambda: admin_pool(admin, "saju_service")["cl_waiting"] == "1", 10, interval=0.05,
                   what="the client to wait on the paused service")
        assert admin_pool(admin, "saju_service")["paused"] == "yes"
        assert not done.is_set(), "a query went through while the service was paused"
        admin.execute("RESUME saju_service")
        assert done.wait(5), "the query did not proceed after RESUME"
        t.join(5)
    finally:
        admin.close()
