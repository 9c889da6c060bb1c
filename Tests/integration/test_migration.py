"""The migration toolkit end to end: names qualified with a legacy schema (`legacy_schemas`) and names inside
regclass literals (`nextval('seq')`, `'t'::regclass`, `pg_get_serial_sequence`) reach the mapped schema.

The scene: a table `mig_items` moved from `public` to `mig_new`, with a stale copy left behind in `public` that
heal7_app may not read. heal7_app's search_path is pg_catalog, so an unqualified or public-qualified name that the
proxy fails to route fails loudly (undefined or permission denied) instead of reading stale data."""
import psycopg
import psycopg.errors
import pytest

from conftest import HEAL7_SCHEMAS_SAJU

MIG_SCHEMAS = {"mig_new": ["mig_items", "mig_items_id_seq", "mig_item_names"], **HEAL7_SCHEMAS_SAJU}


@pytest.fixture(scope="module")
def moved_table(pg):
    statements = [
        "DROP SCHEMA IF EXISTS mig_new CASCADE",
        "DROP TABLE IF EXISTS public.mig_items",
        "CREATE SCHEMA mig_new",
        "CREATE TABLE mig_new.mig_items (id bigserial PRIMARY KEY, name text NOT NULL)",
        "INSERT INTO mig_new.mig_items (name) VALUES ('moved one'), ('moved two')",
        "CREATE VIEW mig_new.mig_item_names AS SELECT name FROM mig_new.mig_items",
        "GRANT USAGE ON SCHEMA mig_new TO heal7_app",
        "GRANT ALL ON ALL TABLES IN SCHEMA mig_new TO heal7_app",
        "GRANT ALL ON ALL SEQUENCES IN SCHEMA mig_new TO heal7_app",
        # The stale copy the migration left behind: never to be read through the proxy.
        "CREATE TABLE public.mig_items (id bigint, name text)",
        "INSERT INTO public.mig_items VALUES (1, 'stale')",
        "REVOKE ALL ON public.mig_items FROM PUBLIC",
    ]
    for sql in statements:
        pg.super_exec(sql)
    yield
    pg.super_exec("DROP TABLE IF EXISTS public.mig_items")
    pg.super_exec("DROP SCHEMA IF EXISTS mig_new CASCADE")


@pytest.fixture
def px(proxy, pg, moved_table):
    backend = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{pg.port}/heal7"
    return proxy(pool_size=2, services={
        "migrated": {"backend": backend, "schemas": MIG_SCHEMAS, "legacy_schemas": ["public"]},
        "plain": {"backend": backend, "schemas": MIG_SCHEMAS},
    })


def test_public_qualified_name_reads_the_moved_table(px):
    with px.connect("migrated") as c:
        rows = c.execute("SELECT name FROM public.mig_items ORDER BY id").fetchall()
        assert [r[0] for r in rows] == ["moved one", "moved two"]
        # Quoted and upper-case spellings, a join with an unqualified name, the extended protocol.
        row = c.execute('SELECT count(*) FROM "public".mig_items m JOIN PUBLIC.MIG_ITEMS n USING (id) '
                        "WHERE m.id > %s", (0,)).fetchone()
        assert row == (2,)
        c.execute("UPDATE public.mig_items SET name = name WHERE id = 1")
        # A column reference written with the schema follows its table.
        assert c.execute("SELECT public.mig_items.name FROM public.mig_items WHERE public.mig_items.id = 1"
                         ).fetchone() == ("moved one",)
        assert c.execute("SELECT count(*) FROM public.users").fetchone() == (3,)
        # A literal that spells the name is left alone.
        assert c.execute("SELECT 'public.mig_items'").fetchone() == ("public.mig_items",)


def test_without_legacy_schemas_the_stale_copy_is_what_the_server_sees(px):
    with px.connect("plain") as c:
        with pytest.raises(psycopg.errors.InsufficientPrivilege):
            c.execute("SELECT name FROM public.mig_items")


def test_sequence_functions_reach_the_moved_sequence(px):
    with px.connect("migrated") as c:
        first = c.execute("SELECT nextval('mig_items_id_seq')").fetchone()[0]
        assert c.execute("SELECT currval('mig_items_id_seq')").fetchone() == (first,)
        c.execute("SELECT setval('mig_items_id_seq', %s)", (first + 100,))
        new_id = c.execute("INSERT INTO mig_items (id, name) VALUES (nextval('mig_items_id_seq'), 'three') "
                           "RETURNING id").fetchone()[0]
        assert new_id == first + 101
        assert c.execute("SELECT nextval('public.mig_items_id_seq')").fetchone() == (first + 102,)
        c.execute("DELETE FROM mig_items WHERE id = %s", (new_id,))


def test_regclass_literals_and_serial_sequence(px):
    with px.connect("migrated") as c:
        assert c.execute("SELECT 'mig_items'::regclass::text").fetchone() == ("mig_new.mig_items",)
        assert c.execute("SELECT CAST('mig_items' AS regclass)::text").fetchone() == ("mig_new.mig_items",)
        assert c.execute("SELECT to_regclass('mig_item_names')::text").fetchone() == ("mig_new.mig_item_names",)
        assert c.execute("SELECT pg_get_serial_sequence('mig_items', 'id')").fetchone() == (
            "mig_new.mig_items_id_seq",)
        # Extended protocol, with a parameter beside the literal.
        row = c.execute("SELECT pg_get_serial_sequence('mig_items', %s)", ("id",)).fetchone()
        assert row == ("mig_new.mig_items_id_seq",)
        # An unmapped name in the same position stays as written (and the server resolves it as it would).
        assert c.execute("SELECT to_regclass('no_such_table')").fetchone() == (None,)


def test_sqlalchemy_serial_sequence_and_insert(px):
    sqlalchemy = pytest.importorskip("sqlalchemy")
    engine = sqlalchemy.create_engine(
        f"postgresql+psycopg://app:{px.app_password}@127.0.0.1:{px.port}/migrated", poolclass=sqlalchemy.pool.NullPool)
    try:
        with engine.begin() as c:
            seq = c.execute(sqlalchemy.text("SELECT pg_get_serial_sequence('mig_items', 'id')")).scalar()
            assert seq == "mig_new.mig_items_id_seq"
            new_id = c.execute(sqlalchemy.text(
                "INSERT INTO mig_items (name) VALUES (:n) RETURNING id"), {"n": "four"}).scalar()
            assert c.execute(sqlalchemy.text(f"SELECT currval('{seq.split('.')[1]}')")).scalar() == new_id
            c.execute(sqlalchemy.text("DELETE FROM public.mig_items WHERE id = :i"), {"i": new_id})
    finally:
        engine.dispose()


def test_unmapped_names_are_reported_by_service(proxy):
    from conftest import metric
    px = proxy(pool_size=2)
    with px.connect("saju_service") as c:
        for _ in range(3):  # a name the saju_service mapping leaves out: the server cannot find it
            with pytest.raises(psycopg.errors.UndefinedTable):
                c.execute("SELECT * FROM dreams")
        for i in range(2):  # extended protocol, other parameter values
            with pytest.raises(psycopg.errors.UndefinedTable):
                c.execute("SELECT * FROM dreams WHERE id = %s", (i,))
        with c.transaction():
            c.execute("CREATE TEMP TABLE mig_notes (id int) ON COMMIT DROP")  # a temporary table: not counted
            for _ in range(3):  # the same rewritten text again and again (a mapped name beside the unmapped one)
                assert c.execute("SELECT count(*) FROM users JOIN mig_notes ON true").fetchone() == (0,)
        # Mapped, qualified, CTE and catalog names are not counted.
        c.execute("WITH recent AS (SELECT 1) SELECT * FROM recent, users, pg_class, shared_common.attachments "
                  "LIMIT 1")
    with px.connect("dream_service") as c:
        with pytest.raises(psycopg.errors.UndefinedTable):
            c.execute("SELECT * FROM kasi_cache")

    rows = px.admin_rows("SHOW UNMAPPED saju_service")
    assert [(r["service"], r["name"], r["count"]) for r in rows] == [
        ("saju_service", "dreams", "5"), ("saju_service", "mig_notes", "3")]
    assert rows[0]["first_seen"] <= rows[0]["last_seen"]
    assert rows[0]["last_seen"].endswith("+00")
    everything = px.admin_rows("SHOW UNMAPPED")
    assert ("dream_service", "kasi_cache", "1") in [(r["service"], r["name"], r["count"]) for r in everything]
    with psycopg.connect(px.url("schemaproxy", user="admin", password=px.admin_password), autocommit=True) as a:
        with pytest.raises(psycopg.errors.InvalidCatalogName):
            a.execute("SHOW UNMAPPED no_such_service")
    text = px.metrics()
    assert metric(text, "schemaproxy_unmapped_references_total", service="saju_service") == 8
    assert metric(text, "schemaproxy_unmapped_references_total", service="dream_service") == 1
