"""Every config in examples/ runs as shipped: from a scratch directory (their
data_dir is ./data), on their own addresses (admin 4195, webhook 4196), and
against the peer their header names (provider-sim on 127.0.0.1:4197)."""
import glob
import json
import os
import signal
import subprocess

import pytest

from conftest import SLUICE, count_lines, http_get, metric_at, wait_for
from test_elasticsearch import Endpoint
from sidekiq_peer import ruby
from test_sidekiq import TOKEN, Sidekiq, callback, redis, send_signed  # noqa: F401 (redis: a pytest fixture)
from test_sqs import depth, endpoint, new_queue, produce, sqs  # noqa: F401 (endpoint: a pytest fixture)

EXAMPLES = os.path.join(os.path.dirname(__file__), "../../examples")


def example(name):
    return os.path.abspath(os.path.join(EXAMPLES, name))


@pytest.fixture
def run_example(tmp_path):
    procs = []

    def start(*args, env=None):
        log = open(tmp_path / f"p{len(procs)}.log", "wb")
        p = subprocess.Popen([SLUICE, *args], cwd=tmp_path, stdout=log, stderr=log, env=dict(os.environ, **(env or {})))
        procs.append((p, log))
        return p

    yield start
    for p, _ in procs:
        if p.poll() is None:
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


def listening(url):
    try:
        return http_get(url, timeout=1)[0] == 200
    except OSError:
        return False


def stop(p):
    p.send_signal(signal.SIGTERM)
    assert p.wait(30) == 0


def test_every_example_has_a_test_here():
    names = sorted(os.path.basename(f) for f in glob.glob(os.path.join(EXAMPLES, "*.yaml")))
    assert names == ["alert-demo.yaml", "queue-rate-limited.yaml", "rabbit-on-a-leash.yaml", "sidekiq-to-ledger.yaml",
                     "sqs-to-elasticsearch.yaml", "sqs-to-sqs.yaml", "twilio-callbacks-to-sidekiq.yaml",
                     "twilio-send-and-callbacks.yaml"], names


def test_queue_rate_limited(run_example, tmp_path):
    p = run_example("run", "-c", example("queue-rate-limited.yaml"))
    wait_for(lambda: count_lines(tmp_path / "data/sent.jsonl") >= 300, 30, "300 messages through the queue at 200/s")
    stop(p)


def test_rabbit_on_a_leash(run_example, tmp_path):
    """As shipped (1 msg/s, burst 5); test_amqp.py runs it at 50/s and measures."""
    from rabbitmq_peer import RabbitMQ
    (tmp_path / "rabbitmq").mkdir()
    broker = RabbitMQ(tmp_path / "rabbitmq")
    try:
        broker.declare("send_mt")
        broker.publish("send_mt", [json.dumps({"to": "+15005550006", "body": f"code {i}"}) for i in range(6)])
        run_example("provider-sim", "--address", "127.0.0.1:4197", "--auth-token", "sim-auth-token")
        wait_for(lambda: listening("http://127.0.0.1:4197/sim/stats"), 10, "provider-sim")
        p = run_example("run", "-c", example("rabbit-on-a-leash.yaml"), env={"AMQP_URL": broker.url})

        def sent():
            return json.loads(http_get("http://127.0.0.1:4197/sim/stats")[1])["counts"].get("queued", 0)
        wait_for(lambda: sent() == 6, 20, "the burst of 5, then one more a second later")
        wait_for(lambda: broker.queue_counts("send_mt") == (0, 0), 10, "every message acked")
        stop(p)
    finally:
        broker.close()


def test_twilio_send_and_callbacks(run_example, tmp_path):
    run_example("provider-sim", "--address", "127.0.0.1:4197", "--auth-token", "sim-auth-token", "--mps", "100")
    wait_for(lambda: listening("http://127.0.0.1:4197/sim/stats"), 10, "provider-sim")
    p = run_example("run", "-c", example("twilio-send-and-callbacks.yaml"))
    import json

    def callbacks():
        return json.loads(http_get("http://127.0.0.1:4197/sim/stats")[1])["counts"].get("callbacks_ok", 0)
    wait_for(lambda: callbacks() >= 200, 60, "100 sends and their 200 signed callbacks")
    stop(p)


def test_alert_demo(run_example, tmp_path):
    run_example("provider-sim", "--address", "127.0.0.1:4197", "--auth-token", "sim-auth-token", "--mps", "1000")
    wait_for(lambda: listening("http://127.0.0.1:4197/sim/stats"), 10, "provider-sim")
    p = run_example("run", "-c", example("alert-demo.yaml"))
    wait_for(lambda: listening("http://127.0.0.1:4195/health/ready"), 20, "sluice")
    (tmp_path / "people.csv").write_text("phone\n+15551230001\n+15551230002\n")
    sent = subprocess.run([SLUICE, "alert", "send", "--recipients", "people.csv", "--body", "Evacuate building B",
                           "--wait", "--timeout", "60"], cwd=tmp_path, capture_output=True, text=True, timeout=90)
    assert sent.returncode in (0, 3), sent.stderr  # 3: provider-sim failed one (5% do)
    assert "recipients         2   accepted        2   final        2" in sent.stdout, sent.stdout
    stop(p)


def test_sqs_to_sqs(run_example, endpoint):  # noqa: F811 (the fixture)
    source, target = new_queue(endpoint), new_queue(endpoint)
    produce(endpoint, source, [f'{{"n": {i}}}' for i in range(300)])
    p = run_example("run", "-c", example("sqs-to-sqs.yaml"),
                    env={"SOURCE_QUEUE_URL": source, "TARGET_QUEUE_URL": target, "SQS_ENDPOINT": endpoint,
                         "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"})
    wait_for(lambda: depth(endpoint, target)[0] >= 300, 30, "300 messages moved to the target queue")
    stop(p)
    moved = [json.loads(b) for b in sqs(endpoint, "drain", target, 1)]
    assert sorted(m["n"] for m in moved) == list(range(300)) and all(m["moved_by"] == "sluice" for m in moved)


def test_sqs_to_elasticsearch(run_example, tmp_path, endpoint):  # noqa: F811 (the fixture)
    source, target = new_queue(endpoint), new_queue(endpoint)
    produce(endpoint, source, [f'{{"n": {i}}}' for i in range(300)] + ['{"n": "not a number", "es_fail": "mapping"}'])
    es = Endpoint()
    try:
        p = run_example("run", "-c", example("sqs-to-elasticsearch.yaml"),
                        env={"SOURCE_QUEUE_URL": source, "TARGET_QUEUE_URL": target, "SQS_ENDPOINT": endpoint,
                             "ES_URL": es.url, "AWS_REGION": "us-east-1", "AWS_ACCESS_KEY_ID": "test",
                             "AWS_SECRET_ACCESS_KEY": "test"})
        wait_for(lambda: depth(endpoint, target)[0] >= 300, 30, "300 messages indexed and sent on")
        wait_for(lambda: count_lines(tmp_path / "not-indexed.jsonl") >= 1, 30, "the refused one dead-lettered")
        stop(p)
        docs = es.docs()
    finally:
        es.stop()
    assert sorted(d["source"]["n"] for d in docs) == list(range(300))
    assert all(d["index"].startswith("orders-20") and d["id"] == d["source"]["queue_message_id"] for d in docs)
    moved = [json.loads(b) for b in sqs(endpoint, "drain", target, 1)]
    assert sorted(m["n"] for m in moved) == list(range(300)) and all(m["indexed_by"] == "sluice" for m in moved)
    assert depth(endpoint, source) == (0, 0)


def test_twilio_callbacks_to_sidekiq(run_example, tmp_path, redis):  # noqa: F811 (the fixture)
    sidekiq = Sidekiq(redis, tmp_path / "sidekiq.log", namespace="myapp")
    try:
        run_example("run", "-c", example("twilio-callbacks-to-sidekiq.yaml"),
                    env={"REDIS_URL": f"{redis.url}/0", "TWILIO_AUTH_TOKEN": TOKEN})
        url = "http://127.0.0.1:4196/twilio/status"
        wait_for(lambda: listening("http://127.0.0.1:4195/health/ready"), 30, "the example to be ready")
        assert send_signed({0: url}, [(0, callback(n)) for n in range(200)]) == {200: 200}
        wait_for(lambda: len(sidekiq.results()) >= 200, 60, "Sidekiq to perform the 200 StatusCallbackJobs")
        jobs = sidekiq.results()
    finally:
        sidekiq.stop()
    to_body = {dict(callback(n))["To"]: dict(callback(n))["Body"] for n in range(200)}
    assert len(jobs) == 200 and all(j["kind"] == "active_job" and j["queue"] == "callbacks" for j in jobs)
    assert all(len(j["args"]) == 4 and to_body[j["args"][0]] == j["args"][2] and j["args"][1] == "delivered"
               for j in jobs), jobs[0]


def test_sidekiq_to_ledger(run_example, redis):  # noqa: F811 (the fixture)
    ruby(redis, "myapp", 'Sidekiq::Client.push_bulk("class" => "StatusCallbackJob", "queue" => "statuses", '
                         '"args" => (1..100).map { |i| ["SM#{i}", "delivered"] })')
    run_example("run", "-c", example("sidekiq-to-ledger.yaml"), env={"REDIS_URL": f"{redis.url}/0"})
    metrics = "http://127.0.0.1:4195/metrics"
    wait_for(lambda: listening("http://127.0.0.1:4195/health/ready"), 30, "the example to be ready")
    # No sends are recorded here, so the ledger holds each status until its send comes.
    wait_for(lambda: metric_at(metrics, "sluice_ledger_held_callbacks") == 100, 30, "100 statuses in the ledger")
    wait_for(lambda: metric_at(metrics, "sluice_sidekiq_jobs_total", outcome="done") == 100, 10, "100 jobs done")
    assert redis.py('print(r.llen("myapp:queue:statuses"), r.zcard("myapp:retry"))') == ["0 0"]
