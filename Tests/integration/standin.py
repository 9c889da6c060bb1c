"""ITEST_STANDIN=pgbouncer: run PgBouncer with a config equivalent to a schemaproxy test config.

Only for checking the harness while the proxy is not ready. PgBouncer does no schema routing, and
its SQLSTATEs and messages differ; those tests are expected to fail against it.
"""
from __future__ import annotations

import math
import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path
from urllib.parse import urlparse

import pytest

from conftest import PG, Proxy, wait_accepting


def _secs(d: str) -> int:
    m = re.fullmatch(r"(\d+)(ms|s|m|h)", d)
    assert m, d
    n, unit = int(m.group(1)), m.group(2)
    return max(1, math.ceil(n * {"ms": 0.001, "s": 1, "m": 60, "h": 3600}[unit]))


def start_pgbouncer(pg: PG, cfg: dict, _unused: Path, app_pw: str, admin_pw: str, env: dict) -> Proxy:
    exe = shutil.which("pgbouncer") or "/usr/sbin/pgbouncer"
    d = Path(tempfile.mkdtemp(prefix="itest-pgbouncer.", dir="/tmp"))
    port = int(cfg["listen"].rsplit(":", 1)[1])
    dbs = []
    for name, svc in cfg["services"].items():
        u = urlparse(svc["backend"].replace("${ITEST_DB_PASSWORD}", env["ITEST_DB_PASSWORD"]))
        line = (f"{name} = host={u.hostname} port={u.port} dbname={u.path.lstrip('/')} "
                f"user={u.username} password={u.password}")
        if "pool_size" in svc:
            line += f" pool_size={svc['pool_size']}"
        if "pool_mode" in svc:
            line += f" pool_mode={svc['pool_mode']}"
        dbs.append(line)
    defaults = cfg["defaults"]
    ini = [
        "[databases]", *dbs, "",
        "[pgbouncer]",
        "listen_addr = 127.0.0.1",
        f"listen_port = {port}",
        "unix_socket_dir =",
        f"auth_type = {cfg['auth']['method']}",
        f"auth_file = {d}/userlist.txt",
        f"pool_mode = {defaults['pool_mode']}",
        f"default_pool_size = {defaults['pool_size']}",
        f"max_client_conn = {cfg['max_client_connections']}",
        f"query_wait_timeout = {_secs(defaults['checkout_timeout'])}",
        "admin_users = admin",
        "ignore_startup_parameters = extra_float_digits,options,statement_timeout",
        f"pidfile = {d}/pgbouncer.pid",
        "server_reset_query = DISCARD ALL",
    ]
    if "login_timeout" in cfg:
        ini.append(f"client_login_timeout = {_secs(cfg['login_timeout'])}")
    (d / "pgbouncer.ini").write_text("\n".join(ini) + "\n")
    (d / "userlist.txt").write_text(f'"app" "{app_pw}"\n"admin" "{admin_pw}"\n')
    err_path = d / "stderr"
    kw = {}
    if os.getuid() == 0:
        pw = pwd.getpwnam("postgres")
        for p in (d, *d.iterdir()):
            os.chown(p, pw.pw_uid, pw.pw_gid)
        kw = dict(user=pw.pw_uid, group=pw.pw_gid, extra_groups=[])
    errf = open(err_path, "wb")
    proc = subprocess.Popen([exe, str(d / "pgbouncer.ini")], stdin=subprocess.DEVNULL, stdout=errf,
                            stderr=errf, env=env, cwd=d, **kw)
    errf.close()
    p = Proxy("pgbouncer", port, 0, d / "pgbouncer.ini", cfg, proc, err_path, app_pw, admin_pw,
              extra_stop=[lambda: shutil.rmtree(d, ignore_errors=True)])
    try:
        wait_accepting(port, proc)
    except RuntimeError as e:
        pytest.fail(f"{e}\n{p.stderr_text()}")
    return p
