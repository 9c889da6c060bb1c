"""Unix-domain sockets on both sides: `listen` with a socket directory (PostgreSQL's `.s.PGSQL.<port>` naming, so
`psql -h DIR -p PORT` finds the proxy), and a backend URL that names the server's socket directory
(`?host=/dir`, libpq's convention)."""
import os
import stat

import psycopg


def test_clients_reach_the_proxy_through_a_socket_directory_and_it_reaches_the_server_through_one(proxy, pg, tmp_path):
    sockdir = tmp_path / "sock"
    sockdir.mkdir()
    backend = f"postgresql://heal7_app@/heal7?host={pg.dir}&port={pg.port}"  # local trust on the server's socket
    px = proxy(listen_extra=[str(sockdir)], service_overrides={"saju_service": {"backend": backend}})
    socket_file = sockdir / f".s.PGSQL.{px.port}"
    assert stat.S_ISSOCK(os.stat(socket_file).st_mode), "the socket takes the TCP address's port"

    # psql over the socket, exactly as against PostgreSQL itself; the query routes through the mapping.
    env = {**os.environ, "PGPASSWORD": px.app_password}
    import subprocess
    from conftest import PSQL
    out = subprocess.run([PSQL, "-X", "-At", "-h", str(sockdir), "-p", str(px.port), "-U", "app", "-d", "saju_service",
                          "-c", "SELECT count(*) >= 0 FROM users", "-c", "SELECT inet_server_addr() IS NULL"],
                         capture_output=True, text=True, env=env, timeout=30)
    assert out.returncode == 0, out.stderr
    # The second answer is the server's: its end of the connection is a Unix socket (no inet address).
    assert out.stdout.split() == ["t", "t"], out.stdout

    # psycopg over the socket too, and TCP still works beside it.
    with psycopg.connect(host=str(sockdir), port=px.port, user="app", password=px.app_password,
                         dbname="saju_service", autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    with px.connect() as c:
        assert c.execute("SELECT 2").fetchone() == (2,)

    px.stop()
    assert not socket_file.exists(), "the socket file is removed at shutdown"
