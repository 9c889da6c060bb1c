#!/usr/bin/env python3
"""Memory per idle client: N clients log in (trust) and stay idle; the proxy's RSS is read from /proc before and
after, then every client runs SELECT 1 (all must answer). Side by side for schemaproxy and PgBouncer.

    python3 benchmarks/idle_clients.py [--clients 10000] [--no-pgbouncer] [--binary PATH]

Starts its own throwaway PostgreSQL 15 (scripts/lib.sh) and proxies on free ports of 127.0.0.1; prints one line per
proxy: clients, RSS before, after, KiB per client, how many answered. Bounded: each phase times out.
"""
import argparse
import asyncio
import os
import resource
import secrets
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def lib(cmd: str) -> str:
    return subprocess.run(["bash", "-c", f". {ROOT}/scripts/lib.sh; {cmd}"], check=True, capture_output=True,
                          text=True).stdout


def free_port() -> int:
    return int(lib("free_port").strip())


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise RuntimeError("no VmRSS")


def startup(user: str, database: str) -> bytes:
    body = struct.pack("!I", 196608) + f"user\0{user}\0database\0{database}\0\0".encode()
    return struct.pack("!I", len(body) + 4) + body


async def read_until_ready(reader: asyncio.StreamReader) -> bytes:
    kinds = b""
    while True:
        header = await reader.readexactly(5)
        kind, length = header[:1], struct.unpack("!I", header[1:])[0]
        await reader.readexactly(length - 4)
        kinds += kind
        if kind == b"E":
            raise RuntimeError("error from the proxy")
        if kind == b"Z":
            return kinds


async def login(port: int, database: str):
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(startup("bench_user", database))
    await writer.drain()
    await read_until_ready(reader)
    return reader, writer


async def measure(name: str, port: int, pid: int, clients: int, database: str) -> str:
    warm = await login(port, database)  # the first login allocates what every later one shares
    warm[1].write(b"Q" + struct.pack("!I", 13) + b"SELECT 1\0")
    await read_until_ready(warm[0])
    await asyncio.sleep(0.5)
    before = rss_kib(pid)
    conns = []
    started = time.monotonic()
    for first in range(0, clients, 250):
        batch = await asyncio.wait_for(
            asyncio.gather(*(login(port, database) for _ in range(first, min(clients, first + 250)))), 120)
        conns.extend(batch)
    login_seconds = time.monotonic() - started
    await asyncio.sleep(1)
    after = rss_kib(pid)
    per_client = (after - before) / clients

    async def query(conn) -> bool:
        reader, writer = conn
        writer.write(b"Q" + struct.pack("!I", 13) + b"SELECT 1\0")
        kinds = await read_until_ready(reader)
        return kinds.endswith(b"CZ")

    answered = 0
    for first in range(0, len(conns), 500):
        results = await asyncio.wait_for(asyncio.gather(*(query(c) for c in conns[first:first + 500])), 120)
        answered += sum(results)
    for _, writer in conns + [warm]:
        writer.close()
    return (f"{name:12} clients {clients:6}  RSS {before / 1024:7.1f} -> {after / 1024:7.1f} MiB  "
            f"{per_client:5.2f} KiB per idle client  logins {clients / login_seconds:7.0f}/s  "
            f"answered SELECT 1: {answered}/{clients}")


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--clients", type=int, default=10000)
    parser.add_argument("--no-pgbouncer", action="store_true")
    parser.add_argument("--binary", default=os.environ.get("SCHEMAPROXY_BIN", str(ROOT / ".build/release/schemaproxy")))
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, 2 * args.clients + 1000)), hard))

    work = Path(tempfile.mkdtemp(prefix="spx-idle-"))
    os.chmod(work, 0o755)
    procs: list[subprocess.Popen] = []
    try:
        env_line = lib(f"pg_start {work}/pg >/dev/null 2>&1; pg_create_bench x >/dev/null; cat {work}/pg/pg.env")
        pg_port = int([l for l in env_line.splitlines() if l.startswith("PG_PORT=")][0].split("=")[1])
        # trust for bench_user over TCP too: the clients' logins should cost the proxies, not the server
        lib(f"as_pg sed -i '1i host all bench_user 127.0.0.1/32 trust' {work}/pg/data/pg_hba.conf && "
            f"as_pg {os.environ.get('PG_BIN', '/usr/lib/postgresql/15/bin')}/pg_ctl -D {work}/pg/data reload -s")
        results = []

        port = free_port()
        cfg = work / "schemaproxy.yaml"
        cfg.write_text(f"""listen: 127.0.0.1:{port}
max_client_connections: {args.clients + 100}
max_pending_logins: {args.clients + 100}
workers: 1
auth:
  method: trust
  users: {{}}
services:
  bench:
    backend: postgresql://bench_user@127.0.0.1:{pg_port}/bench
    pool_size: 20
""")
        proc = subprocess.Popen([args.binary, "--config", str(cfg)], stdout=subprocess.DEVNULL,
                                stderr=open(work / "schemaproxy.log", "wb"), preexec_fn=raise_limit(args.clients))
        procs.append(proc)
        lib(f"wait_for_port {port} 30 {proc.pid}")
        results.append(asyncio.run(measure("schemaproxy", port, proc.pid, args.clients, "bench")))
        print(results[-1], flush=True)

        if not args.no_pgbouncer and shutil.which("pgbouncer"):
            port = free_port()
            ini = work / "pgbouncer.ini"
            ini.write_text(f"""[databases]
bench = host=127.0.0.1 port={pg_port} dbname=bench user=bench_user
[pgbouncer]
listen_addr = 127.0.0.1
listen_port = {port}
unix_socket_dir =
auth_type = trust
auth_file = {work}/userlist.txt
pool_mode = transaction
default_pool_size = 20
max_client_conn = {args.clients + 100}
log_connections = 0
log_disconnections = 0
""")
            (work / "userlist.txt").write_text('"bench_user" ""\n')
            subprocess.run(["chown", "-R", "postgres:postgres", str(work)], check=False)
            cmd = ["pgbouncer", str(ini)]
            if os.geteuid() == 0:
                cmd = ["setpriv", "--reuid=postgres", "--regid=postgres", "--init-groups"] + cmd
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=open(work / "pgbouncer.log", "wb"),
                                    preexec_fn=raise_limit(args.clients))
            procs.append(proc)
            lib(f"wait_for_port {port} 30 {proc.pid}")
            results.append(asyncio.run(measure("pgbouncer", port, proc.pid, args.clients, "bench")))
            print(results[-1], flush=True)
        return 0
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGINT)
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
        lib(f"pg_stop {work}/pg")
        shutil.rmtree(work, ignore_errors=True)


def raise_limit(clients: int):
    def apply():
        soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
        resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, clients + 1000)), hard))
    return apply


if __name__ == "__main__":
    sys.exit(main())
