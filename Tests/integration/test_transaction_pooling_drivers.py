"""Issue 4: client state across server connections in transaction pooling, through real drivers.

Everything here runs in transaction pooling with small pools (1-3 server connections) and more
clients than that, so consecutive transactions of one client land on different server connections
and one server connection serves many clients:
- protocol-level named prepared statements (pgbench -M prepared, asyncpg's statement cache, psycopg 3
  with prepare_threshold=0 and its cache eviction, SQLAlchemy 2 on asyncpg and psycopg, raw Parse /
  Bind / Close / DEALLOCATE / DISCARD ALL, pipelines spanning several Syncs);
- startup parameters (application_name, client_encoding, TimeZone, DateStyle, search_path,
  options=-c ...) stay in effect for the client that sent them, and ParameterStatus shows its own values;
- a session-level SET outside a transaction is replayed for that client only; RESET / RESET ALL /
  DISCARD ALL undo it the way PostgreSQL does;
- SQL PREPARE, DECLARE ... WITH HOLD and session advisory locks are refused with 0A000 in transaction
  pooling (and work in session pooling, as LISTEN does; LISTEN under transaction pooling is issue 16's,
  test_client_isolation.py).

Every check compares returned values; where PostgreSQL's own answer is the reference, it is taken from a
direct connection (or from the proxy in session pooling, which hands the client a server connection
for its whole session)."""
from __future__ import annotations

import asyncio
import os
import re
import secrets
import subprocess
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import asyncpg
import psycopg
import psycopg.errors
import pytest

import pgwire
from conftest import PGBENCH

TX = dict(pool_mode="transaction")


def run_threads(fns, timeout: float = 90):
    """Run the callables in parallel threads; re-raise the first exception (assertion) in the test."""
    with ThreadPoolExecutor(len(fns)) as ex:
        futs = [ex.submit(f) for f in fns]
        return [f.result(timeout=timeout) for f in futs]


@pytest.fixture
def table(pg):
    """itest.tp_XXXX (id int PRIMARY KEY, x int) with rows id = 1..100, x = id * 10."""
    name = "itest.tp_" + secrets.token_hex(4)
    pg.super_exec(f"CREATE TABLE {name} (id int PRIMARY KEY, x int NOT NULL); "
                  f"INSERT INTO {name} SELECT g, g * 10 FROM generate_series(1, 100) g; "
                  f"ALTER TABLE {name} OWNER TO heal7_app")
    yield name
    pg.super_exec(f"DROP TABLE IF EXISTS {name}")


def scratch_table(pg, prefix: str, columns: str):
    """Creates itest.<prefix>_XXXX owned by the app role; yields its unqualified name, drops it after."""
    name = f"{prefix}_" + secrets.token_hex(4)
    pg.super_exec(f"CREATE TABLE itest.{name} ({columns}); ALTER TABLE itest.{name} OWNER TO heal7_app")
    yield name
    pg.super_exec(f"DROP TABLE IF EXISTS itest.{name}")


@pytest.fixture
def log_table(pg):
    """itest.tplog_XXXX (client int, k int, v int): rows written by the clients of a test."""
    for name in scratch_table(pg, "tplog", "client int NOT NULL, k int NOT NULL, v int NOT NULL"):
        yield "itest." + name


# =========================================================================== 1. pgbench -M prepared

def _pgbench(px, *args, clients=10, threads=2, timeout=120) -> tuple[subprocess.CompletedProcess, str]:
    """pgbench -M prepared through the proxy.

    pgbench prepares a statement with a *blocking* PQprepare (Parse + Sync) the first time a client runs
    it, inside the script's transaction for TPC-B; that blocks every client of the same pgbench thread.
    With several clients per thread on a small pool, the thread can block waiting for a server
    connection that its own other clients hold in open transactions, until checkout_timeout: a pgbench
    artifact that any transaction pooler that prepares on a server shows. Scripts with transactions
    therefore run one thread per client."""
    env = {**os.environ, "PGPASSWORD": px.app_password}
    cmd = [PGBENCH, "-n", "-c", str(clients), "-j", str(threads), "-M", "prepared",
           "-h", "127.0.0.1", "-p", str(px.port), "-U", "app", *args, "bench"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)
    return p, p.stdout + p.stderr


def _pgbench_counts(out: str) -> tuple[int, int]:
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    assert processed and failed, f"no pgbench summary:\n{out}"
    return int(processed.group(1)), int(failed.group(1))


@pytest.mark.timeout(60)
def test_pgbench_prepared_select_only(proxy):
    """pgbench -M prepared -S, 10 clients on 3 server connections (the `bench` service is the bench
    database): every client prepares the same statement names, so they must be kept apart per client."""
    px = proxy(pool_size=3, checkout_timeout="10s", **TX)
    p, out = _pgbench(px, "-S", "-T", "4")
    assert p.returncode == 0, f"pgbench exited {p.returncode}:\n{out}"
    processed, failed = _pgbench_counts(out)
    assert failed == 0, out
    assert processed > 200, out


@pytest.mark.timeout(90)
def test_pgbench_prepared_tpcb_invariant(proxy, pg):
    """pgbench -M prepared TPC-B, 10 clients (10 threads, see _pgbench) x 150 transactions on 3 server
    connections, on freshly initialised tables: all 1500 transactions committed exactly once, and the
    balances add up."""
    init = subprocess.run([PGBENCH, "-i", "-q", "-s", "1", "-h", "127.0.0.1", "-p", str(pg.port),
                           "-U", "bench_user", "bench"], capture_output=True, text=True, timeout=120,
                          env={**os.environ, "PGPASSWORD": pg.bench_password})
    assert init.returncode == 0, init.stdout + init.stderr
    px = proxy(pool_size=3, checkout_timeout="10s", **TX)
    p, out = _pgbench(px, "-t", "150", threads=10)
    assert p.returncode == 0, f"pgbench exited {p.returncode}:\n{out}"
    processed, failed = _pgbench_counts(out)
    assert (processed, failed) == (1500, 0), out
    (history, delta, abal, tbal, bbal), = pg.super_exec(
        "SELECT (SELECT count(*) FROM pgbench_history), (SELECT sum(delta) FROM pgbench_history), "
        "(SELECT sum(abalance) FROM pgbench_accounts), (SELECT sum(tbalance) FROM pgbench_tellers), "
        "(SELECT sum(bbalance) FROM pgbench_branches)", dbname="bench")
    assert history == 1500
    assert abal == delta and tbal == delta and bbal == delta, \
        f"TPC-B invariant broken: history delta {delta}, accounts {abal}, tellers {tbal}, branches {bbal}"


@pytest.mark.timeout(60)
def test_pgbench_prepared_explicit_transactions_pool_1(proxy, tmp_path):
    """The smallest pgbench case with transactions: a custom script BEGIN; SELECT; END; (each a prepared
    statement, prepared by pgbench inside the transaction), 3 clients (3 threads) on 1 server connection."""
    script = tmp_path / "begin_select_end.sql"
    script.write_text("\\set aid random(1, 100000)\nBEGIN;\n"
                      "SELECT abalance FROM pgbench_accounts WHERE aid = :aid;\nEND;\n")
    px = proxy(pool_size=1, checkout_timeout="5s", **TX)
    p, out = _pgbench(px, "-t", "50", "-f", str(script), clients=3, threads=3)
    assert p.returncode == 0, f"pgbench exited {p.returncode}:\n{out}"
    assert _pgbench_counts(out) == (150, 0), out


# =========================================================================== 2. asyncpg statement cache

@pytest.fixture(params=["global-names", "per-process-names"])
def asyncpg_names(request, monkeypatch):
    """asyncpg names its statements __asyncpg_stmt_N__ from one counter per *process*, so clients of one
    process never share a name; clients in separate worker processes do. "per-process-names" gives every
    connection its own counter, as if each ran in its own process: the same names then stand for
    different SQL in different clients."""
    if request.param == "per-process-names":
        counters: dict[int, int] = {}

        def per_connection_id(self, prefix):
            counters[id(self)] = counters.get(id(self), 0) + 1
            return f"__asyncpg_{prefix}_{counters[id(self)]:x}__"
        monkeypatch.setattr(asyncpg.connection.Connection, "_get_unique_id", per_connection_id)
    return request.param


@pytest.mark.timeout(45)
def test_asyncpg_statement_cache_20_tasks_pool_3(proxy, pg, table, log_table, asyncpg_names):
    px = proxy(pool_size=3, checkout_timeout="20s", **TX)
    n_tasks, n_iter = 20, 25

    async def client(i: int) -> dict:
        c = await asyncpg.connect(px.url(), timeout=10)  # default statement_cache_size (100)
        seen = {"pids": set()}
        try:
            # per-client SQL text: with per-process names the same statement name means different SQL here
            stmt = await c.prepare(f"SELECT x * $1::int + {i} FROM {table} WHERE id = $2")
            committed = []
            for k in range(n_iter):
                id_ = (i * 7 + k) % 100 + 1
                assert await c.fetchval(f"SELECT $1::int + x FROM {table} WHERE id = $2", i, id_) == i + id_ * 10
                assert await c.fetchval(f"SELECT $1::int * 1000 + {i}", k) == k * 1000 + i
                assert await stmt.fetchval(k, id_) == id_ * 10 * k + i
                row = await c.fetchrow(f"SELECT $1::text || '-{i}' AS s, pg_backend_pid() AS pid", str(k))
                assert row["s"] == f"{k}-{i}"
                seen["pids"].add(row["pid"])
                if k % 3 == 0:
                    async with c.transaction():
                        await c.executemany(f"INSERT INTO {log_table} (client, k, v) VALUES ($1, $2, $3)",
                                            [(i, k, v) for v in range(3)])
                        assert await stmt.fetchval(2, id_) == id_ * 20 + i
                        n = await c.fetchval(f"SELECT count(*) FROM {log_table} WHERE client = $1", i)
                        assert n == 3 * (len(committed) + 1)
                    committed.append(k)
                elif k % 3 == 1:
                    with pytest.raises(RuntimeError):
                        async with c.transaction():
                            await c.execute(f"INSERT INTO {log_table} (client, k, v) VALUES ($1, $2, $3)", i, k, 99)
                            raise RuntimeError("roll back")
                await asyncio.sleep(0)
            rows = await c.fetch(f"SELECT k, v FROM {log_table} WHERE client = $1 ORDER BY k, v", i)
            assert [tuple(r) for r in rows] == [(k, v) for k in committed for v in range(3)]
            return seen
        finally:
            await c.close()

    async def main():
        return await asyncio.gather(*(client(i) for i in range(n_tasks)))

    results = asyncio.run(main())
    all_pids = set().union(*(r["pids"] for r in results))
    assert len(all_pids) <= 3, f"pool_size=3 but saw server pids {all_pids}"
    (total,), = pg.super_exec(f"SELECT count(*) FROM {log_table}")
    assert total == n_tasks * len(range(0, n_iter, 3)) * 3


# =========================================================================== 3. psycopg 3, every query prepared

@pytest.mark.timeout(90)
def test_psycopg_prepare_threshold_0_threads(proxy, pg, table, log_table):
    """8 threads, each its own connection with prepare_threshold=0 (every query a named statement,
    _pg3_0, _pg3_1, ... in every connection, each name standing for different SQL in different
    clients), 40 transactions each on 3 server connections; every 5th transaction rolls back, after
    which psycopg drops its cache and sends DEALLOCATE ALL, then re-prepares."""
    px = proxy(pool_size=3, checkout_timeout="20s", **TX)
    n_threads, n_tx = 8, 40

    def client(i: int):
        committed = 0
        with px.connect(autocommit=False, prepare_threshold=0) as c:
            for k in range(n_tx):
                id_ = (i * 13 + k) % 100 + 1
                assert c.execute(f"SELECT %s::int * 3 + {i}", (k,)).fetchone() == (k * 3 + i,)
                assert c.execute(f"SELECT %s::int + x FROM {table} WHERE id = %s", (i, id_)).fetchone() == (i + id_ * 10,)
                c.execute(f"INSERT INTO {log_table} (client, k, v) VALUES (%s, %s, %s)", (i, k, 1))
                assert c.execute(f"SELECT count(*) FROM {log_table} WHERE client = %s", (i,)).fetchone() == (committed + 1,)
                assert c.execute("SELECT %s::text || %s::text", (f"c{i}", f"k{k}")).fetchone() == (f"c{i}k{k}",)
                if k % 5 == 4:
                    c.rollback()
                else:
                    c.commit()
                    committed += 1
            assert c.execute(f"SELECT array_agg(k ORDER BY k) FROM {log_table} WHERE client = %s", (i,)).fetchone() == \
                ([k for k in range(n_tx) if k % 5 != 4],)
            c.commit()

    run_threads([lambda i=i: client(i) for i in range(n_threads)])
    (n,), = pg.super_exec(f"SELECT count(*) FROM {log_table}")
    assert n == n_threads * (n_tx - n_tx // 5)


def _background_prepared_traffic(px, table, stop: threading.Event, n: int = 5):
    """n clients (prepare_threshold=0) running checked prepared queries until `stop`; returns callables."""
    def client(i: int):
        with px.connect(autocommit=False, prepare_threshold=0) as c:
            k = 0
            while not stop.is_set():
                id_ = (i + k) % 100 + 1
                assert c.execute(f"SELECT %s::int * 7 + {1000 + i}", (k,)).fetchone() == (k * 7 + 1000 + i,)
                assert c.execute(f"SELECT x - %s::int FROM {table} WHERE id = %s", (i, id_)).fetchone() == (id_ * 10 - i,)
                c.commit()
                k += 1
            assert k > 0
            return k
    return [lambda i=i: client(i) for i in range(n)]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("evict_with", ["close-message", "sql-deallocate"])
def test_psycopg_prepared_cache_eviction(proxy, table, monkeypatch, evict_with):
    """One connection runs 150 distinct statements, twice, while 5 others run prepared traffic on the
    same 3 server connections. psycopg keeps 100 prepared statements: on eviction it sends a protocol
    Close (libpq >= 17) or, with that disabled, SQL `DEALLOCATE _pg3_N` (inside the open transaction)."""
    import psycopg._connection_base as cb
    assert hasattr(cb, "_HAS_SEND_CLOSE")
    if evict_with == "sql-deallocate":
        monkeypatch.setattr(cb, "_HAS_SEND_CLOSE", False)
    else:
        assert cb._HAS_SEND_CLOSE, "this libpq cannot send Close; the close-message case would test nothing"
    px = proxy(pool_size=3, checkout_timeout="20s", **TX)
    stop = threading.Event()

    def evictor():
        try:
            with px.connect(autocommit=False, prepare_threshold=0) as c:
                for rnd in range(2):
                    for j in range(150):
                        assert c.execute(f"SELECT %s::int + {j} /* stmt {j} */", (rnd * 1000,)).fetchone() == (rnd * 1000 + j,)
                        if j % 10 == 9:
                            c.commit()
                    c.commit()
                assert len(c._prepared._names) <= 100, "psycopg did not evict: the test exercised nothing"
                # the most recent statements are still prepared and still right
                for j in range(140, 150):
                    assert c.execute(f"SELECT %s::int + {j} /* stmt {j} */", (5000,)).fetchone() == (5000 + j,)
                c.commit()
        finally:
            stop.set()

    run_threads([evictor, *_background_prepared_traffic(px, table, stop)])


# =========================================================================== 4. SQLAlchemy 2

def _orm_model(table_name: str):
    import sqlalchemy as sa
    from sqlalchemy.orm import DeclarativeBase, mapped_column

    class Base(DeclarativeBase):
        pass

    class Item(Base):
        __tablename__ = table_name
        __table_args__ = {"schema": "itest"}
        id = mapped_column(sa.Integer, primary_key=True)
        owner = mapped_column(sa.Text, nullable=False)
        n = mapped_column(sa.Integer, nullable=False)
    return Item


@pytest.fixture
def items(pg):
    yield from scratch_table(pg, "tpitems", "id serial PRIMARY KEY, owner text NOT NULL, n int NOT NULL")


@pytest.mark.timeout(45)
def test_sqlalchemy_async_engine_asyncpg(proxy, pg, items):
    """create_async_engine(postgresql+asyncpg) (its own prepared-statement cache on asyncpg named
    statements): 15 concurrent tasks, ORM inserts/updates and Core selects, on 3 server connections."""
    import sqlalchemy as sa
    from sqlalchemy.ext.asyncio import async_sessionmaker, create_async_engine
    Item = _orm_model(items)
    px = proxy(pool_size=3, checkout_timeout="20s", **TX)
    engine = create_async_engine(px.url().replace("postgresql://", "postgresql+asyncpg://"),
                                 pool_size=15, max_overflow=5)
    Session = async_sessionmaker(engine, expire_on_commit=False)
    n_tasks, n_rounds = 15, 8

    async def task(i: int):
        owner = f"a{i}"
        expected: list[int] = []
        for r in range(n_rounds):
            async with Session() as s, s.begin():
                s.add_all([Item(owner=owner, n=r * 10 + j) for j in range(3)])
            expected += [r * 10 + j for j in range(3)]
            async with Session() as s:
                got = (await s.scalars(sa.select(Item.n).where(Item.owner == owner).order_by(Item.n))).all()
                assert got == expected
                total = await s.scalar(sa.select(sa.func.sum(Item.n)).where(Item.owner == owner))
                assert total == sum(expected)
                assert await s.scalar(sa.select(sa.literal(i, sa.Integer) + sa.bindparam("p", r))) == i + r
            if r % 2 == 1:
                async with Session() as s, s.begin():
                    await s.execute(sa.update(Item).where(Item.owner == owner).values(n=Item.n + 1))
                expected = [v + 1 for v in expected]
        async with engine.connect() as conn:
            rows = (await conn.execute(sa.text(f"SELECT n FROM itest.{items} WHERE owner = :o ORDER BY n"),
                                       {"o": owner})).scalars().all()
            assert rows == expected
        return expected

    async def main():
        try:
            return await asyncio.gather(*(task(i) for i in range(n_tasks)))
        finally:
            await engine.dispose()

    results = asyncio.run(main())
    for i, expected in enumerate(results):
        got = [r[0] for r in pg.super_exec(f"SELECT n FROM itest.{items} WHERE owner = %s ORDER BY n", params=(f"a{i}",))]
        assert got == expected


@pytest.mark.timeout(90)
def test_sqlalchemy_engine_psycopg_threads(proxy, pg, items):
    """create_engine(postgresql+psycopg) with psycopg's default prepare_threshold (a query is prepared
    from its 6th run): 10 threads with ORM sessions, each running its queries often enough to prepare."""
    import sqlalchemy as sa
    from sqlalchemy.orm import sessionmaker
    Item = _orm_model(items)
    px = proxy(pool_size=3, checkout_timeout="20s", **TX)
    engine = sa.create_engine(px.url().replace("postgresql://", "postgresql+psycopg://"), pool_size=10, max_overflow=5)
    Session = sessionmaker(engine, expire_on_commit=False)
    n_threads, n_rounds = 10, 12

    def worker(i: int):
        owner = f"p{i}"
        expected: list[int] = []
        for r in range(n_rounds):
            with Session.begin() as s:
                s.add(Item(owner=owner, n=r))
            expected.append(r)
            with Session() as s:
                for _ in range(6):  # the 6th run of a query is a prepared statement
                    got = s.scalars(sa.select(Item.n).where(Item.owner == owner).order_by(Item.n)).all()
                    assert got == expected
                    assert s.scalar(sa.select(sa.func.count()).select_from(Item).where(Item.owner == owner)) == len(expected)
                obj = s.scalars(sa.select(Item).where(Item.owner == owner, Item.n == r)).one()
                assert (obj.owner, obj.n) == (owner, r)
        with engine.begin() as conn:
            conn.execute(sa.update(Item).where(Item.owner == owner).values(n=Item.n * 2))
        with engine.connect() as conn:
            assert conn.execute(sa.select(sa.func.sum(Item.n)).where(Item.owner == owner)).scalar() == 2 * sum(expected)
        return [2 * v for v in expected]

    try:
        results = run_threads([lambda i=i: worker(i) for i in range(n_threads)])
    finally:
        engine.dispose()
    for i, expected in enumerate(results):
        got = [r[0] for r in pg.super_exec(f"SELECT n FROM itest.{items} WHERE owner = %s ORDER BY n", params=(f"p{i}",))]
        assert got == expected


# =========================================================================== 5. DEALLOCATE / DISCARD / Close

@pytest.mark.timeout(60)
def test_deallocate_all_and_discard_all_among_prepared_traffic(proxy, table):
    """A client alternates batches of prepared statements with DEALLOCATE ALL and DISCARD ALL (outside a
    transaction) while 5 other clients run prepared traffic on the same 3 server connections. psycopg
    drops its statement cache on seeing the DEALLOCATE ALL / DISCARD ALL command tag and re-prepares;
    nobody's results go wrong."""
    px = proxy(pool_size=3, checkout_timeout="20s", **TX)
    stop = threading.Event()

    def resetter():
        try:
            with px.connect(autocommit=True, prepare_threshold=0) as c:
                for rnd in range(6):
                    for j in range(15):
                        assert c.execute(f"SELECT %s::int * 2 + {j}", (rnd,)).fetchone() == (rnd * 2 + j,)
                    assert c._prepared._names, "psycopg prepared nothing: the test exercised nothing"
                    cmd = "DEALLOCATE ALL" if rnd % 2 == 0 else "DISCARD ALL"
                    cur = c.execute(cmd, prepare=False)  # unnamed statement, extended protocol
                    assert cur.statusmessage == cmd
                    assert not c._prepared._names, f"psycopg did not see the {cmd} command tag"
                    with c.transaction():
                        for j in range(15):
                            assert c.execute(f"SELECT %s::int * 2 + {j}", (rnd + 100,)).fetchone() == ((rnd + 100) * 2 + j,)
        finally:
            stop.set()

    run_threads([resetter, *_background_prepared_traffic(px, table, stop)])


def _ok(msgs):
    errs = pgwire.errors(msgs)
    assert not errs, errs
    return msgs


def _bind_exec(conn, stmt: str, params) -> list:
    conn.send(pgwire.bind("", stmt, [str(p) for p in params]) + pgwire.execute() + pgwire.sync())
    return pgwire.read_until_ready(conn)


def _value(msgs) -> str:
    rows = pgwire.data_rows(_ok(msgs))
    assert len(rows) == 1 and len(rows[0]) == 1, msgs
    return rows[0][0]


def _error(msgs, sqlstate: str, name: str | None = None) -> dict:
    errs = pgwire.errors(msgs)
    assert len(errs) == 1 and errs[0].get("C") == sqlstate, f"expected one {sqlstate} error, got {errs} in {msgs}"
    if name is not None:
        assert f'"{name}"' in errs[0].get("M", ""), errs[0]
    assert msgs[-1][0] == b"Z"
    return errs[0]


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_raw_protocol_named_statement_lifecycle(proxy, mode):
    """Raw Parse/Bind/Describe/Close/DEALLOCATE/DISCARD ALL of named statements, answered as PostgreSQL
    answers them. Two clients use the same statement names for different SQL; in transaction pooling
    they share one server connection (pool_size=1). Session pooling (the client's own server
    connection) is the reference: the same script must pass there."""
    px = proxy(pool_mode=mode, pool_size=1 if mode == "transaction" else 2, auth="trust", checkout_timeout="5s")
    a, b = pgwire.RawConn(px.port), pgwire.RawConn(px.port)
    try:
        a.handshake_trust("app", "saju_service")
        b.handshake_trust("app", "saju_service")

        def parse(conn, name, sql):
            conn.send(pgwire.parse(name, sql) + pgwire.sync())
            return pgwire.read_until_ready(conn)

        assert pgwire.kinds(parse(a, "s1", "SELECT $1::int + 1")) == "1Z"
        assert pgwire.kinds(parse(b, "s1", "SELECT $1::int * 100")) == "1Z", "same name in another client"
        assert _value(_bind_exec(a, "s1", [41])) == "42"
        assert _value(_bind_exec(b, "s1", [2])) == "200"
        # the same name twice in one client: 42P05, and the first statement stays
        _error(parse(a, "s1", "SELECT 'other'"), "42P05", "s1")
        assert _value(_bind_exec(a, "s1", [1])) == "2"

        # SQL DEALLOCATE of a protocol-level statement; afterwards Bind fails with 26000
        assert pgwire.command_tags(_ok(a.simple_query("DEALLOCATE s1"))) == ["DEALLOCATE"]
        _error(_bind_exec(a, "s1", [1]), "26000", "s1")
        assert _value(_bind_exec(b, "s1", [3])) == "300", "another client's statement of that name went too"
        # the name can be used again, for different SQL
        assert pgwire.kinds(parse(a, "s1", "SELECT $1::text || '!'")) == "1Z"
        assert _value(_bind_exec(a, "s1", ["x"])) == "x!"

        # protocol Close: CloseComplete, then 26000; closing a name that does not exist is not an error
        a.send(pgwire.close(b"S", "s1") + pgwire.sync())
        assert pgwire.kinds(pgwire.read_until_ready(a)) == "3Z"
        _error(_bind_exec(a, "s1", ["x"]), "26000", "s1")
        a.send(pgwire.close(b"S", "never_prepared") + pgwire.sync())
        assert pgwire.kinds(pgwire.read_until_ready(a)) == "3Z"
        _error(a.simple_query("DEALLOCATE never_prepared"), "26000", "never_prepared")
        assert _value(_bind_exec(b, "s1", [4])) == "400"

        # prepared statements are not transactional: one parsed in a rolled-back transaction stays
        _ok(a.simple_query("BEGIN"))
        assert pgwire.kinds(parse(a, "s2", "SELECT $1::int - 1")) == "1Z"
        _ok(a.simple_query("ROLLBACK"))
        assert _value(_bind_exec(a, "s2", [10])) == "9"
        # Describe of a statement in a later transaction
        a.send(pgwire.describe(b"S", "s2") + pgwire.sync())
        assert pgwire.kinds(_ok(pgwire.read_until_ready(a))) == "tTZ"
        # a Parse that fails leaves no statement behind
        _error(parse(a, "s3", "SELEC 1"), "42601")
        _error(_bind_exec(a, "s3", []), "26000", "s3")

        # DEALLOCATE ALL drops all of this client's statements, none of the other client's
        assert pgwire.kinds(parse(a, "s1", "SELECT $1::int * 3")) == "1Z"
        assert pgwire.command_tags(_ok(a.simple_query("DEALLOCATE ALL"))) == ["DEALLOCATE ALL"]
        _error(_bind_exec(a, "s1", [1]), "26000", "s1")
        _error(_bind_exec(a, "s2", [1]), "26000", "s2")
        assert _value(_bind_exec(b, "s1", [5])) == "500"
        assert pgwire.kinds(parse(a, "s1", "SELECT $1::int * 4")) == "1Z"
        assert _value(_bind_exec(a, "s1", [2])) == "8"

        # DISCARD ALL too
        assert pgwire.kinds(parse(a, "s2", "SELECT $1::int * 5")) == "1Z"
        assert pgwire.command_tags(_ok(a.simple_query("DISCARD ALL"))) == ["DISCARD ALL"]
        _error(_bind_exec(a, "s1", [1]), "26000", "s1")
        _error(_bind_exec(a, "s2", [1]), "26000", "s2")
        assert _value(_bind_exec(b, "s1", [6])) == "600"
        assert pgwire.kinds(parse(a, "s2", "SELECT $1::int * 6")) == "1Z"
        assert _value(_bind_exec(a, "s2", [2])) == "12"

        # and b's statement still works after all of a's traffic, also inside a transaction
        _ok(b.simple_query("BEGIN"))
        assert _value(_bind_exec(b, "s1", [7])) == "700"
        _ok(b.simple_query("COMMIT"))
    finally:
        a.close()
        b.close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_raw_parse_describe_flush_then_bind_sync(proxy, mode):
    """asyncpg's way to prepare: Parse + Describe statement + Flush (no Sync), answers read, then later
    Bind + Execute + Sync. The answers to a Flush come without waiting for a Sync. Two clients, same
    statement names, 20 rounds on one server connection in transaction pooling."""
    px = proxy(pool_mode=mode, pool_size=1 if mode == "transaction" else 2, auth="trust", checkout_timeout="5s")
    conns = [pgwire.RawConn(px.port, timeout=5) for _ in range(2)]
    try:
        for c in conns:
            c.handshake_trust("app", "saju_service")
        for rnd in range(20):
            for i, c in enumerate(conns):
                name = f"a{rnd}"
                c.send(pgwire.parse(name, f"SELECT $1::int * {i + 2}") + pgwire.describe(b"S", name) + pgwire.flush())
                got = []
                while len(got) < 3 and b"E" not in [k for k, _ in got]:
                    got.append(c.read_message())  # a TimeoutError here: no answer to the Flush
                assert pgwire.kinds(got) == "1tT", (pgwire.errors(got), got)
                c.send(pgwire.bind("", name, [str(rnd)]) + pgwire.execute() + pgwire.sync())
                msgs = pgwire.read_until_ready(c)
                assert pgwire.kinds(msgs) == "2DCZ" and msgs[-1] == (b"Z", b"I"), msgs
                assert pgwire.data_rows(msgs) == [[str(rnd * (i + 2))]]
        for i, c in enumerate(conns):  # every statement is still there, on whichever server connection
            for rnd in range(0, 20, 5):
                assert _value(_bind_exec(c, f"a{rnd}", [7])) == str(7 * (i + 2))
    finally:
        for c in conns:
            c.close()


# =========================================================================== 6. startup parameters

STARTUP_CLIENTS = [
    # (application_name, PGTZ -> TimeZone, PGDATESTYLE -> DateStyle, client_encoding, options)
    ("tp-client-0", "Asia/Seoul", "ISO, YMD", "UTF8", "-c statement_timeout=1234 -c search_path=itest"),
    ("tp-client-1", "America/New_York", "SQL, DMY", "LATIN1", "-c statement_timeout=2222 -c search_path=shared_common,public"),
    ("tp-client-2", "Europe/Berlin", "German, DMY", "UTF8", "-c statement_timeout=3s -c search_path=saju_service"),
    ("tp-client-3", "UTC", "Postgres, MDY", "LATIN1", "-c statement_timeout=4min -c lock_timeout=777"),
    ("tp-client-4", "Australia/Adelaide", "ISO, DMY", "UTF8", "-c search_path=dream_service,itest -c work_mem=3MB"),
]
REPORTED = ["application_name", "TimeZone", "DateStyle", "client_encoding", "IntervalStyle", "integer_datetimes"]
STATE_SQL = ("SELECT current_setting('application_name'), current_setting('TimeZone'), "
             "current_setting('DateStyle'), current_setting('client_encoding'), current_setting('search_path'), "
             "current_setting('statement_timeout'), current_setting('lock_timeout'), current_setting('work_mem'), "
             "'2021-03-04 05:06:07.5+00'::timestamptz::text, 'caf\u00e9'::text")


def _connect_with_startup(connect, spec, monkeypatch):
    """TimeZone and DateStyle go into the startup packet as parameters of their own (libpq sends PGTZ and
    PGDATESTYLE that way); the rest as application_name / client_encoding / options."""
    app, tz, ds, enc, opts = spec
    with monkeypatch.context() as m:
        m.setenv("PGTZ", tz)
        m.setenv("PGDATESTYLE", ds)
        return connect(application_name=app, client_encoding=enc, options=opts)


@pytest.mark.timeout(90)
def test_startup_parameters_stay_per_client(proxy, pg, monkeypatch):
    """5 clients with different startup parameters on 2 server connections, 200 transactions each:
    every setting, and what it does to output (timestamp text, text encoding), is always the client's
    own, as on a direct connection with the same parameters; so are the ParameterStatus values."""
    expected_state, expected_status = [], []
    for spec in STARTUP_CLIENTS:  # the reference: PostgreSQL directly, same startup parameters
        with _connect_with_startup(lambda **kw: pg.app_conn(autocommit=True, **kw), spec, monkeypatch) as d:
            expected_state.append(d.execute(STATE_SQL).fetchone())
            expected_status.append({k: d.info.parameter_status(k) for k in REPORTED})
            assert expected_status[-1]["TimeZone"] == spec[1], "libpq did not send PGTZ as a startup parameter"
            assert expected_status[-1]["DateStyle"] == spec[2]
    assert len(set(expected_state)) == len(STARTUP_CLIENTS)
    px = proxy(pool_size=2, checkout_timeout="20s", **TX)
    conns = [_connect_with_startup(lambda **kw: px.connect(autocommit=False, **kw), spec, monkeypatch)
             for spec in STARTUP_CLIENTS]
    n_tx = 200

    def client(i: int):
        c = conns[i]
        pids = set()
        for k in range(n_tx):
            state = c.execute(STATE_SQL).fetchone()
            assert state == expected_state[i], f"client {i}, transaction {k}: {state} != {expected_state[i]}"
            if k % 20 == 0:
                assert c.execute("SHOW timezone").fetchone() == (expected_state[i][1],)
                assert c.execute("SHOW statement_timeout").fetchone() == (expected_state[i][5],)
                assert c.execute("SHOW search_path").fetchone() == (expected_state[i][4],)
                pids.add(c.execute("SELECT pg_backend_pid()").fetchone()[0])
            c.commit()
        status = {k: c.info.parameter_status(k) for k in REPORTED}
        assert status == expected_status[i], f"client {i} ParameterStatus {status} != {expected_status[i]}"
        return pids

    try:
        status0 = [{k: c.info.parameter_status(k) for k in REPORTED} for c in conns]
        assert status0 == expected_status, "ParameterStatus at login is not the client's own"
        pids = set().union(*run_threads([lambda i=i: client(i) for i in range(len(conns))]))
        assert len(pids) <= 2
    finally:
        for c in conns:
            c.close()


@pytest.mark.timeout(60)
def test_startup_parameters_asyncpg_server_settings(proxy, pg):
    """asyncpg sends server_settings as startup parameters of their own (search_path, TimeZone, DateStyle,
    statement_timeout, application_name): 6 clients on 2 server connections, 100 transactions each."""
    settings = [{"application_name": f"apg-{i}", "search_path": ["itest", "shared_common", "saju_service"][i % 3],
                 "TimeZone": ["Asia/Tokyo", "Europe/Lisbon", "America/Denver"][i % 3],
                 "DateStyle": ["ISO, MDY", "SQL, DMY"][i % 2], "statement_timeout": str(1000 + i)}
                for i in range(6)]
    sql = ("SELECT current_setting('application_name'), current_setting('search_path'), current_setting('TimeZone'), "
           "current_setting('DateStyle'), current_setting('statement_timeout'), "
           "'2021-03-04 05:06:07+00'::timestamptz::text")

    async def expected(s):
        c = await asyncpg.connect(host="127.0.0.1", port=pg.port, user="heal7_app", password=pg.app_password,
                                  database="heal7", server_settings=s, timeout=10)
        try:
            return tuple(await c.fetchrow(sql))
        finally:
            await c.close()

    px = proxy(pool_size=2, checkout_timeout="20s", **TX)

    async def client(i, want):
        c = await asyncpg.connect(px.url(), server_settings=settings[i], timeout=10)
        try:
            for k in range(100):
                async with c.transaction():
                    got = tuple(await c.fetchrow(sql))
                    assert got == want, f"client {i}, transaction {k}: {got} != {want}"
                await asyncio.sleep(0)
            assert c.get_settings().application_name == settings[i]["application_name"]
            assert c.get_settings().DateStyle == settings[i]["DateStyle"]
            assert c.get_settings().TimeZone == settings[i]["TimeZone"]
        finally:
            await c.close()

    async def main():
        wants = [await expected(s) for s in settings]
        assert len(set(wants)) == len(settings)
        await asyncio.gather(*(client(i, w) for i, w in enumerate(wants)))

    asyncio.run(main())


# =========================================================================== 7. session SET replay

SET_SQL = ("SELECT current_setting('statement_timeout'), current_setting('lock_timeout'), "
           "current_setting('search_path'), current_setting('application_name'), current_setting('TimeZone')")


def _direct_reference(pg, steps, **kw) -> list[tuple]:
    """Run `steps` (SQL, or None = read SET_SQL) on a direct autocommit connection; the SET_SQL results."""
    out = []
    with pg.app_conn(autocommit=True, **kw) as d:
        for s in steps:
            if s is None:
                out.append(d.execute(SET_SQL).fetchone())
            else:
                d.execute(s)
    return out


@pytest.mark.timeout(90)
def test_session_set_replayed_for_its_client_only(proxy, pg):
    """A client's SET (outside a transaction) stays in effect for it across 50 transactions on 2 server
    connections shared with 3 busy clients, who never see it; RESET x, RESET ALL and DISCARD ALL undo it
    as PostgreSQL does (back to the client's startup values, not to the server's defaults)."""
    start_kw = dict(application_name="setter-start", options="-c lock_timeout=1500")
    sets = ["SET statement_timeout = '4321ms'", "SET SESSION lock_timeout TO 2500",
            "SET search_path TO itest, public", "SET application_name = 'setter'", "SET TIME ZONE 'Asia/Kolkata'"]
    steps = [None, *sets, None, "RESET statement_timeout", None, "RESET ALL", None, *sets, "DISCARD ALL", None]
    ref_start, ref_set, ref_reset1, ref_reset_all, ref_discard = _direct_reference(pg, steps, **start_kw)
    assert ref_set == ("4321ms", "2500ms", "itest, public", "setter", "Asia/Kolkata"), ref_set
    with pg.app_conn(autocommit=True) as d:
        default = d.execute(SET_SQL).fetchone()[:3]  # application_name differs: the proxy may set its own

    px = proxy(pool_size=2, checkout_timeout="20s", **TX)
    stop = threading.Event()

    def bystander(i: int):
        with px.connect(autocommit=False, application_name=f"bystander-{i}") as c:
            n = 0
            while not stop.is_set():
                got = c.execute(SET_SQL + ", pg_sleep(0.002)::text").fetchone()
                assert got[:3] == default and got[3] == f"bystander-{i}" and got[4] != "Asia/Kolkata", \
                    f"bystander {i} sees another client's SET: {got}"
                c.commit()
                n += 1
            return n

    def setter():
        try:
            with px.connect(autocommit=True, **start_kw) as c:
                assert c.execute(SET_SQL).fetchone() == ref_start
                for s in sets:
                    c.execute(s)
                assert c.info.parameter_status("application_name") == "setter"
                assert c.info.parameter_status("TimeZone") == "Asia/Kolkata"
                pids = set()
                for k in range(50):
                    with c.transaction():
                        assert c.execute(SET_SQL).fetchone() == ref_set, f"transaction {k}"
                        assert c.execute("SHOW statement_timeout").fetchone() == ("4321ms",)
                        pids.add(c.execute("SELECT pg_backend_pid() FROM pg_sleep(0.002)").fetchone()[0])
                    assert c.execute(SET_SQL).fetchone() == ref_set, f"autocommit statement after transaction {k}"
                assert len(pids) >= 2, f"the setter always ran on the same server connection {pids}: nothing replayed"
                assert c.info.parameter_status("application_name") == "setter"
                assert c.info.parameter_status("TimeZone") == "Asia/Kolkata"

                c.execute("RESET statement_timeout")
                for k in range(10):
                    with c.transaction():
                        assert c.execute(SET_SQL).fetchone() == ref_reset1, f"after RESET statement_timeout, {k}"
                c.execute("RESET ALL")
                for k in range(10):
                    with c.transaction():
                        assert c.execute(SET_SQL).fetchone() == ref_reset_all, f"after RESET ALL, {k}"
                assert c.info.parameter_status("application_name") == "setter-start"
                for s in sets:
                    c.execute(s)
                c.execute("DISCARD ALL")
                for k in range(10):
                    with c.transaction():
                        assert c.execute(SET_SQL).fetchone() == ref_discard, f"after DISCARD ALL, {k}"
        finally:
            stop.set()

    counts = run_threads([setter, *[lambda i=i: bystander(i) for i in range(3)]])
    assert all(n > 0 for n in counts[1:])


# =========================================================================== 8. refused in transaction pooling

UNSUPPORTED = {
    "prepare": "PREPARE tp_sql_stmt AS SELECT $1::int * 2",
    "declare-with-hold": "DECLARE tp_cursor CURSOR WITH HOLD FOR SELECT generate_series(1, 3)",
    "advisory-lock": "SELECT pg_advisory_lock(4242)",
    "try-advisory-lock": "SELECT pg_try_advisory_lock(4243)",
}


def _advisory_locks(pg) -> list:
    return pg.super_exec("SELECT objid FROM pg_locks WHERE locktype = 'advisory' ORDER BY objid")


@pytest.mark.timeout(60)
@pytest.mark.parametrize("what", list(UNSUPPORTED))
def test_session_features_refused_in_transaction_pooling(proxy, pg, what):
    """Extended protocol (psycopg) and simple protocol (psql): 0A000 with a message saying it is not
    supported in transaction pooling; nothing took effect on a server connection; the client goes on."""
    sql = UNSUPPORTED[what]
    px = proxy(pool_size=3, **TX)
    with px.connect(autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
        with pytest.raises(psycopg.Error) as ei:
            c.execute(sql)
        e = ei.value
        assert e.sqlstate == "0A000", f"{sql}: {e.sqlstate} {e}"
        msg = e.diag.message_primary or ""
        assert re.search(r"not supported", msg, re.I) and re.search(r"transaction pool", msg, re.I), msg
        assert isinstance(e, psycopg.errors.FeatureNotSupported)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        assert c.execute("SELECT %s::int + 1", (41,)).fetchone() == (42,)
        with c.transaction():
            assert c.execute("SELECT 'still usable'").fetchone() == ("still usable",)
    p = px.psql("-v", "VERBOSITY=verbose", "-c", sql, check=False)
    assert p.returncode != 0 and "0A000" in p.stderr, p.stdout + p.stderr
    assert px.psql("-At", "-c", "SELECT 'after'").stdout.strip() == "after"
    assert _advisory_locks(pg) == [], "an advisory lock was taken on a server connection anyway"
    # nothing left behind on the server connections: every one of them is clean
    with px.connect(autocommit=True) as c:
        for _ in range(6):
            with c.transaction():
                assert c.execute("SELECT count(*) FROM pg_prepared_statements WHERE name = 'tp_sql_stmt'").fetchone() == (0,)
                assert c.execute("SELECT count(*) FROM pg_cursors WHERE name = 'tp_cursor'").fetchone() == (0,)
                assert c.execute("SELECT count(*) FROM pg_listening_channels()").fetchone() == (0,)


@pytest.mark.timeout(60)
def test_transaction_scoped_equivalents_still_work_in_transaction_pooling(proxy, pg):
    """What is fine per transaction is not refused: transaction advisory locks, NOTIFY, cursors without
    HOLD inside a transaction, unlocking functions."""
    px = proxy(pool_size=3, **TX)
    with px.connect(autocommit=False) as c:
        c.execute("SELECT pg_advisory_xact_lock(4244)")
        assert c.execute("SELECT pg_try_advisory_xact_lock(4245)").fetchone() == (True,)
        assert [r[0] for r in _advisory_locks(pg)] == [4244, 4245]
        c.execute("DECLARE tp_plain CURSOR FOR SELECT generate_series(1, 3)")
        assert c.execute("FETCH ALL FROM tp_plain").fetchall() == [(1,), (2,), (3,)]
        c.execute("NOTIFY tp_channel, 'x'")
        c.commit()
        assert _advisory_locks(pg) == []


@pytest.mark.timeout(60)
def test_session_features_work_in_session_pooling(proxy, pg):
    px = proxy(pool_mode="session", pool_size=3)
    with px.connect(autocommit=True) as c:
        c.execute("LISTEN tp_channel")
        pg.super_exec("NOTIFY tp_channel, 'hello'")
        got = [n.payload for n in c.notifies(timeout=5, stop_after=1)]
        assert got == ["hello"]
        c.execute("PREPARE tp_sql_stmt AS SELECT $1::int * 2")
        assert c.execute("EXECUTE tp_sql_stmt(21)").fetchone() == (42,)
        c.execute("DECLARE tp_cursor CURSOR WITH HOLD FOR SELECT generate_series(1, 3)")
        assert c.execute("FETCH ALL FROM tp_cursor").fetchall() == [(1,), (2,), (3,)]
        c.execute("CLOSE tp_cursor")
        c.execute("SELECT pg_advisory_lock(4242)")
        assert [r[0] for r in _advisory_locks(pg)] == [4242]
        assert c.execute("SELECT pg_try_advisory_lock(4243)").fetchone() == (True,)
        assert c.execute("SELECT pg_advisory_unlock(4242), pg_advisory_unlock(4243)").fetchone() == (True, True)
        assert _advisory_locks(pg) == []


# =========================================================================== 9. pipelines over several Syncs

@pytest.mark.timeout(60)
def test_psycopg_pipeline_named_and_unnamed_across_syncs(proxy, table):
    """psycopg 3 pipeline mode, 8 clients on 3 server connections: named statements (prepare=True) parsed
    in one Sync segment and bound in later ones, unnamed statements in between, an error in the middle
    segment; every result is the right one."""
    px = proxy(pool_size=3, checkout_timeout="20s", **TX)

    def client(i: int):
        with px.connect(autocommit=True, prepare_threshold=1000) as c:  # named only where prepare=True
            for rnd in range(5):
                with c.pipeline() as p:
                    named, unnamed = [], []
                    for k in range(20):
                        cur = c.cursor()
                        cur.execute(f"SELECT %s::int * 2 + {i}", (k,), prepare=True)
                        named.append((cur, k * 2 + i))
                        cur = c.cursor()
                        cur.execute(f"SELECT x + %s::int FROM {table} WHERE id = %s", (rnd, k + 1), prepare=False)
                        unnamed.append((cur, (k + 1) * 10 + rnd))
                        if k % 4 == 3:
                            p.sync()
                    with pytest.raises(psycopg.errors.DivisionByZero):
                        c.execute("SELECT 1 / %s::int", (0,))
                        p.sync()
                    cur = c.cursor()
                    cur.execute(f"SELECT %s::int * 2 + {i}", (100,), prepare=True)
                    named.append((cur, 200 + i))
                    with c.transaction():
                        cur2 = c.cursor()
                        cur2.execute(f"SELECT %s::int * 2 + {i}", (101,), prepare=True)
                        named.append((cur2, 202 + i))
                for cur, want in named + unnamed:
                    assert cur.fetchone() == (want,)

    run_threads([lambda i=i: client(i) for i in range(8)])


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["transaction", "session"])
def test_raw_pipeline_several_syncs_in_one_write(proxy, mode):
    """6 raw clients on 2 server connections. Each parses its named statement `st` (same name, different
    SQL per client) once, then 15 times writes a whole pipeline at once: several Sync segments binding
    `st`, an unnamed statement, an error, Describe, and a second named statement parsed in one segment
    and used in later ones, then closed. Between pipelines it pauses so its server connection goes back
    to the pool. Session pooling (a server connection per client) is the reference."""
    px = proxy(pool_mode=mode, pool_size=2 if mode == "transaction" else 6, auth="trust", checkout_timeout="20s")
    P, B, E, S, D, C = pgwire.parse, pgwire.bind, pgwire.execute, pgwire.sync, pgwire.describe, pgwire.close

    def client(i: int):
        c = pgwire.RawConn(px.port, timeout=20)
        try:
            c.handshake_trust("app", "saju_service")
            c.send(P("st", f"SELECT $1::int * 2 + {i}") + S())
            assert pgwire.kinds(pgwire.read_until_ready(c)) == "1Z"
            for rnd in range(15):
                k = i * 100 + rnd
                c.send(B("", "st", [str(k)]) + E() + S()
                       + P("", "SELECT $1::int + 1000") + B("", "", [str(k)]) + E() + B("", "st", [str(k + 1)]) + E() + S()
                       + P("", "SELECT 1 / $1::int") + B("", "", ["0"]) + E() + B("", "st", ["0"]) + E() + S()
                       + P("r", f"SELECT $1::text || '-{i}-{rnd}'") + B("", "st", ["5"]) + E() + D(b"S", "st") + S()
                       + B("", "r", ["x"]) + E() + S()
                       + B("", "st", ["6"]) + E() + B("", "r", ["y"]) + E() + C(b"S", "r") + S()
                       + B("", "r", ["z"]) + E() + S())
                segs = pgwire.split_at_ready(pgwire.read_until_ready(c, 7))
                # PostgreSQL plans the unnamed statement with its parameter at Bind: 1/0 fails there
                assert [pgwire.kinds(s) for s in segs] == \
                    ["2DCZ", "12DC2DCZ", "1EZ", "12DCtTZ", "2DCZ", "2DC2DC3Z", "EZ"], segs
                assert pgwire.data_rows(segs[0]) == [[str(k * 2 + i)]]
                assert pgwire.data_rows(segs[1]) == [[str(k + 1000)], [str((k + 1) * 2 + i)]]
                _error(segs[2], "22012")
                assert pgwire.data_rows(segs[3]) == [[str(10 + i)]]
                assert pgwire.data_rows(segs[4]) == [[f"x-{i}-{rnd}"]]
                assert pgwire.data_rows(segs[5]) == [[str(12 + i)], [f"y-{i}-{rnd}"]]
                _error(segs[6], "26000", "r")
                time.sleep(0.003)
            c.send(C(b"S", "st") + S() + B("", "st", ["1"]) + E() + S())
            segs = pgwire.split_at_ready(pgwire.read_until_ready(c, 2))
            assert [pgwire.kinds(s) for s in segs] == ["3Z", "EZ"], segs
            _error(segs[1], "26000", "st")
        finally:
            c.close()

    run_threads([lambda i=i: client(i) for i in range(6)])
