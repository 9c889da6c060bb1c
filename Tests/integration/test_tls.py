"""TLS (issue 17): client_tls towards clients; certificates made with the openssl CLI per module."""
import asyncio
import os
import socket
import ssl
import subprocess
import threading
import time
from pathlib import Path

import asyncpg
import psycopg
import psycopg.errors
import pytest

import pgwire
from conftest import PSQL, pgbench_command, pgbench_counts, wait_until
from pgwire import RawConn

OPENSSL = "openssl"


def cancel_pg_sleep(c, running) -> float:
    """`SELECT pg_sleep(10)` on psycopg connection `c`, cancelled from another thread once `running()` says the
    server runs it: asserts 57014 and returns how long it took."""
    def cancel():
        wait_until(running, 15, interval=0.02, what="pg_sleep running")
        c.cancel()

    canceller = threading.Thread(target=cancel)
    canceller.start()
    t0 = time.monotonic()
    with pytest.raises(psycopg.errors.QueryCanceled) as info:
        c.execute("SELECT pg_sleep(10)")
    canceller.join(10)
    assert info.value.sqlstate == "57014"
    return time.monotonic() - t0


def pg_sleep_running(pg) -> bool:
    (n,), = pg.super_exec("SELECT count(*) FROM pg_stat_activity WHERE state = 'active'"
                          " AND query LIKE 'SELECT pg_sleep(10)%%'")
    return n == 1


def run(*args: str, cwd: Path) -> None:
    subprocess.run([OPENSSL, *args], cwd=cwd, check=True, capture_output=True, timeout=60)


def make_ca(d: Path, name: str) -> None:
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", f"/CN={name}",
        "-keyout", f"{name}.key", "-out", f"{name}.crt", cwd=d)


def make_cert(d: Path, ca: str, name: str, cn: str, san: str | None = None, serial: int = 1000) -> None:
    run("req", "-new", "-newkey", "rsa:2048", "-nodes", "-subj", f"/CN={cn}",
        "-keyout", f"{name}.key", "-out", f"{name}.csr", cwd=d)
    ext = d / f"{name}.ext"
    ext.write_text(f"subjectAltName={san}\n" if san else "basicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", f"{name}.csr", "-CA", f"{ca}.crt", "-CAkey", f"{ca}.key", "-set_serial", str(serial),
        "-days", "2", "-extfile", str(ext), "-out", f"{name}.crt", cwd=d)
    os.chmod(d / f"{name}.key", 0o600)


@pytest.fixture(scope="module")
def certs(tmp_path_factory) -> Path:
    d = tmp_path_factory.mktemp("tls")
    make_ca(d, "ca")
    make_ca(d, "otherca")
    make_cert(d, "ca", "server", "schemaproxy test", san="IP:127.0.0.1,DNS:localhost", serial=1001)
    make_cert(d, "ca", "server2", "schemaproxy test", san="IP:127.0.0.1,DNS:localhost", serial=2002)
    make_cert(d, "ca", "client", "app", serial=3003)
    make_cert(d, "otherca", "stranger", "app", serial=4004)
    return d


def tls_block(certs: Path, mode: str = "allow", **extra) -> dict:
    block = {"mode": mode, "cert_file": str(certs / "server.crt"), "key_file": str(certs / "server.key")}
    if mode == "verify-full":
        block["ca_file"] = str(certs / "ca.crt")
    block.update(extra)
    return {"client_tls": block}


def test_psql_sslmode_require_and_verify_full(proxy, certs):
    px = proxy(top_extra=tls_block(certs))
    out = px.psql("-At", "-c", "SELECT 'over tls'", sslmode="require").stdout.strip()
    assert out == "over tls"
    # verify-full: the CA checks the chain, 127.0.0.1 (and localhost) are in the certificate's SAN
    out = px.psql("-At", "-c", "SELECT 2", sslmode="verify-full", sslrootcert=str(certs / "ca.crt")).stdout.strip()
    assert out == "2"
    url = f"postgresql://app:{px.app_password}@localhost:{px.port}/saju_service?sslmode=verify-full" \
          f"&sslrootcert={certs / 'ca.crt'}"
    p = subprocess.run([PSQL, "-X", "-At", url, "-c", "SELECT 3"], capture_output=True, text=True, timeout=30)
    assert p.returncode == 0 and p.stdout.strip() == "3", p.stderr
    # plaintext still works in mode allow
    assert px.psql("-At", "-c", "SELECT 4", sslmode="disable").stdout.strip() == "4"


def test_psycopg_reports_tls_and_queries_work(proxy, certs):
    px = proxy(top_extra=tls_block(certs))
    with psycopg.connect(px.url(), sslmode="verify-full", sslrootcert=str(certs / "ca.crt"), autocommit=True) as c:
        assert c.info.pgconn.ssl_in_use is True
        # a result bigger than one TLS record (16 KiB) and than the loop's read buffer
        rows = c.execute("SELECT repeat('x', 1000) FROM generate_series(1, 300)").fetchall()
        assert len(rows) == 300 and all(r[0] == "x" * 1000 for r in rows)
        big = "y" * 200_000
        assert c.execute("SELECT length(%s::text)", (big,)).fetchone() == (200_000,)


def test_asyncpg_with_ssl_context(proxy, certs):
    px = proxy(top_extra=tls_block(certs))
    ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))

    async def go():
        c = await asyncpg.connect(px.url(), ssl=ctx, statement_cache_size=0)
        try:
            return await c.fetchval("SELECT 40 + 2")
        finally:
            await c.close()
    assert asyncio.run(go()) == 42


def test_pgbench_over_tls(proxy, certs):
    px = proxy(top_extra=tls_block(certs), pool_size=4)
    env = {**os.environ, "PGPASSWORD": px.app_password, "PGSSLMODE": "require"}
    p = subprocess.run(pgbench_command(px.port, "-S", seconds=3, clients=8), env=env, capture_output=True,
                       text=True, timeout=60)
    done, failed = pgbench_counts(p.returncode, p.stdout + p.stderr)
    assert p.returncode == 0, p.stderr
    assert done > 100 and failed == 0, p.stdout


def test_wrong_ca_is_refused_with_a_clear_error(proxy, certs):
    px = proxy(top_extra=tls_block(certs))
    p = px.psql("-At", "-c", "SELECT 1", sslmode="verify-full", sslrootcert=str(certs / "otherca.crt"),
                check=False, timeout=30)
    assert p.returncode != 0
    assert "certificate verify failed" in p.stderr, p.stderr
    assert px.psql("-At", "-c", "SELECT 5", sslmode="require").stdout.strip() == "5"


def test_mode_require_refuses_plaintext_with_28000(proxy, certs):
    px = proxy(top_extra=tls_block(certs, mode="require"))
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(px.url(), sslmode="disable", connect_timeout=10)
    assert "TLS is required" in str(info.value)
    raw = RawConn(px.port)
    raw.send(pgwire.startup_packet({"user": "app", "database": "saju_service"}))
    errs = pgwire.errors(raw.read_until_closed(timeout=5))
    assert errs and errs[0]["C"] == "28000", errs
    # sslmode=prefer clients get TLS and log in
    with psycopg.connect(px.url(), sslmode="prefer", autocommit=True) as c:
        assert c.info.pgconn.ssl_in_use is True
        assert c.execute("SELECT 6").fetchone() == (6,)


def test_verify_full_client_certificates_and_cert_auth(proxy, certs):
    px = proxy(auth="cert", top_extra=tls_block(certs, mode="verify-full"))
    ca = str(certs / "ca.crt")
    out = px.psql("-At", "-c", "SELECT current_user IS NOT NULL", sslmode="verify-full", sslrootcert=ca,
                  sslcert=str(certs / "client.crt"), sslkey=str(certs / "client.key"), password="unused").stdout
    assert out.strip() == "t"
    # no certificate: the handshake fails
    p = px.psql("-At", "-c", "SELECT 1", sslmode="verify-full", sslrootcert=ca, check=False, timeout=30)
    assert p.returncode != 0, p.stdout
    # a certificate from another CA: refused
    p = px.psql("-At", "-c", "SELECT 1", sslmode="verify-full", sslrootcert=ca, sslcert=str(certs / "stranger.crt"),
                sslkey=str(certs / "stranger.key"), check=False, timeout=30)
    assert p.returncode != 0, p.stdout
    # the CN (app) must be the user
    p = px.psql("-At", "-c", "SELECT 1", sslmode="verify-full", sslrootcert=ca, sslcert=str(certs / "client.crt"),
                sslkey=str(certs / "client.key"), user="admin", check=False, timeout=30)
    assert p.returncode != 0 and "certificate authentication failed" in p.stderr, p.stderr
    assert "client TLS failed" in px.stderr_text()


def assert_still_serving(px):
    with psycopg.connect(px.url(), sslmode="require", autocommit=True, connect_timeout=10) as c:
        assert c.execute("SELECT 'still fine'").fetchone() == ("still fine",)


def test_garbage_instead_of_client_hello_closes_that_connection(proxy, certs):
    px = proxy(top_extra=tls_block(certs))
    bystander = psycopg.connect(px.url(), sslmode="require", autocommit=True)
    raw = RawConn(px.port)
    raw.send(pgwire.ssl_request())
    assert raw.read_byte(timeout=5) == b"S"
    raw.send(b"\x00garbage, not a TLS record" * 10)
    raw.read_until_closed(timeout=5)  # TimeoutError if it stays open
    assert bystander.execute("SELECT 1").fetchone() == (1,)
    bystander.close()
    assert_still_serving(px)
    assert px.alive()


def test_plaintext_after_s_closes_that_connection(proxy, certs):
    px = proxy(top_extra=tls_block(certs))
    # in the same packet as the SSLRequest: never read as a startup
    raw = RawConn(px.port)
    raw.send(pgwire.ssl_request() + pgwire.startup_packet({"user": "app", "database": "saju_service"}))
    msgs = raw.read_until_closed(timeout=5)
    assert all(k == b"E" for k, _ in msgs), msgs
    errs = pgwire.errors(msgs)
    assert errs and errs[0]["C"] == "08P01" and "unencrypted data after SSL request" in errs[0]["M"], errs
    # after the 'S': the plaintext startup is not a ClientHello, the handshake fails
    raw = RawConn(px.port)
    raw.send(pgwire.ssl_request())
    assert raw.read_byte(timeout=5) == b"S"
    raw.send(pgwire.startup_packet({"user": "app", "database": "saju_service"}))
    raw.read_until_closed(timeout=5)
    assert_still_serving(px)


def test_stalled_handshake_is_cut_by_login_timeout(proxy, certs):
    px = proxy(top_extra=tls_block(certs), login_timeout="1s")
    stalled = RawConn(px.port)
    stalled.send(pgwire.ssl_request())
    assert stalled.read_byte(timeout=5) == b"S"
    # half a ClientHello: a TLS record header promising more than comes
    stalled.send(bytes([0x16, 0x03, 0x01, 0x02, 0x00]) + b"\x01\x00")
    t0 = time.monotonic()
    stalled.read_until_closed(timeout=6)
    assert time.monotonic() - t0 < 4
    assert_still_serving(px)


def server_certificate_serial(port: int) -> str:
    p = subprocess.run(f"{OPENSSL} s_client -starttls postgres -connect 127.0.0.1:{port} </dev/null 2>/dev/null"
                       f" | {OPENSSL} x509 -noout -serial", shell=True, capture_output=True, text=True, timeout=30)
    return p.stdout.strip()


def test_bad_tls_files_are_refused_at_check(tmp_path, certs):
    from conftest import schemaproxy_bin
    cfg = tmp_path / "c.yaml"
    cfg.write_text(f"""
auth: {{method: trust}}
client_tls: {{mode: require, cert_file: {certs / 'server.crt'}, key_file: {certs / 'client.key'}}}
services: {{s: {{backend: "postgresql://u@127.0.0.1:5432/db"}}}}
""")
    p = subprocess.run([schemaproxy_bin(), "check", "--config", str(cfg)], capture_output=True, text=True, timeout=30)
    assert p.returncode != 0
    assert "key values mismatch" in p.stdout + p.stderr, p.stdout + p.stderr


# --------------------------------------------------------------------------- backend side (sslmode in the URL)

@pytest.fixture(scope="module")
def tls_cluster(certs):
    """A throwaway PostgreSQL with ssl=on and only hostssl lines for TCP: plaintext TCP logins fail there. Its
    certificate names localhost only (not 127.0.0.1), for the host-name check."""
    from conftest import start_cluster, remove_cluster, lib
    make_cert(certs, "ca", "pgserver", "pg test", san="DNS:localhost", serial=5005)
    c = start_cluster()
    try:
        # ssl_ca_file: the server asks for a client certificate (optional; pg_stat_ssl.client_dn shows it)
        lib(f"cp {certs}/pgserver.crt {certs}/pgserver.key {certs}/ca.crt {c.data}/ && chmod 600 {c.data}/pgserver.key && "
            f"if is_root; then chown postgres:postgres {c.data}/pgserver.crt {c.data}/pgserver.key {c.data}/ca.crt; fi && "
            f"printf \"ssl = on\\nssl_cert_file = 'pgserver.crt'\\nssl_key_file = 'pgserver.key'\\nssl_ca_file = 'ca.crt'\\n\" "
            f"| as_pg tee -a {c.data}/postgresql.conf >/dev/null && "
            f"printf 'local all all trust\\nhostssl all all 127.0.0.1/32 scram-sha-256\\n' "
            f"| as_pg tee {c.data}/pg_hba.conf >/dev/null")
        c.restart()
        c.exec("CREATE ROLE tlsuser LOGIN PASSWORD 'tls-pw'")
        yield c
    finally:
        remove_cluster(c)


def tls_backend(cluster, host: str = "127.0.0.1", **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    return {"tls_svc": {"backend": f"postgresql://tlsuser:tls-pw@{host}:{cluster.port}/postgres" + (f"?{q}" if q else "")}}


def server_ssl_in_use(px) -> bool:
    with px.connect("tls_svc") as c:
        return c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone()[0]


@pytest.mark.parametrize("mode", ["require", "prefer", "allow"])
def test_backend_sslmode_gets_tls(proxy, tls_cluster, mode):
    px = proxy(services=tls_backend(tls_cluster, sslmode=mode))
    assert server_ssl_in_use(px) is True


def test_backend_verify_ca_and_verify_full(proxy, tls_cluster, certs):
    ca = certs / "ca.crt"
    px = proxy(services=tls_backend(tls_cluster, sslmode="verify-ca", sslrootcert=ca))
    assert server_ssl_in_use(px) is True
    px = proxy(services=tls_backend(tls_cluster, host="localhost", sslmode="verify-full", sslrootcert=ca))
    assert server_ssl_in_use(px) is True


def test_backend_plaintext_is_refused_by_hostssl(proxy, tls_cluster):
    """The cluster really refuses plaintext: what the tests above see is TLS."""
    px = proxy(services=tls_backend(tls_cluster, sslmode="disable"), checkout_timeout="2s")
    with pytest.raises(psycopg.OperationalError):
        px.connect("tls_svc")
    assert "no pg_hba.conf entry" in px.stderr_text()


def test_backend_verify_full_wrong_host_name_is_refused_and_logged(proxy, tls_cluster, certs):
    px = proxy(services=tls_backend(tls_cluster, sslmode="verify-full", sslrootcert=certs / "ca.crt"),
               checkout_timeout="2s")
    with pytest.raises(psycopg.OperationalError):
        px.connect("tls_svc")
    log = px.stderr_text()
    assert "certificate verify failed" in log and "IP address mismatch" in log, log


def test_backend_verify_ca_wrong_ca_is_refused_and_logged(proxy, tls_cluster, certs):
    px = proxy(services=tls_backend(tls_cluster, sslmode="verify-ca", sslrootcert=certs / "otherca.crt"),
               checkout_timeout="2s")
    with pytest.raises(psycopg.OperationalError):
        px.connect("tls_svc")
    assert "certificate verify failed" in px.stderr_text()


def test_backend_require_against_a_server_without_tls_is_refused(proxy, pg):
    backend = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{pg.port}/heal7?sslmode=require"
    px = proxy(services={"plain": {"backend": backend}}, checkout_timeout="2s")
    with pytest.raises(psycopg.OperationalError):
        px.connect("plain")
    assert "does not support SSL" in px.stderr_text()
    # prefer falls back to plaintext there
    px = proxy(services={"plain": {"backend": backend.replace("require", "prefer")}})
    with px.connect("plain") as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_sighup_reloads_certificates_and_a_bad_file_keeps_the_old_one(proxy, certs, tmp_path):
    live_crt, live_key = tmp_path / "live.crt", tmp_path / "live.key"
    live_crt.write_bytes((certs / "server.crt").read_bytes())
    live_key.write_bytes((certs / "server.key").read_bytes())
    px = proxy(top_extra={"client_tls": {"mode": "allow", "cert_file": str(live_crt), "key_file": str(live_key)}})
    assert server_certificate_serial(px.port) == "serial=03E9"  # 1001
    kept = psycopg.connect(px.url(), sslmode="require", autocommit=True)
    # under load: pgbench over TLS, a new connection (and handshake) per transaction (-C), across both reloads
    env = {**os.environ, "PGPASSWORD": px.app_password, "PGSSLMODE": "require"}
    bench = subprocess.Popen(pgbench_command(px.port, "-S", "-C", seconds=8, clients=4), env=env,
                             stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    time.sleep(1)
    # rotate: same paths, new files
    live_crt.write_bytes((certs / "server2.crt").read_bytes())
    live_key.write_bytes((certs / "server2.key").read_bytes())
    before = px.reload_count("success")
    px.reload()
    wait_until(lambda: px.reload_count("success") > before, 10, what="reload")
    assert server_certificate_serial(px.port) == "serial=07D2"  # 2002
    assert kept.execute("SELECT 'kept'").fetchone() == ("kept",)  # the session from before is untouched
    # a key that does not match: the reload fails, the last good certificate stays in use
    live_key.write_bytes((certs / "client.key").read_bytes())
    failed = px.reload_count("failure")
    px.reload()
    wait_until(lambda: px.reload_count("failure") > failed, 10, what="failed reload")
    assert server_certificate_serial(px.port) == "serial=07D2"
    assert_still_serving(px)
    kept.close()
    out, _ = bench.communicate(timeout=60)
    done, failed = pgbench_counts(bench.returncode, out)
    assert bench.returncode == 0 and done > 20 and failed == 0, out


def test_channel_binding_require_logs_in_with_scram_plus(proxy, certs):
    px = proxy(top_extra=tls_block(certs))
    out = px.psql("-At", "-c", "SELECT 'bound'", sslmode="require", channel_binding="require").stdout.strip()
    assert out == "bound"
    with psycopg.connect(px.url(), sslmode="verify-full", sslrootcert=str(certs / "ca.crt"),
                         channel_binding="require", autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    # a wrong password is still refused with channel binding
    p = px.psql("-At", "-c", "SELECT 1", sslmode="require", channel_binding="require", password="wrong",
                check=False, timeout=30)
    assert p.returncode != 0 and "password authentication failed" in p.stderr, p.stderr
    # without TLS there is nothing to bind to: libpq refuses itself
    p = px.psql("-At", "-c", "SELECT 1", sslmode="disable", channel_binding="require", check=False, timeout=30)
    assert p.returncode != 0


def test_backend_require_auth_refuses_a_weaker_method(proxy, pg):
    """heal7_md5 logs in with md5 (pg_hba): require_auth=scram-sha-256 refuses it, md5 or !password allow it."""
    base = f"postgresql://heal7_md5:{pg.md5_password}@127.0.0.1:{pg.port}/heal7"
    px = proxy(services={"md5svc": {"backend": base + "?require_auth=scram-sha-256"}}, checkout_timeout="2s")
    with pytest.raises(psycopg.OperationalError):
        px.connect("md5svc")
    assert "require_auth=scram-sha-256: the server asked for an md5 password" in px.stderr_text()
    for allowed in ("md5", "!password"):
        px = proxy(services={"md5svc": {"backend": base + f"?require_auth={allowed}"}})
        with px.connect("md5svc") as c:
            assert c.execute("SELECT current_user").fetchone() == ("heal7_md5",)


def direct_tls(px, certs, alpn: list[str] | None):
    ctx = ssl.create_default_context(cafile=str(certs / "ca.crt"))
    if alpn is not None:
        ctx.set_alpn_protocols(alpn)
    raw = socket.create_connection(("127.0.0.1", px.port), timeout=10)
    return ctx.wrap_socket(raw, server_hostname="127.0.0.1")


def read_messages_until(sock, last: bytes) -> list[tuple[bytes, bytes]]:
    data, msgs = b"", []
    while True:
        while len(data) >= 5 and len(data) >= 1 + int.from_bytes(data[1:5], "big"):
            n = int.from_bytes(data[1:5], "big")
            msgs.append((data[:1], data[5:1 + n]))
            data = data[1 + n:]
            if msgs[-1][0] in (last, b"E"):
                return msgs
        chunk = sock.recv(65536)
        if not chunk:
            return msgs
        data += chunk


def test_direct_tls_with_alpn_postgresql(proxy, certs):
    """PostgreSQL 17's sslnegotiation=direct: a ClientHello as the first bytes, ALPN "postgresql"."""
    px = proxy(auth="trust", top_extra=tls_block(certs))
    s = direct_tls(px, certs, ["postgresql"])
    assert s.selected_alpn_protocol() == "postgresql"
    s.sendall(pgwire.startup_packet({"user": "app", "database": "saju_service"}))
    assert read_messages_until(s, b"Z")[-1][0] == b"Z"
    s.sendall(pgwire.query("SELECT 'direct'"))
    msgs = read_messages_until(s, b"Z")
    assert pgwire.data_rows(msgs) == [["direct"]], msgs
    s.close()
    # without ALPN: refused after the handshake, with 08P01
    s = direct_tls(px, certs, None)
    s.sendall(pgwire.startup_packet({"user": "app", "database": "saju_service"}))
    errs = pgwire.errors(read_messages_until(s, b"Z"))
    assert errs and errs[0]["C"] == "08P01" and "ALPN" in errs[0]["M"], errs
    s.close()
    # ALPN without "postgresql": the handshake fails
    with pytest.raises((ssl.SSLError, ConnectionError)):
        direct_tls(px, certs, ["http/1.1"])
    assert_still_serving(px)


def test_direct_tls_is_refused_without_client_tls(proxy, certs):
    px = proxy(auth="trust")
    with pytest.raises((ssl.SSLError, ConnectionError, OSError)):
        direct_tls(px, certs, ["postgresql"])
    with px.connect() as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_client_vanishing_mid_result_over_tls_leaves_the_proxy_running(proxy, certs):
    """A client reset mid-result over TLS ends its connection only (SIGPIPE itself: TLSSessionTests)."""
    px = proxy(auth="trust", top_extra=tls_block(certs))
    for _ in range(3):
        s = direct_tls(px, certs, ["postgresql"])
        s.sendall(pgwire.startup_packet({"user": "app", "database": "saju_service"}))
        read_messages_until(s, b"Z")
        s.sendall(pgwire.query("SELECT repeat('x', 1000) FROM generate_series(1, 50000)"))
        s.recv(1000)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")  # RST on close
        s.close()
        time.sleep(0.3)
    assert px.alive()
    assert_still_serving(px)


def test_backend_channel_binding_require(proxy, tls_cluster, pg):
    """SCRAM-SHA-256-PLUS towards the server: PostgreSQL checks the bound certificate hash itself."""
    px = proxy(services=tls_backend(tls_cluster, sslmode="require", channel_binding="require"))
    assert server_ssl_in_use(px) is True
    # a server without TLS: nothing to bind to, refused with the reason
    backend = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{pg.port}/heal7?sslmode=prefer&channel_binding=require"
    px = proxy(services={"plain": {"backend": backend}}, checkout_timeout="2s")
    with pytest.raises(psycopg.OperationalError):
        px.connect("plain")
    assert "channel_binding=require" in px.stderr_text()


# --------------------------------------------------------------------------- what goes on the wire to the server

SSL_REQUEST = (8).to_bytes(4, "big") + (80877103).to_bytes(4, "big")
CANCEL_REQUEST_HEADER = (16).to_bytes(4, "big") + (80877102).to_bytes(4, "big")
STARTUP_V3_HEADER_CODE = (196608).to_bytes(4, "big")  # protocol 3.0, after the length


class FirstBytesTap:
    """A byte-level TCP tap between the proxy and a server: forwards both ways unchanged and records the first
    8 bytes the proxy sends on each connection, in the order connections were accepted. With
    `break_tls_handshakes`, a connection that starts with an SSLRequest is answered `S` and closed, as a server
    whose TLS handshake fails."""

    def __init__(self, target_port: int, break_tls_handshakes: bool = False):
        self.target_port = target_port
        self.break_tls_handshakes = break_tls_handshakes
        self.first_bytes: list[bytes] = []
        self.lock = threading.Lock()
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = self.listener.getsockname()[1]
        threading.Thread(target=self.accept, daemon=True).start()

    def accept(self):
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return
            threading.Thread(target=self.forward, args=(client,), daemon=True).start()

    def forward(self, client: socket.socket):
        with self.lock:
            index = len(self.first_bytes)
            self.first_bytes.append(b"")
        first = b""
        try:
            client.settimeout(10)
            # every opening (SSLRequest, StartupMessage, CancelRequest, ClientHello) is 8 bytes or more, sent at once
            while len(first) < 8 and (chunk := client.recv(8 - len(first))):
                first += chunk
            with self.lock:
                self.first_bytes[index] = first
            if self.break_tls_handshakes and first == SSL_REQUEST:
                client.sendall(b"S")
                client.close()
                return
            server = socket.create_connection(("127.0.0.1", self.target_port), timeout=10)
            server.sendall(first)
        except OSError:
            client.close()
            return
        server.settimeout(None)
        client.settimeout(None)

        def pump(src: socket.socket, dst: socket.socket):
            try:
                while data := src.recv(65536):
                    dst.sendall(data)
            except OSError:
                pass
            for sock in (src, dst):
                try:
                    sock.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass

        threading.Thread(target=pump, args=(server, client), daemon=True).start()
        pump(client, server)

    def seen(self) -> list[bytes]:
        with self.lock:
            return list(self.first_bytes)

    def close(self):
        self.listener.close()


@pytest.fixture
def tap(tls_cluster):
    t = FirstBytesTap(tls_cluster.port)
    yield t
    t.close()


def tap_backend(tap, **params) -> dict:
    q = "&".join(f"{k}={v}" for k, v in params.items())
    url = f"postgresql://tlsuser:tls-pw@127.0.0.1:{tap.port}/postgres" + (f"?{q}" if q else "")
    return {"tls_svc": {"backend": url, "health_check": {"interval": "1h"}}}


def test_cancel_request_to_a_tls_backend_goes_over_tls(proxy, tls_cluster, tap):
    """sslmode=require: the CancelRequest connection starts with an SSLRequest, and the cancel works. PostgreSQL
    takes a cancel in plaintext whatever pg_hba says, so only the tap can tell that TLS was used."""
    px = proxy(services=tap_backend(tap, sslmode="require"))
    with px.connect("tls_svc") as c:
        assert c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (True,)
        before = tap.seen()

        def sleeping():
            (n,), = tls_cluster.exec("SELECT count(*) FROM pg_stat_activity WHERE query = 'SELECT pg_sleep(10)'"
                                     " AND state = 'active'")
            return n == 1

        assert cancel_pg_sleep(c, sleeping) < 8
        assert c.execute("SELECT 'usable'").fetchone() == ("usable",)
    seen = tap.seen()
    new = seen[len(before):]
    assert new, "the cancel opened a connection through the tap"
    assert all(first == SSL_REQUEST for first in seen), seen
    assert not any(first.startswith(CANCEL_REQUEST_HEADER[:8]) for first in seen), seen



def test_backend_sslmode_allow_tries_plaintext_first_then_tls(proxy, tls_cluster, tap):
    """libpq's allow: a plaintext login first; hostssl refuses it, so a second connection asks for TLS."""
    px = proxy(services=tap_backend(tap, sslmode="allow"))
    assert server_ssl_in_use(px) is True
    seen = tap.seen()
    assert len(seen) >= 2, seen
    assert seen[0][4:8] == STARTUP_V3_HEADER_CODE, seen  # a StartupMessage, no SSLRequest
    assert seen[1] == SSL_REQUEST, seen


def test_backend_sslmode_allow_stays_plaintext_where_the_server_accepts_it(proxy, pg):
    tap = FirstBytesTap(pg.port)
    try:
        backend = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{tap.port}/heal7?sslmode=allow"
        px = proxy(services={"plain": {"backend": backend, "health_check": {"interval": "1h"}}})
        with px.connect("plain") as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
        seen = tap.seen()
        assert seen and all(first[4:8] == STARTUP_V3_HEADER_CODE for first in seen), seen
    finally:
        tap.close()


def test_backend_sslmode_defaults_to_prefer(proxy, tls_cluster, tap, pg):
    """No sslmode in the URL: an SSLRequest first, TLS where the server offers it, plaintext where it answers N."""
    px = proxy(services=tap_backend(tap))
    assert server_ssl_in_use(px) is True
    assert tap.seen()[0] == SSL_REQUEST
    plain = FirstBytesTap(pg.port)
    try:
        backend = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{plain.port}/heal7"
        px = proxy(services={"plain": {"backend": backend, "health_check": {"interval": "1h"}}})
        with px.connect("plain") as c:
            assert c.execute("SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == (False,)
        assert plain.seen()[0] == SSL_REQUEST
    finally:
        plain.close()


def test_catalog_tools_use_the_backend_tls_settings_and_require_auth_over_tls(tls_cluster, certs, tmp_path):
    """mapping discover / check --live: the backend URL's TLS settings reach libpq, and require_auth (which libpq
    15 does not know) is checked on the decrypted authentication request."""
    from conftest import schemaproxy_bin

    def discover(query: str) -> subprocess.CompletedProcess:
        url = f"postgresql://tlsuser:tls-pw@127.0.0.1:{tls_cluster.port}/postgres?{query}"
        return subprocess.run([schemaproxy_bin(), "mapping", "discover", "--backend", url, "--schemas", "public"],
                              capture_output=True, text=True, timeout=60)

    assert discover("sslmode=require&require_auth=scram-sha-256").returncode == 0
    p = discover("sslmode=require&require_auth=md5")
    assert p.returncode != 0 and "require_auth=md5: the server asked for SASL (SCRAM-SHA-256)" in p.stderr, p.stderr

    def check_live(query: str) -> str:
        cfg = tmp_path / "live.yaml"
        backend = f"postgresql://tlsuser:tls-pw@127.0.0.1:{tls_cluster.port}/postgres?{query}"
        cfg.write_text(f"auth: {{method: trust}}\nservices: {{s: {{backend: \"{backend}\", schemas: {{public: [t]}}}}}}\n")
        p = subprocess.run([schemaproxy_bin(), "check", "--live", "--config", str(cfg)], capture_output=True,
                           text=True, timeout=60)
        return p.stdout + p.stderr

    ca = certs / "ca.crt"
    # verify-full against 127.0.0.1 with a certificate naming only localhost: refused, so sslmode reached libpq
    out = check_live(f"sslmode=verify-full&sslrootcert={ca}")
    assert "cannot connect" in out and "does not match host name" in out, out
    out = check_live(f"sslmode=verify-ca&sslrootcert={ca}&require_auth=scram-sha-256")
    assert "cannot connect" not in out and "s: " in out, out
    out = check_live(f"sslmode=require&require_auth=password")
    assert "require_auth=password: the server asked for SASL (SCRAM-SHA-256)" in out, out


# --------------------------------------------------------------------------- sslnegotiation=direct towards servers

def test_backend_sslnegotiation_direct_through_a_second_proxy(proxy, pg, certs):
    """PostgreSQL 15 cannot take direct TLS, schemaproxy's client side can: client -> proxy A (backend
    sslnegotiation=direct, sslmode=verify-full) -> tap -> proxy B (client_tls require) -> PostgreSQL. The tap shows A
    sends a ClientHello first (no SSLRequest), for logins and for cancel requests."""
    b = proxy(top_extra=tls_block(certs, mode="require"), pool_size=4)
    tap = FirstBytesTap(b.port)
    try:
        backend = (f"postgresql://app:{b.app_password}@localhost:{tap.port}/saju_service?sslmode=verify-full"
                   f"&sslrootcert={certs / 'ca.crt'}&sslnegotiation=direct")
        a = proxy(services={"chain": {"backend": backend, "health_check": {"interval": "1h"}}})
        with a.connect("chain") as c:
            assert c.execute("SELECT count(*) >= 0 FROM users").fetchone() == (True,)  # B routes it
            assert cancel_pg_sleep(c, lambda: pg_sleep_running(pg)) < 8
        seen = tap.seen()
        assert len(seen) >= 2, seen  # the pool's connection and the cancel's
        # a TLS handshake record (0x16, version 3.x) as the very first bytes of every connection
        assert all(first[:2] == b"\x16\x03" for first in seen), seen
    finally:
        tap.close()


def test_backend_sslnegotiation_direct_is_refused_by_a_server_that_wants_sslrequest(proxy, tls_cluster):
    """PostgreSQL 15 does not speak direct TLS: the login fails, with the reason in the log."""
    px = proxy(services=tls_backend(tls_cluster, sslmode="require", sslnegotiation="direct"), checkout_timeout="2s")
    with pytest.raises(psycopg.OperationalError):
        px.connect("tls_svc")
    log = px.stderr_text()
    assert "TLS: " in log and "server connection failed" in log, log


# --------------------------------------------------------------------------- sslpassword, sslcrl

def test_backend_sslpassword_opens_an_encrypted_client_key(proxy, tls_cluster, certs, tmp_path):
    run("pkcs8", "-topk8", "-in", "client.key", "-out", "client_enc.key", "-v2", "aes-256-cbc", "-passout",
        "pass:hush", cwd=certs)
    os.chmod(certs / "client_enc.key", 0o600)
    files = f"sslcert={certs / 'client.crt'}&sslkey={certs / 'client_enc.key'}"
    px = proxy(services=tls_backend(tls_cluster, sslmode="require", sslcert=certs / "client.crt",
                                    sslkey=certs / "client_enc.key", sslpassword="hush"))
    with px.connect("tls_svc") as c:
        assert c.execute("SELECT client_dn FROM pg_stat_ssl WHERE pid = pg_backend_pid()").fetchone() == ("/CN=app",)
    assert "hush" not in repr(px.admin_rows("SHOW CONFIG")) and "hush" not in px.stderr_text()
    # no or a wrong passphrase: refused at load with OpenSSL's reason (never a prompt on a terminal)
    from conftest import schemaproxy_bin
    for query in (f"sslmode=require&{files}", f"sslmode=require&{files}&sslpassword=wrong"):
        cfg = tmp_path / "k.yaml"
        cfg.write_text(f"auth: {{method: trust}}\nservices: {{s: {{backend: \"postgresql://u@127.0.0.1:5432/db?{query}\"}}}}\n")
        p = subprocess.run([schemaproxy_bin(), "check", "--config", str(cfg)], capture_output=True, text=True,
                           timeout=30, stdin=subprocess.DEVNULL)
        assert p.returncode != 0 and "cannot load private key" in p.stdout + p.stderr, p.stdout + p.stderr


def make_crls(certs: Path) -> tuple[Path, Path]:
    """An empty CRL and one that revokes the cluster's certificate (serial 5005), both signed by the test CA."""
    d = certs / "crl"
    d.mkdir(exist_ok=True)
    (d / "ca.cnf").write_text("[ca]\ndefault_ca=d\n[d]\ndatabase=index.txt\ncrlnumber=crlnumber\n"
                              "default_md=sha256\ndefault_crl_days=2\n")
    (d / "index.txt").write_text("")
    (d / "crlnumber").write_text("01\n")
    ca = ("-config", "ca.cnf", "-keyfile", str(certs / "ca.key"), "-cert", str(certs / "ca.crt"))
    run("ca", *ca, "-gencrl", "-out", "ok.crl", cwd=d)
    run("ca", *ca, "-revoke", str(certs / "pgserver.crt"), cwd=d)
    run("ca", *ca, "-gencrl", "-out", "revoked.crl", cwd=d)
    return d / "ok.crl", d / "revoked.crl"


def test_backend_sslcrl_refuses_a_revoked_server_certificate(proxy, tls_cluster, certs):
    ok, revoked = make_crls(certs)
    ca = certs / "ca.crt"
    px = proxy(services=tls_backend(tls_cluster, sslmode="verify-ca", sslrootcert=ca, sslcrl=ok))
    assert server_ssl_in_use(px) is True
    px = proxy(services=tls_backend(tls_cluster, sslmode="verify-ca", sslrootcert=ca, sslcrl=revoked),
               checkout_timeout="2s")
    with pytest.raises(psycopg.OperationalError):
        px.connect("tls_svc")
    assert "certificate revoked" in px.stderr_text()


def test_backend_sslmode_prefer_falls_back_to_plaintext_after_a_failed_handshake(proxy, pg):
    """libpq's prefer: a handshake that fails (the server says S, then hangs up) is followed by a plaintext
    connection, for the pool's logins and for cancel requests alike."""
    tap = FirstBytesTap(pg.port, break_tls_handshakes=True)
    try:
        backend = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{tap.port}/heal7?sslmode=prefer"
        px = proxy(services={"plain": {"backend": backend, "health_check": {"interval": "1h"}}})
        with px.connect("plain") as c:
            assert c.execute("SELECT 1").fetchone() == (1,)
            logins = tap.seen()
            assert logins[:2] == [SSL_REQUEST, logins[1]] and logins[1][4:8] == STARTUP_V3_HEADER_CODE, logins
            cancel_pg_sleep(c, lambda: pg_sleep_running(pg))
        cancels = tap.seen()[len(logins):]
        assert cancels[0] == SSL_REQUEST and cancels[1] == CANCEL_REQUEST_HEADER, cancels
        # require gives up instead
        px = proxy(services={"plain": {"backend": backend.replace("prefer", "require")}}, checkout_timeout="2s")
        with pytest.raises(psycopg.OperationalError):
            px.connect("plain")
    finally:
        tap.close()


def test_health_probes_use_the_backend_tls_settings(proxy, tls_cluster, tap):
    """The prober's connections to a require backend ask for TLS like the pool's, and count the host as up
    (the cluster's pg_hba takes TLS logins only, so a plaintext probe would fail)."""
    from conftest import http_get, metric, wait_until
    services = tap_backend(tap, sslmode="require")
    services["tls_svc"]["health_check"] = {"interval": "200ms"}
    px = proxy(services=services)

    def up() -> float | None:
        return metric(http_get(px.metrics_port, "/metrics")[1], "schemaproxy_backend_up", service="tls_svc",
                      host=f"127.0.0.1:{tap.port}")

    wait_until(lambda: len(tap.seen()) >= 3, 10, what="a few probes")
    assert up() == 1
    assert all(first == SSL_REQUEST for first in tap.seen()), tap.seen()
