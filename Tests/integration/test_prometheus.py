"""The proxy's /metrics and deploy/'s Prometheus files checked with Prometheus's own tools.

- `promtool check metrics` on a real scrape after real traffic (parse errors and lint problems fail);
- `promtool check config` on deploy/prometheus.yml (which also checks the alert rules it names),
  and `promtool test rules` on the alert rules' unit tests;
- a real Prometheus server scraping the proxy once, queried through its HTTP API.

promtool and prometheus come from Debian's `prometheus` package (scripts/test.sh installs it); the tests
skip only when it is not installed, and fail instead under CI=true.
"""
from __future__ import annotations

import json
import subprocess
import urllib.parse

import psycopg
import psycopg.errors
import pytest
import yaml

from conftest import DEPLOY, dashboard_queries, free_port, http_get, metric, required_tool, wait_until

PROMETHEUS_YML = DEPLOY / "prometheus.yml"
ALERTS_YML = DEPLOY / "prometheus-alerts.yml"
ALERTS_TEST_YML = DEPLOY / "prometheus-alerts.test.yml"

# Every family PRODUCT.md promises, and the metric types they must have.
FAMILIES = {
    "schemaproxy_client_connections": "gauge",
    "schemaproxy_server_connections": "gauge",
    "schemaproxy_queries_total": "counter",
    "schemaproxy_transactions_total": "counter",
    "schemaproxy_query_duration_seconds": "histogram",
    "schemaproxy_checkout_wait_seconds": "histogram",
    "schemaproxy_rewrites_total": "counter",
    "schemaproxy_rewrite_cache_hits_total": "counter",
    "schemaproxy_rewrite_cache_misses_total": "counter",
    "schemaproxy_backend_up": "gauge",
    "schemaproxy_server_connect_errors_total": "counter",
    "schemaproxy_config_reloads_total": "counter",
    "schemaproxy_unmapped_references_total": "counter",
}


def tool(name: str) -> str:
    return required_tool(name, "prometheus")


def run(cmd: list[str], **kw) -> subprocess.CompletedProcess:
    return subprocess.run(cmd, capture_output=True, text=True, timeout=60, **kw)


def metric_types(text: str) -> dict[str, str]:
    return {parts[2]: parts[3] for parts in (line.split() for line in text.splitlines())
            if len(parts) == 4 and parts[:2] == ["#", "TYPE"]}


def test_metrics_pass_promtool_after_traffic(proxy):
    promtool = tool("promtool")
    px = proxy(pool_size=1, checkout_timeout="300ms")
    # Traffic that moves every family: rewrites (rewritten, unchanged, parse error, cache hit),
    # transactions, checkout waits, a checkout failure, a failed reload.
    with px.connect() as c:
        for _ in range(2):
            c.execute("SELECT count(*) FROM users")      # rewritten; the second time from the cache
        c.execute("SELECT 1")                             # unchanged
        with pytest.raises(psycopg.errors.SyntaxError):
            c.execute("SELEC users")                      # parse error, forwarded to the server
        with c.transaction():
            c.execute("SELECT count(*) FROM kasi_cache")
    holder = px.connect(autocommit=False)
    holder.execute("SELECT 1")                            # holds the only server connection
    with px.connect() as waiter:
        with pytest.raises(psycopg.OperationalError):
            waiter.execute("SELECT 2")                    # waits 300ms, then 57P03
    holder.rollback()
    holder.close()
    before = px.reload_count("failure")
    px.reload("services: [not a mapping\n")
    wait_until(lambda: px.reload_count("failure") > before, 10, what="the failed reload to be counted")

    text = px.metrics()
    types = metric_types(text)
    for name, kind in FAMILIES.items():
        assert types.get(name) == kind, f"{name}: TYPE {types.get(name)!r}, expected {kind}"
    assert metric(text, "schemaproxy_rewrites_total", service="saju_service", result="parse_error") >= 1
    assert metric(text, "schemaproxy_checkout_failures_total", service="saju_service") >= 1
    assert metric(text, "schemaproxy_backend_up", service="saju_service") == 1

    p = run([promtool, "check", "metrics"], input=text)
    # promtool exits 1 on a parse error and 3 on lint problems, printing them on stdout/stderr.
    assert p.returncode == 0, f"promtool check metrics exited {p.returncode}:\n{p.stdout}{p.stderr}"


def test_deploy_prometheus_config_and_alert_rules(tmp_path):
    promtool = tool("promtool")
    p = run([promtool, "check", "config", str(PROMETHEUS_YML)])
    assert p.returncode == 0, p.stdout + p.stderr
    # check config also checked the rule files it names; make sure ours is among them
    assert ALERTS_YML.name in p.stdout + p.stderr, p.stdout + p.stderr
    p = run([promtool, "test", "rules", str(ALERTS_TEST_YML)])
    assert p.returncode == 0, p.stdout + p.stderr
    assert "SUCCESS" in p.stdout + p.stderr


def prometheus_api(port: int, query: str) -> tuple[int, dict]:
    status, body = http_get(port, "/api/v1/query?" + urllib.parse.urlencode({"query": query}))
    return status, (json.loads(body) if body.startswith("{") else {})


def prometheus_query(port: int, query: str) -> list[dict]:
    status, answer = prometheus_api(port, query)
    return answer["data"]["result"] if status == 200 else []


def grafana_to_promql(expr: str) -> str:
    """A dashboard query with Grafana's variables replaced as "All" and a one-minute rate interval would be."""
    return (expr.replace("$instance", ".*").replace("$service", ".*")
            .replace("$__rate_interval", "1m").replace("$__range", "1h"))


def test_prometheus_server_scrapes_the_proxy(proxy, tmp_path):
    prometheus = tool("prometheus")
    px = proxy()
    with px.connect() as c:
        c.execute("SELECT count(*) FROM users")  # opens a server connection: backend_up appears
    # deploy/prometheus.yml's static schemaproxy job, pointed at this proxy and scraping every second
    cfg = yaml.safe_load(PROMETHEUS_YML.read_text())
    job = next(j for j in cfg["scrape_configs"] if j["job_name"] == "schemaproxy")
    job["static_configs"] = [{"targets": [f"127.0.0.1:{px.metrics_port}"]}]
    job["scrape_interval"] = "1s"
    cfg["scrape_configs"] = [job]
    cfg["global"]["evaluation_interval"] = "1s"
    cfg["rule_files"] = [str(ALERTS_YML)]
    conf = tmp_path / "prometheus.yml"
    conf.write_text(yaml.safe_dump(cfg))
    port = free_port()
    log = open(tmp_path / "prometheus.log", "wb")
    proc = subprocess.Popen([prometheus, f"--config.file={conf}", f"--storage.tsdb.path={tmp_path / 'data'}",
                             f"--web.listen-address=127.0.0.1:{port}"], stdout=log, stderr=log,
                            stdin=subprocess.DEVNULL, cwd=tmp_path)
    log.close()
    try:
        def backend_up():
            assert proc.poll() is None, (tmp_path / "prometheus.log").read_text()[-3000:]
            return prometheus_query(port, 'schemaproxy_backend_up{service="saju_service"}')
        result = wait_until(backend_up, 30, interval=0.5, what="Prometheus to have scraped backend_up")
        assert result[0]["value"][1] == "1", result
        assert result[0]["metric"]["job"] == "schemaproxy"
        up = prometheus_query(port, 'up{job="schemaproxy"}')
        assert up and up[0]["value"][1] == "1", up
        # the alert rules loaded and evaluate without errors
        status, body = http_get(port, "/api/v1/rules")
        assert status == 200
        rules = [r for g in json.loads(body)["data"]["groups"] for r in g["rules"]]
        assert rules and all(r["health"] in ("ok", "unknown") for r in rules), rules
        # every query of the Grafana dashboard is valid PromQL for this server
        for expr in dashboard_queries():
            status, answer = prometheus_api(port, grafana_to_promql(expr))
            assert status == 200 and answer.get("status") == "success", (expr, status, answer)
        client_states = prometheus_query(port, grafana_to_promql(next(
            e for e in dashboard_queries() if "schemaproxy_client_connections" in e)))
        assert {r["metric"]["state"] for r in client_states} == {"active", "waiting", "idle"}, client_states
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)
