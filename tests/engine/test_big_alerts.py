"""Big alerts: a million recipients through POST /api/alerts (JSON) and
`sluice alert send` (a CSV file, sent as text/csv) with bounded memory, the
alert route's own body limit, and `skip_invalid`, which sends to the good
rows and names the refused ones by line."""
import json
import re
import subprocess
import urllib.error
import urllib.request

from conftest import SANITIZED, SLUICE, free_port
from test_ledger import API_TOKEN

MILLION = 1_000_000
PEAK_RSS_LIMIT_MB = 300
# Under ASan the memory bound is not the product's and is not checked, and
# a million rows cost minutes: the same paths with a fifth of them.
BIG = MILLION // 5 if SANITIZED else MILLION


def big_alert_config():
    """The alert API over a queue nothing reads: these tests are about
    accepting (a sending pipeline would still be draining at stop)."""
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
alerts: {{queue: outbound, from: '+15005550006', token: {API_TOKEN}, max_recipients: {MILLION}}}
pipelines:
  idle:  # a pipeline that runs until stopped, so sluice does too
    input: {{http_server: {{address: "127.0.0.1:{free_port()}", path: /idle}}}}
    output: {{drop: {{}}}}
"""


def queue_depth(s, name):
    status, listed = urllib_get_json(s, "/api/queues")
    return {q["name"]: q["depth"] for q in listed["queues"]}.get(name, 0)


def post(s, path, data, content_type, timeout=120):
    req = urllib.request.Request(s.url(path), data=data, method="POST",
                                 headers={"Content-Type": content_type, "Authorization": f"Bearer {API_TOKEN}"})
    try:
        with urllib.request.urlopen(req, timeout=timeout) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def announced_body_answer(s, path, length):
    """The answer to a POST that announces `length` bytes of body: a refusal
    from the headers alone, or, when the server waits for the body, what the
    route says once it has come."""
    import socket
    with socket.create_connection(("127.0.0.1", s.admin_port), timeout=10) as c:
        c.sendall(f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: text/csv\r\n"
                  f"Content-Length: {length}\r\n\r\n".encode())
        c.settimeout(1)
        try:
            return c.recv(200).decode(errors="replace")
        except socket.timeout:
            pass
        c.settimeout(30)
        c.sendall(b"x" * length)  # within the limit: the route answers (here: no token, 401)
        return c.recv(200).decode(errors="replace")


def peak_rss_mb(s):
    with open(f"/proc/{s.proc.pid}/status") as f:
        return int(re.search(r"^VmHWM:\s+(\d+) kB", f.read(), re.M).group(1)) / 1024


def numbers(n, prefix):
    return [f"+1{prefix}{i:07d}" for i in range(n)]


def test_a_million_recipients_are_accepted_through_the_api_and_the_cli_in_bounded_memory(sluice_factory, tmp_path):
    s = sluice_factory(big_alert_config()).start()

    body = json.dumps({"body": "Boil water notice", "recipients": numbers(BIG, "555")}).encode()
    status, created = post(s, "/api/alerts", body, "application/json")
    assert status == 201, created
    assert created["recipients"] == BIG

    csv = tmp_path / "million.csv"
    csv.write_text("phone,name\n" + "".join(f"{n},resident\n" for n in numbers(BIG, "666")))
    sent = subprocess.run([SLUICE, "alert", "send", "--recipients", str(csv), "--body", "Boil water notice",
                           "--admin", s.url(""), "--token", API_TOKEN], capture_output=True, text=True, timeout=300)
    assert sent.returncode == 0, sent.stderr
    second = sent.stdout.strip()

    status, report = urllib_get_json(s, f"/api/alerts/{second}")
    assert status == 200 and report["recipients"] == BIG, report
    assert queue_depth(s, "outbound") == 2 * BIG
    rss = peak_rss_mb(s)
    print(f"peak RSS after two {BIG}-recipient alerts: {rss:.0f} MB")
    if not SANITIZED:  # ASan's shadow memory is not the product's
        assert rss < PEAK_RSS_LIMIT_MB, f"peak RSS {rss:.0f} MB"
    assert s.stop() == 0


def urllib_get_json(s, path):
    req = urllib.request.Request(s.url(path), headers={"Authorization": f"Bearer {API_TOKEN}"})
    with urllib.request.urlopen(req, timeout=30) as r:
        return r.status, json.loads(r.read())


def test_skip_invalid_sends_to_the_good_rows_and_names_the_refused_lines(sluice_factory, tmp_path):
    s = sluice_factory(big_alert_config()).start()
    csv = "phone\n+15551230001\n5551230002\n+15551230003\n<script>\n+15551230001\n"

    status, err = post(s, "/api/alerts?body=Drill", csv.encode(), "text/csv")
    assert status == 400 and "row 3 '5551230002'" in err["error"] and "row 5 '<script>'" in err["error"], err

    status, created = post(s, "/api/alerts?body=Drill&skip_invalid=true", csv.encode(), "text/csv")
    assert status == 201, created
    assert created["recipients"] == 2 and created["duplicates_removed"] == 1 and created["refused"] == 2
    assert created["refused_rows"] == [{"where": "row 3", "value": "5551230002"},
                                       {"where": "row 5", "value": "<script>"}]

    status, created = post(s, "/api/alerts", json.dumps(
        {"body": "Drill", "recipients": ["+15551230001", "nope"], "skip_invalid": True}).encode(), "application/json")
    assert status == 201 and created["refused_rows"] == [{"where": "recipients[1]", "value": "nope"}], created

    people = tmp_path / "people.csv"
    people.write_text(csv)
    sent = subprocess.run([SLUICE, "alert", "send", "--recipients", str(people), "--body", "Drill", "--skip-invalid",
                           "--admin", s.url(""), "--token", API_TOKEN], capture_output=True, text=True, timeout=60)
    assert sent.returncode == 0, sent.stderr
    assert "2 row(s) refused, not E.164 numbers; sending to the other 2" in sent.stderr, sent.stderr
    assert "  row 3: '5551230002'" in sent.stderr and "  row 5: '<script>'" in sent.stderr, sent.stderr
    assert s.stop() == 0


def test_a_csv_upload_refuses_bad_requests_clearly(sluice_factory):
    s = sluice_factory(big_alert_config()).start()
    one = b"+15551230001\n"
    status, err = post(s, "/api/alerts", one, "text/csv")
    assert status == 400 and "'body'" in err["error"], err
    status, err = post(s, "/api/alerts?body=x&colour=red", one, "text/csv")
    assert status == 400 and "unknown parameter 'colour'" in err["error"], err
    status, err = post(s, "/api/alerts?body=x&skip_invalid=maybe", one, "text/csv")
    assert status == 400 and "skip_invalid must be true or false" in err["error"], err
    status, err = post(s, "/api/alerts?body=%ZZ", one, "text/csv")
    assert status == 400 and "bad query string" in err["error"], err
    status, err = post(s, "/api/alerts?body=x", b"", "text/csv")
    assert status == 400 and "no recipients" in err["error"], err
    status, err = post(s, "/api/alerts?body=x", b"\xff\xfe+1555\x00\n", "text/csv")
    assert status == 400 and "not E.164" in err["error"], err
    # A truncated JSON body, and a body over the route's own limit.
    status, err = post(s, "/api/alerts", b'{"body": "x", "recipients": ["+1555', "application/json")
    assert status == 400, err
    assert announced_body_answer(s, "/api/alerts", MILLION * 64 + (2 << 20)).startswith("HTTP/1.1 413")
    assert announced_body_answer(s, "/api/alerts", 30 << 20).startswith("HTTP/1.1 401"), "30 MB is within its limit"
    # Every other admin route keeps the 1 MiB limit.
    assert announced_body_answer(s, "/api/pipelines", 2 << 20).startswith("HTTP/1.1 413")
    assert urllib_get_json(s, "/api/alerts")[1] == {"alerts": []}, "refused alerts leave nothing behind"
    assert s.stop() == 0
