"""The redis_list input and output through the real binary, against Debian's
redis-server (one per module, append-only so that it can restart) with
Debian's python3-redis producing and checking: kill -9 of sluice loses
nothing from a reliable list, a Redis restart mid-run loses nothing, the
output pushes every message, and bad settings are refused by lint."""
import collections
import json
import time

import pytest

from conftest import kill9_at_random_moments, lint, wait_for
from redis_peer import RedisServer, redis  # noqa: F401 (redis: a pytest fixture, one server per module)


_keys = iter(range(1_000_000))


def new_key():
    return f"engine:{next(_keys)}"


def push(redis, key, items):
    # LPUSH in order, so the first pushed is the first taken (from the right).
    redis.py(f"""
p = r.pipeline(transaction=False)
for line in sys.stdin.read().splitlines():
    p.lpush("{key}", line)
p.execute()""", stdin="".join(i + "\n" for i in items))


def llen(redis, *keys):
    """Items in `keys`, or -1 while Redis cannot say (loading after a restart)."""
    code = f"""
try:
    print(sum(r.llen(k) for k in {list(keys)!r}))
except redis.exceptions.RedisError:
    print(-1)"""
    return int(redis.py(code)[0])


def to_file(redis, key, rate=""):
    limit = f"rate_limits: {{paced: {{rate: {rate}, burst: 100}}}}\n" if rate else ""
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
{limit}pipelines:
  p:
    input:
      redis_list: {{url: "{redis.url}", key: "{key}", consumer: c1, wait_time: 200ms}}
    output: {{file: {{path: {{dir}}/out.jsonl}}{", rate_limit: paced" if rate else ""}}}
"""


def lines(path):
    return path.read_text().splitlines() if path.exists() else []


def test_kill9_at_random_moments_loses_nothing_from_a_reliable_list(sluice_factory, tmp_path, redis):
    key = new_key()
    items = [json.dumps({"n": i}) for i in range(20000)]
    push(redis, key, items)
    written_at_kills = kill9_at_random_moments(sluice_factory, to_file(redis, key, rate="2000/s"),
                                               tmp_path / "out.jsonl", seed=7)
    assert 0 < written_at_kills[-1] < 20000, f"the kills did not land mid-stream: {written_at_kills}"
    last = sluice_factory(to_file(redis, key), name="last").start()
    wait_for(lambda: llen(redis, key, key + ":processing:c1") == 0, 60, "the list and the processing list to empty")
    assert last.stop() == 0, last.log_text()
    seen = collections.Counter(lines(tmp_path / "out.jsonl"))
    missing = set(items) - set(seen)
    assert not missing, f"{len(missing)} items lost, e.g. {sorted(missing)[:3]}"
    duplicates = sum(n - 1 for n in seen.values())
    print(f"20,000 items, 10 kills (written by then: {written_at_kills}): {duplicates} delivered twice")
    # At most what was in flight at each kill: a read of 100 and the acks not yet sent.
    assert duplicates <= 10 * 600, duplicates
    assert "put back" in last.log_text() or duplicates == 0


def test_the_reaper_returns_the_items_of_a_consumer_that_stopped(sluice_factory, tmp_path, redis):
    key = new_key()
    items = [json.dumps({"n": i}) for i in range(2000)]
    push(redis, key, items)
    slow = to_file(redis, key, rate="500/s").replace("consumer: c1", "consumer: gone")
    a = sluice_factory(slow, name="gone").start()
    wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 300, 30, "300 items written by the first consumer")
    a.kill9()
    left = llen(redis, key + ":processing:gone")
    assert left > 0, "the kill should leave items in flight"
    # Another consumer, with a short reap_after, returns them.
    b = sluice_factory(to_file(redis, key).replace("consumer: c1", "consumer: other, heartbeat: 200ms, reap_after: 1s"),
                       name="other").start()
    wait_for(lambda: llen(redis, key, key + ":processing:gone", key + ":processing:other") == 0, 60,
             "the list and both processing lists to empty")
    assert b.metric("sluice_redis_list_reaped_total") == left, b.log_text()
    assert b.stop() == 0, b.log_text()
    assert set(lines(tmp_path / "out.jsonl")) == set(items)
    assert redis.py(f'print(r.zrange("{key}:consumers", 0, -1))') == ["['other']"], "the gone consumer is forgotten"
    assert "put back" in b.log_text()


def test_a_redis_restart_mid_run_loses_nothing(sluice_factory, tmp_path, redis):
    key = new_key()
    items = [json.dumps({"n": i}) for i in range(5000)]
    push(redis, key, items)
    s = sluice_factory(to_file(redis, key, rate="2000/s")).start()
    wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 1000, 30, "1,000 items written")
    redis.stop()
    time.sleep(1)
    redis.start()
    wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 5000, 60, "every item written after the restart")
    wait_for(lambda: llen(redis, key, key + ":processing:c1") == 0, 30, "the processing list to empty")
    assert s.stop() == 0, s.log_text()
    seen = collections.Counter(lines(tmp_path / "out.jsonl"))
    assert set(seen) == set(items), f"{len(set(items) - set(seen))} lost"


def test_the_output_pushes_every_message_once(sluice_factory, tmp_path, redis):
    key = new_key()
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"n": i, "q": key}) + "\n" for i in range(3000)))
    s = sluice_factory(f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:
  p:
    input: {{file: {{path: {{dir}}/in.jsonl}}}}
    output:
      redis_list: {{url: "{redis.url}", key: "{{{{q}}}}", command: rpush}}
""")
    s.start(wait_ready=False)
    assert s.proc.wait(60) == 0, s.log_text()
    got = redis.py(f'print("\\n".join(r.lrange("{key}", 0, -1)))')
    # Each write keeps its messages' order; writes run side by side.
    assert sorted(json.loads(g)["n"] for g in got) == list(range(3000))


def test_rediss_verifies_the_server_and_then_works(sluice_factory, tmp_path, tmp_path_factory):
    server = RedisServer(tmp_path_factory.mktemp("redis-tls"), tls=True)
    try:
        key = new_key()
        push(server, key, [json.dumps({"n": i}) for i in range(100)])

        def config(host, ca=True):
            return to_file(server, key).replace(f'url: "{server.url}"', f'url: "rediss://{host}:{server.tls_port}"' +
                                                (f', tls_ca_file: "{server.ca_file}"' if ca else ""))
        # Not our CA, and a name the certificate does not carry: refused, saying why; nothing taken.
        for name, cfg, why in [("unknown-ca", config("localhost", ca=False), "certificate verify failed"),
                               ("wrong-name", config("127.0.0.1"), "certificate verify failed")]:
            s = sluice_factory(cfg, name=name).start()
            wait_for(lambda: why in s.log_text(), 20, f"the refusal ({name}) in the log")
            assert "TLS handshake failed" in s.log_text()
            assert s.stop() == 0, s.log_text()
            assert llen(server, key) == 100, "nothing taken over an unverified connection"
        s = sluice_factory(config("localhost"), name="verified").start()
        wait_for(lambda: len(lines(tmp_path / "out.jsonl")) == 100, 30, "the 100 items over TLS")
        assert s.stop() == 0, s.log_text()
        assert llen(server, key, key + ":processing:c1") == 0
    finally:
        server.stop()


@pytest.mark.parametrize("fields, message", [
    ('key: k', "give the Redis `url`, or `client` naming a redis resource"),
    ('url: "redis://h", client: main, key: k', "give the Redis `url`, or `client`"),
    ('url: "rediss://h", key: k, tls_ca_file: /nonexistent/ca.pem', "cannot read tls_ca_file /nonexistent/ca.pem"),
    ('url: "http://h", key: k', "'http' is not a redis://, rediss:// or redis+sentinel:// URL"),
    ('url: "redis://h/x", key: k', "'x' is not a database number"),
    ('url: "redis://h", key: k, mode: peek', "must be one of: reliable, pop"),
])
def test_lint_refuses_what_cannot_connect(tmp_path, fields, message):
    r = lint(f"""
pipelines:
  p:
    input: {{redis_list: {{{fields}}}}}
    output: {{drop: {{}}}}
""", tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
