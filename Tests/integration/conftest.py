"""Fixtures for schemaproxy's integration tests.

- `pg` (session): a throwaway PostgreSQL 15 (scripts/lib.sh) with the heal7 example, a role
  heal7_md5 (md5 server auth), a scratch schema `itest`, and a pgbench database `bench`.
- `proxy` (function): a factory; `proxy(pool_size=1, auth="trust", ...)` writes a config YAML,
  starts the binary on free ports, waits until it accepts connections, and stops it at teardown
  (SIGTERM, then kill). Its stderr is attached to the report of a failing test.

The binary is $SCHEMAPROXY_BIN, else .build/release/schemaproxy. With ITEST_STANDIN=pgbouncer the
factory starts PgBouncer with an equivalent config instead (to exercise the harness; tests of
schema routing and exact SQLSTATEs are expected to fail there).
"""
from __future__ import annotations

import asyncio
import copy
import json
import os
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import asyncpg
import psycopg
import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
LIB = ROOT / "scripts" / "lib.sh"
DEPLOY = ROOT / "deploy"
PG_BIN = Path(os.environ.get("PG_BIN", "/usr/lib/postgresql/15/bin"))
PSQL = str(PG_BIN / "psql")
PGBENCH = str(PG_BIN / "pgbench")
STANDIN = os.environ.get("ITEST_STANDIN", "")

HEAL7_SCHEMAS_SAJU = {"shared_common": ["users", "attachments"], "saju_service": ["saju_charts", "kasi_cache"]}
HEAL7_SCHEMAS_DREAM = {"shared_common": ["users", "attachments"], "dream_service": ["dreams", "dream_interpretations"]}

PROXIES_KEY = pytest.StashKey[list]()


class NoAliasDumper(yaml.SafeDumper):
    """Writes shared objects out in full: no YAML anchors or aliases in generated config files."""

    def ignore_aliases(self, data):
        return True


def free_port() -> int:
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: the sockets stay bound until all are chosen (one at a time, the kernel may hand
    out the port it just took back)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for s in sockets:
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def lib(cmd: str, env: dict | None = None) -> subprocess.CompletedProcess:
    """Run `cmd` in bash with scripts/lib.sh sourced; raise with its output on failure."""
    p = subprocess.run(
        ["bash", "-c", f". {LIB}; set -euo pipefail; {cmd}"],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, timeout=300,
    )
    if p.returncode != 0:
        raise RuntimeError(f"lib.sh `{cmd}` failed ({p.returncode}):\n{p.stdout}\n{p.stderr}")
    return p


def wait_until(pred, timeout: float, interval: float = 0.05, what: str = "condition"):
    """Poll pred() until it returns a truthy value (returned) or the timeout passes (AssertionError)."""
    deadline = time.monotonic() + timeout
    while True:
        v = pred()
        if v:
            return v
        if time.monotonic() >= deadline:
            raise AssertionError(f"timed out after {timeout}s waiting for {what}")
        time.sleep(interval)


def http_get(port: int, path: str) -> tuple[int, str]:
    """(status, body) of GET http://127.0.0.1:port/path; (0, "") when nothing listens."""
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}{path}", timeout=5) as r:
            return r.status, r.read().decode()
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()
    except (urllib.error.URLError, ConnectionError):
        return 0, ""  # not listening (any more)


def metric(text: str, name: str, **labels) -> float | None:
    """Value of the first sample of `name` whose labels include `labels`."""
    for line in text.splitlines():
        if line.startswith("#"):
            continue
        m = re.match(r"([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)", line)
        if not m or m.group(1) != name:
            continue
        got = dict(re.findall(r'(\w+)="([^"]*)"', m.group(2) or ""))
        if all(got.get(k) == v for k, v in labels.items()):
            return float(m.group(3))
    return None


def connect_error(url: str, timeout: float = 15) -> asyncpg.PostgresError:
    """Connect with asyncpg (it parses the ErrorResponse of a failed startup) and return the error."""
    async def main():
        try:
            c = await asyncpg.connect(url, statement_cache_size=0, timeout=timeout)
        except asyncpg.PostgresError as e:
            return e
        await c.close()
        return None
    err = asyncio.run(main())
    assert err is not None, f"connecting to {url} unexpectedly succeeded"
    return err


def dashboard_queries() -> list[str]:
    """The PromQL of every panel of deploy/grafana-dashboard.json (with Grafana's $variables)."""
    dash = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    return [t["expr"] for p in dash["panels"] for t in p.get("targets", [])]


def pgbench_command(port: int, *args: str, seconds: int = 3, clients: int = 8, user: str = "app",
                    dbname: str = "bench") -> list[str]:
    return [PGBENCH, "-n", "-T", str(seconds), "-c", str(clients), "-j", "2",
            "-h", "127.0.0.1", "-p", str(port), "-U", user, *args, dbname]


def pgbench_counts(returncode: int, out: str) -> tuple[int, int]:
    """(processed, failed) transactions of a finished pgbench run; AssertionError (with the output) unless it
    exited 0 and printed both counts."""
    assert returncode == 0, f"pgbench exited {returncode}:\n{out}"
    processed = re.search(r"number of transactions actually processed: (\d+)", out)
    failed = re.search(r"number of failed transactions: (\d+)", out)
    assert processed and failed, f"pgbench printed no transaction counts:\n{out}"
    return int(processed.group(1)), int(failed.group(1))


# --------------------------------------------------------------------------- PostgreSQL

@dataclass
class PG:
    dir: str
    port: int
    app_password: str          # heal7_app
    md5_password: str          # heal7_md5
    bench_password: str        # bench_user

    def super_conn(self, dbname: str = "heal7") -> psycopg.Connection:
        """Superuser connection over the cluster's unix socket (autocommit)."""
        return psycopg.connect(host=self.dir, port=self.port, user="postgres", dbname=dbname, autocommit=True)

    def super_exec(self, sql: str, dbname: str = "heal7", params=None):
        with self.super_conn(dbname) as c:
            cur = c.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def app_conn(self, **kw) -> psycopg.Connection:
        """heal7_app directly on PostgreSQL (no proxy)."""
        return psycopg.connect(host="127.0.0.1", port=self.port, user="heal7_app",
                               password=self.app_password, dbname="heal7", **kw)

    def backends(self, role: str = "heal7_app", db: str = "heal7") -> int:
        (n,), = self.super_exec(
            "SELECT count(*) FROM pg_stat_activity WHERE usename = %s AND datname = %s "
            "AND backend_type = 'client backend'", params=(role, db))
        return n

    def wait_no_backends(self, role: str = "heal7_app", db: str = "heal7", timeout: float = 15):
        wait_until(lambda: self.backends(role, db) == 0, timeout, what=f"no backends of {role} in {db}")


@pytest.fixture(scope="session")
def pg():
    d = tempfile.mkdtemp(prefix="schemaproxy-itest-pg.", dir="/tmp")
    os.rmdir(d)  # pg_start creates it with the right owner
    app_pw, md5_pw, bench_pw = (secrets.token_hex(10) for _ in range(3))
    lib(f"pg_start {d}")
    try:
        port = int(next(line.split("=", 1)[1] for line in Path(d, "pg.env").read_text().splitlines()
                        if line.startswith("PG_PORT=")))
        env = {"PG_DIR": d, "PG_PORT": str(port)}
        lib(f"pg_load_heal7 {app_pw}", env)
        lib(f"pg_create_bench {bench_pw} 1", env)
        pgi = PG(d, port, app_pw, md5_pw, bench_pw)
        with pgi.super_conn("heal7") as c:
            c.execute("SET password_encryption = 'md5'")
            c.execute(f"CREATE ROLE heal7_md5 LOGIN PASSWORD '{md5_pw}'")
            c.execute("ALTER ROLE heal7_md5 SET search_path = pg_catalog")
            c.execute("GRANT CONNECT, TEMPORARY ON DATABASE heal7 TO heal7_md5")
            c.execute("GRANT USAGE ON SCHEMA shared_common, saju_service, dream_service TO heal7_md5")
            c.execute("GRANT SELECT ON ALL TABLES IN SCHEMA shared_common, saju_service, dream_service TO heal7_md5")
            c.execute("CREATE SCHEMA itest AUTHORIZATION heal7_app")
            c.execute("GRANT USAGE, CREATE ON SCHEMA itest TO heal7_md5")
            (stored,), = c.execute("SELECT rolpassword FROM pg_authid WHERE rolname = 'heal7_md5'").fetchall()
            assert stored.startswith("md5"), "heal7_md5 must have an md5 verifier"
        yield pgi
    finally:
        lib(f"pg_stop {d}")


# --------------------------------------------------------------------------- proxy

@dataclass
class Proxy:
    name: str
    port: int
    metrics_port: int
    config_path: Path
    config: dict
    proc: subprocess.Popen
    stderr_path: Path
    app_password: str
    admin_password: str
    extra_stop: list = field(default_factory=list)

    def url(self, service: str = "saju_service", user: str = "app", password: str | None = None, **params) -> str:
        pw = self.app_password if password is None else password
        q = "&".join(f"{k}={v}" for k, v in params.items())
        return f"postgresql://{user}:{pw}@127.0.0.1:{self.port}/{service}" + (f"?{q}" if q else "")

    def kw(self, service: str = "saju_service", user: str = "app", password: str | None = None) -> dict:
        return dict(host="127.0.0.1", port=self.port, user=user, dbname=service,
                    password=self.app_password if password is None else password)

    def connect(self, service: str = "saju_service", autocommit: bool = True, **kw) -> psycopg.Connection:
        args = self.kw(service)
        args.update(kw)
        return psycopg.connect(autocommit=autocommit, connect_timeout=10, **args)

    def psql(self, *args: str, service: str = "saju_service", input: str | None = None,
             timeout: float = 60, check: bool = True, **params) -> subprocess.CompletedProcess:
        cmd = [PSQL, "-X", "-v", "ON_ERROR_STOP=1", self.url(service, **params), *args]
        p = subprocess.run(cmd, input=input, capture_output=True, text=True, timeout=timeout)
        if check and p.returncode != 0:
            raise AssertionError(f"psql {args} exited {p.returncode}\nstdout:\n{p.stdout}\nstderr:\n{p.stderr}")
        return p

    def alive(self) -> bool:
        return self.proc.poll() is None

    def metrics(self) -> str:
        status, body = http_get(self.metrics_port, "/metrics")
        assert status == 200, f"/metrics answered {status}"
        return body

    def reload_count(self, result: str) -> float:
        return metric(self.metrics(), "schemaproxy_config_reloads_total", result=result) or 0

    def write_config(self, cfg: dict | str) -> None:
        """Replaces the config file atomically (as a ConfigMap update does), so a reload never reads half a file."""
        tmp = self.config_path.with_suffix(".tmp")
        tmp.write_text(cfg if isinstance(cfg, str) else yaml.dump(cfg, Dumper=NoAliasDumper, sort_keys=False))
        os.replace(tmp, self.config_path)

    def reload(self, cfg: dict | str | None = None) -> None:
        """Writes `cfg` (if given) and sends SIGHUP; the reload happens asynchronously."""
        if cfg is not None:
            self.write_config(cfg)
        self.proc.send_signal(signal.SIGHUP)

    def admin_rows(self, command: str) -> list[dict]:
        """Rows of an admin console command (SHOW ...) as dicts."""
        with psycopg.connect(self.url("schemaproxy", user="admin", password=self.admin_password),
                             autocommit=True, connect_timeout=10) as a:
            cur = a.execute(command)
            cols = [d.name for d in cur.description]
            return [dict(zip(cols, r)) for r in cur.fetchall()]

    def pools(self) -> dict:
        """SHOW POOLS by service name."""
        return {r["service"]: r for r in self.admin_rows("SHOW POOLS")}

    def stderr_text(self, limit: int = 20000) -> str:
        try:
            data = self.stderr_path.read_text(errors="replace")
        except OSError:
            return ""
        return data[-limit:]

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        for f in self.extra_stop:
            f()


def build_config(pg: PG, port: int, metrics_port: int, app_pw: str, admin_pw: str, *,
                 pool_mode: str = "transaction", pool_size: int = 4, auth: str = "scram-sha-256",
                 checkout_timeout: str = "5s", max_client_connections: int | None = None,
                 login_timeout: str | None = None, workers: int | None = None,
                 services: dict | None = None, service_overrides: dict | None = None,
                 defaults_extra: dict | None = None, top_extra: dict | None = None,
                 listen_extra: list | None = None) -> dict:
    backend_app = f"postgresql://heal7_app:${{ITEST_DB_PASSWORD}}@127.0.0.1:{pg.port}/heal7"
    if services is None:
        services = {
            "saju_service": {"backend": backend_app, "schemas": HEAL7_SCHEMAS_SAJU},
            "dream_service": {"backend": backend_app, "schemas": HEAL7_SCHEMAS_DREAM},
            "saju_md5": {"backend": f"postgresql://heal7_md5:{pg.md5_password}@127.0.0.1:{pg.port}/heal7",
                         "schemas": HEAL7_SCHEMAS_SAJU},
            "bench": {"backend": f"postgresql://bench_user:{pg.bench_password}@127.0.0.1:{pg.port}/bench"},
        }
    services = copy.deepcopy(services)  # no shared objects: keeps YAML anchors/aliases out of the file
    for name, extra in (service_overrides or {}).items():
        services[name] = {**services[name], **extra}
    cfg: dict = {
        "listen": [f"127.0.0.1:{port}", *listen_extra] if listen_extra else f"127.0.0.1:{port}",
        "metrics_listen": f"127.0.0.1:{metrics_port}",
        "shutdown_timeout": "2s",
        "max_client_connections": max_client_connections or 300,
        "admin": {"database": "schemaproxy", "users": ["admin"]},
        "auth": {"method": auth, "users": {"app": "${ITEST_APP_PASSWORD}", "admin": admin_pw}},
        "defaults": {"pool_mode": pool_mode, "pool_size": pool_size, "checkout_timeout": checkout_timeout,
                     **(defaults_extra or {})},
        "services": services,
    }
    if login_timeout is not None:
        cfg["login_timeout"] = login_timeout
    if workers is not None:
        cfg["workers"] = workers
    cfg.update(top_extra or {})
    return cfg


def schemaproxy_bin() -> str:
    b = os.environ.get("SCHEMAPROXY_BIN") or str(ROOT / ".build" / "release" / "schemaproxy")
    if not os.access(b, os.X_OK):
        pytest.fail(f"schemaproxy binary not found at {b} (set SCHEMAPROXY_BIN or run swift build -c release)")
    return b


def wait_accepting(port: int, proc: subprocess.Popen, timeout: float = 30) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"proxy exited with status {proc.returncode} before listening")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"proxy not accepting connections on {port} after {timeout}s")


@pytest.fixture
def proxy(request, pg, tmp_path):
    started: list[Proxy] = []
    request.node.stash[PROXIES_KEY] = started

    def start(binary: str | None = None, **opts) -> Proxy:
        """`binary`: run this executable instead of schemaproxy_bin(); the other options go to build_config."""
        port, mport = free_ports(2)
        app_pw, admin_pw = secrets.token_hex(8), secrets.token_hex(8)
        cfg = build_config(pg, port, mport, app_pw, admin_pw, **opts)
        n = len(started)
        cfg_path = tmp_path / f"proxy{n}.yaml"
        err_path = tmp_path / f"proxy{n}.stderr"
        env = {**os.environ, "ITEST_DB_PASSWORD": pg.app_password, "ITEST_APP_PASSWORD": app_pw}
        if STANDIN == "pgbouncer":
            from standin import start_pgbouncer
            p = start_pgbouncer(pg, cfg, tmp_path / f"pgbouncer{n}", app_pw, admin_pw, env)
            started.append(p)
            return p
        cfg_path.write_text(yaml.safe_dump(cfg, sort_keys=False))
        errf = open(err_path, "wb")
        proc = subprocess.Popen([binary or schemaproxy_bin(), "--config", str(cfg_path)], stdin=subprocess.DEVNULL,
                                stdout=errf, stderr=errf, env=env, cwd=tmp_path)
        errf.close()
        p = Proxy(f"proxy{n}", port, mport, cfg_path, cfg, proc, err_path, app_pw, admin_pw)
        started.append(p)
        try:
            wait_accepting(port, proc)
        except RuntimeError as e:
            pytest.fail(f"{e}\nconfig:\n{cfg_path.read_text()}\nstderr:\n{p.stderr_text()}")
        return p

    yield start
    for p in started:
        p.stop()


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    if rep.failed:
        for p in item.stash.get(PROXIES_KEY, []):
            rep.sections.append((f"{p.name} stderr (exit {p.proc.poll()})", p.stderr_text() or "(empty)"))
            rep.sections.append((f"{p.name} config", p.config_path.read_text() if p.config_path.exists() else ""))


def pytest_report_header(config):
    if STANDIN:
        return f"schemaproxy integration tests against STAND-IN {STANDIN}"
    return f"schemaproxy integration tests against {os.environ.get('SCHEMAPROXY_BIN') or ROOT / '.build/release/schemaproxy'}"


def have(cmd: str) -> bool:
    return shutil.which(cmd) is not None


def under_ci() -> bool:
    return os.environ.get("CI", "").lower() in ("true", "1", "yes")


def required_tool(cmd: str, package: str) -> str:
    """The path of `cmd`, which a test needs. Missing, the test is skipped (with the reason in pytest's summary),
    except under CI=true: there scripts/test.sh has installed every such tool, so a missing one is a broken
    install that must fail the run, not a test that passes by not running."""
    path = shutil.which(cmd)
    if path is None:
        why = f"{cmd} is not installed (Debian package {package}; scripts/test.sh installs it)"
        if under_ci():
            pytest.fail(f"{why}; under CI a test that needs it fails instead of being skipped", pytrace=False)
        pytest.skip(why)
    return path


# --------------------------------------------------------------------------- extra clusters (fault tests)

@dataclass
class Cluster:
    """A throwaway PostgreSQL 15 of its own (scripts/lib.sh `pg_start`), for tests that stop, restart or promote
    a server, so the session's `pg` is never disturbed. pg_ctl runs as the postgres user (lib.sh `as_pg`)."""
    dir: str
    port: int

    @property
    def data(self) -> str:
        return f"{self.dir}/data"

    def pg_ctl(self, action: str, timeout: int = 60) -> None:
        lib(f'as_pg "$PG_BIN/pg_ctl" -D {self.data} -l {self.dir}/postgres.log -w -t {timeout} -s {action}')

    def stop(self) -> None:
        self.pg_ctl("-m fast stop")

    def start(self) -> None:
        self.pg_ctl("start")

    def restart(self) -> None:
        self.pg_ctl("-m fast restart")

    def promote(self) -> None:
        self.pg_ctl("promote")

    def is_running(self) -> bool:
        return Path(self.data, "postmaster.pid").exists()

    def conn(self, dbname: str = "postgres") -> psycopg.Connection:
        """Superuser connection over the cluster's unix socket (autocommit)."""
        return psycopg.connect(host=self.dir, port=self.port, user="postgres", dbname=dbname, autocommit=True,
                               connect_timeout=10)

    def exec(self, sql: str, dbname: str = "postgres", params=None):
        with self.conn(dbname) as c:
            cur = c.execute(sql, params)
            return cur.fetchall() if cur.description else None

    def env(self) -> dict:
        return {"PG_DIR": self.dir, "PG_PORT": str(self.port)}


def start_cluster() -> Cluster:
    d = tempfile.mkdtemp(prefix="schemaproxy-itest-pg.", dir="/tmp")
    os.rmdir(d)  # pg_start creates it with the right owner
    lib(f"pg_start {d}")
    port = int(next(line.split("=", 1)[1] for line in Path(d, "pg.env").read_text().splitlines()
                    if line.startswith("PG_PORT=")))
    return Cluster(d, port)


def start_standby(primary: Cluster) -> Cluster:
    """A streaming standby of `primary` (pg_basebackup -R over the primary's unix socket), on a port of its own."""
    lib(f'grep -q "^local replication" {primary.data}/pg_hba.conf '
        f'|| echo "local replication all trust" | as_pg tee -a {primary.data}/pg_hba.conf >/dev/null')
    primary.pg_ctl("reload")
    d = tempfile.mkdtemp(prefix="schemaproxy-itest-standby.", dir="/tmp")
    port = free_port()
    lib(f"chmod 700 {d}; if is_root; then chown postgres:postgres {d}; fi; "
        f'as_pg "$PG_BIN/pg_basebackup" -D {d}/data -h {primary.dir} -p {primary.port} -U postgres -R -X stream -c fast; '
        f"printf \"\\nport = {port}\\nunix_socket_directories = '{d}'\\n\" | as_pg tee -a {d}/data/postgresql.conf >/dev/null")
    standby = Cluster(d, port)
    standby.start()
    return standby


def remove_cluster(cluster: Cluster) -> None:
    lib(f"pg_stop {cluster.dir}")


@pytest.fixture
def clusters():
    """Factory: `clusters()` starts an extra throwaway PostgreSQL, `clusters(standby_of=c)` a streaming standby of
    `c`. All of them are stopped and removed at teardown."""
    made: list[Cluster] = []

    def make(standby_of: Cluster | None = None) -> Cluster:
        c = start_standby(standby_of) if standby_of else start_cluster()
        made.append(c)
        return c

    yield make
    for c in reversed(made):
        remove_cluster(c)
