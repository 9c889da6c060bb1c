"""deploy/: what can be checked here without Docker or Kubernetes.

- the config in the Kubernetes ConfigMap passes `schemaproxy check`, and its ports are the ones the
  Deployment, the probes, the Services and deploy/prometheus.yml use;
- the config-reload sidecar's script, run against a real proxy, sends SIGHUP when the file changes;
- the systemd unit passes `systemd-analyze verify`;
- the Dockerfile's runtime stage installs the package that ships the libpg_query the binary links with;
- the Grafana dashboard queries only metric families the binary exports.
(test_prometheus.py runs the dashboard's queries on a real Prometheus server.)
"""
from __future__ import annotations

import re
import shutil
import secrets
import subprocess

import psycopg
import pytest
import yaml

from conftest import DEPLOY, dashboard_queries, required_tool, schemaproxy_bin, wait_until

def k8s_documents() -> dict[str, list[dict]]:
    by_kind: dict[str, list[dict]] = {}
    for doc in yaml.safe_load_all((DEPLOY / "kubernetes" / "schemaproxy.yaml").read_text()):
        by_kind.setdefault(doc["kind"], []).append(doc)
    return by_kind


def configmap() -> dict:
    (cm,) = k8s_documents()["ConfigMap"]
    return cm["data"]


def test_kubernetes_config_is_valid_and_ports_agree(tmp_path):
    conf = tmp_path / "schemaproxy.yaml"
    conf.write_text(configmap()["schemaproxy.yaml"])
    env = {"PATH": "/usr/bin:/bin", "APP_PASSWORD": "a", "ADMIN_PASSWORD": "b", "DB_PASSWORD": "c"}
    p = subprocess.run([schemaproxy_bin(), "check", "--config", str(conf)], capture_output=True, text=True,
                       env=env, timeout=30)
    assert p.returncode == 0, p.stdout + p.stderr
    cfg = yaml.safe_load(conf.read_text())
    listen_port = int(cfg["listen"].rsplit(":", 1)[1])
    metrics_port = int(cfg["metrics_listen"].rsplit(":", 1)[1])
    assert cfg["listen"].startswith("0.0.0.0:") and cfg["metrics_listen"].startswith("0.0.0.0:")

    docs = k8s_documents()
    (deployment,) = docs["Deployment"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["shareProcessNamespace"] is True  # the sidecar must see the proxy's process
    proxy_c = next(c for c in pod["containers"] if c["name"] == "schemaproxy")
    ports = {p["name"]: p["containerPort"] for p in proxy_c["ports"]}
    assert ports == {"postgres": listen_port, "metrics": metrics_port}
    for probe in ("readinessProbe", "livenessProbe"):
        assert proxy_c[probe]["httpGet"] == {"path": "/health", "port": "metrics"}
    # the grace period covers preStop + shutdown_timeout, so SIGKILL does not cut the drain short
    pre_stop = int(proxy_c["lifecycle"]["preStop"]["exec"]["command"][-1])
    assert pod["terminationGracePeriodSeconds"] > pre_stop + int(cfg["shutdown_timeout"].rstrip("s"))
    services = {s["metadata"]["name"]: s for s in docs["Service"]}
    assert services["schemaproxy"]["spec"]["ports"][0]["targetPort"] == "postgres"
    assert services["schemaproxy-metrics"]["spec"]["clusterIP"] == "None"
    assert services["schemaproxy-metrics"]["spec"]["ports"][0]["port"] == metrics_port
    (hpa,) = docs["HorizontalPodAutoscaler"]
    assert hpa["spec"]["scaleTargetRef"]["name"] == deployment["metadata"]["name"]
    assert "cpu" in proxy_c["resources"]["requests"]  # CPU utilisation is relative to the request
    prom = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    job = next(j for j in prom["scrape_configs"] if j["job_name"] == "schemaproxy-kubernetes")
    assert job["dns_sd_configs"][0]["port"] == metrics_port
    assert job["dns_sd_configs"][0]["names"][0].startswith("schemaproxy-metrics.")


def test_kubernetes_reload_sidecar_sends_sighup_on_change(proxy, tmp_path):
    # a copy of the binary under a name of its own, so the script's `pidof` finds this proxy and no other
    name = "spx-" + secrets.token_hex(4)
    binary = tmp_path / name
    shutil.copy2(schemaproxy_bin(), binary)
    px = proxy(binary=str(binary), pool_size=4)
    script = tmp_path / "reload-on-change.sh"
    script.write_text(configmap()["reload-on-change.sh"])
    out = open(tmp_path / "sidecar.out", "w+")
    env = {"PATH": "/usr/bin:/bin:/usr/sbin:/sbin", "CONFIG_FILE": str(px.config_path), "PROCESS_NAME": name,
           "INTERVAL": "0.2"}
    sidecar = subprocess.Popen(["/bin/sh", str(script)], stdout=out, stderr=subprocess.STDOUT, env=env)
    try:
        wait_until(lambda: "watching" in (tmp_path / "sidecar.out").read_text(), 10, what="the sidecar to start")
        ok = px.reload_count("success")
        cfg = px.config
        cfg["services"]["saju_service"]["pool_size"] = 6
        px.write_config(cfg)  # no SIGHUP from the test: the sidecar must send it
        wait_until(lambda: str(px.pools()["saju_service"]["pool_size"]) == "6", 10, interval=0.1,
                   what="the sidecar's SIGHUP to reload the changed file")
        assert px.reload_count("success") == ok + 1
        assert f"SIGHUP to {name}" in (tmp_path / "sidecar.out").read_text()
        assert sidecar.poll() is None, (tmp_path / "sidecar.out").read_text()
        with psycopg.connect(px.url(), autocommit=True, connect_timeout=10) as c:
            assert c.execute("SELECT count(*) FROM users").fetchone() == (3,)
    finally:
        sidecar.kill()
        sidecar.wait(10)
        out.close()


def test_systemd_unit_verifies(tmp_path):
    analyze = required_tool("systemd-analyze", "systemd")
    text = (DEPLOY / "schemaproxy.service").read_text()
    assert "ExecReload=/bin/kill -HUP $MAINPID" in text
    unit = tmp_path / "schemaproxy.service"
    unit.write_text(text.replace("/usr/local/bin/schemaproxy", schemaproxy_bin()))
    p = subprocess.run([analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60)
    problems = [line for line in (p.stdout + p.stderr).splitlines() if "schemaproxy.service" in line]
    assert p.returncode == 0 and not problems, p.stdout + p.stderr


def test_dockerfile_runtime_has_the_linked_libpg_query():
    ldd = subprocess.run(["ldd", schemaproxy_bin()], capture_output=True, text=True, timeout=30).stdout
    soname = re.search(r"(libpg_query\.so[.\d]*)\s", ldd)
    assert soname, ldd
    owner = subprocess.run(["dpkg", "-S", soname.group(1)], capture_output=True, text=True, timeout=30)
    assert owner.returncode == 0, owner.stderr
    packages = {line.split(":")[0] for line in owner.stdout.splitlines()}
    dockerfile = (DEPLOY / "Dockerfile").read_text()
    runtime_stage = dockerfile.rsplit("\nFROM ", 1)[1]
    assert any(re.search(rf"apt-get install[^\n]*\b{re.escape(pkg)}\b", runtime_stage) for pkg in packages), \
        f"the runtime stage installs none of {packages} (they ship {soname.group(1)})"
    assert "swift build -c release" in dockerfile


def test_grafana_dashboard_uses_exported_metrics(proxy):
    px = proxy()
    with psycopg.connect(px.url(), autocommit=True, connect_timeout=10) as c:
        c.execute("SELECT count(*) FROM users")  # a server connection: backend_up is exported
    exported = {line.split()[2] for line in px.metrics().splitlines() if line.startswith("# TYPE ")}
    used = set()
    for expr in dashboard_queries():
        for name in re.findall(r"\bschemaproxy_\w+", expr):
            family = re.sub(r"_(bucket|sum|count)$", "", name)  # a histogram's series
            used.add(name if name in exported or family not in exported else family)
    assert used <= exported, f"not exported by the binary: {sorted(used - exported)}"
    # and every family the binary exports has a panel
    assert used == {n for n in exported if n.startswith("schemaproxy_")}, sorted(exported - used)
