"""`schemaproxy mapping discover` and `schemaproxy check --live` against a real PostgreSQL.

Each test builds its own database (so the catalog holds exactly what the test expects) and removes it."""
import json
import os
import secrets
import subprocess

import pytest
import yaml

from conftest import schemaproxy_bin


def run(*args: str, env: dict | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([schemaproxy_bin(), *args], capture_output=True, text=True, timeout=60,
                          env={"PATH": "/usr/bin:/bin", **(env or {})})


@pytest.fixture
def catalog_db(pg):
    """A database `catalog_<hex>` owned by a fresh role, and a superuser URL + the role's URL for it."""
    name = f"catalog_{secrets.token_hex(4)}"
    role, password = f"{name}_user", secrets.token_hex(8)
    pg.super_exec(f"CREATE ROLE {role} LOGIN PASSWORD '{password}'", dbname="postgres")
    with pg.super_conn("postgres") as c:
        c.autocommit = True
        c.execute(f"CREATE DATABASE {name}")
    super_url = f"postgresql://postgres@127.0.0.1:{pg.port}/{name}"

    class DB:
        pass
    db = DB()
    db.name, db.role, db.password, db.port = name, role, password, pg.port
    db.url = f"postgresql://{role}:{password}@127.0.0.1:{pg.port}/{name}"
    db.exec = lambda sql: pg.super_exec(sql, dbname=name)
    yield db
    with pg.super_conn("postgres") as c:
        c.autocommit = True
        c.execute(f"DROP DATABASE {name} WITH (FORCE)")
        c.execute(f"DROP ROLE {role}")


def build_catalog(db):
    for sql in [
        "CREATE SCHEMA shared_common", "CREATE SCHEMA saju_service", "CREATE SCHEMA dream_service",
        "CREATE TABLE shared_common.users (id bigserial PRIMARY KEY, name text)",
        "CREATE TABLE shared_common.attachments (id int GENERATED ALWAYS AS IDENTITY, user_id bigint)",
        "CREATE VIEW shared_common.user_names AS SELECT name FROM shared_common.users",
        'CREATE TABLE saju_service."Charts" (id int)',
        "CREATE TABLE saju_service.events (at date) PARTITION BY RANGE (at)",
        "CREATE TABLE saju_service.events_2026 PARTITION OF saju_service.events "
        "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        "CREATE MATERIALIZED VIEW saju_service.kasi_cache AS SELECT 1 AS k",
        "CREATE SEQUENCE saju_service.ticket_seq",
        "CREATE TABLE dream_service.events (id int)",
        "CREATE TABLE dream_service.dreams (id serial)",
        "CREATE INDEX dreams_idx ON dream_service.dreams (id)",
        "CREATE TABLE public.users (id int)",
    ]:
        db.exec(sql)


def test_discover_lists_every_routable_relation_with_conflicts_commented(catalog_db):
    build_catalog(catalog_db)
    p = run("mapping", "discover", "--backend", catalog_db.url)
    assert p.returncode == 0, p.stderr
    assert p.stdout == (
        "schemas:\n"
        "  dream_service:\n"
        "    - dreams\n"
        "    - dreams_id_seq\n"
        "    # - events    # CONFLICT: also in saju_service; route it to one schema only\n"
        "  saju_service:\n"
        "    - '\"Charts\"'\n"
        "    - events_2026\n"
        "    - kasi_cache\n"
        "    - ticket_seq\n"
        "    # - events    # CONFLICT: also in dream_service; route it to one schema only\n"
        "  shared_common:\n"
        "    - attachments\n"
        "    - attachments_id_seq\n"
        "    - user_names\n"
        "    - users\n"
        "    - users_id_seq\n"
        "# 1 name(s) exist in several schemas and are left out above (commented):\n"
        "#   events: dream_service, saju_service\n")
    # Valid YAML for the config: the block parses, and check accepts it in a service.
    block = yaml.safe_load(p.stdout)["schemas"]
    assert block["shared_common"] == ["attachments", "attachments_id_seq", "user_names", "users", "users_id_seq"]
    # The same output on a second run.
    assert run("mapping", "discover", "--backend", catalog_db.url).stdout == p.stdout


def test_discover_named_schemas_json_and_config_service(catalog_db, tmp_path):
    build_catalog(catalog_db)
    p = run("mapping", "discover", "--backend", catalog_db.url, "--schemas", "shared_common,public",
            "--format", "json")
    assert p.returncode == 0, p.stderr
    out = json.loads(p.stdout)
    assert out["schema_order"] == ["shared_common", "public"]
    assert out["conflicts"] == [{"name": "users", "schemas": ["shared_common", "public"]}]
    assert out["schemas"]["public"] == []
    assert "users" not in out["schemas"]["shared_common"]
    # --config + --service, with an unset secret under auth (not used by discover).
    config = tmp_path / "c.yaml"
    config.write_text(yaml.safe_dump({
        "auth": {"method": "scram-sha-256", "users": {"app": "${NOT_SET_ANYWHERE}"}},
        "services": {"s": {"backend": f"postgresql://{catalog_db.role}:${{CAT_PW}}@127.0.0.1:{catalog_db.port}/"
                                      f"{catalog_db.name}"}}}))
    p = run("mapping", "discover", "--config", str(config), "--service", "s", "--schemas", "saju_service",
            env={"CAT_PW": catalog_db.password})
    assert p.returncode == 0, p.stderr
    assert yaml.safe_load(p.stdout) == {"schemas": {"saju_service": [
        '"Charts"', "events", "events_2026", "kasi_cache", "ticket_seq"]}}


def test_discover_reports_a_connection_failure(catalog_db):
    p = run("mapping", "discover", "--backend", catalog_db.url.replace(catalog_db.password, "wrong"))
    assert p.returncode != 0
    assert "password authentication failed" in p.stderr


def live_config(tmp_path, db, schemas, **extra) -> str:
    config = tmp_path / "live.yaml"
    config.write_text(yaml.safe_dump({
        "auth": {"method": "trust"},
        "services": {"svc": {"backend": db.url, "schemas": schemas, **extra}}}))
    return str(config)


def test_check_live_clean_mapping(catalog_db, tmp_path):
    build_catalog(catalog_db)
    catalog_db.exec("DROP TABLE public.users")  # else "users" resolves to it through the default search_path
    catalog_db.exec(f"GRANT USAGE ON SCHEMA shared_common TO {catalog_db.role}")
    catalog_db.exec(f"GRANT SELECT ON ALL TABLES IN SCHEMA shared_common TO {catalog_db.role}")
    catalog_db.exec(f"GRANT USAGE ON ALL SEQUENCES IN SCHEMA shared_common TO {catalog_db.role}")
    p = run("check", "--live", "--config", live_config(tmp_path, catalog_db, {"shared_common": [
        "users", "users_id_seq", "attachments", "user_names"]}))
    assert p.returncode == 0, p.stdout + p.stderr
    assert "svc: live OK" in p.stdout


def test_check_live_reports_each_mistake(catalog_db, tmp_path):
    build_catalog(catalog_db)
    db = catalog_db
    db.exec(f"GRANT USAGE ON SCHEMA shared_common, saju_service TO {db.role}")
    db.exec(f"GRANT SELECT ON shared_common.users TO {db.role}")  # attachments: no privilege
    db.exec(f"GRANT USAGE ON SCHEMA public TO {db.role}")
    # public.users (left behind) is what the backend's own search_path finds for "users".
    db.exec(f"ALTER ROLE {db.role} IN DATABASE {db.name} SET search_path = public")
    config = live_config(tmp_path, db, {
        "shared_common": ["users", "attachments", "missing_table"],
        "saju_service": ["kasi_cache"],
        "dream_service": ["dreams"],  # no USAGE on dream_service
        "nowhere": ["ghost"],
    })
    db.exec("CREATE INDEX kasi_idx ON saju_service.kasi_cache (k)")
    p = run("check", "--live", "--config", config)
    out = p.stdout
    assert p.returncode == 1, out + p.stderr
    assert "svc: ERROR: schema nowhere does not exist" in out
    assert "svc: ERROR: the backend user has no USAGE on schema dream_service" in out
    assert "svc: ERROR: shared_common.missing_table does not exist" in out
    assert "svc: ERROR: the backend user has no privilege on table shared_common.attachments" in out
    assert "svc: ERROR: the backend user has no privilege on materialized view saju_service.kasi_cache" in out
    assert 'svc: WARNING: table saju_service."Charts" is in a mapped schema but not in the mapping' in out
    assert "svc: WARNING: users resolves to public.users through the backend's search_path" in out
    assert "ERROR: shared_common.users" not in out

    # Only warnings: exit 0, warnings printed.
    db.exec(f"GRANT SELECT ON ALL TABLES IN SCHEMA shared_common, saju_service TO {db.role}")
    config = live_config(tmp_path, db, {"shared_common": ["users", "attachments"], "saju_service": ["kasi_cache"]})
    p = run("check", "--live", "--config", config)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "WARNING: users resolves to public.users" in p.stdout
    assert "0 error(s)" in p.stdout
    # The service's own search_path is what server connections get: then users resolves as mapped.
    config = live_config(tmp_path, db, {"shared_common": ["users", "attachments"], "saju_service": ["kasi_cache"]},
                         search_path=["shared_common", "public"])
    p = run("check", "--live", "--config", config)
    assert p.returncode == 0
    assert "resolves to" not in p.stdout
    # search_path: auto, as the proxy derives it: the mapped schemas, then the backend's own (public).
    config = live_config(tmp_path, db, {"shared_common": ["users", "attachments"], "saju_service": ["kasi_cache"]},
                         search_path="auto")
    p = run("check", "--live", "--config", config)
    assert p.returncode == 0, p.stdout + p.stderr
    assert "resolves to" not in p.stdout


def test_check_live_index_mapped_by_mistake(catalog_db, tmp_path):
    build_catalog(catalog_db)
    catalog_db.exec(f"GRANT USAGE ON SCHEMA dream_service TO {catalog_db.role}")
    p = run("check", "--live", "--config", live_config(tmp_path, catalog_db, {"dream_service": ["dreams_idx"]}))
    assert p.returncode == 1
    assert "dream_service.dreams_idx is an index, not a table, view or sequence" in p.stdout


def test_check_live_unreachable_backend_is_an_error(catalog_db, tmp_path):
    config = tmp_path / "down.yaml"
    config.write_text(yaml.safe_dump({"auth": {"method": "trust"}, "services": {"svc": {
        "backend": "postgresql://u:p@127.0.0.1:1/db?connect_timeout=2", "schemas": {"a": ["t"]}}}}))
    p = run("check", "--live", "--config", str(config))
    assert p.returncode == 1
    assert "svc: ERROR: cannot connect" in p.stdout


# --------------------------------------------------------------------------- require_auth (libpq 15 does not know it)

def test_discover_and_check_live_enforce_require_auth(catalog_db, pg, tmp_path):
    """The catalog role logs in with SCRAM, heal7_md5 with md5 (pg_hba), the Unix socket with trust: require_auth
    lets through what it allows and refuses the rest before libpq sends the password."""
    build_catalog(catalog_db)
    ok = run("mapping", "discover", "--backend", catalog_db.url + "?require_auth=scram-sha-256&sslmode=prefer",
             "--schemas", "saju_service")
    assert ok.returncode == 0, ok.stderr
    assert "Charts" in ok.stdout
    md5_url = f"postgresql://heal7_md5:{pg.md5_password}@127.0.0.1:{pg.port}/heal7"
    refused = run("mapping", "discover", "--backend", md5_url + "?require_auth=scram-sha-256&sslmode=disable")
    assert refused.returncode != 0
    assert "require_auth=scram-sha-256: the server asked for an md5 password (md5)" in refused.stderr, refused.stderr
    conninfo = f"host=127.0.0.1 port={pg.port} user=heal7_md5 password={pg.md5_password} dbname=heal7"
    refused = run("mapping", "discover", "--backend", conninfo + " require_auth='scram-sha-256'")
    assert "the server asked for an md5 password (md5)" in refused.stderr, refused.stderr
    assert run("mapping", "discover", "--backend", md5_url + "?require_auth=md5,scram-sha-256",
               "--schemas", "shared_common").returncode == 0
    trust = run("mapping", "discover", "--backend",
                f"postgresql://postgres@/heal7?host={pg.dir}&port={pg.port}&require_auth=!none")
    assert trust.returncode != 0 and "asked for no authentication (none)" in trust.stderr, trust.stderr

    # check --live reads the backend URL from the config: same rules
    catalog_db.exec(f"GRANT USAGE ON SCHEMA shared_common TO {catalog_db.role}")
    schemas = {"shared_common": ["attachments"]}
    config = tmp_path / "ra.yaml"

    def check_live(backend: str) -> subprocess.CompletedProcess:
        config.write_text(yaml.safe_dump({"auth": {"method": "trust"},
                                          "services": {"svc": {"backend": backend, "schemas": schemas}}}))
        return run("check", "--live", "--config", str(config))

    p = check_live(catalog_db.url + "?require_auth=scram-sha-256&sslmode=prefer")
    # logged in and looked at the catalog (what it finds there is another test's business)
    assert "shared_common.attachments" in p.stdout and "cannot connect" not in p.stdout, p.stdout + p.stderr
    p = check_live(md5_url + "?require_auth=scram-sha-256")
    assert p.returncode != 0
    assert "require_auth=scram-sha-256: the server asked for an md5 password (md5)" in p.stdout, p.stdout


def test_discover_refuses_sslnegotiation_direct_with_libpq_15(catalog_db):
    p = run("mapping", "discover", "--backend", catalog_db.url + "?sslnegotiation=direct")
    assert p.returncode != 0 and "sslnegotiation=direct needs libpq 17" in p.stderr, p.stderr
    assert run("mapping", "discover", "--backend", catalog_db.url + "?sslnegotiation=postgres").returncode == 0
