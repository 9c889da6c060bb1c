"""The unnamed statement parsed before a Sync stays the client's after it, whichever server connection
serves the Bind: libpq's PQprepare(conn, "", ...) then PQexecPrepared(conn, "", ...)."""
import psycopg
from psycopg import pq


def test_unnamed_statement_survives_another_clients_unnamed_parse(proxy):
    px = proxy(pool_size=1)  # one server connection: the other client's Parse lands where ours did
    with px.connect() as a, px.connect() as b:
        prepared = a.pgconn.prepare(b"", b"SELECT $1::int * 10")
        assert prepared.status == pq.ExecStatus.COMMAND_OK, prepared.error_message
        # psycopg runs this as Parse(""), Bind, Execute, Sync on the same server connection.
        assert b.execute("SELECT 'other', %s::text", ("x",)).fetchone() == ("other", "x")
        for value in (4, 5):
            result = a.pgconn.exec_prepared(b"", [str(value).encode()])
            assert result.status == pq.ExecStatus.TUPLES_OK, result.error_message
            assert result.get_value(0, 0) == str(value * 10).encode()
        # Describe of the unnamed statement works the same way.
        b.execute("SELECT 1")
        described = a.pgconn.describe_prepared(b"")
        assert described.status == pq.ExecStatus.COMMAND_OK, described.error_message
        assert described.nparams == 1


def test_unnamed_statement_error_stays_in_place(proxy):
    px = proxy(pool_size=1)
    with px.connect() as a, px.connect() as b:
        assert a.pgconn.prepare(b"", b"SELECT $1::int").status == pq.ExecStatus.COMMAND_OK
        b.execute("SELECT 2")
        bad = a.pgconn.exec_prepared(b"", [b"not a number"])
        assert bad.status == pq.ExecStatus.FATAL_ERROR
        assert bad.error_field(pq.DiagnosticField.SQLSTATE) == b"22P02"
        ok = a.pgconn.exec_prepared(b"", [b"7"])
        assert ok.get_value(0, 0) == b"7"
