"""Real client libraries through the proxy: psycopg 3, psycopg2, asyncpg, SQLAlchemy 2.

Queries, parameters, transactions (commit and rollback visible from another connection) and
server errors mapped to the right exception classes."""
import asyncio
import decimal
import secrets

import asyncpg
import psycopg
import psycopg.errors
import psycopg2
import psycopg2.errors
import pytest


@pytest.fixture
def px(proxy):
    return proxy(pool_size=4)


@pytest.fixture
def table(pg):
    name = "itest.d_" + secrets.token_hex(4)
    pg.super_exec(f"CREATE TABLE {name} (id int PRIMARY KEY, val text); ALTER TABLE {name} OWNER TO heal7_app")
    yield name
    pg.super_exec(f"DROP TABLE IF EXISTS {name}")


def visible_ids(pg, table):
    return [r[0] for r in pg.super_exec(f"SELECT id FROM {table} ORDER BY id")]


# --------------------------------------------------------------------------- psycopg 3

def test_psycopg3_queries_and_params(px):
    with px.connect() as c:
        assert c.execute("SELECT %s::int + %s::int, %s::text", (40, 2, "x'y")).fetchone() == (42, "x'y")
        # server-side binding (extended protocol) with several types and NULL
        row = c.execute("SELECT %s, %s, %s, %s", (1.5, None, True, decimal.Decimal("3.14"))).fetchone()
        assert row == (1.5, None, True, decimal.Decimal("3.14"))
        # client-side binding (simple protocol)
        cur = psycopg.ClientCursor(c)
        assert cur.execute("SELECT %s || %s", ("a", "b")).fetchone() == ("ab",)
        # many rows, executemany
        assert c.execute("SELECT count(*) FROM generate_series(1, %s)", (12345,)).fetchone() == (12345,)


def test_psycopg3_repeated_statement_gets_prepared(px):
    # psycopg 3 prepares a statement server-side (a named prepared statement) from its 5th execution
    with px.connect(prepare_threshold=2) as c:
        for i in range(20):
            assert c.execute("SELECT %s::int * 2", (i,)).fetchone() == (i * 2,)


def test_psycopg3_transactions(px, pg, table):
    with px.connect(autocommit=False) as c:
        c.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "committed"))
        assert visible_ids(pg, table) == []  # not yet committed
        c.commit()
        assert visible_ids(pg, table) == [1]
        c.execute(f"INSERT INTO {table} VALUES (%s, %s)", (2, "rolled back"))
        c.rollback()
        assert visible_ids(pg, table) == [1]
        with c.transaction():
            c.execute(f"INSERT INTO {table} VALUES (3, 'ctx')")
        assert visible_ids(pg, table) == [1, 3]
        with pytest.raises(RuntimeError):
            with c.transaction():
                c.execute(f"INSERT INTO {table} VALUES (4, 'ctx')")
                raise RuntimeError("abort")
        assert visible_ids(pg, table) == [1, 3]


def test_psycopg3_error_classes(px, table):
    with px.connect() as c:
        with pytest.raises(psycopg.errors.DivisionByZero) as ei:
            c.execute("SELECT 1/0")
        assert ei.value.sqlstate == "22012"
        with pytest.raises(psycopg.errors.UndefinedTable):
            c.execute("SELECT * FROM no_such_table_abc")
        c.execute(f"INSERT INTO {table} VALUES (1, 'a')")
        with pytest.raises(psycopg.errors.UniqueViolation) as ei:
            c.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "dup"))
        assert ei.value.diag.constraint_name.endswith("_pkey")
        with pytest.raises(psycopg.errors.SyntaxError):
            c.execute("SELEC 1")
        assert c.execute("SELECT 'still usable'").fetchone() == ("still usable",)


# --------------------------------------------------------------------------- psycopg2

def pg2(px, **kw):
    return psycopg2.connect(**px.kw(), connect_timeout=10, **kw)


def test_psycopg2_queries_params_transactions(px, pg, table):
    c = pg2(px)
    try:
        cur = c.cursor()
        cur.execute("SELECT %s + %s, %s", (40, 2, "it's"))
        assert cur.fetchone() == (42, "it's")
        cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", (1, "a"))
        assert visible_ids(pg, table) == []
        c.commit()
        assert visible_ids(pg, table) == [1]
        cur.execute(f"INSERT INTO {table} VALUES (%s, %s)", (2, "b"))
        c.rollback()
        assert visible_ids(pg, table) == [1]
        cur.executemany(f"INSERT INTO {table} VALUES (%s, %s)", [(i, str(i)) for i in range(10, 20)])
        c.commit()
        assert len(visible_ids(pg, table)) == 11
    finally:
        c.close()


def test_psycopg2_error_classes(px, table):
    c = pg2(px)
    c.autocommit = True
    try:
        cur = c.cursor()
        with pytest.raises(psycopg2.errors.DivisionByZero) as ei:
            cur.execute("SELECT 1/0")
        assert ei.value.pgcode == "22012"
        with pytest.raises(psycopg2.errors.UndefinedTable):
            cur.execute("SELECT * FROM no_such_table_abc")
        cur.execute(f"INSERT INTO {table} VALUES (1, 'a')")
        with pytest.raises(psycopg2.errors.UniqueViolation):
            cur.execute(f"INSERT INTO {table} VALUES (1, 'b')")
        cur.execute("SELECT 7")
        assert cur.fetchone() == (7,)
    finally:
        c.close()


# --------------------------------------------------------------------------- asyncpg

async def apg(px, service="saju_service", **kw):
    return await asyncpg.connect(px.url(service), statement_cache_size=0, timeout=10, **kw)


def test_asyncpg_queries_params_transactions(px, pg, table):
    async def main():
        c = await apg(px)
        try:
            assert await c.fetchval("SELECT $1::int + $2::int", 40, 2) == 42
            rows = await c.fetch("SELECT g, g * 2 AS d FROM generate_series(1, $1::int) g", 1000)
            assert len(rows) == 1000 and rows[-1]["d"] == 2000
            assert await c.fetchval("SELECT $1::text IS NULL", None) is True
            async with c.transaction():
                await c.execute(f"INSERT INTO {table} VALUES ($1, $2)", 1, "a")
            assert visible_ids(pg, table) == [1]
            with pytest.raises(ZeroDivisionError):
                async with c.transaction():
                    await c.execute(f"INSERT INTO {table} VALUES ($1, $2)", 2, "b")
                    1 / 0
            assert visible_ids(pg, table) == [1]
            await c.executemany(f"INSERT INTO {table} VALUES ($1, $2)", [(i, str(i)) for i in range(10, 15)])
            assert visible_ids(pg, table) == [1, 10, 11, 12, 13, 14]
        finally:
            await c.close()
    asyncio.run(main())


def test_asyncpg_error_classes(px, table):
    async def main():
        c = await apg(px)
        try:
            with pytest.raises(asyncpg.exceptions.DivisionByZeroError) as ei:
                await c.fetchval("SELECT 1/0")
            assert ei.value.sqlstate == "22012"
            with pytest.raises(asyncpg.exceptions.UndefinedTableError):
                await c.fetch("SELECT * FROM no_such_table_abc")
            await c.execute(f"INSERT INTO {table} VALUES (1, 'a')")
            with pytest.raises(asyncpg.exceptions.UniqueViolationError):
                await c.execute(f"INSERT INTO {table} VALUES ($1, 'b')", 1)
            assert await c.fetchval("SELECT 5") == 5
        finally:
            await c.close()
    asyncio.run(main())


def test_asyncpg_concurrent_connections(px):
    async def one(i):
        c = await apg(px)
        try:
            return await c.fetchval("SELECT $1::int * 10 FROM pg_sleep(0.05)", i)
        finally:
            await c.close()

    async def main():
        return await asyncio.gather(*(one(i) for i in range(20)))
    assert asyncio.run(main()) == [i * 10 for i in range(20)]


# --------------------------------------------------------------------------- SQLAlchemy 2

def test_sqlalchemy_core(px, pg, table):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool
    eng = sa.create_engine(px.url().replace("postgresql://", "postgresql+psycopg://"), poolclass=NullPool)
    try:
        with eng.begin() as conn:
            conn.execute(sa.text(f"INSERT INTO {table} VALUES (:id, :val)"), [{"id": 1, "val": "x"}, {"id": 2, "val": "y"}])
        with eng.connect() as conn:
            assert conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar() == 2
        with pytest.raises(sa.exc.IntegrityError):
            with eng.begin() as conn:
                conn.execute(sa.text(f"INSERT INTO {table} VALUES (1, 'dup')"))
    finally:
        eng.dispose()
    assert visible_ids(pg, table) == [1, 2]
