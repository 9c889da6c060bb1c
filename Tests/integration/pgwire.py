"""A tiny raw PostgreSQL wire-protocol client for the bad-input tests.

Only what the tests need: build startup / SSLRequest / CancelRequest / typed messages, read
messages back with a deadline, parse ErrorResponse fields, and do a trust-auth handshake.
"""
from __future__ import annotations

import socket
import struct
import time

PROTOCOL_3 = 196608  # 3.0
SSL_REQUEST_CODE = 80877103
CANCEL_REQUEST_CODE = 80877102


def startup_packet(params: dict[str, str], version: int = PROTOCOL_3) -> bytes:
    body = struct.pack("!I", version)
    for k, v in params.items():
        body += k.encode() + b"\0" + v.encode() + b"\0"
    body += b"\0"
    return struct.pack("!I", len(body) + 4) + body


def ssl_request() -> bytes:
    return struct.pack("!II", 8, SSL_REQUEST_CODE)


def cancel_request(pid: int, key: int) -> bytes:
    return struct.pack("!IIII", 16, CANCEL_REQUEST_CODE, pid & 0xFFFFFFFF, key & 0xFFFFFFFF)


def message(kind: bytes, payload: bytes = b"") -> bytes:
    assert len(kind) == 1
    return kind + struct.pack("!I", len(payload) + 4) + payload


def query(sql: str) -> bytes:
    return message(b"Q", sql.encode() + b"\0")


def copy_data(data: bytes) -> bytes:
    return message(b"d", data)


def terminate() -> bytes:
    return message(b"X")


def parse_error_fields(payload: bytes) -> dict[str, str]:
    """ErrorResponse / NoticeResponse body -> {'S': 'ERROR', 'C': '08P01', 'M': '...', ...}."""
    fields: dict[str, str] = {}
    i = 0
    while i < len(payload) and payload[i] != 0:
        code = chr(payload[i])
        end = payload.index(b"\0", i + 1)
        fields[code] = payload[i + 1 : end].decode("utf-8", "replace")
        i = end + 1
    return fields


class ConnectionClosed(Exception):
    pass


class RawConn:
    """A raw socket to the proxy. All reads take a deadline so a test can never hang."""

    def __init__(self, port: int, host: str = "127.0.0.1", timeout: float = 5.0):
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = b""
        self.timeout = timeout
        self.params: dict[str, str] = {}
        self.backend_key: tuple[int, int] | None = None

    # --- low level -------------------------------------------------------
    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def _fill(self, deadline: float) -> None:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("no data from the proxy before the deadline")
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except socket.timeout as e:
            raise TimeoutError("no data from the proxy before the deadline") from e
        except (ConnectionResetError, BrokenPipeError) as e:
            raise ConnectionClosed(str(e)) from e
        if not chunk:
            raise ConnectionClosed("EOF")
        self.buf += chunk

    def read_byte(self, timeout: float | None = None) -> bytes:
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < 1:
            self._fill(deadline)
        b, self.buf = self.buf[:1], self.buf[1:]
        return b

    def read_message(self, timeout: float | None = None) -> tuple[bytes, bytes]:
        """Next backend message as (type, payload). Raises ConnectionClosed on EOF."""
        deadline = time.monotonic() + (timeout or self.timeout)
        while len(self.buf) < 5:
            self._fill(deadline)
        kind = self.buf[:1]
        (length,) = struct.unpack("!I", self.buf[1:5])
        if length < 4 or length > 1 << 30:
            raise ValueError(f"bad length {length} in backend message {kind!r}")
        while len(self.buf) < 1 + length:
            self._fill(deadline)
        payload = self.buf[5 : 1 + length]
        self.buf = self.buf[1 + length :]
        return kind, payload

    def read_until_closed(self, timeout: float | None = None) -> list[tuple[bytes, bytes]]:
        """Read messages until the peer closes; TimeoutError if it stays open past the deadline."""
        deadline = time.monotonic() + (timeout or self.timeout)
        msgs = []
        while True:
            try:
                msgs.append(self.read_message(timeout=max(0.001, deadline - time.monotonic())))
            except ConnectionClosed:
                if self.buf:
                    msgs.append((b"?", self.buf))  # trailing partial bytes
                    self.buf = b""
                return msgs

    def is_closed(self, timeout: float = 2.0) -> bool:
        try:
            self.read_until_closed(timeout)
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        try:
            self.sock.close()
        except OSError:
            pass

    def abort(self) -> None:
        """Vanish: close with RST, no Terminate message."""
        try:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        except OSError:
            pass
        self.close()

    # --- higher level ----------------------------------------------------
    def handshake_trust(self, user: str, database: str, extra: dict[str, str] | None = None) -> None:
        """Startup with trust auth; consume everything up to the first ReadyForQuery."""
        params = {"user": user, "database": database}
        params.update(extra or {})
        self.send(startup_packet(params))
        while True:
            kind, payload = self.read_message()
            if kind == b"R":
                (code,) = struct.unpack("!I", payload[:4])
                if code != 0:
                    raise AssertionError(f"proxy asked for auth method {code}; these tests need trust")
            elif kind == b"S":
                k, v, _ = payload.split(b"\0", 2)
                self.params[k.decode()] = v.decode()
            elif kind == b"K":
                self.backend_key = struct.unpack("!II", payload[:8])
            elif kind == b"E":
                raise AssertionError(f"startup failed: {parse_error_fields(payload)}")
            elif kind == b"Z":
                return

    def simple_query(self, sql: str, timeout: float | None = None) -> list[tuple[bytes, bytes]]:
        """Send a Query; return all messages up to and including ReadyForQuery."""
        self.send(query(sql))
        msgs = []
        while True:
            m = self.read_message(timeout)
            msgs.append(m)
            if m[0] == b"Z":
                return msgs


def data_rows(msgs: list[tuple[bytes, bytes]]) -> list[list[str | None]]:
    rows = []
    for kind, payload in msgs:
        if kind != b"D":
            continue
        (n,) = struct.unpack("!H", payload[:2])
        i = 2
        row: list[str | None] = []
        for _ in range(n):
            (ln,) = struct.unpack("!i", payload[i : i + 4])
            i += 4
            if ln < 0:
                row.append(None)
            else:
                row.append(payload[i : i + ln].decode())
                i += ln
        rows.append(row)
    return rows


def errors(msgs: list[tuple[bytes, bytes]]) -> list[dict[str, str]]:
    return [parse_error_fields(p) for k, p in msgs if k == b"E"]


# --------------------------------------------------------------------------- extended protocol
# Added for test_transaction_pooling_drivers.py: frontend messages of the extended query protocol
# (text-format parameters and results) and a reader that collects messages up to ReadyForQuery.

def _cstr(s: str) -> bytes:
    return s.encode() + b"\0"


def parse(name: str, sql: str, param_oids: tuple[int, ...] = ()) -> bytes:
    """Parse: prepare `sql` as statement `name` ("" = the unnamed statement)."""
    payload = _cstr(name) + _cstr(sql) + struct.pack("!H", len(param_oids))
    payload += b"".join(struct.pack("!I", oid) for oid in param_oids)
    return message(b"P", payload)


def bind(portal: str, statement: str, params: list[str | None] | tuple = ()) -> bytes:
    """Bind: text-format parameters (None = NULL), text-format results."""
    payload = _cstr(portal) + _cstr(statement) + struct.pack("!H", 0) + struct.pack("!H", len(params))
    for p in params:
        if p is None:
            payload += struct.pack("!i", -1)
        else:
            b = p.encode()
            payload += struct.pack("!i", len(b)) + b
    payload += struct.pack("!H", 0)
    return message(b"B", payload)


def execute(portal: str = "", max_rows: int = 0) -> bytes:
    return message(b"E", _cstr(portal) + struct.pack("!I", max_rows))


def describe(kind: bytes, name: str) -> bytes:
    """Describe a statement (kind b"S") or a portal (kind b"P")."""
    assert kind in (b"S", b"P")
    return message(b"D", kind + _cstr(name))


def close(kind: bytes, name: str) -> bytes:
    """Close a statement (kind b"S") or a portal (kind b"P")."""
    assert kind in (b"S", b"P")
    return message(b"C", kind + _cstr(name))


def sync() -> bytes:
    return message(b"S")


def flush() -> bytes:
    return message(b"H")


def read_until_ready(conn: RawConn, count: int = 1, timeout: float | None = None) -> list[tuple[bytes, bytes]]:
    """Read messages up to and including the `count`-th ReadyForQuery (one per Sync or Query sent)."""
    msgs: list[tuple[bytes, bytes]] = []
    seen = 0
    while seen < count:
        m = conn.read_message(timeout)
        msgs.append(m)
        if m[0] == b"Z":
            seen += 1
    return msgs


def split_at_ready(msgs: list[tuple[bytes, bytes]]) -> list[list[tuple[bytes, bytes]]]:
    """Group messages into segments, each ending with its ReadyForQuery."""
    out: list[list[tuple[bytes, bytes]]] = [[]]
    for m in msgs:
        out[-1].append(m)
        if m[0] == b"Z":
            out.append([])
    return [seg for seg in out if seg]


def kinds(msgs: list[tuple[bytes, bytes]]) -> str:
    """The message type letters in order, e.g. "12DCZ" (ParseComplete, BindComplete, DataRow, ...)."""
    return "".join(k.decode() for k, _ in msgs)


def command_tags(msgs: list[tuple[bytes, bytes]]) -> list[str]:
    return [p.rstrip(b"\0").decode() for k, p in msgs if k == b"C"]
