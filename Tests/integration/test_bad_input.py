"""Malformed or abandoned protocol traffic from raw sockets.

Each case: an ErrorResponse with SQLSTATE 08P01 where a reply is possible, then the connection is
closed; meanwhile a client connected before keeps working, and a new client can connect after."""
import secrets
import struct
import time

import psycopg
import pytest

import pgwire
from pgwire import RawConn


@pytest.fixture
def px(proxy):
    return proxy(auth="trust", pool_size=1, login_timeout="1s", checkout_timeout="5s")


@pytest.fixture
def bystander(px):
    """A client connected before the bad one; checked after it."""
    c = px.connect()
    assert c.execute("SELECT 1").fetchone() == (1,)
    yield c
    c.close()


def assert_proxy_healthy(px, bystander):
    assert bystander.execute("SELECT 'bystander ok'").fetchone() == ("bystander ok",)
    with px.connect() as c:
        assert c.execute("SELECT 'newcomer ok'").fetchone() == ("newcomer ok",)
    assert px.alive()


def assert_08P01_then_closed(raw: RawConn, timeout: float = 5):
    msgs = raw.read_until_closed(timeout=timeout)  # TimeoutError if the proxy keeps it open
    errs = pgwire.errors(msgs)
    assert errs, f"no ErrorResponse before the close; got {msgs!r}"
    assert errs[0].get("C") == "08P01", errs[0]
    assert errs[0].get("S") in ("FATAL", "ERROR"), errs[0]
    assert all(k in (b"E", b"N") for k, _ in msgs), msgs


def authed(px) -> RawConn:
    raw = RawConn(px.port)
    raw.handshake_trust("app", "saju_service")
    return raw


# --------------------------------------------------------------------------- during startup

def test_startup_length_below_minimum(px, bystander):
    raw = RawConn(px.port)
    raw.send(struct.pack("!I", 3))
    assert_08P01_then_closed(raw)
    assert_proxy_healthy(px, bystander)


def test_startup_length_above_1GiB(px, bystander):
    raw = RawConn(px.port)
    raw.send(struct.pack("!II", (1 << 30) + 1, pgwire.PROTOCOL_3))
    assert_08P01_then_closed(raw)
    assert_proxy_healthy(px, bystander)


def test_http_request_instead_of_startup(px, bystander):
    raw = RawConn(px.port)
    raw.send(b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
    assert_08P01_then_closed(raw)
    assert_proxy_healthy(px, bystander)


def test_unterminated_startup_parameter(px, bystander):
    body = struct.pack("!I", pgwire.PROTOCOL_3) + b"user\0app\0database\0saju_serv"  # no NULs at the end
    raw = RawConn(px.port)
    raw.send(struct.pack("!I", len(body) + 4) + body)
    assert_08P01_then_closed(raw)
    assert_proxy_healthy(px, bystander)


def test_startup_never_completes_login_timeout(px, bystander):
    raw = RawConn(px.port)
    raw.send(struct.pack("!I", 100) + struct.pack("!I", pgwire.PROTOCOL_3) + b"user\0ap")  # 92 bytes missing
    silent = RawConn(px.port)  # connects and says nothing at all
    t0 = time.monotonic()
    for r in (raw, silent):
        msgs = r.read_until_closed(timeout=6)  # login_timeout is 1s
        # a reply is optional here; if there is one it must be an ErrorResponse
        assert all(k == b"E" for k, _ in msgs), msgs
    assert time.monotonic() - t0 < 6
    assert_proxy_healthy(px, bystander)


def test_login_timeout_does_not_hit_slow_but_complete_clients(px):
    raw = RawConn(px.port)
    pkt = pgwire.startup_packet({"user": "app", "database": "saju_service"})
    raw.send(pkt[:5])
    time.sleep(0.3)  # a slow client, well inside login_timeout=1s
    raw.send(pkt[5:])
    kind, _ = raw.read_message()
    assert kind == b"R"
    while raw.read_message()[0] != b"Z":
        pass
    rows = pgwire.data_rows(raw.simple_query("SELECT 7"))
    assert rows == [["7"]]
    raw.close()


# --------------------------------------------------------------------------- after authentication

def test_message_length_below_4(px, bystander):
    raw = authed(px)
    raw.send(b"Q" + struct.pack("!I", 3))
    assert_08P01_then_closed(raw)
    assert_proxy_healthy(px, bystander)


def test_message_length_above_1GiB(px, bystander):
    raw = authed(px)
    raw.send(b"Q" + struct.pack("!I", (1 << 30) + 1) + b"SELECT 1")
    assert_08P01_then_closed(raw)
    assert_proxy_healthy(px, bystander)


def test_unknown_message_type(px, bystander):
    raw = authed(px)
    raw.send(pgwire.message(b"z", b"\0\0"))
    assert_08P01_then_closed(raw)
    assert_proxy_healthy(px, bystander)


# --------------------------------------------------------------------------- abandoned mid-stream

@pytest.fixture
def copy_table(pg):
    name = "itest.c_" + secrets.token_hex(4)
    pg.super_exec(f"CREATE TABLE {name} (id int, val text); ALTER TABLE {name} OWNER TO heal7_app")
    yield name
    pg.super_exec(f"DROP TABLE IF EXISTS {name}")


@pytest.mark.parametrize("how", ["vanish", "close"])
def test_client_vanishes_mid_copy_in(px, pg, copy_table, how):
    raw = authed(px)
    raw.send(pgwire.query(f"COPY {copy_table} FROM STDIN"))
    kind, _ = raw.read_message()
    assert kind == b"G", f"expected CopyInResponse, got {kind!r}"
    raw.send(b"".join(pgwire.copy_data(f"{i}\tv{i}\n".encode()) for i in range(1000)))
    raw.send(pgwire.copy_data(b"1001\tpartial"))  # and a half-finished row
    raw.abort() if how == "vanish" else raw.close()
    # pool_size=1: the next client needs that very server connection, out of COPY and clean
    with px.connect() as c:
        assert c.execute(f"SELECT count(*) FROM {copy_table}").fetchone() == (0,)
        assert c.info.transaction_status == psycopg.pq.TransactionStatus.IDLE
        with c.cursor().copy(f"COPY {copy_table} FROM STDIN") as cp:
            cp.write_row((1, "clean"))
        assert c.execute(f"SELECT val FROM {copy_table}").fetchall() == [("clean",)]
    assert px.alive()


def test_client_vanishes_mid_large_result(px, bystander):
    raw = authed(px)
    raw.send(pgwire.query("SELECT g, repeat('x', 200) FROM generate_series(1, 1000000) g"))
    kind, _ = raw.read_message()
    assert kind == b"T"
    raw.read_message()  # a first DataRow, then leave without reading the rest
    raw.abort()
    t0 = time.monotonic()
    assert bystander.execute("SELECT 'bystander ok'").fetchone() == ("bystander ok",)  # pool_size=1
    assert time.monotonic() - t0 < 10
    assert_proxy_healthy(px, bystander)


def test_ssl_request_answered_N_then_startup(px):
    raw = RawConn(px.port)
    raw.send(pgwire.ssl_request())
    assert raw.read_byte() == b"N"
    raw.handshake_trust("app", "saju_service")
    assert pgwire.data_rows(raw.simple_query("SELECT 'plain'")) == [["plain"]]
    raw.send(pgwire.terminate())
    assert raw.is_closed(5)


def test_terminate_closes(px):
    raw = authed(px)
    raw.send(pgwire.terminate())
    assert raw.read_until_closed(timeout=5) == []
