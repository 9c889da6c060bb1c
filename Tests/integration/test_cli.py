"""The command line: check, hash-password (verifiers that really log in), startup parameters."""
import subprocess

import psycopg
import pytest
import yaml

from conftest import ROOT, build_config, schemaproxy_bin


def run(*args, input=None, env=None):
    return subprocess.run([schemaproxy_bin(), *args], input=input, capture_output=True, text=True, timeout=30,
                          env={"PATH": "/usr/bin:/bin", "ITEST_DB_PASSWORD": "p", "ITEST_APP_PASSWORD": "a",
                               **(env or {})})


def write(tmp_path, cfg, name="c.yaml"):
    p = tmp_path / name
    p.write_text(yaml.safe_dump(cfg, sort_keys=False))
    return p


def test_check_accepts_valid_config(pg, tmp_path):
    p = run("check", "--config", str(write(tmp_path, build_config(pg, 6543, 9931, "x", "y"))))
    assert p.returncode == 0, p.stdout + p.stderr


@pytest.mark.parametrize("where", ["top", "defaults", "service"])
def test_check_rejects_unknown_key_and_names_it(pg, tmp_path, where):
    cfg = build_config(pg, 6543, 9931, "x", "y")
    target = {"top": cfg, "defaults": cfg["defaults"], "service": cfg["services"]["saju_service"]}[where]
    target["pool_sizee"] = 3
    p = run("check", "--config", str(write(tmp_path, cfg)))
    assert p.returncode != 0
    assert "pool_sizee" in p.stdout + p.stderr


def test_check_rejects_bad_duration(pg, tmp_path):
    cfg = build_config(pg, 6543, 9931, "x", "y", checkout_timeout="five seconds")
    p = run("check", "--config", str(write(tmp_path, cfg)))
    assert p.returncode != 0
    assert "checkout_timeout" in p.stdout + p.stderr


def verifier(method, user, password):
    p = run("hash-password", "--method", method, "--user", user, input=password + "\n")
    assert p.returncode == 0, p.stderr
    lines = [ln.strip() for ln in p.stdout.splitlines() if ln.strip()]
    assert lines, "hash-password printed nothing"
    return lines[-1]


@pytest.mark.parametrize("method", ["scram-sha-256", "md5"])
def test_hash_password_verifier_logs_in(proxy, method):
    v = verifier(method, "app", "s3cret-pw")
    assert v.startswith("SCRAM-SHA-256$" if method == "scram-sha-256" else "md5"), v
    assert "s3cret-pw" not in v
    px2 = proxy(top_extra={"auth": {"method": method, "users": {"app": v, "admin": "adminpw"}}})
    with psycopg.connect(px2.url(password="s3cret-pw"), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError):
        psycopg.connect(px2.url(password="wrong"), connect_timeout=10)


def test_startup_options_stay_in_effect(proxy):
    px = proxy(pool_size=1)
    with psycopg.connect(px.url(), options="-c statement_timeout=1234ms", autocommit=True) as a, \
            psycopg.connect(px.url(), autocommit=True) as b:
        for _ in range(3):
            assert a.execute("SHOW statement_timeout").fetchone() == ("1234ms",)
            assert b.execute("SHOW statement_timeout").fetchone() == ("0",)


def test_rewrite_of_the_readme_needs_no_secrets():
    # conf/heal7.yaml takes APP_PASSWORD, ADMIN_PASSWORD, DB_PASSWORD and DB_PORT from the environment; rewrite
    # uses none of them (run() passes none of them).
    config = str(ROOT / "conf" / "heal7.yaml")
    p = run("rewrite", "--config", config, "--service", "saju_service", "SELECT * FROM users")
    assert p.returncode == 0, p.stderr
    assert p.stdout.strip() == "SELECT * FROM shared_common.users"
    # check still needs them all, and says which one is missing.
    p = run("check", "--config", config)
    assert p.returncode != 0
    assert "is not set" in p.stdout + p.stderr


def test_rewrite_still_rejects_a_broken_mapping(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "auth: {method: scram-sha-256, users: {app: '${UNSET_PASSWORD_FOR_TEST}'}}\n"
        "services:\n  s:\n    backend: postgresql://u@127.0.0.1/db\n"
        "    schemas: {a: [users], b: [users]}\n")
    p = run("rewrite", "--config", str(config), "--service", "s", "SELECT 1")
    assert p.returncode != 0
    assert "users" in p.stdout + p.stderr
