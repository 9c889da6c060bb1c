"""pgbench through the proxy (transaction pooling, pool smaller than the client count).

The bench database was initialised directly (pgbench -i -s 1) by the session fixture."""
import os
import re
import subprocess

import pytest

from conftest import PGBENCH


def run_pgbench(px, *args, seconds=3, clients=8):
    env = {**os.environ, "PGPASSWORD": px.app_password}
    cmd = [PGBENCH, "-n", "-T", str(seconds), "-c", str(clients), "-j", "2",
           "-h", "127.0.0.1", "-p", str(px.port), "-U", "app", *args, "bench"]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=seconds + 60)
    return p


@pytest.mark.parametrize("mode", ["simple", "extended", "prepared"])
@pytest.mark.parametrize("script", ["select-only", "tpcb"])
def test_pgbench(proxy, pg, mode, script):
    px = proxy(pool_size=4)
    (before,), = pg.super_exec("SELECT count(*) FROM pgbench_history", dbname="bench")
    args = ["-M", mode] + (["-S"] if script == "select-only" else [])
    p = run_pgbench(px, *args)
    out = p.stdout + p.stderr
    assert p.returncode == 0, f"pgbench exited {p.returncode}:\n{out}"
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    assert processed and int(processed.group(1)) > 100, out
    assert failed and int(failed.group(1)) == 0, out
    if script == "tpcb":
        # every TPC-B transaction inserted one history row and committed through the proxy
        (n,), = pg.super_exec("SELECT count(*) FROM pgbench_history", dbname="bench")
        assert n - before >= int(processed.group(1))
