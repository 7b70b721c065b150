"""The sidekiq output against a real Sidekiq (Debian's ruby-sidekiq 6.4.1
with ruby-activejob 6.1 and ruby-redis-namespace 1.9): callbacks signed by
twilio-python go http_server -> sidekiq, and the Ruby worker in
sidekiq_worker.rb performs each job exactly once, plain and ActiveJob,
with and without a namespace; failing jobs land in Sidekiq's retry and dead
sets as Ruby's own do; scheduled jobs wait in `schedule`; a Redis restart
loses no job sluice pushed."""
import collections
import http.client
import json
import re
import threading
import time
import urllib.parse

import pytest

from conftest import SANITIZED, free_port, lint, wait_for
from redis_peer import redis  # noqa: F401 (redis: a pytest fixture, one server per module)
from sidekiq_peer import Sidekiq

twilio = pytest.importorskip("twilio.request_validator")

TOKEN = "test-auth-token-0123456789abcdef"


@pytest.fixture(scope="module")
def sidekiqs(redis, tmp_path_factory):
    """Two Ruby Sidekiq processes on one Redis: one plain, one under the namespace `myapp`."""
    logs = tmp_path_factory.mktemp("sidekiq")
    running = {"": Sidekiq(redis, logs / "plain.log"), "myapp": Sidekiq(redis, logs / "myapp.log", "myapp")}
    yield running
    for s in running.values():
        s.stop()


def clear(redis):
    redis.py('for k in r.scan_iter(): (k.endswith("worker-ready") or r.delete(k))')


# The four forms: (Sidekiq namespace, output fields).
FORMS = {
    "plain": ("", 'class: CallbackWorker, args: ["{{MessageSid}}", "{{MessageStatus}}", "{{To}}"]'),
    "plain-namespaced": ("myapp", 'class: CallbackWorker, namespace: myapp, args: ["{{MessageSid}}", '
                                  '"{{MessageStatus}}", "{{To}}"]'),
    "active_job": ("", 'active_job: StatusCallbackJob, args: ["{{MessageSid}}", "{{MessageStatus}}", "{{To}}"]'),
    # The seed's: [To, MessageStatus, Body, timestamp] in <namespace>:queue:callbacks.
    "active_job-namespaced": ("myapp", 'active_job: StatusCallbackJob, namespace: myapp, format: "6", '
                                       'args: ["{{MessageSid}}", "{{MessageStatus}}", "{{To}}", "{{Body}}", '
                                       '"{{meta.received_at}}"]'),
}


def callbacks_config(redis, ports, extra_output=""):
    pipelines = "".join(f"""
  {name}:
    input:
      http_server:
        address: 127.0.0.1:{ports[name]}
        path: /twilio/status
        verify: {{twilio: {{auth_token: "{TOKEN}", public_url: "http://127.0.0.1:{ports[name]}/twilio/status"}}}}
    output:
      sidekiq: {{url: "{redis.url}/0", queue: callbacks, {fields}{extra_output}}}
""" for name, (_, fields) in FORMS.items())
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:{pipelines}"""


def send_signed(urls, callbacks, threads=8):
    """POSTs each (url index, form) signed by twilio-python's RequestValidator,
    over keep-alive connections; returns the statuses counted."""
    validator = twilio.RequestValidator(TOKEN)
    statuses = collections.Counter()
    lock = threading.Lock()

    def worker(k):
        conns = {}
        mine = collections.Counter()
        for i in range(k, len(callbacks), threads):
            which, form = callbacks[i]
            url = urllib.parse.urlsplit(urls[which])
            body = urllib.parse.urlencode(form)
            headers = {"X-Twilio-Signature": validator.compute_signature(urls[which], dict(form)),
                       "Content-Type": "application/x-www-form-urlencoded"}
            for attempt in range(3):
                conn = conns.get(which) or http.client.HTTPConnection(url.hostname, url.port, timeout=30)
                conns[which] = conn
                try:
                    conn.request("POST", url.path, body, headers)
                    r = conn.getresponse()
                    r.read()
                    mine[r.status] += 1
                    break
                except (OSError, http.client.HTTPException):
                    conn.close()
                    conns.pop(which)
            else:
                mine["no answer"] += 1
        with lock:
            statuses.update(mine)

    workers = [threading.Thread(target=worker, args=(k,)) for k in range(threads)]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return statuses


def callback(n, status="delivered"):
    return [("MessageSid", f"SM{n:032x}"), ("MessageStatus", status), ("To", f"+4477009{n % 100000:05d}"),
            ("Body", f"Flood warning {n}: move to higher ground"), ("AccountSid", "AC" + "0" * 32)]


def test_fifty_thousand_signed_callbacks_each_performed_once_in_every_form(sluice_factory, redis, sidekiqs):
    # The release run sends the whole 50,000; a sanitizer run, which only
    # looks for memory and threading faults, a fifth.
    n = 10_000 if SANITIZED else 50_000
    clear(redis)
    ports = {name: free_port() for name in FORMS}
    names = list(FORMS)
    s = sluice_factory(callbacks_config(redis, ports)).start()
    callbacks = [(names[i % 4], callback(i)) for i in range(n)]
    urls = {name: f"http://127.0.0.1:{ports[name]}/twilio/status" for name in FORMS}
    started = time.monotonic()
    statuses = send_signed(urls, callbacks)
    sent_in = time.monotonic() - started
    assert statuses == {200: n}, statuses

    def performed():
        return {ns: sk.results() for ns, sk in sidekiqs.items()}

    wait_for(lambda: sum(len(r) for r in performed().values()) >= n, 300, f"Sidekiq to perform {n:,} jobs",
             interval=1)
    time.sleep(1)  # a job performed twice would show up now
    results = performed()
    performed_in = time.monotonic() - started
    assert s.stop() == 0, s.log_text()
    for name, (ns, fields) in FORMS.items():
        kind = "active_job" if name.startswith("active_job") else "plain"
        got = [r for r in results[ns] if r["kind"] == kind]
        sids = collections.Counter(r["args"][0] for r in got)
        expected = {form[0][1] for which, form in callbacks if which == name}
        twice = [sid for sid, k in sids.items() if k > 1]
        assert set(sids) == expected and not twice, (
            f"{name}: {len(expected - set(sids))} never performed, {len(twice)} performed twice")
        assert all(re.fullmatch("[0-9a-f]{24}", r["jid"]) for r in got), f"{name}: a jid is not 24 hex digits"
        assert len({r["jid"] for r in got}) == len(got), f"{name}: jids repeat"
        sample = got[0]["args"]
        form = dict(next(f for w, f in callbacks if f[0][1] == sample[0]))
        assert sample[:3] == [form["MessageSid"], "delivered", form["To"]], sample
        if name == "active_job-namespaced":
            # meta.received_at: when sluice took the callback, in epoch milliseconds.
            assert sample[3] == form["Body"] and abs(int(sample[4]) / 1000 - time.time()) < 600, sample
        if kind == "active_job":
            assert all(re.fullmatch("[0-9a-f-]{36}", r["job_id"]) and r["queue"] == "callbacks" for r in got)
    # Nothing left over, and the queues are listed for Sidekiq's web UI.
    for ns, sk in sidekiqs.items():
        assert sk.ruby("puts Sidekiq::Queue.all.map { |q| [q.name, q.size].join('=') }.join(',')").strip() \
            == "callbacks=0", ns
    print(f"{n:,} signed callbacks accepted in {sent_in:.1f} s, all performed by Sidekiq in {performed_in:.1f} s")


def test_a_job_that_raises_shows_up_in_the_retry_set_as_rubys_own(sluice_factory, redis, sidekiqs, tmp_path):
    clear(redis)
    sk = sidekiqs["myapp"]
    # A job Ruby pushed the same way, to compare with.
    sk.ruby('CallbackWorker.set(queue: "callbacks").perform_async("ruby", "explode")')
    outputs = {
        "SMplain": "class: CallbackWorker",
        "SMaj": "active_job: StatusCallbackJob",
        "SMdead": 'class: CallbackWorker, retry: "0"',
    }
    pipelines = ""
    for sid, fields in outputs.items():
        (tmp_path / f"{sid}.jsonl").write_text(json.dumps({"sid": sid, "status": "explode"}) + "\n")
        pipelines += f"""
  {sid}:
    input: {{file: {{path: "{{dir}}/{sid}.jsonl"}}}}
    output: {{sidekiq: {{url: "{redis.url}", namespace: myapp, queue: callbacks, {fields},
                       args: ["{{{{sid}}}}", "{{{{status}}}}"]}}}}
"""
    s = sluice_factory("data_dir: {dir}/data\npipelines:" + pipelines)
    s.start(wait_ready=False)
    assert s.proc.wait(60) == 0, s.log_text()
    show = ('puts(Sidekiq::%s.new.map { |j| [j.display_class, j.display_args.first, j["error_class"], '
            'j["retry_count"], j.item.keys.sort.join(" ")].join("|") }.sort)')
    retries = wait_for(lambda: (lambda lines: len(lines) == 3 and lines)(sk.ruby(show % "RetrySet").splitlines()), 30,
                       "three jobs in the retry set")
    by_arg = {line.split("|")[1]: line.split("|") for line in retries}
    assert by_arg["SMplain"][:4] == ["CallbackWorker", "SMplain", "RuntimeError", "0"], retries
    assert by_arg["SMaj"][:4] == ["StatusCallbackJob", "SMaj", "RuntimeError", "0"], retries
    # Sidekiq added to ours exactly the fields it added to Ruby's.
    assert by_arg["SMplain"][4] == by_arg["ruby"][4], retries
    # retry: 0 goes straight to the dead set, as Sidekiq does with Ruby's.
    dead = wait_for(lambda: sk.ruby(show % "DeadSet").splitlines(), 30, "a job in the dead set")
    assert [d.split("|")[:3] for d in dead] == [["CallbackWorker", "SMdead", "RuntimeError"]], dead


def test_scheduled_jobs_wait_in_the_schedule_set(sluice_factory, redis, sidekiqs, tmp_path):
    clear(redis)
    sk = sidekiqs[""]
    at = time.time() + 4
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"n": i, "at": at}) + "\n" for i in range(100)))
    s = sluice_factory(f"""
data_dir: {{dir}}/data
pipelines:
  p:
    input: {{file: {{path: {{dir}}/in.jsonl}}}}
    output: {{sidekiq: {{url: "{redis.url}", queue: callbacks, class: CallbackWorker, args: ["{{{{n}}}}"],
                         at: "{{{{at}}}}"}}}}
""")
    s.start(wait_ready=False)
    assert s.proc.wait(60) == 0, s.log_text()
    assert sk.ruby("puts Sidekiq::ScheduledSet.new.size").strip() == "100"
    assert sk.results() == [], "a scheduled job ran early"
    wait_for(lambda: len(sk.results()) == 100, 30, "the scheduled jobs to run")
    assert time.time() >= at
    assert sorted(r["args"][0] for r in sk.results()) == list(range(100)), "the JSON number stays a number"


def test_a_redis_restart_mid_run_loses_no_job(sluice_factory, redis, tmp_path):
    # Into a queue no Sidekiq here reads: Sidekiq 6's own fetch (BRPOP) can
    # lose a job that Redis handed out as it stopped, and this counts ours.
    clear(redis)
    n = 3000
    (tmp_path / "in.jsonl").write_text("".join(json.dumps({"n": i}) + "\n" for i in range(n)))
    s = sluice_factory(f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
rate_limits: {{paced: {{rate: 1000/s, burst: 100}}}}
pipelines:
  p:
    input: {{file: {{path: {{dir}}/in.jsonl}}}}
    output: {{sidekiq: {{url: "{redis.url}", queue: restart, class: CallbackWorker, args: ["{{{{n}}}}"]}},
              rate_limit: paced}}
""").start()

    def pushed():
        return [json.loads(j)["args"][0] for j in redis.py('print("\\n".join(r.lrange("queue:restart", 0, -1)))') if j]

    wait_for(lambda: len(pushed()) >= 500, 30, "500 jobs pushed")
    redis.stop()
    time.sleep(1)
    redis.start()
    assert s.proc.wait(120) == 0, s.log_text()
    jobs = collections.Counter(pushed())
    assert set(jobs) == set(range(n)), f"{n - len(set(jobs) & set(range(n)))} jobs lost"
    print(f"{n:,} jobs across a Redis restart: {sum(jobs.values()) - n} pushed twice")


@pytest.mark.parametrize("fields, message", [
    ('class: A, active_job: B', "give `class` (a Sidekiq job class) or `active_job`"),
    ('queue: q', "give `class` (a Sidekiq job class) or `active_job`"),
    ('class: A, retry: maybe', "retry must be true, false or a number of retries, got 'maybe'"),
    ('class: A, format: "9"', "must be one of: 6, 7, 8"),
    ('class: A, args: "{{x}}"', "args"),
])
def test_lint_refuses_what_sidekiq_would_not_run(tmp_path, fields, message):
    r = lint(f"""
pipelines:
  p:
    input: {{generate: {{count: 1}}}}
    output: {{sidekiq: {{url: "redis://127.0.0.1:1", {fields}}}}}
""", tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
