"""The amqp input and output through the real binary, against Debian's
rabbitmq-server (one per module), with Debian's python3-pika producing and
checking and rabbitmqctl reporting unacked counts: 100,000 messages through
classic and quorum queues, the seed's rate-limited worker, kill -9 of sluice,
a broker restart, amqps:// with the broker's certificate checked, poison
messages, unroutable messages, a memory alarm, a fake broker that speaks
nonsense, and bad settings refused by lint."""
import collections
import json
import socket
import threading
import time

import os
import subprocess

import pytest

from conftest import SLUICE, free_port, http_get, kill9_at_random_moments, lint, wait_for
from rabbitmq_peer import rabbitmq  # noqa: F401 (a pytest fixture: one broker per module)
from test_twilio import stats

EXAMPLE = os.path.join(os.path.dirname(__file__), "../../examples/rabbit-on-a-leash.yaml")

_names = iter(range(1_000_000))


def new_queue(prefix="q"):
    return f"{prefix}-{next(_names)}"


def relay(rabbitmq, source, target, extra_input="", extra_output="", rate=""):
    """amqp -> amqp, from queue `source` to `target` through the default exchange."""
    limit = f"rate_limits: {{paced: {{rate: {rate}, burst: 50}}}}\n" if rate else ""
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
{limit}pipelines:
  relay:
    input:
      amqp: {{url: "{rabbitmq.url}", queue: {source}, prefetch: 200, consumers: 2{extra_input}}}
    output:
      amqp: {{url: "{rabbitmq.url}", routing_key: {target}{extra_output}}}
      {"rate_limit: paced" if rate else ""}
"""


def wait_drained(rabbitmq, queue, sluice, timeout=120):
    try:
        wait_for(lambda: rabbitmq.queue_counts(queue) == (0, 0), timeout, f"{queue} to be empty and acked", interval=0.5)
    except AssertionError as e:
        raise AssertionError(f"{e}: (ready, unacked) = {rabbitmq.queue_counts(queue)}; {sluice.log_text()}") from None


@pytest.mark.parametrize("kind", ["classic", "quorum"])
def test_100000_messages_relayed_none_lost_none_left_unacked(sluice_factory, rabbitmq, kind):
    source, target = new_queue(kind), new_queue(kind + "-out")
    rabbitmq.declare(source, kind)
    rabbitmq.declare(target, kind)
    n = 100_000
    rabbitmq.publish(source, (json.dumps({"seq": i, "pad": "x" * 100}) for i in range(n)))
    s = sluice_factory(relay(rabbitmq, source, target)).start()
    wait_drained(rabbitmq, source, s)
    wait_for(lambda: rabbitmq.count(target) >= n, 60, "every message at the target")
    got = rabbitmq.take_all(target)
    seqs = collections.Counter(json.loads(b)["seq"] for b in got)
    assert set(seqs) == set(range(n)), f"{n - len(set(seqs))} lost"
    assert s.metric("sluice_amqp_published_total", outcome="confirmed") == n
    assert s.metric("sluice_amqp_acks_total") == n
    frames = s.metric("sluice_amqp_ack_frames_total")
    assert frames < n / 5, f"acks batched into multiple-acks: {frames} frames for {n}"
    assert s.metric("sluice_amqp_unacked") == 0
    assert s.stop() == 0
    assert rabbitmq.queue_counts(source) == (0, 0)


def to_file(rabbitmq, queue, rate="", extra_input=""):
    limit = f"rate_limits: {{paced: {{rate: {rate}, burst: 100}}}}\n" if rate else ""
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
{limit}pipelines:
  p:
    input:
      amqp: {{url: "{rabbitmq.url}", queue: {queue}, prefetch: 50, consumers: 2{extra_input}}}
    output: {{file: {{path: {{dir}}/out.jsonl}}{", rate_limit: paced" if rate else ""}}}
"""


def answers(url):
    try:
        return http_get(url, timeout=1)[0] == 200
    except OSError:
        return False


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_the_seed_worker_holds_the_providers_rate_and_its_prefetch(sluice_factory, rabbitmq, tmp_path):
    port = free_port()
    sim = subprocess.Popen([SLUICE, "provider-sim", "--address", f"127.0.0.1:{port}", "--auth-token", "sim-auth-token",
                            "--mps", "1000"], stdout=open(tmp_path / "sim.log", "wb"), stderr=subprocess.STDOUT)
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/sim/stats"), 10, "provider-sim")
        rabbitmq.declare("send_mt")
        n = 600
        rabbitmq.publish("send_mt", (json.dumps({"to": f"+1500555{i:04d}", "body": f"alert {i}"}) for i in range(n)))
        # The example as shipped, pointed at this broker and provider-sim, at 50/s.
        config = (open(EXAMPLE).read().replace("${SLUICE_ADMIN:-127.0.0.1:4195}", "{admin}")
                  .replace("data_dir: ./data", "data_dir: {dir}/data"))
        s = sluice_factory(config, env={"AMQP_URL": rabbitmq.url, "TWILIO_BASE_URL": f"http://127.0.0.1:{port}",
                                        "SEND_RATE": "50/s", "SEND_BURST": "5"}).start()
        most_unacked, most_held = 0, 0
        while (counts := rabbitmq.queue_counts("send_mt")) != (0, 0):
            most_unacked = max(most_unacked, counts[1])
            most_held = max(most_held, s.metric("sluice_amqp_unacked"))
        st = stats(port)
        sender = st["senders"]["+15005550006"]
        print(f"provider saw {sender['accepted']} sends, {sender['average_per_second']:.2f}/s on average, at most "
              f"{sender['max_accepted_in_one_second']} in one second; most unacked {most_unacked} (broker), "
              f"{most_held} (sluice)")
        assert st["counts"]["queued"] == n, "every message sent once"
        assert sender["max_accepted_in_one_second"] <= 55
        assert abs(sender["average_per_second"] - 50) <= 50 * 0.02
        assert 0 < most_unacked <= 10 and most_held <= 10, "never more unacked than prefetch x consumers"
        assert s.stop() == 0
    finally:
        sim.terminate()
        sim.wait(10)


def test_kill9_at_random_moments_loses_nothing_and_duplicates_at_most_the_prefetch(sluice_factory, rabbitmq, tmp_path):
    queue = new_queue("kill")
    rabbitmq.declare(queue)
    items = [json.dumps({"n": i}) for i in range(20000)]
    rabbitmq.publish(queue, items)
    written = kill9_at_random_moments(sluice_factory, to_file(rabbitmq, queue, rate="1000/s"), tmp_path / "out.jsonl",
                                      seed=5)
    assert 0 < written[-1] < len(items), f"the kills did not land mid-stream: {written}"
    last = sluice_factory(to_file(rabbitmq, queue), name="last").start()
    wait_drained(rabbitmq, queue, last)
    assert last.stop() == 0, last.log_text()
    seen = collections.Counter(lines(tmp_path / "out.jsonl"))
    missing = set(items) - set(seen)
    duplicates = sum(seen.values()) - len(seen)
    print(f"lines at each kill {written}; {duplicates} duplicates")
    assert not missing, f"{len(missing)} lost"
    assert duplicates <= 10 * 50 * 2, "each kill repeats at most prefetch x consumers"


def test_a_broker_restart_mid_run_loses_nothing(sluice_factory, rabbitmq, tmp_path):
    source, target = new_queue("restart"), new_queue("restart-out")
    rabbitmq.declare(source, "quorum")
    rabbitmq.declare(target, "quorum")
    n = 20000
    rabbitmq.publish(source, (json.dumps({"seq": i}) for i in range(n)))
    s = sluice_factory(relay(rabbitmq, source, target, rate="1000/s", extra_input=", heartbeat: 5s")).start()
    wait_for(lambda: s.metric("sluice_amqp_acks_total") > 2000, 30, "the relay under way")
    rabbitmq.stop(graceful=True)
    time.sleep(2)
    rabbitmq.start()
    # A recovering quorum queue lists as empty: wait for the target to fill first.
    wait_for(lambda: rabbitmq.count(target) >= n, 180, f"{n} messages at the target")
    wait_drained(rabbitmq, source, s)
    assert s.metric("sluice_amqp_reconnects_total", component="input") >= 1
    assert s.metric("sluice_amqp_reconnects_total", component="output") >= 1
    seqs = {json.loads(b)["seq"] for b in rabbitmq.take_all(target)}
    assert seqs == set(range(n)), f"{n - len(seqs)} lost"
    assert "connecting again" in s.log_text() or "connection lost" in s.log_text()
    assert s.stop() == 0


def dead_lettered_queue(rabbitmq, kind="classic"):
    """A queue whose dead letters go to <queue>.dead through the default exchange."""
    queue = new_queue("dlx")
    rabbitmq.declare(queue + ".dead")
    rabbitmq.declare(queue, kind, **{"x-dead-letter-exchange": "", "x-dead-letter-routing-key": queue + ".dead"})
    return queue


def test_amqps_verifies_the_broker_and_then_works_both_ways(sluice_factory, rabbitmq):
    source, target = new_queue("tls"), new_queue("tls-out")
    rabbitmq.declare(source, "classic")
    rabbitmq.declare(target, "classic")
    rabbitmq.publish(source, (json.dumps({"seq": i}) for i in range(100)))

    def config(host, ca=True):
        url = f"amqps://guest:guest@{host}:{rabbitmq.tls_port}/"
        tls = f', tls_ca_file: "{rabbitmq.ca_file}"' if ca else ""
        return relay(rabbitmq, source, target).replace(f'"{rabbitmq.url}", queue', f'"{url}"{tls}, queue').replace(
            f'"{rabbitmq.url}", routing_key', f'"{url}"{tls}, routing_key')
    # Not our CA, and a name the certificate does not carry: refused, saying why; nothing taken.
    for name, cfg in [("unknown-ca", config("localhost", ca=False)), ("wrong-name", config("127.0.0.1"))]:
        s = sluice_factory(cfg, name=name).start()
        wait_for(lambda: "certificate verify failed" in s.log_text(), 20, f"the refusal ({name}) in the log")
        assert "TLS handshake failed" in s.log_text()
        assert s.stop() == 0, s.log_text()
        assert rabbitmq.queue_counts(source) == (100, 0), "nothing taken over an unverified connection"
    s = sluice_factory(config("localhost"), name="verified").start()
    wait_drained(rabbitmq, source, s)
    wait_for(lambda: rabbitmq.count(target) >= 100, 30, "the 100 messages over TLS at the target")
    assert s.stop() == 0, s.log_text()
    assert sorted(json.loads(b)["seq"] for b in rabbitmq.take_all(target)) == list(range(100))


@pytest.mark.parametrize("kind", ["classic", "quorum"])
def test_a_poison_message_ends_in_the_dead_letter_exchange_after_max_redeliveries(sluice_factory, rabbitmq, refusing,
                                                                                  kind):
    queue = dead_lettered_queue(rabbitmq, kind)
    rabbitmq.publish(queue, ['{"poison": true}'])
    s = sluice_factory(f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:
  p:
    input:
      amqp: {{url: "{rabbitmq.url}", queue: {queue}, max_redeliveries: 2}}
    output:
      http_client: {{url: "{refusing}"}}
      retry: {{max_attempts: 1}}
""").start()
    wait_for(lambda: rabbitmq.count(queue + ".dead") == 1, 30, "the poison message in the dead-letter queue")
    assert rabbitmq.queue_counts(queue) == (0, 0)
    assert s.metric("sluice_amqp_deliveries_total") == 4, "the first delivery, two redeliveries, and the refused one"
    assert s.metric("sluice_amqp_rejects_total", reason="max_redeliveries") == 1
    assert "came back more than max_redeliveries (2) times" in s.log_text()
    assert s.stop() == 0


def test_unroutable_messages_with_mandatory_are_rejected_with_the_reason(sluice_factory, rabbitmq):
    queue = dead_lettered_queue(rabbitmq)
    rabbitmq.publish(queue, [json.dumps({"n": i}) for i in range(10)])
    s = sluice_factory(relay(rabbitmq, queue, "nobody-is-bound-here", extra_output=", exchange: amq.direct, "
                             "mandatory: true")).start()
    wait_for(lambda: rabbitmq.count(queue + ".dead") == 10, 30, "every unroutable message dead-lettered at the source")
    assert s.metric("sluice_amqp_published_total", outcome="returned") == 10
    assert "312 NO_ROUTE" in s.log_text(), s.log_text()
    assert s.stop() == 0


def test_a_broker_that_blocks_publishers_slows_sluice_without_loss(sluice_factory, rabbitmq):
    source, target = new_queue("alarm"), new_queue("alarm-out")
    rabbitmq.declare(source)
    rabbitmq.declare(target)
    n = 5000
    rabbitmq.publish(source, (json.dumps({"seq": i}) for i in range(n)))
    s = sluice_factory(relay(rabbitmq, source, target, rate="500/s")).start()
    wait_for(lambda: s.metric("sluice_amqp_published_total", outcome="confirmed") > 200, 30, "publishing under way")
    rabbitmq.ctl("set_vm_memory_high_watermark", "0.000001")  # a memory alarm: the broker blocks publishers
    try:
        wait_for(lambda: s.metric("sluice_amqp_blocked") == 1, 30, "sluice to hold its publishes back")
        held = s.metric("sluice_amqp_published_total", outcome="confirmed")
        time.sleep(2)
        assert s.metric("sluice_amqp_published_total", outcome="confirmed") == held, "nothing published while blocked"
        assert "blocks publishers" in s.log_text()
    finally:
        rabbitmq.ctl("set_vm_memory_high_watermark", "0.4")
    wait_drained(rabbitmq, source, s)
    seqs = collections.Counter(json.loads(b)["seq"] for b in rabbitmq.take_all(target))
    assert set(seqs) == set(range(n)), f"{n - len(seqs)} lost"
    assert s.stop() == 0


class NonsenseBroker:
    """Speaks AMQP badly, one way per connection: an unknown frame type, a
    frame larger than any frame_max, then a method where connection.start
    belongs. Counts the connections it took."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(16)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        threading.Thread(target=self.serve, daemon=True).start()

    def serve(self):
        answers = [
            bytes([9, 0, 0, 0, 0, 0, 0, 0xCE]),                               # frame type 9
            bytes([1, 0, 0]) + (50 << 20).to_bytes(4, "big"),                 # 50 MB frame
            bytes([1, 0, 0, 0, 0, 0, 12]) + bytes([0, 60, 0, 80]) + bytes(8) + bytes([0xCE]),  # basic.ack first
        ]
        while True:
            try:
                c, _ = self.sock.accept()
            except OSError:
                return
            c.recv(8)
            c.sendall(answers[self.connections % len(answers)])
            self.connections += 1
            time.sleep(0.2)
            c.close()

    def close(self):
        self.sock.close()


def test_a_broker_speaking_nonsense_gives_clear_errors_and_reconnects(sluice_factory):
    fake = NonsenseBroker()
    try:
        s = sluice_factory(f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:
  p:
    input:
      amqp: {{url: "amqp://127.0.0.1:{fake.port}/", queue: q}}
    output: {{drop: {{}}}}
""").start()
        wait_for(lambda: fake.connections >= 4, 30, "sluice to connect again after each")
        log = s.log_text()
        assert "unknown frame type 9" in log, log
        assert "exceeds frame_max" in log, log
        assert "expected connection.start" in log, log
        assert s.proc.poll() is None, "still running"
        assert s.stop() == 0
    finally:
        fake.close()


@pytest.mark.parametrize("block, message", [
    ('{url: "http://127.0.0.1:5672", queue: q}', "'http' is not an amqp:// or amqps:// URL"),
    ('{url: "amqp://127.0.0.1/a/b", queue: q}', "a vhost containing '/' is written %2F"),
    ('{url: "amqp://127.0.0.1/", queue: q, prefetch: 0}', "prefetch"),
    ('{url: "amqp://127.0.0.1/", queue: q, declare: {type: lazy}}', "lazy"),
    ('{url: "amqp://127.0.0.1/"}', "queue"),
])
def test_lint_refuses_bad_amqp_settings(tmp_path, block, message):
    r = lint(f"""
pipelines:
  p:
    input: {{amqp: {block}}}
    output: {{drop: {{}}}}
""", tmp_path)
    assert r.returncode != 0 and message in r.stderr, r.stderr
