"""`search_path: auto` (issue 18, item 6): the mapped schemas in the order `schemas:` lists them, then the server's
own search_path, in the startup packet of server connections. Catalog tools that look tables up through
current_schemas() then find the mapped tables: pgbench's start check, psql `\\d`, SQLAlchemy reflection.

The database `autosp` is fresh: its `public` holds nothing, and its role `auto_user` keeps PostgreSQL's own
search_path (`"$user", public`), so without the mapped schema in the search_path none of those tools finds a
table. The pgbench tables live in schema `pgb_auto`."""
import copy
import os
import secrets
import subprocess

import psycopg
import pytest

from conftest import PGBENCH, connect_error, free_port, pgbench_counts, wait_until

TABLES = ["pgbench_accounts", "pgbench_branches", "pgbench_tellers", "pgbench_history"]
SCHEMA = "pgb_auto"
SERVER_OWN = '"$user", public'  # PostgreSQL's default, which auto_user keeps


@pytest.fixture(scope="module")
def autodb(pg):
    role, password = "auto_user", secrets.token_hex(8)
    for sql in ("DROP DATABASE IF EXISTS autosp WITH (FORCE)", f"DROP ROLE IF EXISTS {role}",
                f"CREATE ROLE {role} LOGIN PASSWORD '{password}'", f"CREATE DATABASE autosp OWNER {role}"):
        pg.super_exec(sql, dbname="postgres")
    pg.super_exec(f"CREATE SCHEMA {SCHEMA} AUTHORIZATION {role}", dbname="autosp")
    # The four tables, empty, made directly (not through the proxy) for the tests that only look at the catalog.
    env = {**os.environ, "PGPASSWORD": password, "PGOPTIONS": f"-c search_path={SCHEMA}"}
    init = subprocess.run([PGBENCH, "-i", "-I", "dt", "-h", "127.0.0.1", "-p", str(pg.port), "-U", role, "autosp"],
                          capture_output=True, text=True, env=env, timeout=60)
    assert init.returncode == 0, init.stdout + init.stderr
    yield f"postgresql://{role}:{password}@127.0.0.1:{pg.port}/autosp"
    pg.super_exec("DROP DATABASE IF EXISTS autosp WITH (FORCE)", dbname="postgres")
    pg.super_exec(f"DROP ROLE IF EXISTS {role}", dbname="postgres")


def services(backend: str, **extra) -> dict:
    """`auto` (search_path: auto) and `plain` (no search_path): the same backend and mapping."""
    schemas = {SCHEMA: TABLES}
    return {"auto": {"backend": backend, "search_path": "auto", "schemas": schemas, **extra},
            "plain": {"backend": backend, "schemas": schemas, **extra}}


def run_pgbench(px, service: str, *args: str) -> subprocess.CompletedProcess:
    env = {**os.environ, "PGPASSWORD": px.app_password}
    return subprocess.run([PGBENCH, *args, "-h", "127.0.0.1", "-p", str(px.port), "-U", "app", service],
                          capture_output=True, text=True, env=env, timeout=180)


def test_pgbench_tpcb_with_the_tables_in_a_mapped_schema(proxy, pg, autodb):
    px = proxy(pool_size=2, services=services(autodb))
    init = run_pgbench(px, "auto", "-i", "-s", "1")
    assert init.returncode == 0, init.stdout + init.stderr
    (accounts,), = pg.super_exec(f"SELECT count(*) FROM {SCHEMA}.pgbench_accounts", dbname="autosp")
    assert accounts == 100000
    # The default TPC-B script, with pgbench's start check (pgbench_accounts among current_schemas()) and its
    # preparation (no -n): VACUUM of the tables and TRUNCATE pgbench_history.
    for mode in ("simple", "extended", "prepared"):
        run = run_pgbench(px, "auto", "-t", "25", "-c", "4", "-j", "2", "-M", mode)
        out = run.stdout + run.stderr
        processed, failed = pgbench_counts(run.returncode, out)
        assert (processed, failed) == (100, 0), out
        (history,), = pg.super_exec(f"SELECT count(*) FROM {SCHEMA}.pgbench_history", dbname="autosp")
        assert history == 100, "the history of this run alone: pgbench truncated the mapped table first"
    (branches, tellers, accounts), = pg.super_exec(
        f"SELECT (SELECT sum(bbalance) FROM {SCHEMA}.pgbench_branches), "
        f"(SELECT sum(tbalance) FROM {SCHEMA}.pgbench_tellers), (SELECT sum(abalance) FROM {SCHEMA}.pgbench_accounts)",
        dbname="autosp")
    assert branches == tellers == accounts, "every TPC-B transaction committed whole"

    # The same service without search_path: the rewriter alone serves the statements, but the start check does
    # not find the table.
    plain = run_pgbench(px, "plain", "-t", "5", "-c", "1")
    assert plain.returncode != 0
    assert "no pgbench_accounts table found in search_path" in plain.stderr, plain.stderr


def test_sqlalchemy_reflection_and_psql_describe_see_the_mapped_tables(proxy, autodb):
    import sqlalchemy as sa
    from sqlalchemy.pool import NullPool
    px = proxy(pool_size=2, services=services(autodb))
    for service, expected in (("auto", sorted(TABLES)), ("plain", [])):
        engine = sa.create_engine(px.url(service).replace("postgresql://", "postgresql+psycopg://"),
                                  poolclass=NullPool)
        try:
            inspector = sa.inspect(engine)
            # SQLAlchemy's default schema is current_schema(), the first schema of the search_path that exists.
            assert inspector.default_schema_name == (SCHEMA if service == "auto" else "public")
            assert sorted(inspector.get_table_names()) == expected, service
            if service == "auto":
                columns = [c["name"] for c in inspector.get_columns("pgbench_accounts")]
                assert columns == ["aid", "bid", "abalance", "filler"]
        finally:
            engine.dispose()
    described = px.psql("-c", r"\d pgbench_accounts", service="auto")
    assert described.returncode == 0, described.stderr
    assert f'Table "{SCHEMA}.pgbench_accounts"' in described.stdout, described.stdout
    missing = px.psql("-c", r"\d pgbench_accounts", service="plain", check=False)
    assert "Did not find any relation named" in missing.stdout + missing.stderr


def test_show_search_path_puts_the_mapped_schemas_first_then_the_servers_own(proxy, pg, autodb):
    from conftest import HEAL7_SCHEMAS_SAJU
    heal7 = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{pg.port}/heal7"
    # The order of the file (not of the alphabet); a schema that lists no names counts where it appears; a mapped
    # schema the server's own search_path also names (public) appears once, where the mapping puts it.
    mixed = {"zz_first": [], SCHEMA: TABLES, "public": ["not_there"], '"Mixed Case"': ["other"]}
    px = proxy(pool_size=2, services={
        "auto": {"backend": autodb, "search_path": "auto", "schemas": mixed},
        "heal7": {"backend": heal7, "search_path": "auto", "schemas": HEAL7_SCHEMAS_SAJU},
        "plain": {"backend": autodb, "schemas": mixed},
    })
    with px.connect("auto") as c:
        assert c.execute("SHOW search_path").fetchone() == (f'zz_first, {SCHEMA}, public, "Mixed Case", "$user"',)
        assert c.execute("SELECT current_schemas(false)").fetchone() == ([SCHEMA, "public"],)
    with px.connect("plain") as c:
        assert c.execute("SHOW search_path").fetchone() == (SERVER_OWN,)
    # heal7_app's own search_path is the role's (ALTER ROLE ... SET search_path = pg_catalog), learnt from the server.
    with px.connect("heal7") as c:
        assert list(HEAL7_SCHEMAS_SAJU) == ["shared_common", "saju_service"]
        assert c.execute("SHOW search_path").fetchone() == ("shared_common, saju_service, pg_catalog",)
        assert c.execute("SELECT count(*) FROM pg_catalog.pg_tables WHERE schemaname = ANY(current_schemas(false)) "
                         "AND tablename IN ('users', 'saju_charts')").fetchone() == (2,)
    services_rows = {r["service"]: r["search_path"] for r in px.admin_rows("SHOW SERVICES")}
    assert services_rows["heal7"] == "auto: shared_common, saju_service, pg_catalog"
    assert services_rows["plain"] is None


@pytest.mark.parametrize("pool_mode", ["transaction", "session"])
def test_a_client_keeps_its_own_search_path(proxy, autodb, pool_mode):
    # pool_size 1: every client gets the same server connection, after the others.
    px = proxy(pool_size=1, pool_mode=pool_mode, services=services(autodb))
    auto = f"{SCHEMA}, {SERVER_OWN}"
    with px.connect("auto", options="-c search_path=public") as c:  # its own, in its startup packet
        assert c.execute("SHOW search_path").fetchone() == ("public",)
        assert c.execute("SELECT current_schema()").fetchone() == ("public",)
    with px.connect("auto") as setter:
        assert setter.execute("SHOW search_path").fetchone() == (auto,)
        setter.execute("SET search_path = public")
        assert setter.execute("SHOW search_path").fetchone() == ("public",)
        if pool_mode == "transaction":
            # Another client between two of the setter's transactions sees the service's value, not the setter's.
            with px.connect("auto") as other:
                assert other.execute("SHOW search_path").fetchone() == (auto,)
        assert setter.execute("SHOW search_path").fetchone() == ("public",)
        setter.execute("RESET search_path")
        assert setter.execute("SHOW search_path").fetchone() == (auto,)
        setter.execute("SET search_path = public")
    with px.connect("auto") as after:  # after DISCARD ALL / RESET ALL, the startup value again
        assert after.execute("SHOW search_path").fetchone() == (auto,)
        assert after.execute("SELECT count(*) FROM pgbench_branches").fetchone() is not None


def test_reload_derives_it_again(proxy, pg, autodb):
    from conftest import HEAL7_SCHEMAS_SAJU
    heal7 = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{pg.port}/heal7"
    px = proxy(pool_size=2, services={"auto": {"backend": heal7, "search_path": "auto",
                                               "schemas": HEAL7_SCHEMAS_SAJU}})

    def reload(cfg):
        ok = px.reload_count("success")
        px.reload(cfg)
        wait_until(lambda: px.reload_count("success") > ok, 10, what="the reload")

    def shown():
        with px.connect("auto") as c:
            return c.execute("SHOW search_path").fetchone()[0]

    held = px.connect("auto", autocommit=False)  # a transaction open across the reloads finishes where it began
    assert held.execute("SHOW search_path").fetchone() == ("shared_common, saju_service, pg_catalog",)
    cfg = copy.deepcopy(px.config)
    cfg["services"]["auto"]["schemas"] = dict(reversed(list(HEAL7_SCHEMAS_SAJU.items())))
    reload(cfg)
    assert shown() == "saju_service, shared_common, pg_catalog"
    assert held.execute("SHOW search_path").fetchone() == ("shared_common, saju_service, pg_catalog",)
    held.rollback()
    assert held.execute("SHOW search_path").fetchone() == ("saju_service, shared_common, pg_catalog",)
    held.rollback()

    # Another backend: its role has a search_path of its own, learnt again.
    cfg["services"]["auto"]["backend"] = autodb
    cfg["services"]["auto"]["schemas"] = {SCHEMA: TABLES}
    reload(cfg)
    assert shown() == f"{SCHEMA}, {SERVER_OWN}"
    cfg["services"]["auto"]["search_path"] = None
    reload(cfg)
    assert shown() == SERVER_OWN
    held.close()


def test_the_servers_search_path_is_learnt_once(proxy, pg, autodb):
    """min_pool_size opens the pool's connections at once: one of them learns the server's search_path (one extra
    login), the others wait for it instead of each learning it (which took twice the logins)."""
    def sessions():
        (n,), = pg.super_exec("SELECT sessions FROM pg_stat_database WHERE datname = 'autosp'", dbname="autosp")
        return n

    for service, extra_logins in (("plain", 0), ("auto", 1)):
        svc = {**services(autodb)[service], "min_pool_size": 4, "health_check": {"interval": "0s"}}
        before = sessions()
        px = proxy(pool_size=4, services={service: svc})
        wait_until(lambda: px.pools()[service]["sv_idle"] == "4", 10, what="4 idle server connections")
        with px.connect(service) as c:
            shown = c.execute("SHOW search_path").fetchone()[0]
        assert shown == (f"{SCHEMA}, {SERVER_OWN}" if service == "auto" else SERVER_OWN)
        px.stop()
        # This query's own session counts too.
        assert sessions() - before - 1 == 4 + extra_logins, service


def test_an_unreachable_backend_fails_like_any_connect_failure(proxy):
    dead = free_port()  # nothing listens there
    px = proxy(checkout_timeout="3s", services={"auto": {
        "backend": f"postgresql://auto_user:x@127.0.0.1:{dead}/autosp", "search_path": "auto",
        "schemas": {SCHEMA: TABLES}, "retry": {"attempts": 2, "initial_backoff": "50ms", "max_backoff": "100ms"}}})
    try:
        with px.connect("auto") as c:
            c.execute("SELECT 1")
        error = None
    except psycopg.OperationalError as e:
        # At startup (psycopg then reports no SQLSTATE: asyncpg does) or at the query.
        error = e if e.sqlstate else connect_error(px.url("auto"))
    assert error is not None, "connected through a backend that does not exist"
    assert error.sqlstate in ("08006", "57P03"), repr(error)
    assert "auto" in str(error)
    assert px.alive()
