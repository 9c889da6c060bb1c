"""Pooling: the pool bound holds under load, transaction pooling lends a server connection per
transaction and cleans up after a client that leaves mid-transaction, session pooling cleans a
server connection before the next client, named prepared statements survive transaction pooling."""
import secrets
import threading
import time

import psycopg
import psycopg.errors
import pytest

import pgwire
from conftest import wait_until


@pytest.fixture
def table(pg):
    name = "itest.p_" + secrets.token_hex(4)
    pg.super_exec(f"CREATE TABLE {name} (id serial PRIMARY KEY, who text, n int); ALTER TABLE {name} OWNER TO heal7_app")
    yield name
    pg.super_exec(f"DROP TABLE IF EXISTS {name}")


def test_pool_bound_50_clients_pool_4(proxy, pg, table):
    pg.wait_no_backends()  # proxies of earlier tests are gone; count only this one's
    px = proxy(pool_size=4, checkout_timeout="30s")
    n_clients, n_tx = 50, 4
    observed = []
    stop = threading.Event()

    def watch():
        with pg.super_conn() as c:
            deadline = time.monotonic() + 120
            while not stop.is_set() and time.monotonic() < deadline:
                (n,), = c.execute("SELECT count(*) FROM pg_stat_activity WHERE usename = 'heal7_app' "
                                  "AND datname = 'heal7' AND backend_type = 'client backend'").fetchall()
                observed.append(n)
                time.sleep(0.01)

    errors, done = [], []
    barrier = threading.Barrier(n_clients, timeout=60)

    def client(i):
        try:
            with px.connect(autocommit=False) as c:
                barrier.wait()
                for k in range(n_tx):
                    c.execute(f"INSERT INTO {table} (who, n) VALUES (%s, %s)", (f"c{i}", k))
                    c.execute("SELECT pg_sleep(0.01)")
                    c.commit()
                done.append(i)
        except Exception as e:  # noqa: BLE001 - reported by the assertion below
            errors.append((i, repr(e)))

    w = threading.Thread(target=watch)
    w.start()
    ts = [threading.Thread(target=client, args=(i,)) for i in range(n_clients)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(120)
    stop.set()
    w.join(10)
    assert errors == [], errors[:5]
    assert sorted(done) == list(range(n_clients))
    (count,), = pg.super_exec(f"SELECT count(*) FROM {table}")
    assert count == n_clients * n_tx
    assert observed, "pg_stat_activity was never polled"
    assert max(observed) <= 4, f"saw {max(observed)} server connections for pool_size=4"
    assert max(observed) >= 1


def test_transaction_pooling_two_clients_alternate_on_one_server_connection(proxy, table):
    px = proxy(pool_size=1, checkout_timeout="2s")
    with px.connect(autocommit=False) as a, px.connect(autocommit=False) as b:
        pids = set()
        for k in range(5):
            for name, c in (("a", a), ("b", b)):
                c.execute(f"INSERT INTO {table} (who, n) VALUES (%s, %s)", (name, k))
                pids.add(c.execute("SELECT pg_backend_pid()").fetchone()[0])
                c.commit()
        assert len(pids) == 1, f"pool_size=1 but transactions ran on server pids {pids}"
        assert a.execute(f"SELECT count(*) FROM {table}").fetchone() == (10,)
        a.commit()


def test_session_state_from_startup_kept_per_client(proxy):
    """Startup parameters stay in effect for the client that sent them, even on a shared server connection."""
    px = proxy(pool_size=1)
    with psycopg.connect(px.url(), application_name="client-a", autocommit=True) as a, \
            psycopg.connect(px.url(), application_name="client-b", autocommit=True) as b:
        for _ in range(3):
            assert a.execute("SHOW application_name").fetchone() == ("client-a",)
            assert b.execute("SHOW application_name").fetchone() == ("client-b",)


def _ghost_visible(pg, table):
    (n,), = pg.super_exec(f"SELECT count(*) FROM {table} WHERE who = 'ghost'")
    return n


@pytest.mark.parametrize("how", ["terminate", "vanish"])
def test_client_leaves_mid_transaction_is_rolled_back(proxy, pg, table, how):
    px = proxy(pool_size=1, auth="trust", checkout_timeout="5s")
    raw = pgwire.RawConn(px.port)
    raw.handshake_trust("app", "saju_service")
    msgs = raw.simple_query(f"BEGIN; INSERT INTO {table} (who, n) VALUES ('ghost', 1); SELECT pg_backend_pid()")
    assert not pgwire.errors(msgs), pgwire.errors(msgs)
    ghost_pid = int(pgwire.data_rows(msgs)[0][0])
    assert msgs[-1] == (b"Z", b"T"), "expected to be inside a transaction"
    if how == "terminate":
        raw.send(pgwire.terminate())
        raw.close()
    else:
        raw.abort()
    with px.connect() as c:
        # the next client gets the (only) server connection, clean: not inside the dead client's transaction
        assert c.execute("SELECT count(*) FROM " + table + " WHERE who = 'ghost'").fetchone() == (0,)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        pid = c.execute("SELECT pg_backend_pid()").fetchone()[0]
        c.execute(f"INSERT INTO {table} (who, n) VALUES ('next', 2)")
    assert _ghost_visible(pg, table) == 0
    (n,), = pg.super_exec(f"SELECT count(*) FROM {table} WHERE who = 'next'")
    assert n == 1
    # the server connection was rolled back and reused rather than thrown away (pool_size=1)
    assert pid == ghost_pid


def test_session_pooling_discards_state(proxy, pg):
    px = proxy(pool_mode="session", pool_size=1)
    with px.connect() as a:
        pid_a = a.execute("SELECT pg_backend_pid()").fetchone()[0]
        a.execute("SET statement_timeout = '4321s'")
        a.execute("CREATE TEMP TABLE session_scratch (x int)")
        a.execute("PREPARE leftover AS SELECT 1")
        a.execute("SELECT set_config('itest.marker', 'from-a', false)")
        assert a.execute("SHOW statement_timeout").fetchone() == ("4321s",)
    with px.connect() as b:
        pid_b = b.execute("SELECT pg_backend_pid()").fetchone()[0]
        assert pid_b == pid_a, "session pooling should reuse the (only) server connection"
        assert b.execute("SHOW statement_timeout").fetchone() != ("4321s",)
        assert b.execute("SELECT to_regclass('pg_temp.session_scratch')").fetchone() == (None,)
        assert b.execute("SELECT count(*) FROM pg_prepared_statements").fetchone() == (0,)
        assert b.execute("SELECT current_setting('itest.marker', true)").fetchone() in ((None,), ("",))


def test_session_pooling_holds_connection_for_whole_session(proxy):
    px = proxy(pool_mode="session", pool_size=1, checkout_timeout="500ms")
    with px.connect() as a:
        a.execute("SELECT 1")  # a owns the only server connection until it disconnects
        failed = None
        try:
            with px.connect() as b:
                b.execute("SELECT 1")
        except psycopg.OperationalError as e:
            failed = e
        assert failed is not None, "a second session got a server connection although pool_size=1 was held"
    with px.connect() as b:  # after a left
        assert b.execute("SELECT 1").fetchone() == (1,)


def test_named_prepared_statements_across_server_connections(proxy):
    """Two clients, each with its own named prepared statements, alternating transactions on a pool
    of 1 (so both prepare on the same server connection) and then of 2."""
    for size in (1, 2):
        px = proxy(pool_size=size)
        conns = [psycopg.connect(px.url(), autocommit=True, prepare_threshold=0) for _ in range(3)]
        try:
            for k in range(10):
                for i, c in enumerate(conns):
                    # same SQL text in every client -> psycopg names it identically (_pg3_0) in each
                    assert c.execute("SELECT %s::int + %s::int", (k, i), prepare=True).fetchone() == (k + i,)
                    assert c.execute("SELECT %s::text || 'x'", (str(i),), prepare=True).fetchone() == (f"{i}x",)
        finally:
            for c in conns:
                c.close()
        px.stop()


def test_deallocate_and_reprepare(proxy):
    px = proxy(pool_size=1)
    with psycopg.connect(px.url(), autocommit=True, prepare_threshold=0) as c:
        assert c.execute("SELECT %s::int", (1,), prepare=True).fetchone() == (1,)
        c.execute("DEALLOCATE ALL")
        assert c.execute("SELECT %s::int", (2,), prepare=False).fetchone() == (2,)
        with pytest.raises(psycopg.errors.InvalidSqlStatementName):
            c.execute("EXECUTE no_such_statement")
        assert c.execute("SELECT 3").fetchone() == (3,)


def test_idle_clients_do_not_hold_server_connections(proxy, pg):
    pg.wait_no_backends()
    px = proxy(pool_size=2)
    conns = [px.connect() for _ in range(10)]
    try:
        for c in conns:
            assert c.execute("SELECT 1").fetchone() == (1,)
        # 10 idle clients, at most 2 server connections
        assert pg.backends() <= 2
    finally:
        for c in conns:
            c.close()
