"""pgbench through the proxy (transaction pooling, pool smaller than the client count).

The bench database was initialised directly (pgbench -i -s 1) by the session fixture."""
import os
import subprocess

import pytest

from conftest import pgbench_command, pgbench_counts


def run_pgbench(px, *args, seconds=3, clients=8):
    env = {**os.environ, "PGPASSWORD": px.app_password}
    cmd = pgbench_command(px.port, *args, seconds=seconds, clients=clients)
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
@pytest.mark.parametrize("script", ["select-only", "tpcb"])
def test_pgbench(proxy, pg, mode, script):
    px = proxy(pool_size=4)
    (before,), = pg.super_exec("SELECT count(*) FROM pgbench_history", dbname="bench")
    args = ["-M", mode] + (["-S"] if script == "select-only" else [])
    p = run_pgbench(px, *args)
    out = p.stdout + p.stderr
    processed, failed = pgbench_counts(p.returncode, out)
    assert processed > 100, out
    assert failed == 0, out
    if script == "tpcb":
        # every TPC-B transaction inserted one history row and committed through the proxy
        (n,), = pg.super_exec("SELECT count(*) FROM pgbench_history", dbname="bench")
        assert n - before >= processed
