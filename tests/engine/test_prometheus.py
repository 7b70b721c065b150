"""The real Prometheus scrapes /metrics, and promtool finds nothing wrong."""
import json
import subprocess
import time
import urllib.parse

from conftest import free_port, http_get, wait_for

CONFIG = """
admin: {address: "{admin}"}
data_dir: {dir}/data
rate_limits:
  r: {rate: 2000/s, burst: 50}
pipelines:
  load:
    input: {generate: {rate: 2000/s, template: '{"n":{{seq}}}'}}
    processors:
      - mapping: {set: {x: "1"}}
    output: {queue: {name: q}, rate_limit: r}
  drain:
    input: {queue: {name: q}}
    output: {drop: {}}
"""


def test_promtool_check_metrics_is_clean(sluice_factory):
    s = sluice_factory(CONFIG).start()
    wait_for(lambda: s.metric("sluice_output_sent_total", pipeline="drain") > 100, 20, "traffic")
    _, text = http_get(s.url("/metrics"))
    r = subprocess.run(["promtool", "check", "metrics"], input=text, capture_output=True, text=True)
    assert r.returncode == 0 and r.stdout.strip() == "" and r.stderr.strip() == "", r.stdout + r.stderr
    assert s.stop() == 0


def test_prometheus_scrapes_sluice(sluice_factory, tmp_path):
    s = sluice_factory(CONFIG).start()
    port = free_port()
    (tmp_path / "prometheus.yml").write_text(f"""
global: {{scrape_interval: 1s, evaluation_interval: 1s}}
scrape_configs:
  - job_name: sluice
    static_configs: [{{targets: ["127.0.0.1:{s.admin_port}"]}}]
""")
    prom = subprocess.Popen(
        ["prometheus", f"--config.file={tmp_path}/prometheus.yml", f"--storage.tsdb.path={tmp_path}/tsdb",
         f"--web.listen-address=127.0.0.1:{port}"],
        stdout=subprocess.DEVNULL, stderr=open(tmp_path / "prometheus.log", "wb"))
    try:
        def query(q):
            url = f"http://127.0.0.1:{port}/api/v1/query?query=" + urllib.parse.quote(q)
            try:
                body = json.loads(http_get(url, timeout=2)[1])
            except OSError:
                return None
            result = body.get("data", {}).get("result", [])
            return result or None

        up = wait_for(lambda: query('up{job="sluice"} == 1'), 60, "Prometheus to scrape sluice", interval=0.5)
        assert up
        sent = wait_for(lambda: query('sluice_output_sent_total{pipeline="drain"} > 0'), 60,
                        "sent counts in Prometheus", interval=0.5)
        assert float(sent[0]["value"][1]) > 0
        hist = wait_for(lambda: query('sluice_pipeline_latency_seconds_count{pipeline="drain"} > 0'), 30,
                        "the latency histogram", interval=0.5)
        assert hist
    finally:
        prom.terminate()
        prom.wait(20)
    assert s.stop() == 0
