"""The sqs input and output through the real binary, against the fauxqs
emulator (started once for this module), with AWS's own JavaScript client
(@aws-sdk/client-sqs, tests/sqs/sqs.mjs) producing and checking: a clean
stop sends its last deletes, kill -9 loses nothing, poison messages reach
the queue's dead-letter queue, sqs -> mapping -> sqs moves everything."""
import collections
import itertools
import json
import os
import pathlib
import random
import subprocess
import threading
import time
import urllib.error
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from conftest import wait_for

PEERS = pathlib.Path(__file__).resolve().parents[1] / "sqs"
NODE_ENV = dict(os.environ, NODE_NO_WARNINGS="1")
_names = itertools.count()


@pytest.fixture(scope="module")
def endpoint():
    proc = subprocess.Popen(["node", str(PEERS / "fauxqs.mjs"), "0"], stdout=subprocess.PIPE, text=True, env=NODE_ENV)
    port = proc.stdout.readline().strip()
    assert port.isdigit(), f"fauxqs did not start (run scripts/install-deps): {port!r}"
    yield f"http://127.0.0.1:{port}"
    proc.terminate()
    proc.wait(10)


def sqs(endpoint, *args, stdin=""):
    r = subprocess.run(["node", str(PEERS / "sqs.mjs"), endpoint, *map(str, args)], input=stdin, capture_output=True,
                       text=True, env=NODE_ENV, timeout=300)
    assert r.returncode == 0, f"sqs.mjs {args}: {r.stdout[-500:]} {r.stderr[-2000:]}"
    return r.stdout.splitlines()


def new_queue(endpoint, dlq=False):
    name = f"engine-{os.getpid()}-{next(_names)}"
    return sqs(endpoint, "create", name, *( [name + "-dlq", 100] if dlq else []))[0]


def depth(endpoint, url):
    visible, hidden = map(int, sqs(endpoint, "depth", url)[0].split())
    return visible, hidden


def connection(endpoint, url):
    return (f'url: "{url}", endpoint: "{endpoint}", region: us-east-1, '
            "credentials: {access_key_id: test, secret_access_key: test}")


def to_file(endpoint, url, processors="", rate="", burst=100):
    limit = f"rate_limits: {{paced: {{rate: {rate}, burst: {burst}}}}}\n" if rate else ""
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
{limit}pipelines:
  p:
    input:
      sqs: {{{connection(endpoint, url)}, wait_time: 1s, visibility_timeout: 3s}}
{processors}    output: {{file: {{path: {{dir}}/out.jsonl}}{", rate_limit: paced" if rate else ""}}}
"""


def produce(endpoint, url, bodies):
    assert sqs(endpoint, "send", url, stdin="".join(b + "\n" for b in bodies)) == [str(len(bodies))]


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_a_clean_stop_sends_its_last_deletes_and_nothing_comes_back(sluice_factory, tmp_path, endpoint):
    url = new_queue(endpoint)
    bodies = [json.dumps({"n": i}) for i in range(2000)]
    produce(endpoint, url, bodies)
    s = sluice_factory(to_file(endpoint, url)).start()
    wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 2000, 60, "2,000 messages written")
    calls, billed = s.metric("sluice_sqs_requests_total"), s.metric("sluice_sqs_requests_billed_total")
    # 1 KB of JSON a message: a receive of 10 answers ~2 KB, one billed request each.
    assert 0 < calls <= billed <= calls * 1.1, (calls, billed)
    assert s.stop() == 0, s.log_text()
    assert sorted(lines(tmp_path / "out.jsonl")) == sorted(bodies)
    # Deleted, not merely hidden: nothing visible, nothing in flight, and
    # nothing comes back after the 3 s visibility timeout.
    assert depth(endpoint, url) == (0, 0), s.log_text()
    assert sqs(endpoint, "drain", url, 4) == []


def test_kill9_at_random_moments_loses_nothing(sluice_factory, tmp_path, endpoint):
    url = new_queue(endpoint)
    bodies = [json.dumps({"n": i}) for i in range(20000)]
    produce(endpoint, url, bodies)
    rng = random.Random(11)
    written_at_kills = []
    for run in range(10):
        # Paced, so that every kill lands while messages flow.
        s = sluice_factory(to_file(endpoint, url, rate="2000/s"), name=f"run{run}").start()
        time.sleep(rng.uniform(0.3, 1.5))
        s.kill9()
        written_at_kills.append(len(lines(tmp_path / "out.jsonl")))
    assert 0 < written_at_kills[-1] < 20000, f"the kills did not land mid-stream: {written_at_kills}"
    last = sluice_factory(to_file(endpoint, url), name="last").start()
    # Messages in flight at a kill come back after their visibility timeout.
    wait_for(lambda: depth(endpoint, url) == (0, 0), 120, "the queue to empty")
    assert last.stop() == 0, last.log_text()
    seen = collections.Counter(lines(tmp_path / "out.jsonl"))
    missing = set(bodies) - set(seen)
    assert not missing, f"{len(missing)} messages lost, e.g. {sorted(missing)[:3]}"
    duplicates = sum(n - 1 for n in seen.values())
    # At most what was in flight at each kill: 8 readers x 10 received, and
    # the acks not yet sent.
    print(f"20,000 messages, 10 kills (written by then: {written_at_kills}): {duplicates} delivered twice")
    assert duplicates <= 10 * (100 + 8 * 10), duplicates


def test_poison_messages_reach_the_dead_letter_queue_with_the_rest_delivered(sluice_factory, tmp_path, endpoint):
    url = new_queue(endpoint, dlq=True)
    good = [json.dumps({"to": f"+1555000{i:04d}"}) for i in range(20)]
    poison = [json.dumps({"note": f"no recipient {i}"}) for i in range(5)]
    produce(endpoint, url, good + poison)
    processors = "    processors:\n      - mapping: {set: {to: \"{{to | required}}\"}}\n"
    s = sluice_factory(to_file(endpoint, url, processors=processors)).start()
    wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 20, 30, "the good messages written")
    wait_for(lambda: depth(endpoint, url) == (0, 0), 30, "the queue to empty")
    assert s.stop() == 0, s.log_text()
    assert sorted(json.loads(l)["to"] for l in lines(tmp_path / "out.jsonl")) == sorted(json.loads(g)["to"] for g in good)
    assert sorted(sqs(endpoint, "drain", url + "-dlq", 1)) == sorted(poison)


def test_sqs_to_mapping_to_sqs_moves_every_message(sluice_factory, tmp_path, endpoint):
    source, target = new_queue(endpoint), new_queue(endpoint)
    bodies = [json.dumps({"n": i}) for i in range(5000)]
    produce(endpoint, source, bodies)
    config = f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:
  p:
    input:
      sqs: {{{connection(endpoint, source)}, wait_time: 1s}}
    processors:
      - mapping: {{set: {{moved: "yes"}}}}
    output:
      sqs: {{{connection(endpoint, target)}}}
"""
    s = sluice_factory(config).start()
    wait_for(lambda: depth(endpoint, target)[0] >= 5000, 60, "5,000 messages in the target queue")
    wait_for(lambda: depth(endpoint, source) == (0, 0), 30, "the source queue to empty")
    assert s.stop() == 0, s.log_text()
    moved = [json.loads(b) for b in sqs(endpoint, "drain", target, 1)]
    assert sorted(m["n"] for m in moved) == list(range(5000))
    assert all(m["moved"] == "yes" for m in moved)


def test_without_credentials_sluice_says_where_it_looked(sluice_factory, tmp_path, endpoint):
    config = to_file(endpoint, new_queue(endpoint)).replace(
        "credentials: {access_key_id: test, secret_access_key: test}", "credentials: {profile: ops}")
    env = {"HOME": str(tmp_path), "AWS_ACCESS_KEY_ID": "", "AWS_SECRET_ACCESS_KEY": "", "AWS_PROFILE": ""}
    s = sluice_factory(config, env=env).start(wait_ready=False)
    assert s.proc.wait(20) != 0
    log = s.log_text()
    assert "no AWS credentials" in log and f"{tmp_path}/.aws/credentials [ops]" in log, log
    (tmp_path / ".aws").mkdir()
    (tmp_path / ".aws/credentials").write_text("[ops]\naws_access_key_id = test\naws_secret_access_key = test\n")
    s = sluice_factory(config, env=env, name="with-profile").start()
    assert s.stop() == 0, s.log_text()


def test_a_slow_output_keeps_its_messages_hidden_instead_of_seeing_them_twice(sluice_factory, tmp_path, endpoint):
    # 40 messages at 8/s take 5 s; the visibility timeout is 3 s. The
    # heartbeat extends the waiting ones, so none is received twice.
    url = new_queue(endpoint)
    bodies = [json.dumps({"n": i}) for i in range(40)]
    produce(endpoint, url, bodies)
    s = sluice_factory(to_file(endpoint, url, rate="8/s", burst=1)).start()
    wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 40, 30, "40 messages written")
    time.sleep(1)
    extended = s.metric("sluice_sqs_visibility_extensions_total")
    assert s.stop() == 0, s.log_text()
    twice = [b for b, n in collections.Counter(lines(tmp_path / "out.jsonl")).items() if n > 1]
    assert not twice, f"{len(twice)} messages delivered twice"
    assert sorted(lines(tmp_path / "out.jsonl")) == sorted(bodies)
    assert extended > 0 and depth(endpoint, url) == (0, 0)


class ThrottlingProxy:
    """Forwards SQS calls to the emulator, but answers every `every`-th one
    with SQS's ThrottlingException (HTTP 400) instead."""

    def __init__(self, upstream, every):
        count = itertools.count(1)
        self.throttled = 0
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
                if next(count) % every == 0:
                    proxy.throttled += 1
                    answer, status = b'{"__type":"com.amazonaws.sqs#ThrottlingException","message":"Rate exceeded"}', 400
                else:
                    req = urllib.request.Request(upstream + "/", data=body, method="POST", headers={
                        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": self.headers["X-Amz-Target"]})
                    try:
                        with urllib.request.urlopen(req, timeout=30) as r:
                            answer, status = r.read(), r.status
                    except urllib.error.HTTPError as e:
                        answer, status = e.read(), e.code
                self.send_response(status)
                self.send_header("Content-Type", "application/x-amz-json-1.0")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.endpoint = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()


def test_throttling_slows_sluice_down_and_loses_nothing(sluice_factory, tmp_path, endpoint):
    source, target = new_queue(endpoint), new_queue(endpoint)
    bodies = [json.dumps({"n": i}) for i in range(1000)]
    produce(endpoint, source, bodies)
    proxy = ThrottlingProxy(endpoint, every=4)
    try:
        config = f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:
  p:
    input:
      sqs: {{{connection(proxy.endpoint, source)}, wait_time: 1s, visibility_timeout: 5s}}
    output:
      sqs: {{{connection(proxy.endpoint, target)}}}
"""
        s = sluice_factory(config).start()
        wait_for(lambda: depth(endpoint, source) == (0, 0) and depth(endpoint, target)[0] >= 1000, 90,
                 "every message moved through the throttling proxy")
        assert s.stop() == 0, s.log_text()
    finally:
        proxy.close()
    assert proxy.throttled > 50, proxy.throttled
    moved = collections.Counter(sqs(endpoint, "drain", target, 1))
    assert set(moved) == set(bodies), f"{len(set(bodies) - set(moved))} lost"
    # At least once: some go out twice (0-80 of 1,000 in ten runs; why
    # any do while deletes are retried is not known yet, see docs/sqs.md),
    # but never more than were in flight.
    twice = sum(n - 1 for n in moved.values())
    print(f"{proxy.throttled} calls throttled; {twice} messages sent twice")
    assert twice <= 300, f"{twice} sent twice: {s.log_text()}"
