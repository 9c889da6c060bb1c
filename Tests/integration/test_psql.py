"""psql through the proxy: simple and multi-statement queries, COPY both ways, a big result,
errors that leave the session usable, ParameterStatus."""
import secrets

import pytest


@pytest.fixture
def px(proxy):
    return proxy()


@pytest.fixture
def scratch(pg):
    """A fresh table itest.<name>(id int, val text), owned by heal7_app."""
    name = "t_" + secrets.token_hex(4)
    pg.super_exec(f"CREATE TABLE itest.{name} (id int PRIMARY KEY, val text); "
                  f"ALTER TABLE itest.{name} OWNER TO heal7_app")
    yield f"itest.{name}"
    pg.super_exec(f"DROP TABLE IF EXISTS itest.{name}")


def test_simple_query(px):
    out = px.psql("-At", "-c", "SELECT 1 + 41, 'héllo'::text, current_user").stdout
    assert out.strip() == "42|héllo|heal7_app"


def test_multi_statement_string(px, scratch):
    out = px.psql("-At", "-c",
                  f"INSERT INTO {scratch} VALUES (1, 'a'); INSERT INTO {scratch} VALUES (2, 'b'); "
                  f"SELECT count(*) FROM {scratch}; SELECT string_agg(val, ',' ORDER BY id) FROM {scratch}").stdout
    # psql 15 prints the result of every statement of a multi-statement string
    assert out.splitlines() == ["INSERT 0 1", "INSERT 0 1", "2", "a,b"]


def test_multi_statement_error_stops_the_rest(px, scratch):
    # An implicit transaction: the error in the middle rolls back the first INSERT as well.
    p = px.psql("-At", "-c", f"INSERT INTO {scratch} VALUES (1, 'a'); SELECT 1/0; INSERT INTO {scratch} VALUES (2, 'b')",
                check=False)
    assert p.returncode != 0
    assert "division by zero" in p.stderr
    assert px.psql("-At", "-c", f"SELECT count(*) FROM {scratch}").stdout.strip() == "0"


def test_copy_from_stdin(px, scratch):
    rows = "".join(f"{i}\tv{i}\n" for i in range(1, 1001))
    out = px.psql("-At", "-c", f"COPY {scratch} (id, val) FROM STDIN", input=rows).stdout
    assert "COPY 1000" in out
    assert px.psql("-At", "-c", f"SELECT count(*), sum(id), max(val) FROM {scratch}").stdout.strip() == "1000|500500|v999"


def test_backslash_copy_from_file_and_to_stdout(px, scratch, tmp_path):
    src = tmp_path / "in.csv"
    src.write_text("".join(f'{i},"line {i}, with comma"\n' for i in range(1, 501)))
    px.psql("-c", f"\\copy {scratch} FROM '{src}' WITH (FORMAT csv)")
    dst = tmp_path / "out.csv"
    px.psql("-c", f"\\copy (SELECT id, val FROM {scratch} ORDER BY id) TO '{dst}' WITH (FORMAT csv)")
    assert dst.read_text() == src.read_text()


def test_copy_to_stdout(px):
    out = px.psql("-c", "COPY (SELECT g, md5(g::text) FROM generate_series(1, 5000) g) TO STDOUT").stdout
    lines = out.splitlines()
    assert len(lines) == 5000
    assert lines[0].split("\t")[0] == "1" and lines[-1].split("\t")[0] == "5000"
    import hashlib
    assert lines[41].split("\t")[1] == hashlib.md5(b"42").hexdigest()


def test_copy_in_then_out_in_one_session(px, scratch):
    script = (f"COPY {scratch} FROM STDIN;\n" + "".join(f"{i}\tx{i}\n" for i in range(1, 101)) + "\\.\n"
              f"COPY (SELECT sum(id) FROM {scratch}) TO STDOUT;\n"
              "SELECT 'still here';\n")
    out = px.psql("-At", "-f", "-", input=script).stdout
    assert "5050" in out.split()
    assert out.strip().endswith("still here")


def test_large_result_200k_rows(px):
    out = px.psql("-At", "-c", "SELECT g FROM generate_series(1, 200000) g", timeout=120).stdout
    nums = [int(x) for x in out.split()]
    assert len(nums) == 200000
    assert sum(nums) == 200000 * 200001 // 2


def test_error_keeps_session_usable(px):
    script = "SELECT 1/0;\nSELECT * FROM no_such_table_xyz;\nSELECT 40 + 2 AS answer;\n"
    p = px.psql("-At", "-v", "ON_ERROR_STOP=0", "-f", "-", input=script, check=False)
    assert "division by zero" in p.stderr
    assert "no_such_table_xyz" in p.stderr
    assert p.stdout.strip() == "42"


def test_error_inside_transaction_then_rollback(px):
    script = ("BEGIN;\nSELECT 1/0;\nSELECT 1;\nROLLBACK;\nSELECT 'after rollback';\n")
    p = px.psql("-At", "-v", "ON_ERROR_STOP=0", "-f", "-", input=script, check=False)
    assert "division by zero" in p.stderr
    assert "current transaction is aborted" in p.stderr
    assert p.stdout.strip().endswith("after rollback")


def test_parameter_status_server_version(px, pg):
    with pg.super_conn() as c:
        direct_version = c.execute("SHOW server_version").fetchone()[0]
    out = px.psql("-At", "-c", "SHOW server_version", "-c", "\\echo :SERVER_VERSION_NAME",
                  "-c", "\\echo :ENCODING").stdout.splitlines()
    # psql's SERVER_VERSION_NAME comes from the server_version ParameterStatus, ENCODING from client_encoding
    assert out == [direct_version, direct_version, "UTF8"]


def test_parameter_status_in_driver(px, pg):
    with pg.super_conn() as c:
        direct_version = c.execute("SHOW server_version").fetchone()[0]
    with px.connect() as c:
        assert c.info.parameter_status("server_version") == direct_version
        assert c.info.parameter_status("client_encoding") == "UTF8"
        assert c.info.parameter_status("standard_conforming_strings") == "on"
        assert c.info.parameter_status("integer_datetimes") == "on"
        assert c.info.server_version == int(c.execute("SHOW server_version_num").fetchone()[0])
