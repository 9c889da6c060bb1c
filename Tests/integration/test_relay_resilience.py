"""What a client notices when its server connection dies under it, and idle_transaction_timeout.

The proxy replays a client's messages on another server connection only when the first thing the lent
connection says is "terminating connection" (57P01/57P02/57P03) and the client was between transactions
when it sent them: then nothing it sent has committed."""
import re
import threading
import time
import urllib.request

import psycopg
import pytest

from conftest import wait_until


def metric(px, name: str) -> float:
    text = urllib.request.urlopen(f"http://127.0.0.1:{px.metrics_port}/metrics", timeout=5).read().decode()
    total = 0.0
    for line in text.splitlines():
        if line.startswith(name + "{") or line.startswith(name + " "):
            total += float(line.rsplit(" ", 1)[1])
    return total


def terminate_when_running(pg, marker: str, delay: float = 0.3) -> threading.Thread:
    """Terminates the backend running a query that contains `marker`, once it is seen running."""
    def run():
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            rows = pg.super_exec("SELECT pid FROM pg_stat_activity WHERE query LIKE %s AND pid <> pg_backend_pid()",
                                 params=(f"%{marker}%",))
            if rows:
                time.sleep(delay)
                pg.super_exec("SELECT pg_terminate_backend(%s)", params=(rows[0][0],))
                return
            time.sleep(0.02)
    t = threading.Thread(target=run)
    t.start()
    return t


@pytest.mark.timeout(60)
def test_statement_terminated_before_answering_is_replayed(proxy, pg):
    px = proxy(pool_size=2)
    with px.connect() as c:
        killer = terminate_when_running(pg, "replay-me-1")
        # Autocommit: the client is between transactions, so the aborted statement is safe to run again.
        row = c.execute("SELECT 'replay-me-1', pg_sleep(1.5), 42").fetchone()
        killer.join()
        assert row[2] == 42
        assert c.execute("SELECT 7").fetchone() == (7,)
    assert metric(px, "schemaproxy_transparent_retries_total") == 1


@pytest.mark.timeout(60)
def test_named_prepared_statement_is_replayed_on_the_new_connection(proxy, pg):
    """The replay goes through the relay again, so the statement is re-created on the new connection."""
    px = proxy(pool_size=2)
    with px.connect(prepare_threshold=0) as c:
        assert c.execute("SELECT %s::int + 1", (1,)).fetchone() == (2,)
        killer = terminate_when_running(pg, "replay-me-2")
        row = c.execute("SELECT 'replay-me-2', pg_sleep(1.5), %s::int", (5,)).fetchone()
        killer.join()
        assert row[2] == 5
        assert c.execute("SELECT %s::int + 1", (2,)).fetchone() == (3,)
    assert metric(px, "schemaproxy_transparent_retries_total") == 1


@pytest.mark.timeout(60)
def test_termination_inside_a_transaction_is_reported_not_replayed(proxy, pg):
    px = proxy(pool_size=2)
    pg.super_exec("CREATE TABLE IF NOT EXISTS itest.replay_guard (n int); ALTER TABLE itest.replay_guard OWNER TO heal7_app")
    pg.super_exec("TRUNCATE itest.replay_guard")
    c = px.connect(autocommit=False)
    c.execute("INSERT INTO itest.replay_guard VALUES (1)")
    killer = terminate_when_running(pg, "no-replay")
    with pytest.raises(psycopg.OperationalError):
        c.execute("SELECT 'no-replay', pg_sleep(1.5)")
        c.commit()
    killer.join()
    c.close()
    assert pg.super_exec("SELECT count(*) FROM itest.replay_guard") == [(0,)]
    assert metric(px, "schemaproxy_transparent_retries_total") == 0
    with px.connect() as again:
        assert again.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.timeout(60)
def test_idle_transaction_timeout_rolls_back_and_frees_the_connection(proxy, pg):
    # checkout_timeout far above idle_transaction_timeout, so the bound below can be generous (a loaded 2-core
    # machine) and still tell the timeout freeing the connection from a client that waits for nothing.
    px = proxy(pool_size=1, checkout_timeout="30s", defaults_extra={"idle_transaction_timeout": "1s"})
    pg.super_exec("CREATE TABLE IF NOT EXISTS itest.idle_txn (n int); ALTER TABLE itest.idle_txn OWNER TO heal7_app")
    pg.super_exec("TRUNCATE itest.idle_txn")
    stuck = px.connect(autocommit=False)
    stuck.execute("INSERT INTO itest.idle_txn VALUES (1)")
    # The only server connection is held by `stuck`; another client gets it once the timeout fires.
    started = time.monotonic()
    with px.connect() as other:
        assert other.execute("SELECT count(*) FROM itest.idle_txn").fetchone() == (0,)
    waited = time.monotonic() - started
    assert 0.8 <= waited < 10, f"the other client waited {waited:.2f}s for a 1s idle_transaction_timeout"
    # The FATAL came while the client was idle: it surfaces at its next statement, with its SQLSTATE.
    with pytest.raises(psycopg.Error) as failure:
        stuck.execute("SELECT 1")
    assert failure.value.sqlstate == "25P03", failure.value
    stuck.close()
    assert pg.super_exec("SELECT count(*) FROM itest.idle_txn") == [(0,)]
    assert metric(px, "schemaproxy_idle_transaction_timeouts_total") == 1


@pytest.mark.timeout(60)
def test_busy_transactions_are_not_cut_by_idle_transaction_timeout(proxy, pg):
    px = proxy(pool_size=1, defaults_extra={"idle_transaction_timeout": "1s"})
    with px.connect(autocommit=False) as c:
        for _ in range(6):
            c.execute("SELECT pg_sleep(0.4)")  # never idle for a whole second
        c.commit()
    assert metric(px, "schemaproxy_idle_transaction_timeouts_total") == 0


@pytest.mark.timeout(60)
def test_stale_cached_plan_after_ddl_is_prepared_again_transparently(proxy, pg):
    """`SELECT *` prepared, then a column is added: PostgreSQL says "cached plan must not change result
    type"; outside a transaction the proxy prepares the statement again and retries."""
    px = proxy(pool_size=1)
    pg.super_exec("DROP TABLE IF EXISTS itest.stale_plan; CREATE TABLE itest.stale_plan (a int); "
                  "INSERT INTO itest.stale_plan VALUES (1); ALTER TABLE itest.stale_plan OWNER TO heal7_app")
    with px.connect(prepare_threshold=0) as c, px.connect(prepare_threshold=0) as other:
        assert c.execute("SELECT * FROM itest.stale_plan").fetchall() == [(1,)]
        assert other.execute("SELECT * FROM itest.stale_plan").fetchall() == [(1,)]
        pg.super_exec("ALTER TABLE itest.stale_plan ADD COLUMN b text DEFAULT 'x'")
        assert c.execute("SELECT * FROM itest.stale_plan").fetchall() == [(1, "x")]
        assert other.execute("SELECT * FROM itest.stale_plan").fetchall() == [(1, "x")]
        # Inside a transaction the error cannot be hidden: the client gets it, as from PostgreSQL.
        pg.super_exec("ALTER TABLE itest.stale_plan ADD COLUMN c int DEFAULT 3")
        c.autocommit = False
        c.execute("SELECT 1")
        with pytest.raises(psycopg.errors.FeatureNotSupported, match="cached plan"):
            c.execute("SELECT * FROM itest.stale_plan")
        c.rollback()
    assert metric(px, "schemaproxy_transparent_retries_total") == 1
