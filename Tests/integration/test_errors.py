"""Errors a client must see with the contract's SQLSTATEs: authentication, unknown service,
too many clients, pool exhausted, backend unreachable."""
import threading
import time

import asyncpg
import psycopg
import pytest

from conftest import connect_error, free_port, wait_until


def query_error(px):
    """Connect and run SELECT 1 as a second client; return (error with .sqlstate, seconds taken).

    The error may come at startup (the proxy wants a server connection before AuthenticationOk /
    ReadyForQuery) or at the query; psycopg reports the SQLSTATE of an ErrorResponse to a query,
    asyncpg the one of an ErrorResponse during startup."""
    t0 = time.monotonic()
    try:
        c = psycopg.connect(px.url(), connect_timeout=15, autocommit=True)
    except psycopg.OperationalError:
        return connect_error(px.url()), time.monotonic() - t0
    try:
        c.execute("SELECT 1")
    except psycopg.Error as e:
        return e, time.monotonic() - t0
    finally:
        c.close()
    return None, time.monotonic() - t0


@pytest.mark.parametrize("method", ["scram-sha-256", "md5"])
def test_wrong_password(proxy, method):
    px = proxy(auth=method)
    err = connect_error(px.url(password="wrong-password"))
    assert err.sqlstate == "28P01", repr(err)
    assert isinstance(err, asyncpg.exceptions.InvalidPasswordError)
    # The log line names the user who failed.
    wait_until(lambda: "authentication failed" in px.stderr_text(), 5, what="the failed login's log line")
    line = next(l for l in px.stderr_text().splitlines() if "authentication failed" in l)
    assert "user=app" in line, line
    # and the right one works, with the same method
    with px.connect() as c:
        assert c.execute("SELECT 1").fetchone() == (1,)


@pytest.mark.parametrize("method", ["scram-sha-256", "md5"])
def test_unknown_user(proxy, method):
    px = proxy(auth=method)
    err = connect_error(px.url(user="nobody", password="whatever"))
    assert err.sqlstate in ("28P01", "28000"), repr(err)


def test_auth_methods_with_psql(proxy):
    for method in ("scram-sha-256", "md5", "trust"):
        px = proxy(auth=method)
        out = px.psql("-At", "-c", f"SELECT 'ok via {method}'").stdout.strip()
        assert out == f"ok via {method}"
        px.stop()


def test_unknown_database(proxy):
    px = proxy()
    err = connect_error(px.url(service="no_such_service"))
    assert err.sqlstate == "3D000", repr(err)
    assert isinstance(err, asyncpg.exceptions.InvalidCatalogNameError)


def test_max_client_connections(proxy):
    px = proxy(max_client_connections=3)
    held = [px.connect() for _ in range(3)]
    try:
        for c in held:
            assert c.execute("SELECT 1").fetchone() == (1,)
        err = connect_error(px.url())
        assert err.sqlstate == "53300", repr(err)
        assert isinstance(err, asyncpg.exceptions.TooManyConnectionsError)
        # the held clients are unaffected
        assert held[0].execute("SELECT 2").fetchone() == (2,)
    finally:
        held.pop().close()
    # a slot is free again: a new client gets in (poll: the proxy learns of the close asynchronously)
    deadline = time.monotonic() + 5
    while True:
        try:
            with px.connect() as c:
                assert c.execute("SELECT 3").fetchone() == (3,)
            break
        except psycopg.OperationalError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)
    for c in held:
        c.close()


def test_pool_exhausted_checkout_timeout(proxy, pg):
    px = proxy(pool_size=1, checkout_timeout="500ms")
    holder = px.connect(autocommit=False)
    try:
        holder.execute("SELECT 1")  # inside a transaction: the only server connection is lent out

        err, elapsed = query_error(px)
        assert err is not None, "a second client got a server connection although pool_size=1 was in use"
        assert err.sqlstate in ("08006", "57P03"), repr(err)
        assert "saju_service" in str(err), f"message does not name the service: {err}"
        assert 0.4 <= elapsed < 5, elapsed
        # the holder's transaction is still fine, and after it ends the pool serves others again
        assert holder.execute("SELECT 5").fetchone() == (5,)
        holder.commit()
        with px.connect() as c:
            assert c.execute("SELECT 6").fetchone() == (6,)
    finally:
        holder.close()


@pytest.mark.parametrize("waiting_statement", ["SET application_name = 'waited'", "DEALLOCATE ALL"])
def test_a_session_command_that_waited_in_vain_is_not_run_later(proxy, waiting_statement):
    """Transaction pooling: a session command (it waits for a server connection before it is relayed) that gets
    the checkout_timeout error is answered once and dropped. It used to stay queued and run before the client's
    next statement, whose reply then answered the wrong query."""
    px = proxy(pool_size=1, checkout_timeout="500ms", pool_mode="transaction")
    holder = px.connect(autocommit=False)
    try:
        holder.execute("SELECT 1")  # the only server connection is lent out
        with px.connect() as c:
            with pytest.raises(psycopg.OperationalError) as info:
                c.execute(waiting_statement)
            assert info.value.sqlstate in ("08006", "57P03"), repr(info.value)
            holder.commit()
            # The client is in step: each query gets its own answer.
            assert c.execute("SELECT 7").fetchone() == (7,)
            assert c.execute("SELECT current_setting('application_name')").fetchone() != ("waited",)
            assert c.execute("SELECT 8").fetchone() == (8,)
    finally:
        holder.close()


def test_backend_unreachable(proxy, pg):
    dead = free_port()  # nothing listens there
    px = proxy(checkout_timeout="3s", services={
        "saju_service": {"backend": f"postgresql://heal7_app:x@127.0.0.1:{dead}/heal7",
                         "retry": {"attempts": 2, "initial_backoff": "50ms", "max_backoff": "100ms"}},
    })
    err, elapsed = query_error(px)
    assert err is not None
    assert err.sqlstate in ("08006", "57P03"), repr(err)
    assert "saju_service" in str(err)
    assert elapsed < 15
    assert px.alive()


def test_errors_do_not_take_the_proxy_down(proxy):
    px = proxy(pool_size=2)
    results = []

    def bad():
        for url in (px.url(password="nope"), px.url(service="nope")):
            try:
                psycopg.connect(url, connect_timeout=5).close()
                results.append("connected")
            except psycopg.OperationalError:
                results.append("refused")

    ts = [threading.Thread(target=bad) for _ in range(10)]
    for t in ts:
        t.start()
    for t in ts:
        t.join(30)
    assert results == ["refused"] * 20
    with px.connect() as c:
        assert c.execute("SELECT 'alive'").fetchone() == ("alive",)
