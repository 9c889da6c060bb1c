"""SSLRequest without TLS configured: answered 'N'."""
import psycopg
import pytest


def test_psql_sslmode_prefer_works(proxy):
    px = proxy()
    out = px.psql("-At", "-c", "SELECT 'no tls but fine'", sslmode="prefer").stdout.strip()
    assert out == "no tls but fine"


def test_psql_sslmode_require_fails_cleanly(proxy):
    px = proxy()
    p = px.psql("-At", "-c", "SELECT 1", sslmode="require", check=False, timeout=20)
    assert p.returncode != 0
    assert "server does not support SSL" in p.stderr, p.stderr
    # and nothing is broken for the next client
    assert px.psql("-At", "-c", "SELECT 2", sslmode="disable").stdout.strip() == "2"


def test_drivers_sslmode_prefer(proxy):
    px = proxy()
    with psycopg.connect(px.url(), sslmode="prefer", autocommit=True) as c:
        assert c.info.pgconn.ssl_in_use is False
        assert c.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError, match="SSL"):
        psycopg.connect(px.url(), sslmode="require", connect_timeout=10)
