"""The send side and the callback side together: queue -> twilio output
(rate limited) -> provider-sim -> signed status callbacks -> http_server ->
queue, counted end to end, plus provider faults."""
import json
import os
import sqlite3
import subprocess
import time

import pytest

from conftest import SLUICE, free_port, http_get, wait_for

ACCOUNT = "AC" + "1" * 32
TOKEN = "e2e-secret-token"


@pytest.fixture
def provider(tmp_path):
    procs = []

    def start(*flags):
        port = free_port()
        log = open(tmp_path / f"sim{len(procs)}.log", "wb")
        p = subprocess.Popen([SLUICE, "provider-sim", "--address", f"127.0.0.1:{port}", "--account-sid", ACCOUNT,
                              "--auth-token", TOKEN, "--seed", "7", *flags], stdout=log, stderr=log)
        procs.append(p)
        wait_for(lambda: _answers(port), 10, "provider-sim to listen")
        return port

    yield start
    for p in procs:
        p.terminate()
        p.wait(10)


def _answers(port):
    try:
        return http_get(f"http://127.0.0.1:{port}/sim/stats", timeout=1)[0] == 200
    except OSError:
        return False


def stats(port):
    return json.loads(http_get(f"http://127.0.0.1:{port}/sim/stats")[1])


def rows(tmp_path, queue):
    db = sqlite3.connect(tmp_path / "data/queue.db")
    try:
        return [(json.loads(p), json.loads(m)) for p, m in
                db.execute("SELECT payload, metadata FROM messages WHERE queue = ? ORDER BY id", (queue,))]
    finally:
        db.close()


def e2e_config(sim_port, hook_port, count, rate="50/s", burst=5, retry="", extra="",
               message='{"to":"{{phone}}","body":"alert {{seq}}"}', send_processors="", send_token=TOKEN):
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
rate_limits:
  provider: {{rate: {rate}, burst: {burst}}}
pipelines:
  enqueue:
    input: {{generate: {{count: {count}, template: '{message}'}}}}
    output: {{queue: {{name: outbound}}}}
  callbacks:
    input:
      http_server:
        address: 127.0.0.1:{hook_port}
        path: /twilio/status
        verify: {{twilio: {{auth_token: "{TOKEN}", public_url: "http://127.0.0.1:{hook_port}/twilio/status"}}}}
    output:
      queue: {{name: statuses}}
  send:
    input: {{queue: {{name: outbound}}}}{send_processors}
    output:
      twilio:
        base_url: http://127.0.0.1:{sim_port}
        account_sid: "{ACCOUNT}"
        auth_token: "{send_token}"
        from: "+15005550006"
        status_callback: http://127.0.0.1:{hook_port}/twilio/status
      rate_limit: provider
      max_in_flight: 32{retry}{extra}
"""


def test_send_at_the_limit_and_every_callback_arrives(sluice_factory, provider, tmp_path):
    n = 1000
    sim = provider("--mps", "200", "--delivery-delay-ms", "100")
    hook = free_port()
    s = sluice_factory(e2e_config(sim, hook, n)).start()
    wait_for(lambda: stats(sim)["counts"].get("queued", 0) >= n, 60, f"{n} sends")
    # Every message ends with two callbacks (sent, then a final status).
    wait_for(lambda: stats(sim)["counts"].get("callbacks_ok", 0) >= 2 * n, 30, "all callbacks")
    time.sleep(0.5)
    st = stats(sim)
    sender = st["senders"]["+15005550006"]
    print(f"provider saw {sender['accepted']} sends, {sender['average_per_second']:.2f}/s on average, "
          f"at most {sender['max_accepted_in_one_second']} in one second; counts {st['counts']}")
    assert st["counts"]["queued"] == n, "every message sent exactly once"
    assert sender["max_accepted_in_one_second"] <= 55
    assert abs(sender["average_per_second"] - 50) <= 50 * 0.02
    statuses = rows(tmp_path, "statuses")
    assert len(statuses) == st["counts"]["callbacks_ok"] == 2 * n, "every callback received, once"
    final = [p["MessageStatus"] for p, _ in statuses if p["MessageStatus"] != "sent"]
    for status in ("delivered", "undelivered", "failed"):
        assert final.count(status) == st["counts"].get(status, 0)
    assert len({p["MessageSid"] for p, _ in statuses}) == n
    assert rows(tmp_path, "outbound") == [] and rows(tmp_path, "outbound.dead") == []
    assert s.stop() == 0


def test_provider_faults_lose_nothing(sluice_factory, provider, tmp_path):
    """10% 5xx and 5% 429 from the provider: every message ends sent or
    dead-lettered with its reason, and none is sent twice."""
    n = 400
    sim = provider("--mps", "500", "--error-rate", "0.10", "--throttle-rate", "0.05")
    hook = free_port()
    cfg = e2e_config(sim, hook, n, rate="400/s", burst=20,
                     retry="\n      retry: {max_attempts: 8, initial: 10ms, max: 200ms}",
                     extra="\n      dead_letter: {queue: {name: failed_sends}}")
    s = sluice_factory(cfg).start()
    wait_for(lambda: s.metric("sluice_pipeline_acked_total", pipeline="send") >= n, 90, "every message settled")
    st = stats(sim)
    sent = st["counts"].get("queued", 0)
    dead = rows(tmp_path, "failed_sends")
    print(f"sent {sent}, dead-lettered {len(dead)}, provider counts {st['counts']}")
    assert st["counts"].get("rejected_500", 0) > 0 and st["counts"].get("rejected_20429", 0) > 0
    assert sent + len(dead) == n, "every message ends sent or dead-lettered"
    assert sent == n - len(dead)
    for _, meta in dead:
        assert meta["error"].startswith("gave up after 8 attempts"), meta
    assert s.metric("sluice_output_retries_total", pipeline="send") > 0
    assert s.stop() == 0


def test_invalid_number_is_dead_lettered_with_code_and_never_retried(sluice_factory, provider, tmp_path):
    sim = provider("--mps", "100")
    hook = free_port()
    cfg = e2e_config(sim, hook, 5, extra="\n      dead_letter: {queue: {name: failed_sends}}")
    cfg = cfg.replace('"to":"{{phone}}"', '"to":"not-a-number"')
    s = sluice_factory(cfg).start()
    wait_for(lambda: len(rows(tmp_path, "failed_sends")) == 5, 30, "5 dead letters")
    dead = rows(tmp_path, "failed_sends")
    assert all(m["twilio_error_code"] == "21211" for _, m in dead)
    assert all("Twilio HTTP 400 code 21211" in m["error"] and m["attempts"] == "1" for _, m in dead)
    assert stats(sim)["counts"].get("rejected_400", 0) == 5  # each tried once
    assert s.stop() == 0


def test_provider_sim_sids_are_unique_across_restarts_whatever_the_seed(provider):
    """A restarted simulator must not hand out the sids it gave before (the
    ledger would take new sends for old ones)."""
    import base64
    import urllib.request

    def one_sid(port):
        req = urllib.request.Request(
            f"http://127.0.0.1:{port}/2010-04-01/Accounts/{ACCOUNT}/Messages.json",
            data=b"To=%2B15551230001&From=%2B15005550006&Body=hi", method="POST",
            headers={"Authorization": "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode(),
                     "Content-Type": "application/x-www-form-urlencoded"})
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())["sid"]

    first, second = one_sid(provider()), one_sid(provider())  # the same --seed 7
    assert first != second
    for sid in (first, second):
        assert len(sid) == 34 and sid.startswith("SM") and all(c in "0123456789abcdef" for c in sid[2:]), sid


def test_provider_sim_lists_messages_newest_first_with_twilios_filters(provider):
    """The list filters the twilio output's crash check uses (To, From) and
    the rest of Twilio's (DateSent, DateSent<, DateSent>, PageSize)."""
    import base64
    import datetime
    import urllib.error
    import urllib.parse
    import urllib.request
    port = provider("--mps", "1000")
    auth = {"Authorization": "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode()}
    base = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"

    def post(to, body):
        data = urllib.parse.urlencode({"To": to, "From": "+15005550006", "Body": body}).encode()
        req = urllib.request.Request(base, data=data, method="POST", headers=dict(
            auth, **{"Content-Type": "application/x-www-form-urlencoded"}))
        with urllib.request.urlopen(req, timeout=5) as r:
            return json.loads(r.read())["sid"]

    def listed(query):
        req = urllib.request.Request(base + "?" + query, headers=auth)
        try:
            with urllib.request.urlopen(req, timeout=5) as r:
                return r.status, json.loads(r.read())
        except urllib.error.HTTPError as e:
            return e.code, json.loads(e.read())

    first, second, other = post("+15551230001", "one"), post("+15551230001", "two"), post("+15551239999", "x")
    status, page = listed(urllib.parse.urlencode({"To": "+15551230001"}))
    assert status == 200 and [m["sid"] for m in page["messages"]] == [second, first], page
    assert page["messages"][0]["body"] == "two" and page["messages"][0]["date_created"].endswith("+0000")
    assert [m["sid"] for m in listed("PageSize=1")[1]["messages"]] == [other]
    assert listed(urllib.parse.urlencode({"From": "+15009999999"}))[1]["messages"] == []
    time.sleep(0.1)  # sent at 1,000/s: every message has its date_sent now
    today = datetime.datetime.now(datetime.timezone.utc).date()
    assert len(listed(f"DateSent>={today}")[1]["messages"]) == 3, "DateSent>=: the name is 'DateSent>'"
    assert listed(f"DateSent<={today - datetime.timedelta(days=1)}")[1]["messages"] == []
    assert len(listed(f"DateSent={today}")[1]["messages"]) == 3
    status, err = listed("DateSent=yesterday")
    assert status == 400 and "DateSent" in err["message"], err
    assert listed("PageSize=0")[0] == 400
    assert stats(port)["counts"].get("duplicate_texts", 0) == 0
    post("+15551230001", "one")
    assert stats(port)["counts"]["duplicate_texts"] == 1, "the same text to the same number again"


def test_provider_sim_can_fail_first_attempts_that_a_resend_then_delivers(provider):
    """--first-attempt-undelivered: the share of first texts to a number that
    end undelivered (30003); the same text sent again is delivered. What a
    resend policy is tested against."""
    import base64
    import urllib.parse
    import urllib.request
    port = provider("--mps", "1000", "--delivery-delay-ms", "10", "--first-attempt-undelivered", "0.5")
    auth = {"Authorization": "Basic " + base64.b64encode(f"{ACCOUNT}:{TOKEN}".encode()).decode(),
            "Content-Type": "application/x-www-form-urlencoded"}
    base = f"http://127.0.0.1:{port}/2010-04-01/Accounts/{ACCOUNT}/Messages.json"

    def send(to):
        data = urllib.parse.urlencode({"To": to, "From": "+15005550006", "Body": "Evacuate"}).encode()
        with urllib.request.urlopen(urllib.request.Request(base, data=data, method="POST", headers=auth), timeout=5):
            pass

    numbers = [f"+1555123{i:04d}" for i in range(40)]
    for n in numbers:
        send(n)
    wait_for(lambda: sum(stats(port)["counts"].get(s, 0) for s in ("delivered", "undelivered")) == 40, 10, "40 final")
    first = stats(port)["counts"]
    assert 5 <= first.get("undelivered", 0) <= 35 and first.get("failed", 0) == 0, first
    with urllib.request.urlopen(urllib.request.Request(base, headers=auth), timeout=5) as r:
        listed = json.loads(r.read())["messages"]
    undelivered = [m["to"] for m in listed if m["status"] == "undelivered"]
    assert {m["error_code"] for m in listed if m["status"] == "undelivered"} == {30003}, listed[:3]
    for n in undelivered:
        send(n)
    wait_for(lambda: stats(port)["counts"].get("delivered", 0) == 40, 10, "every resend delivered")
    assert stats(port)["counts"]["undelivered"] == len(undelivered), "first attempts stay undelivered; resends deliver"
