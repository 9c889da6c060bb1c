"""Query cancellation through the proxy's BackendKeyData."""
import asyncio
import secrets
import threading
import time

import asyncpg
import psycopg
import psycopg.errors
import psycopg2
import psycopg2.errors
import pytest

import pgwire
from conftest import wait_until


@pytest.fixture
def px(proxy):
    return proxy(pool_size=4)


def sleeping_backends(pg):
    (n,), = pg.super_exec("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                          "AND query LIKE 'SELECT pg_sleep(10)%%'")
    return n


def cancel_once_sleeping(pg, cancel) -> threading.Thread:
    """Calls `cancel` from a thread as soon as the server runs the client's pg_sleep(10): a cancel sent before
    the query reaches the server would find nothing to cancel, however long a fixed timer waits."""
    def run():
        wait_until(lambda: sleeping_backends(pg) == 1, 15, interval=0.02, what="pg_sleep running")
        cancel()
    thread = threading.Thread(target=run)
    thread.start()
    return thread


def test_psycopg3_cancel(px, pg):
    with px.connect() as c:
        assert c.info.backend_pid != 0
        t0 = time.monotonic()
        canceller = cancel_once_sleeping(pg, c.cancel)
        with pytest.raises(psycopg.errors.QueryCanceled) as ei:
            c.execute("SELECT pg_sleep(10)")
        canceller.join(10)
        assert ei.value.sqlstate == "57014"
        assert time.monotonic() - t0 < 8  # well inside the 10 s sleep
        assert c.execute("SELECT 'usable'").fetchone() == ("usable",)
    wait_until(lambda: sleeping_backends(pg) == 0, 5, what="no pg_sleep left on the server")


def test_psycopg3_cancel_inside_transaction(px, pg):
    with px.connect(autocommit=False) as c:
        c.execute("SELECT 1")
        canceller = cancel_once_sleeping(pg, c.cancel)
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("SELECT pg_sleep(10)")
        canceller.join(10)
        c.rollback()
        assert c.execute("SELECT 2").fetchone() == (2,)
        c.commit()
    wait_until(lambda: sleeping_backends(pg) == 0, 5, what="no pg_sleep left on the server")


def test_psycopg2_cancel(px, pg):
    c = psycopg2.connect(**px.kw(), connect_timeout=10)
    c.autocommit = True
    try:
        t0 = time.monotonic()
        canceller = cancel_once_sleeping(pg, c.cancel)
        cur = c.cursor()
        with pytest.raises(psycopg2.errors.QueryCanceled) as ei:
            cur.execute("SELECT pg_sleep(10)")
        canceller.join(10)
        assert ei.value.pgcode == "57014"
        assert time.monotonic() - t0 < 8  # well inside the 10 s sleep
        cur.execute("SELECT 3")
        assert cur.fetchone() == (3,)
    finally:
        c.close()
    wait_until(lambda: sleeping_backends(pg) == 0, 5, what="no pg_sleep left on the server")


def test_asyncpg_timeout_cancels(px, pg):
    async def main():
        c = await asyncpg.connect(px.url(), statement_cache_size=0, timeout=10)
        try:
            t0 = time.monotonic()
            with pytest.raises(asyncio.TimeoutError):
                await c.fetchval("SELECT pg_sleep(10)", timeout=0.5)
            assert time.monotonic() - t0 < 5
            # asyncpg sent a CancelRequest; the connection must be usable again
            assert await c.fetchval("SELECT 4") == 4
        finally:
            await c.close()
    asyncio.run(main())
    wait_until(lambda: sleeping_backends(pg) == 0, 5, what="the cancelled pg_sleep to end on the server")


def test_cancel_with_wrong_key_does_nothing(px, pg):
    with px.connect() as victim:
        pid = victim.info.backend_pid
        result = {}

        def run():
            try:
                result["value"] = victim.execute("SELECT pg_sleep(1.5), 'finished'").fetchone()[1]
            except Exception as e:  # noqa: BLE001 - the assertion below reports it
                result["error"] = e

        t = threading.Thread(target=run)
        t.start()
        wait_until(lambda: pg.super_exec("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                         "AND query LIKE 'SELECT pg_sleep(1.5)%%'")[0][0] == 1, 5,
                   what="the victim's query running")
        for cpid, key in ((pid, secrets.randbits(32)), (secrets.randbits(31), secrets.randbits(32)), (0, 0)):
            raw = pgwire.RawConn(px.port)
            raw.send(pgwire.cancel_request(cpid, key))
            # the proxy answers a CancelRequest by closing the connection, never with data
            assert raw.read_until_closed(timeout=5) == []
            raw.close()
        t.join(10)
        assert "error" not in result, f"victim was disturbed: {result.get('error')!r}"
        assert result["value"] == "finished"
        assert victim.execute("SELECT 1").fetchone() == (1,)


def test_cancel_reaches_only_its_own_client(px, pg):
    """Two clients sleeping at once; cancelling one leaves the other alone."""
    with px.connect() as a, px.connect() as b:
        res = {}

        def run(name, conn, sql):
            try:
                res[name] = conn.execute(sql).fetchone()[0]
            except Exception as e:  # noqa: BLE001
                res[name] = e

        ta = threading.Thread(target=run, args=("a", a, "SELECT pg_sleep(10)"))
        tb = threading.Thread(target=run, args=("b", b, "SELECT 'b done' FROM pg_sleep(1.5)"))
        ta.start(), tb.start()
        wait_until(lambda: pg.super_exec("SELECT count(*) FROM pg_stat_activity WHERE state = 'active' "
                                         "AND query LIKE '%%pg_sleep(%%' AND pid <> pg_backend_pid()")[0][0] >= 2, 5, what="both sleeping")
        a.cancel()
        ta.join(5), tb.join(10)
        assert isinstance(res["a"], psycopg.errors.QueryCanceled), res
        assert res["b"] == "b done", res
