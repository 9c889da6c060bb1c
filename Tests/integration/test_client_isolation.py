"""Issue 16: what one client does never reaches another, through real drivers.

Most tests run in transaction pooling with pool_size 1, so the next client surely gets the server connection
the previous one used:
- session changes the proxy does not follow as SET (set_config with arguments other than constants, a
  function that changes a setting, DO) are reset before another client gets the connection; the ones it
  follows (set_config with constants, SET SESSION CHARACTERISTICS) stay in effect for the client that made
  them, on whichever server connection serves it;
- DEALLOCATE ALL / DISCARD ALL in either protocol leave the proxy's statement cache true for everyone;
- client statement names that look like the proxy's (__sp_1) never reach the proxy's statements;
- a cancel reaches only the client that asked for it, even when its transaction ends meanwhile;
- client_encoding is reported in the server's spelling."""
from __future__ import annotations

import asyncio
import copy
import random
import secrets
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import psycopg
import psycopg.errors
import psycopg2
import pytest

import pgwire
from conftest import metric, wait_until

TX = dict(pool_mode="transaction")


def run_threads(fns, timeout: float = 90):
    """Run the callables in parallel threads; re-raise the first exception (assertion) in the test."""
    with ThreadPoolExecutor(len(fns)) as ex:
        futs = [ex.submit(f) for f in fns]
        return [f.result(timeout=timeout) for f in futs]


def _fresh_client_sees_defaults(px, pid: int) -> None:
    """A new client on the one server connection (`pid`): no read-only default, work_mem and application_name
    as the server's, and DDL works."""
    with px.connect(autocommit=True, application_name="next-client") as b:
        assert b.execute("SELECT pg_backend_pid()").fetchone() == (pid,), "not the same server connection"
        got = b.execute("SELECT current_setting('default_transaction_read_only'), current_setting('work_mem'), "
                        "current_setting('application_name'), current_setting('transaction_read_only')").fetchone()
        assert got == ("off", "4MB", "next-client", "off"), f"the previous client's session leaked: {got}"
        name = "itest.leak_" + secrets.token_hex(4)
        b.execute(f"CREATE TABLE {name} (x int)")
        b.execute(f"DROP TABLE {name}")


# Statement -> whether the client that ran it keeps its effect on its next transactions ("kept"), or gets the
# server's values back after the transaction ("reset"; the proxy cannot replay what it cannot model).
LEAKS = {
    "set_config-constants": ("SELECT set_config('default_transaction_read_only', 'on', false)", "kept"),
    "set_config-qualified": ("SELECT pg_catalog.set_config('default_transaction_read_only', 'on', false), 1", "kept"),
    "set_config-work_mem": ("SELECT set_config('work_mem', '7MB', false)", "kept"),
    "session-characteristics": ("SET SESSION CHARACTERISTICS AS TRANSACTION READ ONLY", "kept"),
    "set_config-expression": ("SELECT set_config('default_transaction_read_only', lower('ON'), false)", "reset"),
    "set_config-in-function": ("SELECT itest.leak_read_only()", "reset"),
    "do-block": ("DO $$BEGIN SET work_mem = '7MB'; END$$", "reset"),
}


@pytest.fixture(scope="module")
def leak_function(pg):
    pg.super_exec("CREATE OR REPLACE FUNCTION itest.leak_read_only() RETURNS int LANGUAGE plpgsql AS "
                  "$$BEGIN PERFORM pg_catalog.set_config('default_transaction_read_only', 'on', false); RETURN 1; END$$; "
                  "GRANT EXECUTE ON FUNCTION itest.leak_read_only() TO heal7_app")
    yield
    pg.super_exec("DROP FUNCTION IF EXISTS itest.leak_read_only()")


def _expected_after(statement: str, kept: bool) -> tuple[str, str]:
    """(default_transaction_read_only, work_mem) the client that ran `statement` sees later."""
    if not kept:
        return ("off", "4MB")
    return ("off", "7MB") if "work_mem" in statement else ("on", "4MB")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["simple", "extended-prepared"])
@pytest.mark.parametrize("leak", list(LEAKS))
def test_session_changes_never_reach_the_next_client(proxy, pg, leak_function, leak, protocol):
    statement, fate = LEAKS[leak]
    px = proxy(pool_size=1, **TX)
    with pg.app_conn(autocommit=True) as d:
        assert d.execute("SHOW work_mem").fetchone() == ("4MB",), "the test assumes the server's default work_mem"
    if protocol == "simple":
        a = psycopg.connect(autocommit=True, connect_timeout=10, application_name="changer",
                            cursor_factory=psycopg.ClientCursor, **px.kw())
    else:
        a = psycopg.connect(autocommit=True, connect_timeout=10, application_name="changer", prepare_threshold=0,
                            **px.kw())
    with a:
        pid = a.execute("SELECT pg_backend_pid()").fetchone()[0]
        a.execute(statement)
        # Within its own session the change is there at once, as on PostgreSQL.
        assert a.execute("SHOW application_name").fetchone() == ("changer",)
        _fresh_client_sees_defaults(px, pid)
        for k in range(3):
            got = a.execute("SELECT current_setting('default_transaction_read_only'), current_setting('work_mem'), "
                            "current_setting('application_name')").fetchone()
            assert got == (*_expected_after(statement, fate == "kept"), "changer"), f"{leak} ({fate}), round {k}: {got}"
            _fresh_client_sees_defaults(px, pid)


@pytest.mark.timeout(60)
@pytest.mark.parametrize("protocol", ["simple", "extended"])
def test_temporary_tables_never_reach_the_next_client(proxy, protocol):
    px = proxy(pool_size=1, **TX)
    kw = dict(cursor_factory=psycopg.ClientCursor) if protocol == "simple" else dict(prepare_threshold=0)
    with psycopg.connect(autocommit=True, connect_timeout=10, **kw, **px.kw()) as a:
        pid = a.execute("SELECT pg_backend_pid()").fetchone()[0]
        a.execute("CREATE TEMP TABLE leak_tmp (x int)")
        with px.connect() as b:
            assert b.execute("SELECT pg_backend_pid()").fetchone() == (pid,)
            assert b.execute("SELECT to_regclass('pg_temp.leak_tmp')").fetchone() == (None,)
            b.execute("CREATE TEMP TABLE leak_tmp (y text)")  # no clash with the other client's


@pytest.mark.timeout(60)
def test_kept_change_follows_its_client_across_server_connections(proxy):
    """set_config with constants, like SET, is replayed on the next server connection the client gets."""
    px = proxy(pool_size=2, **TX)
    with px.connect() as a, px.connect(autocommit=False) as holder:
        a.execute("SELECT set_config('work_mem', '7MB', false)")
        pids = set()
        for k in range(20):
            # Another client holds one of the two connections in a transaction every other round.
            if k % 2 == 0:
                holder.execute("SELECT 1")
            got = a.execute("SELECT current_setting('work_mem'), pg_backend_pid()").fetchone()
            assert got[0] == "7MB", f"round {k}: {got}"
            pids.add(got[1])
            if k % 2 == 0:
                holder.commit()
        assert len(pids) == 2, f"always the same server connection {pids}: nothing was replayed"


# =========================================================================== deallocation

@pytest.mark.timeout(90)
def test_deallocate_and_discard_in_both_protocols_among_asyncpg_clients(proxy, pg):
    """asyncpg clients (statement cache on) run prepared statements on 2 server connections while a psycopg 3
    client (prepare_threshold=0: DEALLOCATE ALL / DISCARD ALL themselves prepared and bound) and a psycopg2
    client (simple protocol) deallocate again and again. Nobody may ever get "prepared statement ... does
    not exist"."""
    px = proxy(pool_size=2, checkout_timeout="20s", **TX)
    stop = threading.Event()
    deallocations = {"extended": 0, "simple": 0}

    def extended():
        with px.connect(autocommit=True, prepare_threshold=0) as c:
            k = 0
            while not stop.is_set():
                assert c.execute("SELECT %s::int + 1", (k,)).fetchone() == (k + 1,)
                cmd = ("DEALLOCATE ALL", "DISCARD ALL")[k % 2]
                assert c.execute(cmd).statusmessage == cmd
                deallocations["extended"] += 1
                k += 1

    def simple():
        c = psycopg2.connect(**px.kw(), connect_timeout=10)
        c.autocommit = True
        try:
            k = 0
            while not stop.is_set():
                with c.cursor() as cur:
                    cur.execute(("DEALLOCATE ALL", "DISCARD ALL", "BEGIN; DEALLOCATE ALL; COMMIT")[k % 3])
                deallocations["simple"] += 1
                k += 1
                time.sleep(0.005)
        finally:
            c.close()

    async def prepared_clients() -> int:
        async def client(i: int) -> int:
            c = await asyncpg.connect(px.url(), timeout=10)
            try:
                n = 0
                deadline = time.monotonic() + 6
                while time.monotonic() < deadline:
                    assert await c.fetchval(f"SELECT $1::int * 3 + {i}", n) == n * 3 + i
                    assert await c.fetchval("SELECT $1::text || 'x'", str(n)) == f"{n}x"
                    async with c.transaction():
                        assert await c.fetchval(f"SELECT $1::int - {i}", n) == n - i
                    n += 1
                return n
            finally:
                await c.close()
        try:
            return sum(await asyncio.gather(*(client(i) for i in range(6))))
        finally:
            stop.set()

    with ThreadPoolExecutor(2) as ex:
        futs = [ex.submit(extended), ex.submit(simple)]
        done = asyncio.run(prepared_clients())
        for f in futs:
            f.result(timeout=30)
    assert done > 100
    assert deallocations["extended"] > 10 and deallocations["simple"] > 10, deallocations


# =========================================================================== statement names

@pytest.mark.timeout(60)
def test_client_statement_names_like_the_proxys_touch_nothing_of_others(proxy):
    """A raw client names its statements __sp_1, __sp_2 (the proxy's own names) on the one server connection
    that asyncpg clients share: it parses them twice (42P05), binds one it never prepared (26000), closes and
    deallocates them, and DEALLOCATEs __sp_3 by SQL. The asyncpg clients' prepared statements keep working and
    the raw client gets PostgreSQL's answers."""
    px = proxy(pool_size=1, auth="trust", checkout_timeout="20s", **TX)
    stop = threading.Event()

    async def prepared_clients() -> int:
        async def client(i: int) -> int:
            c = await asyncpg.connect(px.url(), timeout=10)
            try:
                n = 0
                while not stop.is_set():
                    assert await c.fetchval(f"SELECT $1::int * 5 + {i}", n) == n * 5 + i
                    assert await c.fetchval(f"SELECT $1::int * 7 + {i}", n) == n * 7 + i
                    n += 1
                    await asyncio.sleep(0)
                return n
            finally:
                await c.close()
        return sum(await asyncio.gather(*(client(i) for i in range(4))))

    def raw_client():
        try:
            time.sleep(0.5)  # the asyncpg clients have prepared __sp_1, __sp_2 on the server by now
            conn = pgwire.RawConn(px.port, timeout=10)
            conn.handshake_trust("app", "saju_service")
            for rnd in range(20):
                conn.send(pgwire.parse("__sp_1", "SELECT 'mine-1'::text") + pgwire.parse("__sp_2", "SELECT 'mine-2'::text")
                          + pgwire.sync())
                msgs = pgwire.read_until_ready(conn)
                assert not pgwire.errors(msgs), msgs
                for name, want in (("__sp_1", "mine-1"), ("__sp_2", "mine-2")):
                    conn.send(pgwire.bind("", name) + pgwire.execute() + pgwire.sync())
                    assert pgwire.data_rows(pgwire.read_until_ready(conn)) == [[want]]
                # A second Parse of a name in use: 42P05, and nothing else breaks.
                conn.send(pgwire.parse("__sp_1", "SELECT 'again'::text") + pgwire.sync())
                errs = pgwire.errors(pgwire.read_until_ready(conn))
                assert [e.get("C") for e in errs] == ["42P05"], errs
                # One it never prepared: 26000, never another client's statement.
                conn.send(pgwire.bind("", "__sp_3") + pgwire.execute() + pgwire.sync())
                errs = pgwire.errors(pgwire.read_until_ready(conn))
                assert [e.get("C") for e in errs] == ["26000"], errs
                msgs = conn.simple_query("DEALLOCATE __sp_3")
                assert [e.get("C") for e in pgwire.errors(msgs)] == ["26000"], msgs
                # SQL-level EXECUTE of a proxy name: as for a statement that does not exist.
                msgs = conn.simple_query("EXECUTE __sp_1")
                assert [e.get("C") for e in pgwire.errors(msgs)] == ["26000"], msgs
                msgs = conn.simple_query("DEALLOCATE __sp_1")
                assert not pgwire.errors(msgs), msgs
                conn.send(pgwire.close(b"S", "__sp_2") + pgwire.sync())
                assert not pgwire.errors(pgwire.read_until_ready(conn))
                time.sleep(0.02)
            conn.close()
        finally:
            stop.set()

    with ThreadPoolExecutor(1) as ex:
        fut = ex.submit(raw_client)
        done = asyncio.run(prepared_clients())
        fut.result(timeout=30)
    assert done > 50


# =========================================================================== cancel isolation

@pytest.mark.timeout(60)
def test_cancel_storm_reaches_only_the_cancelling_client(proxy):
    """One client runs very short statements and cancels itself at random moments (CancelRequests with its
    own key, often landing just as a statement ends and its server connection goes to someone else) while 20
    others run short queries on the same 2 server connections for 12 s. No other client may ever see 57014."""
    px = proxy(pool_size=2, auth="trust", checkout_timeout="20s", **TX)
    stop = threading.Event()
    stats = {"cancels": 0, "statements": 0, "cancelled": 0}

    def canceller():
        conn = pgwire.RawConn(px.port, timeout=10)
        conn.handshake_trust("app", "saju_service")
        pid, key = conn.backend_key
        done = threading.Event()

        def fire():
            rng = random.Random(16)
            while not done.is_set():
                with socket.create_connection(("127.0.0.1", px.port), timeout=5) as s:
                    s.sendall(pgwire.cancel_request(pid, key))
                    s.recv(1)  # the proxy closes it when the cancel is handled
                stats["cancels"] += 1
                time.sleep(rng.uniform(0, 0.002))

        firing = threading.Thread(target=fire)
        firing.start()
        try:
            deadline = time.monotonic() + 12
            while time.monotonic() < deadline:
                msgs = conn.simple_query("SELECT 1")
                errs = pgwire.errors(msgs)
                assert all(e.get("C") == "57014" for e in errs), errs
                stats["cancelled"] += bool(errs)
                stats["statements"] += 1
        finally:
            done.set()
            firing.join(10)
            stop.set()
            conn.close()

    def bystander(i: int) -> int:
        with px.connect(autocommit=True) as c:
            n = 0
            while not stop.is_set():
                assert c.execute("SELECT %s::int + 1 FROM pg_sleep(0.001)", (n,)).fetchone() == (n + 1,)
                n += 1
            return n

    try:
        counts = run_threads([canceller, *[lambda i=i: bystander(i) for i in range(20)]], timeout=40)
    finally:
        stop.set()
    assert stats["cancels"] > 300 and stats["statements"] > 100, stats
    assert sum(counts[1:]) > 1000


# =========================================================================== client_encoding

@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_client_encoding_in_the_servers_spelling(proxy, mode, monkeypatch):
    px = proxy(pool_size=1, pool_mode=mode)
    monkeypatch.setenv("PGCLIENTENCODING", "eucjp")
    with psycopg.connect(autocommit=True, connect_timeout=10, **px.kw()) as c:
        assert c.info.parameter_status("client_encoding") == "EUC_JP"
        assert c.execute("SHOW client_encoding").fetchone() == ("EUC_JP",)
        assert c.info.parameter_status("client_encoding") == "EUC_JP"
        assert c.execute("SELECT 'カ'::text").fetchone() == ("カ",)


# =========================================================================== SHOW SERVERS

@pytest.mark.timeout(60)
def test_show_servers_under_load_shows_published_state(proxy, pg):
    """SHOW SERVERS read again and again while 10 clients keep 3 server connections busy: every row's state is
    one of the connection states and its backend_pid a real backend of the service's role. (The data race this
    guards against, reading a connection's state from the admin client's thread, was not reliably visible
    from outside; this test checks the published values.)"""
    px = proxy(pool_size=3, checkout_timeout="20s", **TX)
    stop = threading.Event()

    def client(i: int) -> int:
        with px.connect(autocommit=False) as c:
            n = 0
            while not stop.is_set():
                c.execute("SELECT pg_sleep(0.001)")
                c.commit()
                n += 1
            return n

    def admin() -> set:
        states = set()
        try:
            with psycopg.connect(px.url("schemaproxy", user="admin", password=px.admin_password),
                                 autocommit=True, connect_timeout=10, prepare_threshold=None) as a:
                for _ in range(200):
                    for service, host, state, pid in a.execute("SHOW SERVERS").fetchall():
                        assert state in {"connecting", "idle", "active", "resetting", "checking", "closed"}, state
                        if state != "connecting":
                            assert pid is not None and int(pid) > 0, (service, state, pid)
                        states.add(state)
            # Every PID SHOW SERVERS names is a live backend of the service's role (read both again for a while:
            # under load pg_stat_activity can lag behind a new connection).
            for _ in range(20):
                rows = [r for r in px.admin_rows("SHOW SERVERS") if r["state"] in ("idle", "active")]
                pids = {str(p) for (p,) in pg.super_exec(
                    "SELECT pid FROM pg_stat_activity WHERE usename = 'heal7_app' AND backend_type = 'client backend'")}
                if rows and all(r["backend_pid"] in pids for r in rows):
                    break
                time.sleep(0.1)
            else:
                raise AssertionError(f"SHOW SERVERS names backends that do not exist: {rows}, live: {pids}")
            return states
        finally:
            stop.set()

    results = run_threads([admin, *[lambda i=i: client(i) for i in range(10)]])
    assert "active" in results[0]


# =========================================================================== session pooling: the real PID

@pytest.mark.timeout(60)
def test_session_pooling_hands_the_real_server_pid_through(proxy, pg):
    """In session pooling the BackendKeyData is the server connection's own process ID: pg_backend_pid(), the
    driver's backend_pid and NOTIFY's PID agree, pg_terminate_backend() of it ends that client's connection,
    and cancel still works (the secret is the proxy's own)."""
    px = proxy(pool_size=3, pool_mode="session")
    with px.connect() as c:
        pid = c.info.backend_pid
        assert c.execute("SELECT pg_backend_pid()").fetchone() == (pid,)
        c.execute("LISTEN pid_check")
        c.execute("NOTIFY pid_check, 'hello'")
        note = next(c.notifies(timeout=5))
        assert (note.channel, note.payload, note.pid) == ("pid_check", "hello", pid)
        # Cancel: a CancelRequest with the proxy's secret reaches this connection's backend.
        timer = threading.Timer(0.5, c.cancel)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("SELECT pg_sleep(10)")
        timer.join()
        assert c.execute("SELECT pg_backend_pid()").fetchone() == (pid,)

    async def with_asyncpg():
        conn = await asyncpg.connect(px.url(), timeout=10)
        try:
            assert conn.get_server_pid() == await conn.fetchval("SELECT pg_backend_pid()")
            return conn.get_server_pid()
        finally:
            await conn.close()
    assert asyncio.run(with_asyncpg()) > 0

    victim, killer = px.connect(), px.connect()
    with victim, killer:
        pid = victim.info.backend_pid
        assert killer.execute("SELECT pg_terminate_backend(%s)", (pid,)).fetchone() == (True,)
        with pytest.raises(psycopg.OperationalError):
            victim.execute("SELECT 1")
        assert killer.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.timeout(60)
def test_transaction_pooling_keeps_proxy_keys(proxy):
    """In transaction pooling a client has no server connection of its own: its BackendKeyData is the proxy's,
    and cancel goes through the proxy to whichever connection serves it at the time."""
    px = proxy(pool_size=2, **TX)
    with px.connect() as c:
        assert c.info.backend_pid != c.execute("SELECT pg_backend_pid()").fetchone()[0]
        timer = threading.Timer(0.5, c.cancel)
        timer.start()
        with pytest.raises(psycopg.errors.QueryCanceled):
            c.execute("SELECT pg_sleep(10)")
        timer.join()


# =========================================================================== LISTEN / NOTIFY, transaction pooling

def _listener_rows(px) -> list[dict]:
    return [r for r in px.admin_rows("SHOW SERVERS") if r["service"] == "saju_service" and r["state"] == "listening"]


@pytest.mark.timeout(90)
def test_listen_notify_across_20_clients_on_pool_2(proxy, pg):
    """10 psycopg 3 clients (conn.notifies()) and 10 asyncpg clients (add_listener) LISTEN on a shared channel
    and a channel of their own, on a pool of 2, while a notifier sends NOTIFY and pg_notify(). Everyone gets
    exactly its notifications, in order; UNLISTEN stops them; one listener server connection holds the union."""
    px = proxy(pool_size=2, checkout_timeout="20s", **TX)
    n_each, n_msgs = 10, 15
    registered = threading.Semaphore(0)  # one release per listening client
    done_sending = threading.Event()

    def psycopg_listener(i: int) -> list:
        with px.connect(autocommit=True) as c:
            c.execute("LISTEN shared_chan")
            c.execute(f"LISTEN own_p{i}")
            assert c.execute("SELECT 1").fetchone() == (1,)  # an ordinary statement after LISTEN
            registered.release()
            got = [(n.channel, n.payload) for n in c.notifies(timeout=20, stop_after=2 * n_msgs)]
            c.execute("UNLISTEN *")
            return got

    async def asyncpg_listeners() -> list:
        async def one(i: int) -> list:
            conn = await asyncpg.connect(px.url(), timeout=10)
            got: list = []
            complete = asyncio.Event()

            def on_note(_conn, pid, channel, payload):
                got.append((channel, payload))
                if len(got) == 2 * n_msgs:
                    complete.set()
            try:
                await conn.add_listener("shared_chan", on_note)
                await conn.add_listener(f"own_a{i}", on_note)
                assert await conn.fetchval("SELECT $1::int + 1", i) == i + 1
                registered.release()
                await asyncio.wait_for(complete.wait(), 20)
                await conn.remove_listener("shared_chan", on_note)
                return got
            finally:
                await conn.close()
        return await asyncio.gather(*(one(i) for i in range(n_each)))

    def notifier():
        for _ in range(2 * n_each):
            assert registered.acquire(timeout=30), "the listeners did not all LISTEN"
        assert len(_listener_rows(px)) == 1, px.admin_rows("SHOW SERVERS")
        with px.connect(autocommit=True) as c:
            for k in range(n_msgs):
                c.execute(f"NOTIFY shared_chan, 'm{k}'")
                with c.transaction():
                    for i in range(n_each):
                        c.execute("SELECT pg_notify(%s, %s), pg_notify(%s, %s)", (f"own_p{i}", f"p{i}-{k}", f"own_a{i}", f"a{i}-{k}"))
        done_sending.set()
        return True

    with ThreadPoolExecutor(n_each + 1) as ex:
        futs = [ex.submit(psycopg_listener, i) for i in range(n_each)] + [ex.submit(notifier)]
        # One listener connection, outside the pool's bound, while the clients listen.
        a_results = asyncio.run(asyncpg_listeners())
        p_results = [f.result(timeout=60) for f in futs[:n_each]]
        futs[-1].result(timeout=60)
    for i, got in enumerate(p_results):
        assert [g for g in got if g[0] == "shared_chan"] == [("shared_chan", f"m{k}") for k in range(n_msgs)], got
        assert [g for g in got if g[0] != "shared_chan"] == [(f"own_p{i}", f"p{i}-{k}") for k in range(n_msgs)], got
    for i, got in enumerate(a_results):
        assert [g for g in got if g[0] == "shared_chan"] == [("shared_chan", f"m{k}") for k in range(n_msgs)], got
        assert [g for g in got if g[0] != "shared_chan"] == [(f"own_a{i}", f"a{i}-{k}") for k in range(n_msgs)], got


@pytest.mark.timeout(60)
def test_notify_waits_for_the_end_of_the_listeners_transaction_and_own_notify_after_commit(proxy):
    px = proxy(pool_size=2, **TX)
    with px.connect(autocommit=False) as c, px.connect() as notifier:
        got: list = []
        c.add_notify_handler(lambda n: got.append(n.payload))
        c.execute("LISTEN tx_chan")
        c.commit()
        c.execute("SELECT 1")  # inside a transaction now
        notifier.execute("NOTIFY tx_chan, 'from-other'")
        c.execute("NOTIFY tx_chan, 'own'")
        time.sleep(0.3)
        c.execute("SELECT 2")
        assert got == [], "delivered inside the listener's transaction"
        c.commit()
        deadline = time.monotonic() + 5
        while len(got) < 2 and time.monotonic() < deadline:
            c.execute("SELECT 3")
            c.commit()
            time.sleep(0.05)
        assert got == ["from-other", "own"]
        c.execute("UNLISTEN tx_chan")
        c.commit()
        notifier.execute("NOTIFY tx_chan, 'after-unlisten'")
        time.sleep(0.3)
        c.execute("SELECT 4")
        c.commit()
        assert got == ["from-other", "own"]


@pytest.mark.timeout(60)
def test_listener_connection_comes_back_after_pg_terminate_backend(proxy, pg):
    px = proxy(pool_size=1, **TX)
    with px.connect() as c, px.connect() as notifier:
        c.execute("LISTEN comeback")
        deadline = time.monotonic() + 10
        while not (rows := _listener_rows(px)) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert len(rows) == 1, px.admin_rows("SHOW SERVERS")
        # Outside the pool's bound (pool_size 1), but counted.
        assert metric(px.metrics(), "schemaproxy_server_connections", service="saju_service", state="listening") == 1
        old_pid = int(rows[0]["backend_pid"])
        assert pg.super_exec("SELECT pg_terminate_backend(%s)", params=(old_pid,)) == [(True,)]
        deadline = time.monotonic() + 15
        while time.monotonic() < deadline:
            rows = _listener_rows(px)
            if rows and int(rows[0]["backend_pid"]) != old_pid:
                break
            time.sleep(0.1)
        else:
            raise AssertionError(f"no new listener connection: {px.admin_rows('SHOW SERVERS')}")
        # Its LISTEN may still be on the way: what is sent before it is lost (as the README says), so try again.
        got = []
        for k in range(25):
            notifier.execute(f"NOTIFY comeback, 'again-{k}'")
            got = [(n.channel, n.payload) for n in c.notifies(timeout=0.4, stop_after=1)]
            if got:
                break
        assert got and got[0][0] == "comeback" and got[0][1].startswith("again-"), got
        listening = pg.super_exec("SELECT count(*) FROM pg_stat_activity WHERE usename = 'heal7_app' "
                                  "AND backend_type = 'client backend' AND pid = %s", params=(int(rows[0]["backend_pid"]),))
        assert listening == [(1,)]


@pytest.mark.timeout(60)
def test_listener_connection_follows_a_reload_that_changes_the_backend(proxy, pg):
    """A reload that points the service at another backend (here another role) moves the listener connection
    there too: the old one closes, LISTEN is repeated on the new one, and notifications keep arriving."""
    px = proxy(pool_size=2, defaults_extra={"health_check": {"interval": "0s"}}, **TX)
    with px.connect() as c:
        c.execute("LISTEN moved")
        wait_until(lambda: len(_listener_rows(px)) == 1, 10, interval=0.05, what="a listener connection")
        cfg = copy.deepcopy(px.config)
        cfg["services"]["saju_service"]["backend"] = (
            f"postgresql://heal7_md5:{pg.md5_password}@127.0.0.1:{pg.port}/heal7")
        before = px.reload_count("success")
        px.reload(cfg)
        wait_until(lambda: px.reload_count("success") > before, 10, interval=0.05, what="the reload")
        # The old role's connections (the listener's among them) all close; the listener is back, as the new role.
        wait_until(lambda: pg.backends(role="heal7_app") == 0, 15, interval=0.1,
                   what="no server connection of the old backend's role")
        wait_until(lambda: len(_listener_rows(px)) == 1, 15, interval=0.1, what="a listener connection again")
        with px.connect() as notifier:
            got = []
            for k in range(25):  # its LISTEN may still be on the way: what is sent before it is lost
                notifier.execute(f"NOTIFY moved, 'after-{k}'")
                got = [(n.channel, n.payload) for n in c.notifies(timeout=0.4, stop_after=1)]
                if got:
                    break
            assert got and got[0][0] == "moved" and got[0][1].startswith("after-"), got
        pid = int(_listener_rows(px)[0]["backend_pid"])
        assert pg.super_exec("SELECT usename FROM pg_stat_activity WHERE pid = %s", params=(pid,)) == [("heal7_md5",)]
