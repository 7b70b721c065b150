"""The `redis` rate-limit backend: three sluice processes share one limit
through a real redis-server and send to one counting receiver. The limit
holds for the fleet (no 1-second window above rate + burst, the mean on
the rate), leases keep Redis to one round trip per many tokens (counted
from INFO commandstats), and a Redis stopped for 5 s only delays: nothing
is dead-lettered or lost."""
import bisect
import collections
import http.server
import threading
import time

import pytest

from conftest import lint, wait_for
from redis_peer import redis  # noqa: F401 (redis: a pytest fixture, one server per module)

RATE, BURST, PER_PROCESS = 300, 30, 2000


class Counting(http.server.BaseHTTPRequestHandler):
    """The provider: records when each message arrived."""
    protocol_version = "HTTP/1.1"

    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
        with self.server.lock:
            self.server.arrivals.append((time.monotonic(), body))
        self.send_response(200)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def provider():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Counting)
    server.daemon_threads = True
    server.arrivals, server.lock = [], threading.Lock()
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


def fleet_config(redis, provider, name, extra=""):
    backend = f'{{url: "{redis.url}"{extra}}}' if extra else f'"{redis.url}"'  # the URL alone: the short form
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data-{name}
rate_limits:
  sms: {{rate: {RATE}/s, burst: {BURST}, redis: {backend}}}
pipelines:
  send:
    input: {{generate: {{count: {PER_PROCESS}, template: '{{"n":"{name}-{{{{seq}}}}"}}'}}}}
    output:
      http_client: {{url: "http://127.0.0.1:{provider.server_address[1]}/send"}}
      rate_limit: sms
      max_in_flight: 64
"""


def script_calls(redis):
    """EVALSHA and EVAL calls so far, from INFO commandstats."""
    return int(redis.py('s = r.info("commandstats")\n'
                        'print(sum(s.get(k, {}).get("calls", 0) for k in ("cmdstat_evalsha", "cmdstat_eval")))')[0])


def fleet(sluice_factory, redis, provider, extra=""):
    return [sluice_factory(fleet_config(redis, provider, name, extra), name=name).start() for name in "abc"]


def test_three_processes_keep_one_limit_with_a_round_trip_per_many_tokens(sluice_factory, redis, provider):
    redis.py("r.config_resetstat()")
    procs = fleet(sluice_factory, redis, provider)
    n = 3 * PER_PROCESS
    wait_for(lambda: len(provider.arrivals) >= n, 60, f"{n} messages at the provider")
    for s in procs:
        assert s.proc.wait(30) == 0, s.log_text()
    times = sorted(t for t, _ in provider.arrivals)
    assert len(set(b for _, b in provider.arrivals)) == n == len(times), "each message sent once"
    # Each second from the first arrival; and, for the record, the busiest
    # sliding second, which also counts the receiver's own jitter (Python
    # threads: a 10 ms stall bunches 3 arrivals).
    per_second = collections.Counter(int(t - times[0]) for t in times)
    busiest = max(per_second.values())
    sliding = max(bisect.bisect_left(times, t + 1.0) - i for i, t in enumerate(times))
    steady = (3000 - 1000) / (times[3000] - times[1000])
    calls = script_calls(redis)
    print(f"{n} messages from 3 processes: busiest second {busiest} (sliding {sliding}), steady rate {steady:.1f}/s, "
          f"{calls} Redis round trips for the limit ({n / calls:.0f} tokens each)")
    assert busiest <= RATE + BURST, busiest
    assert abs(steady - RATE) <= RATE * 0.01, steady
    assert calls <= n / 50, calls


def test_a_redis_stopped_for_five_seconds_delays_and_loses_nothing(sluice_factory, redis, provider):
    procs = fleet(sluice_factory, redis, provider)
    wait_for(lambda: len(provider.arrivals) >= 1500, 30, "1,500 messages sent")
    redis.stop()
    time.sleep(5)
    redis.start()
    n = 3 * PER_PROCESS
    wait_for(lambda: len(provider.arrivals) >= n, 90, f"all {n} messages at the provider")
    for s in procs:
        assert s.proc.wait(30) == 0, s.log_text()  # each ends when its 2,000 are sent
        log = s.log_text()
        assert "failed for good" not in log and "dead letter" not in log, log
        assert "rate limit 'sms' unavailable" in log, "the wait is said"
    assert len(set(b for _, b in provider.arrivals)) == n == len(provider.arrivals)


def test_with_on_unavailable_local_each_process_limits_itself_meanwhile(sluice_factory, redis, provider):
    procs = fleet(sluice_factory, redis, provider, extra=", on_unavailable: local, instances: 3")
    wait_for(lambda: len(provider.arrivals) >= 1500, 30, "1,500 messages sent")
    redis.stop()
    stopped = time.monotonic()
    time.sleep(4)
    redis.start()
    wait_for(lambda: len(provider.arrivals) >= 3 * PER_PROCESS, 90, "all messages at the provider")
    # From 1.5 s on, the tokens leased before the stop are spent: each process sends at rate / 3.
    during = [t for t, _ in provider.arrivals if stopped + 1.5 <= t < stopped + 3.5]
    print(f"while Redis was away: {len(during) / 2:.0f}/s from 3 processes at {RATE}/3 each")
    assert RATE * 2 * 0.9 <= len(during) <= RATE * 2 * 1.02 + 3, len(during)
    for s in procs:
        assert s.proc.wait(30) == 0, s.log_text()
        assert "limiting locally at rate / instances" in s.log_text()


@pytest.mark.parametrize("backend, message", [
    ('"http://127.0.0.1:1"', "redis://"),
    ('{url: "redis://127.0.0.1:1", on_unavailable: drop}', "must be one of: wait, local"),
    ('{url: "redis://127.0.0.1:1", client: main}', "give the Redis `url`, or `client`"),
    ('{client: nowhere}', "nowhere"),
    ('{url: "redis://127.0.0.1:1", lease: 0s}', "lease"),
])
def test_lint_refuses_a_fleet_limit_that_cannot_work(tmp_path, backend, message):
    r = lint(f"""
rate_limits:
  sms: {{rate: 300/s, burst: 30, redis: {backend}}}
pipelines:
  p:
    input: {{generate: {{count: 1}}}}
    output: {{drop: {{}}, rate_limit: sms}}
""", tmp_path)
    assert r.returncode == 2 and message in r.stderr, r.stderr
