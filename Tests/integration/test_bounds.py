"""Bounded memory: what a client can make the proxy hold.

Each test measures the proxy's resident set (VmRSS from /proc) around the abuse and checks the growth stays
under a bound far below what the abuse would cost an unbounded proxy (MEASUREMENTS.md measured +321 MiB for the
password flood and +403 MiB for the COPY flood before the bounds existed)."""
import secrets
import socket
import struct
import time

import psycopg
import pytest

import pgwire
from conftest import wait_until
from pgwire import RawConn

MiB = 1024 * 1024
GROWTH_BOUND = 32 * MiB


def rss(proxy) -> int:
    with open(f"/proc/{proxy.proc.pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
    raise AssertionError("no VmRSS line")


def test_password_messages_announcing_1GiB_are_refused_at_the_header(proxy):
    """20 unauthenticated clients each announce a 1 GiB password message and send 16 MiB of it: each gets 08P01
    as soon as the length is read (PostgreSQL refuses authentication messages over 65,535 bytes), and the proxy
    does not buffer what they send."""
    px = proxy(auth="scram-sha-256", login_timeout="20s")
    before = rss(px)
    socks = []
    for _ in range(20):
        s = socket.create_connection(("127.0.0.1", px.port), timeout=10)
        s.sendall(pgwire.startup_packet({"user": "app", "database": "saju_service"}))
        socks.append(s)
    chunk = b"x" * (1 * MiB)
    for s in socks:
        # The SASL request comes first; then the announced 1 GiB SASLInitialResponse and 16 MiB of it.
        s.sendall(b"p" + struct.pack("!I", 1 << 30))
        sent = 0
        try:
            while sent < 16 * MiB:
                s.sendall(chunk)
                sent += len(chunk)
        except (BrokenPipeError, ConnectionResetError):
            pass  # closed by the proxy: the point
    closed = 0
    for s in socks:
        s.settimeout(5)
        try:
            while s.recv(65536):
                pass
            closed += 1
        except ConnectionResetError:
            closed += 1  # closed with our unread bytes in its buffer: the kernel resets
        except socket.timeout:
            pass
        s.close()
    growth = rss(px) - before
    print(f"password flood: RSS growth {growth / MiB:.1f} MiB, {closed}/20 connections closed by the proxy")
    assert growth < GROWTH_BOUND, f"RSS grew by {growth / MiB:.1f} MiB"
    assert closed == 20
    # What a client that waits for the answer reads: 08P01, as soon as the header arrived.
    raw = RawConn(px.port)
    raw.send(pgwire.startup_packet({"user": "app", "database": "saju_service"}))
    assert raw.read_message()[0] == b"R"
    raw.send(b"p" + struct.pack("!I", 65_536 + 4))
    errs = pgwire.errors(raw.read_until_closed(timeout=5))
    assert errs and errs[0]["C"] == "08P01", errs
    with px.connect() as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


def test_copy_flood_into_a_slow_server_is_held_back_in_the_client_socket(proxy, pg):
    """A client pushes COPY data much faster than the server takes it (a trigger sleeps per row): the proxy stops
    reading the client while the server connection is full, so its memory stays flat."""
    table = "itest.slow_" + secrets.token_hex(4)
    with pg.app_conn() as c:
        c.execute(f"CREATE TABLE {table} (id int, v text)")
        c.execute(f"""CREATE FUNCTION {table}_slow() RETURNS trigger LANGUAGE plpgsql AS
                      $$BEGIN PERFORM pg_sleep(0.01); RETURN NEW; END$$""")
        c.execute(f"CREATE TRIGGER slow BEFORE INSERT ON {table} FOR EACH ROW EXECUTE FUNCTION {table}_slow()")
        c.commit()
    px = proxy(auth="trust", pool_size=1)
    raw = RawConn(px.port, timeout=10)
    raw.handshake_trust("app", "saju_service")
    raw.send(pgwire.query(f"COPY {table} FROM STDIN"))
    kind, _ = raw.read_message()
    assert kind == b"G", f"expected CopyInResponse, got {kind!r}"
    before = rss(px)
    row = b"".join(pgwire.copy_data(f"{i}\t{'v' * 200}\n".encode()) for i in range(200))  # ~42 KB
    raw.sock.setblocking(False)
    offered = 0
    pending = memoryview(row)
    deadline = time.monotonic() + 8
    while time.monotonic() < deadline:
        try:
            sent = raw.sock.send(pending)  # may take part of it: the rest goes next, so frames stay whole
        except BlockingIOError:
            time.sleep(0.01)
            continue
        offered += sent
        pending = pending[sent:] if sent < len(pending) else memoryview(row)
    growth = rss(px) - before
    print(f"COPY flood: {offered / MiB:.1f} MiB accepted by the socket in 8 s, proxy RSS growth {growth / MiB:.1f} MiB")
    # The server takes ~100 rows/s (~20 KB/s): everything beyond the kernel's socket buffers must wait outside.
    assert growth < GROWTH_BOUND, f"RSS grew by {growth / MiB:.1f} MiB while {offered / MiB:.1f} MiB were offered"
    raw.abort()
    # The backend still has megabytes of rows in its socket buffer at 100 rows/s: end it.
    with pg.super_conn() as c:
        c.execute("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE 'COPY itest.slow_%'")
    with pg.app_conn() as c:
        c.execute(f"DROP TABLE {table}")
        c.execute(f"DROP FUNCTION {table}_slow()")
        c.commit()


def test_max_pending_logins_refuses_connections_beyond_the_limit(proxy):
    """Connections that have not logged in are counted apart from max_client_connections: beyond
    max_pending_logins a new connection gets 53300 at once; one that logs in frees its place."""
    px = proxy(auth="trust", login_timeout="30s", top_extra={"max_pending_logins": 3})
    # Connections that say nothing stay open (login_timeout is 30 s); the first one past the limit is answered
    # and closed at once. (Each wait also lets the proxy see the harness's readiness probe close.)
    silent: list[RawConn] = []
    errs = []
    for _ in range(6):
        conn = RawConn(px.port)
        try:
            errs = pgwire.errors(conn.read_until_closed(timeout=1))
            break
        except TimeoutError:
            silent.append(conn)
    assert len(silent) == 3, f"{len(silent)} connections were let in before one was refused"
    assert errs and errs[0]["C"] == "53300", errs
    assert "max_pending_logins" in errs[0]["M"]
    silent.pop().close()
    # The closed one's place is free again (the proxy notices the close asynchronously).
    def logs_in() -> bool:
        try:
            with psycopg.connect(**px.kw(), autocommit=True, connect_timeout=5) as c:
                return c.execute("SELECT 1").fetchone() == (1,)
        except psycopg.OperationalError:
            return False
    wait_until(logs_in, timeout=10, what="a login after a pending connection closed")
    for s in silent:
        s.close()


def test_a_client_that_stops_reading_gives_its_server_connection_back_when_closed_with_an_error(proxy):
    """idle_transaction_timeout fires on a client whose socket is full (it stopped reading a result inside its
    transaction): the proxy rolls back and lends the server connection to the next client at once, and closes the
    stuck socket after its closing deadline (5 s) although the FATAL never left the proxy."""
    px = proxy(auth="trust", pool_size=1, checkout_timeout="20s",
               defaults_extra={"idle_transaction_timeout": "1s"})
    stuck = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    stuck.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before connect: a small window
    stuck.settimeout(10)
    stuck.connect(("127.0.0.1", px.port))
    stuck.sendall(pgwire.startup_packet({"user": "app", "database": "saju_service"}))
    seen = b""
    while b"Z\x00\x00\x00\x05I" not in seen:
        part = stuck.recv(65536)
        assert part, "closed during login"
        seen += part
    # A result far larger than the client's window but small enough for the proxy to read it whole (with its
    # ReadyForQuery, so the transaction is idle and the timer arms); the client then reads nothing.
    stuck.sendall(pgwire.query("BEGIN; SELECT repeat('x', 200000)"))
    started = time.monotonic()
    with px.connect() as other:  # pool_size 1: it needs the stuck client's server connection
        assert other.execute("SELECT 'next client'").fetchone() == ("next client",)
    waited = time.monotonic() - started
    print(f"the next client got the server connection after {waited:.1f} s")
    assert waited < 10, "the server connection was held by a client that does not read"
    # The stuck socket is closed by the proxy (the deadline), though the client never read the FATAL.
    stuck.settimeout(0.2)
    closed = False
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline and not closed:
        try:
            if not stuck.recv(65536):
                closed = True
        except socket.timeout:
            pass
        except ConnectionResetError:
            closed = True
    stuck.close()
    assert closed, "the proxy kept the socket of a client that never read"
