"""Schema routing end to end: heal7_app's search_path is pg_catalog, so unqualified names work only
because the proxy qualifies them with the service's mapped schema."""
import asyncio
import os
import secrets
import re
import subprocess

import asyncpg
import psycopg
import psycopg.errors
import pytest

from conftest import PGBENCH, schemaproxy_bin


@pytest.fixture
def px(proxy):
    return proxy(pool_size=2)


def test_direct_connection_cannot_see_unqualified_tables(pg):
    # The premise of every test below: without the proxy, "users" does not resolve for heal7_app.
    with pg.app_conn(autocommit=True) as c:
        assert c.execute("SHOW search_path").fetchone() == ("pg_catalog",)
        with pytest.raises(psycopg.errors.UndefinedTable):
            c.execute("SELECT * FROM users")


def test_saju_service_users_and_kasi_cache(px):
    with px.connect("saju_service") as c:
        assert c.execute("SHOW search_path").fetchone() == ("pg_catalog",)
        names = [r[0] for r in c.execute("SELECT name FROM users ORDER BY id")]
        assert names == ["Kim Minji", "Lee Jihoon", "Park Seoyeon"]
        keys = [r[0] for r in c.execute("SELECT * FROM kasi_cache ORDER BY cache_key")]
        assert keys == ["lunar:1988-11-02", "lunar:1994-03-15", "solar-term:1994-03"]
        row = c.execute("SELECT u.name, count(*) FROM saju_charts c JOIN users u ON u.id = c.user_id "
                        "WHERE u.id = 1 GROUP BY u.name").fetchone()
        assert row == ("Kim Minji", 1)


def test_saju_service_with_psql(px):
    out = px.psql("-At", "-c", "SELECT count(*) FROM users", "-c", "SELECT count(*) FROM kasi_cache").stdout
    assert out.split() == ["3", "3"]


def test_dream_service_sees_dreams(px):
    with px.connect("dream_service") as c:
        rows = c.execute("SELECT d.content, i.confidence FROM dreams d JOIN dream_interpretations i "
                         "ON i.dream_id = d.id ORDER BY d.id").fetchall()
        assert [r[0] for r in rows] == ["Flying over a river of stars", "A white tiger at the gate"]
        assert c.execute("SELECT count(*) FROM users").fetchone() == (3,)


def test_unmapped_table_is_left_alone(px):
    # dreams is mapped for dream_service only; from saju_service the server reports it as missing
    with px.connect("saju_service") as c:
        with pytest.raises(psycopg.errors.UndefinedTable) as ei:
            c.execute("SELECT * FROM dreams")
        assert '"dreams"' in str(ei.value)
    with px.connect("dream_service") as c:
        with pytest.raises(psycopg.errors.UndefinedTable):
            c.execute("SELECT * FROM kasi_cache")


def test_string_literal_and_alias_unchanged(px):
    with px.connect("saju_service") as c:
        row = c.execute("SELECT 'users' AS users, 'SELECT * FROM users' AS q, count(*) FROM users").fetchone()
        assert row == ("users", "SELECT * FROM users", 3)
        # dollar-quoted body and comment stay as written
        row = c.execute("SELECT $$users$$ /* FROM users */, u.id AS users FROM users u WHERE u.id = 2").fetchone()
        assert row == ("users", 2)


def test_extended_protocol_with_parameters(px):
    with px.connect("saju_service") as c:
        cur = c.execute("SELECT email FROM users WHERE name = %s", ("Lee Jihoon",), prepare=True)
        assert cur.fetchone() == ("jihoon@example.com",)
        for i in (1, 2, 3):
            assert c.execute("SELECT id FROM users WHERE id = %s", (i,), prepare=True).fetchone() == (i,)


def test_asyncpg_routing(px):
    async def main():
        c = await asyncpg.connect(px.url("dream_service"), statement_cache_size=0, timeout=10)
        try:
            return await c.fetchval("SELECT count(*) FROM dream_interpretations WHERE confidence > $1", 0.8)
        finally:
            await c.close()
    assert asyncio.run(main()) == 1


def test_writes_and_copy_are_routed(px, pg):
    key = "itest:routing"
    try:
        with px.connect("saju_service") as c:
            c.execute("INSERT INTO kasi_cache (cache_key, payload) VALUES (%s, '{}')", (key,))
            c.execute("UPDATE kasi_cache SET payload = '{\"x\": 1}' WHERE cache_key = %s", (key,))
            with c.cursor().copy("COPY kasi_cache (cache_key, payload) FROM STDIN") as cp:
                cp.write_row((key + ":copy", '{"copied": true}'))
        got = pg.super_exec("SELECT cache_key, payload FROM saju_service.kasi_cache "
                            "WHERE cache_key LIKE 'itest:%%' ORDER BY 1")
        assert got == [(key, {"x": 1}), (key + ":copy", {"copied": True})]
        out = px.psql("-c", "COPY (SELECT cache_key FROM kasi_cache WHERE cache_key LIKE 'itest:%' ORDER BY 1) TO STDOUT").stdout
        assert out.split() == [key, key + ":copy"]
        with px.connect("saju_service") as c:
            assert c.execute("DELETE FROM kasi_cache WHERE cache_key LIKE 'itest:%'").rowcount == 2
    finally:
        pg.super_exec("DELETE FROM saju_service.kasi_cache WHERE cache_key LIKE 'itest:%%'")


def test_server_side_md5_backend(px):
    # service saju_md5 logs in to PostgreSQL as heal7_md5, whose pg_hba method and verifier are md5
    with px.connect("saju_md5") as c:
        assert c.execute("SELECT current_user, count(*) FROM users GROUP BY 1").fetchone() == ("heal7_md5", 3)


def test_rewrite_command(pg, tmp_path):
    from conftest import build_config
    import yaml
    cfg = build_config(pg, 1, 2, "x", "y")
    path = tmp_path / "c.yaml"
    path.write_text(yaml.safe_dump(cfg))
    p = subprocess.run([schemaproxy_bin(), "rewrite", "--config", str(path), "--service", "saju_service",
                        "SELECT u.name, 'users' FROM users u JOIN kasi_cache k ON true"],
                       capture_output=True, text=True, timeout=30, env={"ITEST_DB_PASSWORD": "p", "ITEST_APP_PASSWORD": "a",
                                                                        "PATH": "/usr/bin:/bin"})
    assert p.returncode == 0, p.stderr
    out = p.stdout.strip()
    # only the two table references change (the schema may be written quoted or not)
    assert out.replace('"', "") == \
        "SELECT u.name, 'users' FROM shared_common.users u JOIN saju_service.kasi_cache k ON true", out


def test_rewrite_metrics(px):
    from conftest import http_get, metric
    before = metric(http_get(px.metrics_port, "/metrics")[1], "schemaproxy_rewrites_total",
                    service="saju_service", result="rewritten") or 0
    with px.connect() as c:
        for i in range(3):
            c.execute(f"SELECT count(*) FROM users WHERE id > {i}")
    after = metric(http_get(px.metrics_port, "/metrics")[1], "schemaproxy_rewrites_total",
                   service="saju_service", result="rewritten")
    assert after is not None and after - before >= 3, (before, after)


PGBENCH_TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]


@pytest.mark.parametrize("mode", ["simple", "extended"])
def test_pgbench_init_and_run_with_tables_mapped_into_a_schema(proxy, pg, mode):
    """pgbench -i and pgbench runs through the proxy, with the pgbench tables mapped into a schema and a
    backend role whose search_path does not reach them: any reference the rewriter missed fails.

    pgbench -i runs with search_path = pg_catalog only. The runs need more: before starting, pgbench 15
    looks pgbench_accounts up in pg_class by name (a string literal, correctly not rewritten) among
    current_schemas(), so the search_path then also holds a decoy schema with same-named tables the role
    may not read: a missed reference gets "permission denied" instead of silently working."""
    role, schema, decoy = f"routed_{mode}", f"pgb_{mode}", f"decoy_{mode}"
    password = secrets.token_hex(8)
    for sql in (f"DROP SCHEMA IF EXISTS {schema} CASCADE", f"DROP SCHEMA IF EXISTS {decoy} CASCADE",
                f"DROP ROLE IF EXISTS {role}", f"CREATE ROLE {role} LOGIN PASSWORD '{password}'",
                f"ALTER ROLE {role} SET search_path = pg_catalog", f"CREATE SCHEMA {schema} AUTHORIZATION {role}"):
        pg.super_exec(sql, dbname="bench")
    px = proxy(services={"routed": {
        "backend": f"postgresql://{role}:{password}@127.0.0.1:{pg.port}/bench",
        "schemas": {schema: PGBENCH_TABLES}}})
    env = {**os.environ, "PGPASSWORD": px.app_password}
    base = ["-h", "127.0.0.1", "-p", str(px.port), "-U", "app"]
    init = subprocess.run([PGBENCH, "-i", "-s", "1", *base, "routed"], capture_output=True, text=True,
                          env=env, timeout=120)
    assert init.returncode == 0, init.stdout + init.stderr
    (accounts,), = pg.super_exec(f"SELECT count(*) FROM {schema}.pgbench_accounts", dbname="bench")
    assert accounts == 100000
    pg.super_exec(f"CREATE SCHEMA {decoy}", dbname="bench")
    for table in PGBENCH_TABLES:
        pg.super_exec(f"CREATE TABLE {decoy}.{table} (LIKE {schema}.{table})", dbname="bench")
    pg.super_exec(f"GRANT USAGE ON SCHEMA {decoy} TO {role}", dbname="bench")
    pg.super_exec(f"ALTER ROLE {role} SET search_path = pg_catalog, {decoy}", dbname="bench")
    px.stop()  # its server connections still have the old search_path; a new proxy opens new ones
    px = proxy(services={"routed": {
        "backend": f"postgresql://{role}:{password}@127.0.0.1:{pg.port}/bench",
        "schemas": {schema: PGBENCH_TABLES}}})
    env = {**os.environ, "PGPASSWORD": px.app_password}
    base = ["-h", "127.0.0.1", "-p", str(px.port), "-U", "app"]
    for extra in (["-S"], []):  # select-only, then TPC-B
        run = subprocess.run([PGBENCH, "-n", "-T", "3", "-c", "4", "-j", "2", "-M", mode, *extra, *base, "routed"],
                             capture_output=True, text=True, env=env, timeout=90)
        out = run.stdout + run.stderr
        assert run.returncode == 0, out
        assert "number of failed transactions: 0" in out, out
    (history,), = pg.super_exec(f"SELECT count(*) FROM {schema}.pgbench_history", dbname="bench")
    assert history > 0
