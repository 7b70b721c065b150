"""The sidekiq input as the dedicated worker the seed ran in Ruby: jobs
pushed by Ruby (Sidekiq::Client.push_bulk, ActiveJob's perform_later) and
by the seed's Python code are worked into the ledger; jobs that fail in
sluice land in Sidekiq's retry and dead sets as Ruby's own do, and Ruby's
API retries them; sluice's scheduler brings retries back with no Ruby
process; unreadable jobs are set aside with the reason."""
import json

import pytest

from conftest import lint, wait_for
from test_ledger import ledger_counts
from redis_peer import redis  # noqa: F401 (redis: a pytest fixture, one server per module)
from sidekiq_peer import Sidekiq, ruby


@pytest.fixture(scope="module")
def sidekiq(redis, tmp_path_factory):
    """A Ruby Sidekiq under `myapp` (queues callbacks and default), for jobs that fail in Ruby to compare with."""
    s = Sidekiq(redis, tmp_path_factory.mktemp("sidekiq") / "myapp.log", "myapp")
    yield s
    s.stop()


def clear(redis):
    redis.py('for k in r.scan_iter(): (k.endswith("worker-ready") or r.delete(k))')


def worker_config(redis, queue, output, namespace="myapp", extra_input="", pipelines=""):
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:{pipelines}
  work:
    input:
      sidekiq: {{url: "{redis.url}", namespace: "{namespace}", queue: {queue}, consumer: w1{extra_input}}}
    output: {output}
"""


# The seed's Lambda: one LPUSH per job of StatusCallbackJob in ActiveJob's
# wrapper (Rails 6.1's fields), into <namespace>:queue:<queue>.
SEED_PUSH = """
import uuid, time
for line in sys.stdin.read().splitlines():
    sid, status, to = line.split(",")
    now = time.time()
    job_id = str(uuid.uuid4())
    aj = {"job_class": "StatusCallbackJob", "job_id": job_id, "provider_job_id": None, "queue_name": "statuses",
          "priority": None, "arguments": [sid, status, to], "executions": 0, "exception_executions": {},
          "locale": "en", "timezone": "UTC", "enqueued_at": "2026-12-03T10:00:00Z"}
    r.lpush("myapp:queue:statuses", json.dumps({
        "class": "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper", "wrapped": "StatusCallbackJob",
        "queue": "statuses", "args": [aj], "retry": True, "jid": uuid.uuid4().hex[:24],
        "created_at": now, "enqueued_at": now}))
"""


def test_jobs_pushed_by_ruby_and_the_seed_are_worked_into_the_ledger(sluice_factory, redis, tmp_path):
    clear(redis)
    n_bulk, n_active_job, n_seed = 5000, 500, 4500
    n = n_bulk + n_active_job + n_seed
    # Every message's send is in the ledger first (as the twilio output's `then:` records it).
    sends = f"""
  sends:
    input: {{generate: {{count: {n}, template: '{{"alert_id":"al_sk","to":"+1555{{{{seq}}}}","sid":"SM{{{{seq}}}}"}}'}}}}
    output:
      ledger: {{record: sends, sid: "{{{{sid}}}}", status: queued}}
      batching: {{count: 500, period: 20ms}}"""
    s = sluice_factory(worker_config(
        redis, "statuses", '{ledger: {record: statuses, sid: "{{0}}", status: "{{1}}"}, batching: {count: 500, period: 20ms}}',
        pipelines=sends)).start()
    ruby(redis, "myapp", f"""
Sidekiq::Client.push_bulk("class" => "CallbackWorker", "queue" => "statuses",
                          "args" => (1..{n_bulk}).map {{ |i| ["SM#{{i}}", "delivered", "+1555#{{i}}"] }})
({n_bulk + 1}..{n_bulk + n_active_job}).each {{ |i| StatusCallbackJob.set(queue: "statuses").perform_later("SM#{{i}}", "undelivered", "+1555#{{i}}") }}
""")
    redis.py(SEED_PUSH, stdin="".join(f"SM{i},failed,+1555{i}\n" for i in range(n_bulk + n_active_job + 1, n + 1)))

    want = {"delivered": n_bulk, "undelivered": n_active_job, "failed": n_seed}
    wait_for(lambda: ledger_counts(tmp_path) == want, 120, f"the ledger to hold {want}")
    # The last acknowledgements follow the ledger's commit by a moment.
    wait_for(lambda: s.metric("sluice_sidekiq_jobs_total", outcome="done") == n, 10, f"{n} jobs done")
    assert s.metric("sluice_sidekiq_jobs_total", outcome="unreadable") == 0
    assert redis.py('print(r.llen("myapp:queue:statuses"), r.llen("myapp:queue:statuses:processing:w1"), '
                    'r.zcard("myapp:retry"), r.zcard("myapp:dead"))') == ["0 0 0 0"]
    assert s.stop() == 0


SHOW = ('puts(Sidekiq::%s.new.map { |j| [j.display_class, j.display_args.first, j["error_class"], j["retry_count"], '
        'j.item.keys.sort.join(" ")].join("|") }.sort)')


def test_jobs_that_fail_in_sluice_land_in_the_retry_set_as_rubys_own(sluice_factory, redis, sidekiq, refusing):
    clear(redis)
    # A job that fails in Ruby, to compare with.
    sidekiq.ruby('CallbackWorker.set(queue: "callbacks").perform_async("ruby", "explode")')
    sidekiq.ruby('CallbackWorker.set(queue: "hooks").perform_async("SMplain", "x")\n'
                 'StatusCallbackJob.set(queue: "hooks").perform_later("SMaj", "x")\n'
                 'CallbackWorker.set(queue: "hooks", retry: 0).perform_async("SMdead", "x")')
    s = sluice_factory(worker_config(
        redis, "hooks", f'{{http_client: {{url: "{refusing}"}}, retry: {{max_attempts: 2, initial: 10ms}}}}')).start()
    retries = wait_for(lambda: (lambda lines: len(lines) == 3 and lines)(sidekiq.ruby(SHOW % "RetrySet").splitlines()),
                       60, "three jobs in the retry set")
    by_arg = {line.split("|")[1]: line.split("|") for line in retries}
    assert by_arg["SMplain"][:4] == ["CallbackWorker", "SMplain", "Sluice::DeliveryFailed", "0"], retries
    assert by_arg["SMaj"][:4] == ["StatusCallbackJob", "SMaj", "Sluice::DeliveryFailed", "0"], retries
    # sluice added to the job exactly the fields Sidekiq added to Ruby's failed job.
    assert by_arg["SMplain"][4] == by_arg["ruby"][4], retries
    dead = wait_for(lambda: sidekiq.ruby(SHOW % "DeadSet").splitlines(), 30, "a job in the dead set")
    assert [d.split("|")[:3] for d in dead] == [["CallbackWorker", "SMdead", "Sluice::DeliveryFailed"]], dead
    # Ruby's own API sends our failed job back to its queue; sluice fails it again and counts up.
    sidekiq.ruby('Sidekiq::RetrySet.new.each { |j| j.retry if j.display_args.first == "SMplain" }')
    wait_for(lambda: any(line.startswith("CallbackWorker|SMplain|Sluice::DeliveryFailed|1|")
                         for line in sidekiq.ruby(SHOW % "RetrySet").splitlines()), 60, "the second failure")
    item = json.loads(sidekiq.ruby('puts Sidekiq::RetrySet.new.find { |j| j.display_args.first == "SMplain" }.value'))
    assert item["retried_at"] >= item["failed_at"] and item["error_message"].startswith("sluice could not deliver")
    # Three first failures and SMplain's second; Ruby's scheduler may have brought SMaj back too (due after 15-24 s).
    assert s.metric("sluice_sidekiq_jobs_total", outcome="retried") >= 4
    assert s.metric("sluice_sidekiq_jobs_total", outcome="dead") == 1
    assert s.stop() == 0


def test_with_no_ruby_process_sluice_runs_due_retries_and_scheduled_jobs(sluice_factory, redis, tmp_path):
    clear(redis)
    # Nothing of Ruby runs under `solo`: only sluice's scheduler can move these.
    ruby(redis, "solo", """
now = Time.now.to_f
Sidekiq.redis { |r| r.zadd("retry", now - 1, JSON.dump("class" => "CallbackWorker", "args" => ["from-retry"],
  "queue" => "work", "jid" => "a" * 24, "retry" => true, "retry_count" => 0, "failed_at" => now - 30,
  "error_class" => "RuntimeError", "error_message" => "boom")) }
CallbackWorker.set(queue: "work").perform_in(2, "scheduled")
""")
    s = sluice_factory(worker_config(redis, "work", "{file: {path: {dir}/out.jsonl}}", namespace="solo",
                                     extra_input=", poll_interval: 200ms")).start()
    out = tmp_path / "out.jsonl"
    wait_for(lambda: out.exists() and len(out.read_text().splitlines()) == 2, 30, "both jobs worked")
    assert sorted(out.read_text().splitlines()) == ['["from-retry"]', '["scheduled"]']
    assert s.metric("sluice_sidekiq_enqueued_total") == 2
    assert redis.py('print(r.zcard("solo:retry"), r.zcard("solo:schedule"))') == ["0 0"]
    assert redis.py('print(r.smembers("solo:queues"))') == ["{'work'}"]
    assert s.stop() == 0


def test_unreadable_jobs_are_set_aside_with_the_reason_and_the_rest_are_worked(sluice_factory, redis, tmp_path):
    clear(redis)
    hostile = ["not json", "[1, 2]", '{"args": [1]}', '{"class": "A", "args": "x"}',
               '{"class": "ActiveJob::QueueAdapters::SidekiqAdapter::JobWrapper", "args": [{"job_class": "J", '
               '"arguments": [{"_aj_globalid": "gid://app/User/1"}]}]}', "[" * 100000]
    good = [json.dumps({"class": "A", "args": [i], "jid": f"{i:024x}"}) for i in range(3)]
    redis.py('for line in sys.stdin.read().splitlines(): r.lpush("queue:mixed", line)', stdin="\n".join(hostile + good))
    s = sluice_factory(worker_config(redis, "mixed", "{file: {path: {dir}/out.jsonl}}", namespace="")).start()
    out = tmp_path / "out.jsonl"
    wait_for(lambda: out.exists() and len(out.read_text().splitlines()) == 3, 30, "the three good jobs worked")
    wait_for(lambda: s.metric("sluice_sidekiq_jobs_total", outcome="unreadable") == len(hostile), 10,
             "the hostile jobs counted")
    aside = redis.py('print("\\n".join(r.lrange("queue:mixed:unreadable", 0, -1)))')
    assert sorted(aside) == sorted(hostile), "set aside exactly as they were"
    log = s.log_text()
    assert "the job is not JSON" in log and "moved to queue:mixed:unreadable" in log, log
    assert redis.py('print(r.llen("queue:mixed:processing:w1"))') == ["0"]
    assert s.stop() == 0


@pytest.mark.parametrize("fields, message", [
    ('queue: q, format: "5"', "must be one of: 6, 7, 8"),
    ('queue: q, heartbeat: 2s, reap_after: 5s', "reap_after must be at least three heartbeats"),
    ('queue: q, max_retries: -1', "max_retries"),
    ('queue: q, client: shared', "give the Redis `url`, or `client`"),
])
def test_lint_refuses_a_worker_that_would_misbehave(tmp_path, fields, message):
    r = lint(f"""
pipelines:
  p:
    input: {{sidekiq: {{url: "redis://127.0.0.1:1", {fields}}}}}
    output: {{drop: {{}}}}
""", tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
