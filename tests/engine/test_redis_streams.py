"""The redis_streams input and output against a real redis-server, with
python3-redis as producer and checker: kill -9 at random moments loses no
entry, a dead consumer's pending entries are claimed by another, an entry
that keeps failing ends in the dead-letter stream with the reason, a
Redis restart loses nothing, XADD trims with MAXLEN ~."""
import collections
import json
import time

import pytest

from conftest import kill9_at_random_moments, lint, wait_for
from redis_peer import redis  # noqa: F401 (redis: a pytest fixture, one server per module)
from test_redis import lines, new_key

def new_stream():
    return new_key() + ":stream"


def xadd(redis, stream, items):
    redis.py(f"""
p = r.pipeline(transaction=False)
for line in sys.stdin.read().splitlines():
    p.xadd("{stream}", {{"body": line}})
p.execute()""", stdin="".join(i + "\n" for i in items))


def backlog(redis, stream, group="g"):
    """Entries the group has not acknowledged: pending plus never delivered; -1 while Redis cannot say."""
    code = f"""
try:
    groups = r.xinfo_groups("{stream}")
    g = [g for g in groups if g["name"] == "{group}"]
    if not g:
        print(r.xlen("{stream}"))
    else:
        print(g[0]["pending"] + len(r.xrange("{stream}", "(" + g[0]["last-delivered-id"], "+")))
except redis.exceptions.RedisError:
    print(-1)"""
    return int(redis.py(code)[0])


def to_file(redis, stream, rate="", consumer="c1", extra=""):
    limit = f"rate_limits: {{paced: {{rate: {rate}, burst: 100}}}}\n" if rate else ""
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
{limit}pipelines:
  p:
    input:
      redis_streams: {{url: "{redis.url}", stream: "{stream}", group: g, consumer: {consumer}, wait_time: 200ms{extra}}}
    output: {{file: {{path: {{dir}}/out.jsonl}}{", rate_limit: paced" if rate else ""}}}
"""


def test_kill9_at_random_moments_loses_nothing_from_a_stream(sluice_factory, tmp_path, redis):
    stream = new_stream()
    items = [json.dumps({"n": i}) for i in range(20000)]
    xadd(redis, stream, items)
    written = kill9_at_random_moments(sluice_factory, to_file(redis, stream, rate="1000/s"), tmp_path / "out.jsonl",
                                      seed=11)
    assert 0 < written[-1] < 20000, f"the kills did not land mid-stream: {written}"
    last = sluice_factory(to_file(redis, stream), name="last").start()
    wait_for(lambda: backlog(redis, stream) == 0, 60, "the group to acknowledge every entry")
    assert last.metric("sluice_redis_streams_recovered_total") > 0, "the restarted consumer read its own pending"
    assert last.stop() == 0, last.log_text()
    seen = collections.Counter(lines(tmp_path / "out.jsonl"))
    missing = set(items) - set(seen)
    assert not missing, f"{len(missing)} entries lost, e.g. {sorted(missing)[:3]}"
    duplicates = sum(n - 1 for n in seen.values())
    print(f"20,000 entries, 10 kills (written by then: {written}): {duplicates} delivered twice")
    assert duplicates <= 10 * 1100, duplicates  # a read of 100 and up to 1,000 acks not yet sent, per kill


def test_a_dead_consumers_pending_entries_are_claimed_by_another(sluice_factory, tmp_path, redis):
    stream = new_stream()
    items = [json.dumps({"n": i}) for i in range(2000)]
    xadd(redis, stream, items)
    a = sluice_factory(to_file(redis, stream, rate="500/s", consumer="gone"), name="gone").start()
    wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 300, 30, "300 entries written by the first consumer")
    a.kill9()
    pending = int(redis.py(f'print(r.xpending("{stream}", "g")["pending"])')[0])
    assert pending > 0, "the kill should leave entries pending"
    b = sluice_factory(to_file(redis, stream, consumer="other", extra=", claim_after: 1s"), name="other").start()
    wait_for(lambda: backlog(redis, stream) == 0, 60, "every entry acknowledged")
    assert b.metric("sluice_redis_streams_claimed_total") >= pending, b.log_text()
    assert b.stop() == 0, b.log_text()
    assert set(lines(tmp_path / "out.jsonl")) == set(items)


def test_an_entry_that_keeps_failing_ends_in_the_dead_letter_stream(sluice_factory, redis, refusing):
    stream = new_stream()
    xadd(redis, stream, ['{"n":1}', '{"n":2}'])
    s = sluice_factory(f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:
  p:
    input:
      redis_streams: {{url: "{redis.url}", stream: "{stream}", group: g, consumer: c1, claim_after: 200ms,
                       max_deliveries: 3, wait_time: 100ms}}
    output:
      http_client: {{url: "{refusing}"}}
      retry: {{max_attempts: 1}}
""").start()
    wait_for(lambda: int(redis.py(f'print(r.xlen("{stream}:dead"))')[0]) == 2, 30, "both entries dead-lettered")
    assert s.stop() == 0, s.log_text()
    dead = redis.py(f'print("\\n".join(json.dumps(f) for i, f in r.xrange("{stream}:dead", "-", "+")))')
    fields = [json.loads(d) for d in dead]
    assert sorted(f["body"] for f in fields) == ['{"n":1}', '{"n":2}']
    assert all(f["sluice_stream"] == stream and f["sluice_reason"] == "delivered 4 times (max_deliveries 3)"
               for f in fields), fields
    assert backlog(redis, stream) == 0, "dead letters are acknowledged"


def test_a_redis_restart_mid_run_loses_nothing_from_a_stream(sluice_factory, tmp_path, redis):
    stream = new_stream()
    items = [json.dumps({"n": i}) for i in range(3000)]
    xadd(redis, stream, items)
    s = sluice_factory(to_file(redis, stream, rate="1000/s")).start()
    wait_for(lambda: len(lines(tmp_path / "out.jsonl")) >= 500, 30, "500 entries written")
    redis.stop()
    time.sleep(1)
    redis.start()
    wait_for(lambda: backlog(redis, stream) == 0, 60, "every entry acknowledged after the restart")
    assert s.stop() == 0, s.log_text()
    assert set(lines(tmp_path / "out.jsonl")) == set(items)


def test_the_output_appends_in_order_and_trims_with_maxlen(sluice_factory, tmp_path, redis):
    stream = new_stream()
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(5000)))
    s = sluice_factory(f"""
data_dir: {{dir}}/data
pipelines:
  p:
    input: {{file: {{path: {{dir}}/in.jsonl}}}}
    output: {{redis_streams: {{url: "{redis.url}", stream: "{stream}", max_length: 1000}}, max_in_flight: 1}}
""")
    s.start(wait_ready=False)
    assert s.proc.wait(60) == 0, s.log_text()
    bodies = redis.py(f'print("\\n".join(f["body"] for i, f in r.xrange("{stream}", "-", "+")))')
    n = [json.loads(b)["n"] for b in bodies]
    assert n == list(range(n[0], 5000)), "the newest entries, in order (one write at a time)"
    assert 1000 <= len(n) < 1200, f"MAXLEN ~ 1000 kept {len(n)}"


@pytest.mark.parametrize("block, message", [
    ('redis_streams: {url: "redis://127.0.0.1:1"}', "stream"),
    ('redis_streams: {url: "redis://127.0.0.1:1", stream: s, start: middle}', "must be one of: oldest, newest"),
    ('redis_streams: {url: "redis://127.0.0.1:1", stream: s, max_deliveries: 0}', "max_deliveries"),
    ('redis_streams: {stream: s}', "give the Redis `url`, or `client`"),
])
def test_lint_refuses_a_stream_consumer_that_cannot_work(tmp_path, block, message):
    r = lint(f"""
pipelines:
  p:
    input: {{{block}}}
    output: {{drop: {{}}}}
""", tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
