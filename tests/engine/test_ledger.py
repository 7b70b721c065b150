"""The delivery ledger end to end: sends recorded from the twilio output's
`then:`, status callbacks from provider-sim (reordered, duplicated) through
http_server, and per-status counts compared with provider-sim's own."""
import re
import sqlite3
import time

from conftest import free_port, wait_for
from test_twilio import ACCOUNT, TOKEN, e2e_config, provider, stats  # noqa: F401 (provider: a pytest fixture)


def ledger_config(sim_port, hook_port, count, send_token=TOKEN):
    """test_twilio's send and callback pipelines, with the ledger recording
    sends (`then:` of the twilio output), refusals (its `dead_letter:`) and
    callbacks (from the queue)."""
    return e2e_config(
        sim_port, hook_port, count, rate="2000/s", burst=20, send_token=send_token,
        message='{"alert_id":"al_e2e","to":"+1555000{{seq}}","body":"alert {{seq}}"}',
        send_processors="\n    processors:\n      - ledger_dedupe: {}",
        extra="""
      then:
        ledger: {record: sends}
        batching: {count: 500, period: 20ms}
      dead_letter:
        ledger: {record: failures}""") + """
  record:
    input: {queue: {name: statuses, batch_size: 500}}
    output:
      ledger: {record: statuses}
      batching: {count: 500, period: 20ms}
"""


def ledger_counts(tmp_path):
    db = sqlite3.connect(tmp_path / "data/ledger.db")
    try:
        return dict(db.execute("SELECT status, COUNT(*) FROM ledger_messages GROUP BY status").fetchall())
    finally:
        db.close()


def test_ledger_counts_equal_the_providers_with_reordered_and_duplicate_callbacks(sluice_factory, provider, tmp_path):
    n = 20_000
    sim = provider("--mps", "5000", "--queue-size", "100000", "--max-concurrency", "1000",
                   "--delivery-delay-ms", "50", "--reorder", "0.2", "--duplicates", "0.2")
    hook = free_port()
    s = sluice_factory(ledger_config(sim, hook, n)).start()
    wait_for(lambda: stats(sim)["counts"].get("queued", 0) >= n, 120, f"{n} sends")

    def settled():
        counts = ledger_counts(tmp_path)
        return sum(counts.get(k, 0) for k in ("delivered", "undelivered", "failed")) == n and \
            s.metric("sluice_ledger_held_callbacks") == 0 and s.metric("sluice_queue_depth", queue="statuses") == 0
    wait_for(settled, 120, "every message at a final status in the ledger")
    time.sleep(1)  # let late duplicates arrive: they must change nothing
    st = stats(sim)["counts"]
    counts = ledger_counts(tmp_path)
    print(f"provider: {st}; ledger: {counts}; duplicates ignored "
          f"{s.metric('sluice_ledger_duplicates_ignored_total')}, stale {s.metric('sluice_ledger_stale_ignored_total')}, "
          f"early {s.metric('sluice_ledger_early_callbacks_total')}")
    assert st["queued"] == n, "every message sent exactly once"
    for status in ("delivered", "undelivered", "failed"):
        assert counts.get(status, 0) == st.get(status, 0), f"{status}: ledger {counts} vs provider {st}"
    assert sum(counts.values()) == n
    assert s.metric("sluice_ledger_sends_recorded_total") == n
    assert s.metric("sluice_ledger_duplicates_ignored_total") > 0, "the provider sent duplicates"
    assert s.metric("sluice_ledger_stale_ignored_total") > 0, "the provider reordered a message's callbacks"
    early = s.metric("sluice_ledger_early_callbacks_total")
    assert early > 0 and s.metric("sluice_ledger_early_reconciled_total") == early, "every early callback reconciled"
    assert s.metric("sluice_ledger_statuses_applied_total") >= n
    assert s.metric("sluice_pipeline_nacked_total") == 0
    assert s.metric("sluice_queue_depth", queue="statuses.dead") == 0
    assert s.stop() == 0


API_TOKEN = "alerts-token"


def api(s, method, path, body=None, token=API_TOKEN):
    import json
    import urllib.error
    import urllib.request
    data = body if isinstance(body, bytes) else (json.dumps(body).encode() if body is not None else None)
    headers = {"Content-Type": "application/json"}
    if token:
        headers["Authorization"] = f"Bearer {token}"
    req = urllib.request.Request(s.url(path), data=data, method=method, headers=headers)
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def alert_config(sim, hook, send_token=TOKEN):
    """The ledger pipelines fed by the alert API instead of a generator."""
    cfg = ledger_config(sim, hook, 1, send_token)
    start = cfg.index("  enqueue:")
    end = cfg.index("  callbacks:")
    cfg = cfg[:start] + cfg[end:]
    return f"alerts: {{queue: outbound, from: '+15005550006', token: {API_TOKEN}, max_recipients: 1000}}\n" + cfg


def test_alert_api_sends_one_message_per_recipient_and_reports_exact_counts(sluice_factory, provider):
    sim = provider("--mps", "2000", "--delivery-delay-ms", "50", "--reorder", "0.2", "--duplicates", "0.2")
    s = sluice_factory(alert_config(sim, free_port())).start()
    csv = "phone,name\n" + "".join(f"+1555100{i:04d},person {i}\n" for i in range(300)) + "+15551000000,again\n"
    status, created = api(s, "POST", "/api/alerts", {"body": "Evacuate building B", "recipients": csv})
    assert status == 201, created
    assert created["recipients"] == 300 and created["duplicates_removed"] == 1
    alert = created["id"]

    def done():
        return api(s, "GET", f"/api/alerts/{alert}")[1]["terminal"] == 300
    wait_for(done, 60, "all 300 recipients at a final status")
    time.sleep(0.5)
    _, report = api(s, "GET", f"/api/alerts/{alert}")
    provider_counts = stats(sim)["counts"]
    assert provider_counts["queued"] == 300
    for st in ("delivered", "undelivered", "failed"):
        assert report["by_status"][st] == provider_counts.get(st, 0), (report, provider_counts)
    assert report["messages"] == report["recipients_sent"] == report["recipients"] == 300
    assert report["body"] == "Evacuate building B" and report["from"] == "+15005550006"
    assert report["time_to_delivered"]["count"] == report["by_status"]["delivered"]
    assert report["time_to_delivered"]["p50_ms"] <= report["time_to_delivered"]["p99_ms"]
    assert sum(n for _, n in report["sends_per_second"]) == 300
    _, listed = api(s, "GET", "/api/alerts")
    assert [a["id"] for a in listed["alerts"]] == [alert]
    assert s.stop() == 0


def test_alert_api_refuses_bad_requests(sluice_factory, provider):
    s = sluice_factory(alert_config(provider(), free_port())).start()
    assert api(s, "GET", "/api/alerts", token=None)[0] == 401
    assert api(s, "POST", "/api/alerts", {"body": "x", "recipients": ["+15551230001"]}, token="wrong")[0] == 401
    assert api(s, "POST", "/api/alerts", b"{not json")[0] == 400
    status, err = api(s, "POST", "/api/alerts", {"body": "x", "recipients": ["+15551230001", "12"]})
    assert status == 400 and "recipients[1] '12'" in err["error"], err
    assert api(s, "POST", "/api/alerts", {"recipients": ["+15551230001"]})[0] == 400
    assert api(s, "POST", "/api/alerts", {"body": "x" * 1601, "recipients": ["+15551230001"]})[0] == 400
    assert api(s, "POST", "/api/alerts", {"body": "x", "recipients": 5})[0] == 400
    many = [f"+1555200{i:04d}" for i in range(1001)]
    assert api(s, "POST", "/api/alerts", {"body": "x", "recipients": many})[0] == 413
    assert api(s, "GET", "/api/alerts/al_missing")[0] == 404
    assert api(s, "GET", "/api/alerts")[1] == {"alerts": []}, "refused alerts leave nothing behind"
    assert s.stop() == 0


def test_alert_api_counts_characters_cuts_echoes_between_them_and_checks_the_sender(sluice_factory, provider):
    s = sluice_factory(alert_config(provider(), free_port())).start()
    one = ["+15551230001"]
    status, created = api(s, "POST", "/api/alerts", {"body": "\u00e9" * 1600, "recipients": one})
    assert status == 201, "1,600 characters (3,200 bytes) is within Twilio's limit"
    status, err = api(s, "POST", "/api/alerts", {"body": "\u00e9" * 1601, "recipients": one})
    assert status == 400 and "longer than 1600 characters" in err["error"], err
    import urllib.parse
    status, err = api(s, "GET", f"/api/alerts/{created['id']}/recipients?" + urllib.parse.quote("\u00e9" * 40) + "=1")
    assert status == 400 and err["error"] == "unknown parameter '" + "\u00e9" * 16 + "'", err  # 32 bytes, whole characters
    for sender in ("Fire Dept", "+15005550006", "MG" + "0" * 32):
        assert api(s, "POST", "/api/alerts", {"body": "x", "recipients": one, "from": sender})[0] == 201, sender
    for sender in ("<script>", "15005550006", "Far Too Long Name", "caf\u00e9"):
        status, err = api(s, "POST", "/api/alerts", {"body": "x", "recipients": one, "from": sender})
        assert status == 400 and "'from' must be an E.164 number" in err["error"], (sender, err)
    import urllib.request
    req = urllib.request.Request(s.url("/api/alerts"), headers={"Authorization": f"bEaReR {API_TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.status == 200, "the auth scheme is case-insensitive"
    assert s.stop() == 0


def test_alert_cli_sends_waits_and_reports(sluice_factory, provider, tmp_path):
    import json
    import subprocess
    from conftest import SLUICE
    sim = provider("--mps", "1000", "--delivery-delay-ms", "50")
    s = sluice_factory(alert_config(sim, free_port())).start()
    csv = tmp_path / "people.csv"
    csv.write_text("phone\n" + "".join(f"+1555300{i:04d}\n" for i in range(120)) + "+15553000007\n")
    admin = ["--admin", s.url(""), "--token", API_TOKEN]
    sent = subprocess.run([SLUICE, "alert", "send", "--recipients", str(csv), "--body", "Drill at 3pm", "--wait",
                           "--timeout", "60", *admin], capture_output=True, text=True, timeout=90)
    alert = sent.stdout.split("\n")[0]
    assert alert.startswith("al_"), sent.stdout
    assert "accepted 120/120" in sent.stderr, sent.stderr  # plain progress lines: stderr is not a terminal
    assert "1 duplicate number(s) removed; 120 recipients" in sent.stderr, sent.stderr
    assert "recipients       120   accepted      120   final      120" in sent.stdout, "--wait ends with the report"
    assert "\n  state       done\n" in sent.stdout, sent.stdout
    delivered = int(re.search(r"^\s+delivered\s+(\d+)$", sent.stdout, re.M).group(1))
    # provider-sim fails 5% by default: 0 only when every recipient got it.
    assert sent.returncode == (0 if delivered == 120 else 3), (sent.returncode, sent.stderr)
    host_port = ["--admin", s.url("").removeprefix("http://"), "--token", API_TOKEN]  # host:port works too
    table = subprocess.run([SLUICE, "alert", "status", alert, *host_port], capture_output=True, text=True, timeout=30)
    assert table.returncode == 0, table.stderr
    assert re.search(r"^  rates       sent [0-9.]+ msg/s   delivered [0-9.]+ msg/s$", table.stdout, re.M), table.stdout
    report = json.loads(subprocess.run([SLUICE, "alert", "status", alert, "--json", *admin], capture_output=True,
                                       text=True, timeout=30).stdout)
    assert report["terminal"] == 120
    assert re.search(rf"^\s+delivered\s+{report['by_status']['delivered']}$", table.stdout, re.M), table.stdout
    assert "recipients       120   accepted      120   final      120" in table.stdout, table.stdout
    missing = subprocess.run([SLUICE, "alert", "status", "al_nope", *admin], capture_output=True, text=True, timeout=30)
    assert missing.returncode == 2 and "HTTP 404" in missing.stderr
    bad = subprocess.run([SLUICE, "alert", "send", "--recipients", str(csv), "--body", "x", "--admin", s.url(""),
                          "--token", "wrong"], capture_output=True, text=True, timeout=30)
    assert bad.returncode == 1 and "HTTP 401" in bad.stderr
    assert s.stop() == 0


def test_an_alert_sent_with_wrong_credentials_completes_with_every_recipient_failed(sluice_factory, provider, tmp_path):
    """The provider refuses every send for good (401, code 20003): each
    recipient is recorded as failed with that code, the alert completes, and
    --wait says so and exits non-zero instead of waiting out its timeout."""
    import json
    import subprocess
    from conftest import SLUICE
    sim = provider()
    s = sluice_factory(alert_config(sim, free_port(), send_token="not-the-token")).start()
    csv = tmp_path / "people.csv"
    csv.write_text("phone\n" + "".join(f"+1555400{i:04d}\n" for i in range(50)))
    admin = ["--admin", s.url(""), "--token", API_TOKEN]
    sent = subprocess.run([SLUICE, "alert", "send", "--recipients", str(csv), "--body", "Gas leak", "--wait",
                           "--timeout", "60", *admin], capture_output=True, text=True, timeout=90)
    assert sent.returncode == 3, (sent.returncode, sent.stdout, sent.stderr)
    assert "50 of 50 recipients not delivered" in sent.stderr, sent.stderr
    assert re.search(r"^\s+failed\s+50$", sent.stdout, re.M), sent.stdout
    assert re.search(r"^\s+20003\s+50$", sent.stdout, re.M), sent.stdout
    assert re.search(r"^\s+refused\s+50\s", sent.stdout, re.M), sent.stdout
    alert = sent.stdout.split("\n")[0]
    _, report = api(s, "GET", f"/api/alerts/{alert}")  # what the dashboard shows
    assert report["terminal"] == report["recipients"] == report["refused"] == 50, report
    assert report["by_status"]["failed"] == 50 and report["failures_by_code"] == {"20003": 50}, report
    assert report["send_rate"] == 0 and report["time_to_sent"]["count"] == 0, "refusals are not sends"
    _, listed = api(s, "GET", "/api/alerts")
    assert listed["alerts"][0]["failures_by_code"] == {"20003": 50}
    status = subprocess.run([SLUICE, "alert", "status", alert, *admin], capture_output=True, text=True, timeout=30)
    assert status.returncode == 0 and re.search(r"^\s+20003\s+50$", status.stdout, re.M), status.stdout
    assert stats(sim)["counts"].get("queued", 0) == 0, "the provider accepted nothing"
    # Who failed, and why: the drill-down, paged, and as CSV.
    _, page = api(s, "GET", f"/api/alerts/{alert}/recipients?status=failed,undelivered&limit=20&offset=40")
    assert page["total"] == 50 and page["offset"] == 40 and len(page["recipients"]) == 10, page
    assert all(r["status"] == "failed" and r["error_code"] == "20003" and r["sid"] == "" for r in page["recipients"])
    import urllib.request
    req = urllib.request.Request(s.url(f"/api/alerts/{alert}/recipients?status=failed&format=csv"),
                                 headers={"Authorization": f"Bearer {API_TOKEN}"})
    with urllib.request.urlopen(req, timeout=10) as r:
        assert r.headers["Content-Type"].startswith("text/csv")
        rows = r.read().decode().splitlines()
    assert rows[0] == "recipient,status,error_code,sid,sent_at_ms,final_at_ms,attempts" and len(rows) == 51, rows[:3]
    assert sorted(row.split(",")[0] for row in rows[1:]) == [f"+1555400{i:04d}" for i in range(50)]
    assert api(s, "GET", f"/api/alerts/{alert}/recipients?status=delivered")[1]["total"] == 0
    assert api(s, "GET", f"/api/alerts/{alert}/recipients?status=bogus")[0] == 400
    assert api(s, "GET", f"/api/alerts/{alert}/recipients?limit=-1")[0] == 400
    assert api(s, "GET", f"/api/alerts/{alert}/recipients?format=xml")[0] == 400
    assert api(s, "GET", "/api/alerts/al_missing/recipients")[0] == 404
    assert api(s, "GET", f"/api/alerts/{alert}/recipients", token=None)[0] == 401
    assert s.stop() == 0


def reconcile_pipeline(sim, timeout="1s", give_up="1h"):
    """ledger_overdue -> twilio_lookup -> ledger: what examples/alert-demo.yaml runs."""
    return f"""
  reconcile:
    input: {{ledger_overdue: {{final_status_timeout: {timeout}, give_up_after: {give_up}}}}}
    output:
      twilio_lookup: {{base_url: "http://127.0.0.1:{sim}", account_sid: "{ACCOUNT}", auth_token: "{TOKEN}"}}
      then:
        ledger: {{record: statuses, sid: '{{{{sid}}}}', status: '{{{{meta.twilio_status}}}}', error_code: '{{{{meta.twilio_error_code}}}}'}}
"""


def send_alert(s, n, prefix):
    csv = "phone\n" + "".join(f"+1555{prefix}{i:04d}\n" for i in range(n))
    status, created = api(s, "POST", "/api/alerts", {"body": "Boil water notice", "recipients": csv})
    assert status == 201, created
    return created["id"]


def test_an_alert_whose_callbacks_never_come_finishes_with_the_providers_numbers(sluice_factory, provider):
    """The callbacks are lost (their URL answers nothing): the overdue messages
    are looked up at the provider, and the report ends equal to its records."""
    sim = provider("--mps", "1000", "--delivery-delay-ms", "20", "--undelivered", "0.2", "--failed", "0.1")
    hook, lost = free_port(), free_port()
    cfg = alert_config(sim, hook).replace(f"status_callback: http://127.0.0.1:{hook}/", f"status_callback: http://127.0.0.1:{lost}/")
    s = sluice_factory(cfg + reconcile_pipeline(sim)).start()
    alert = send_alert(s, 60, "500")
    wait_for(lambda: api(s, "GET", f"/api/alerts/{alert}")[1]["terminal"] == 60, 60, "all 60 final through lookups")
    _, report = api(s, "GET", f"/api/alerts/{alert}")
    counts = stats(sim)["counts"]
    assert counts.get("lookups", 0) >= 60 and counts.get("callbacks_ok", 0) == 0, counts
    for st in ("delivered", "undelivered", "failed"):
        assert report["by_status"][st] == counts.get(st, 0), (report["by_status"], counts)
    assert report["by_status"]["unknown"] == 0
    assert sum(report["failures_by_code"].values()) == counts.get("undelivered", 0) + counts.get("failed", 0)
    assert s.stop() == 0


def test_an_alert_the_provider_never_finishes_ends_unknown_after_give_up_after(sluice_factory, provider):
    sim = provider("--mps", "1000", "--delivery-delay-ms", "600000")  # final statuses in 10 minutes
    s = sluice_factory(alert_config(sim, free_port()) + reconcile_pipeline(sim, give_up="3s")).start()
    alert = send_alert(s, 20, "600")
    wait_for(lambda: api(s, "GET", f"/api/alerts/{alert}")[1]["terminal"] == 20, 60, "all 20 given up as unknown")
    _, report = api(s, "GET", f"/api/alerts/{alert}")
    assert report["by_status"]["unknown"] == 20, report["by_status"]
    assert stats(sim)["counts"].get("lookups", 0) >= 20
    assert s.stop() == 0


def test_an_alert_refused_on_a_full_disk_leaves_nothing_and_alerts_work_again(sluice_factory, provider, tmp_path):
    """On a 3 MiB tmpfs data_dir, filled but for a little: creating an alert
    fails as a whole (503 with Retry-After, no alert in the ledger, no row in
    the queue, nothing sent), and succeeds once space returns."""
    import os
    import subprocess
    if os.geteuid() != 0:
        import pytest
        pytest.skip("needs root to mount a small tmpfs")
    data = tmp_path / "data"
    data.mkdir()
    mounted = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(data)], capture_output=True, text=True)
    if mounted.returncode != 0:
        import pytest
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip()}")
    try:
        sim = provider("--mps", "2000", "--delivery-delay-ms", "20")
        s = sluice_factory(alert_config(sim, free_port())).start()
        recipients = [f"+1555300{i:04d}" for i in range(1000)]
        filler = data / "filler"
        with open(filler, "wb") as f:  # all but 64 KiB: the alert's 1,000 rows cannot fit
            free = os.statvfs(data).f_bavail * os.statvfs(data).f_frsize
            f.write(b"\0" * max(0, free - 64 * 1024))
        import json
        import urllib.error
        import urllib.request
        for attempt in range(3):
            req = urllib.request.Request(
                s.url("/api/alerts"), method="POST",
                data=json.dumps({"body": "Evacuate", "recipients": recipients}).encode(),
                headers={"Content-Type": "application/json", "Authorization": f"Bearer {API_TOKEN}"})
            try:
                urllib.request.urlopen(req, timeout=10)
                raise AssertionError("an alert was created on a full disk")
            except urllib.error.HTTPError as e:
                err = json.loads(e.read())
                assert e.code == 503 and e.headers["Retry-After"] == "30", (e.code, err)
                assert "disk is full" in err["error"], err
        time.sleep(1)
        assert api(s, "GET", "/api/alerts")[1]["alerts"] == [], "a refused alert stayed in the ledger"
        assert s.metric("sluice_queue_depth", queue="outbound") == 0, "a refused alert left rows in the queue"
        assert stats(sim)["counts"].get("queued", 0) == 0, "a refused alert was sent"

        filler.unlink()
        status, created = api(s, "POST", "/api/alerts", {"body": "Evacuate", "recipients": recipients})
        assert status == 201, created
        try:
            wait_for(lambda: stats(sim)["counts"].get("queued", 0) == 1000, 60, "the alert's 1,000 sends")
        except AssertionError:
            sizes = {p.name: p.stat().st_size for p in data.iterdir()}
            raise AssertionError(f"sent {stats(sim)['counts'].get('queued', 0)} of 1,000; data_dir {sizes}, "
                                 f"free {os.statvfs(data).f_bavail * os.statvfs(data).f_frsize}: {s.log_text()}")
        _, listed = api(s, "GET", "/api/alerts")
        assert [a["id"] for a in listed["alerts"]] == [created["id"]]
        assert s.stop() == 0
    finally:
        subprocess.run(["umount", "-l", str(data)], check=False)
