"""The dashboard in a real browser: Debian's headless Chromium, driven by
playwright-core (npm), watches an alert go out during `sluice demo`."""
import json
import os
import pathlib
import re
import shutil
import subprocess
import urllib.request

from conftest import SLUICE, free_port, http_get, wait_for
from test_twilio import provider  # noqa: F401 (a pytest fixture)

BROWSER_DIR = pathlib.Path(__file__).resolve().parents[1] / "browser"
# Screenshots the browser tests take, for a person to look at; never committed.
ARTIFACTS = pathlib.Path(os.environ.get("SLUICE_TEST_ARTIFACTS", BROWSER_DIR.parents[1] / "build/test-artifacts"))


def artifact(name):
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS.resolve() / name


def test_dashboard_shows_counts_changing_during_an_alert():
    # Not a skip: `make test` installs both (scripts/install-deps).
    assert shutil.which("chromium"), "Debian chromium is missing: run scripts/install-deps"
    assert (BROWSER_DIR / "node_modules/playwright-core").exists(), "run scripts/install-deps (npm ci in tests/browser)"
    port = free_port()
    demo = subprocess.Popen([SLUICE, "demo", "--recipients", "4000", "--rate", "200", "--admin", f"127.0.0.1:{port}"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        url = f"http://127.0.0.1:{port}/"
        wait_for(lambda: _alert_started(port), 30, "the demo's alert to start")
        page = http_get(url)[1]
        assert "<title>sluice: alerts</title>" in page, page[:200]
        assert not re.search(r"""(src|href)=["']?https?:""", page), "one offline page: it loads nothing from elsewhere"
        hostile = "<img src=x onerror=alert(1)>\"'&amp;</td>"
        req = urllib.request.Request(f"http://127.0.0.1:{port}/api/alerts", method="POST",
                                     data=json.dumps({"body": hostile, "recipients": ["+15559990001"]}).encode(),
                                     headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(req, timeout=10) as created:
            assert created.status == 201
        shot = artifact("dashboard.png")
        r = subprocess.run(["node", str(BROWSER_DIR / "dashboard.mjs"), url, str(shot), hostile], capture_output=True,
                           text=True, timeout=90, cwd=BROWSER_DIR)
        assert r.returncode == 0, r.stdout + r.stderr
        seen = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"dashboard: sent {seen['first']} then {seen['second']}; funnel {seen['funnel']}; screenshot {shot}")
        assert seen["second"] > seen["first"], seen
        assert seen["tabOrder"][:3] == ["Alerts", "Pipelines", "Dead letters"], seen["tabOrder"]
        assert seen["focused"].startswith("al_"), "after the page links, Tab reaches the alert list"
        row = seen["missed"][0]
        assert row[0].startswith("+1555") and row[1] in ("failed", "undelivered") and row[2] in ("30003", "30008"), row
        assert not seen["errors"], seen["errors"]
        assert shot.stat().st_size > 10_000 and (ARTIFACTS / "dashboard-phone.png").stat().st_size > 10_000
        assert seen["hostileShown"], "the hostile body is shown as text"
        assert seen["badge"] in ("sending", "waiting for statuses"), seen["badge"]
        assert seen["funnelNames"][0] == "not yet sent" and "unknown" in seen["funnelNames"], seen["funnelNames"]
        assert seen["phoneOverflow"] <= 0, f"at phone width the page is {seen['phoneOverflow']} px too wide"
    finally:
        demo.terminate()
        out, _ = demo.communicate(timeout=30)
    assert demo.returncode == 0 or re.search(r"accepted \d+/4000", out), out


def _alert_started(port):
    try:
        alerts = json.loads(http_get(f"http://127.0.0.1:{port}/api/alerts", timeout=1)[1])["alerts"]
        return alerts and alerts[0]["messages"] > 0
    except OSError:
        return False


DEAD_TOKEN = "dead-letter-token"


def dead_letter_config(sim_port, count):
    """Sends through provider-sim with the wrong auth token: every message is
    refused (401, 20003) and goes to outbound.dead with the reason."""
    from test_twilio import ACCOUNT
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
alerts: {{token: {DEAD_TOKEN}}}
pipelines:
  produce:
    input: {{generate: {{count: {count}, template: '{{"to":"+1555000{{{{seq}}}}","body":"alert {{{{seq}}}}"}}'}}}}
    output: {{queue: {{name: outbound}}}}
  send:
    input: {{queue: {{name: outbound}}}}
    output:
      twilio: {{base_url: "http://127.0.0.1:{sim_port}", account_sid: {ACCOUNT}, auth_token: wrong, from: "+15005550006"}}
      dead_letter: {{queue: {{name: outbound.dead}}}}
"""


def admin_json(s, method, path, body=None, token=DEAD_TOKEN):
    import urllib.error
    req = urllib.request.Request(s.url(path), method=method, data=None if body is None else json.dumps(body).encode(),
                                 headers={"Content-Type": "application/json",
                                          **({"Authorization": f"Bearer {token}"} if token else {})})
    try:
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.status, json.loads(r.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def dead_depth(s):
    queues = {q["name"]: q for q in admin_json(s, "GET", "/api/queues")[1]["queues"]}
    return queues.get("outbound.dead", {}).get("depth", 0)


def test_dead_letters_show_their_reason_and_can_be_requeued_and_deleted(sluice_factory, provider):
    from test_twilio import stats
    sim = provider()
    s = sluice_factory(dead_letter_config(sim, 5)).start()
    wait_for(lambda: dead_depth(s) == 5, 30, "5 refused messages in outbound.dead")
    status, listed = admin_json(s, "GET", "/api/queues")
    assert status == 200
    dead = next(q for q in listed["queues"] if q["name"] == "outbound.dead")
    assert dead == {"name": "outbound.dead", "depth": 5, "dead": True, "requeue_to": "outbound"}, dead
    status, page = admin_json(s, "GET", "/api/queues/outbound.dead/messages?limit=2")
    assert status == 200 and page["depth"] == 5 and len(page["messages"]) == 2, page
    first = page["messages"][0]
    assert json.loads(first["payload"])["to"].startswith("+1555000"), first
    assert "20003" in first["metadata"]["error"] and first["metadata"]["error_pipeline"] == "send", first
    rest = admin_json(s, "GET", f"/api/queues/outbound.dead/messages?after={page['messages'][1]['id']}")[1]
    assert len(rest["messages"]) == 3, "paged by id"

    refused_before = stats(sim)["counts"].get("rejected_20003", 0)
    status, done = admin_json(s, "POST", "/api/queues/outbound.dead/requeue", {"ids": [first["id"]]})
    assert status == 200 and done == {"requeued": 1, "to": "outbound"}, done
    wait_for(lambda: stats(sim)["counts"].get("rejected_20003", 0) == refused_before + 1, 20,
             "the requeued message sent again")
    wait_for(lambda: dead_depth(s) == 5, 20, "it is refused again and back among the dead letters")

    # Unhappy paths: clear answers, nothing changed.
    assert admin_json(s, "GET", "/api/queues", token=None)[0] == 401
    assert admin_json(s, "POST", "/api/queues/outbound.dead/delete", {"all": True}, token="wrong")[0] == 401
    status, err = admin_json(s, "POST", "/api/queues/outbound/delete", {"all": True})
    assert status == 400 and "only dead-letter queues" in err["error"], err
    for body in ({}, {"ids": []}, {"ids": ["x"]}, {"ids": [1], "all": True}, {"all": False}):
        status, err = admin_json(s, "POST", "/api/queues/outbound.dead/requeue", body)
        assert status == 400, (body, err)
    assert admin_json(s, "POST", "/api/queues/outbound.dead/purge", {"all": True})[0] == 404
    assert admin_json(s, "GET", "/api/queues/outbound.dead/messages?limit=x")[0] == 400
    assert dead_depth(s) == 5

    status, done = admin_json(s, "POST", "/api/queues/outbound.dead/delete", {"all": True})
    assert status == 200 and done == {"deleted": 5}, done
    assert dead_depth(s) == 0
    assert admin_json(s, "GET", "/api/queues/outbound.dead/messages")[1]["messages"] == []
    assert s.stop() == 0


def test_the_dead_letters_page_requeues_from_a_browser(sluice_factory, provider, tmp_path):
    assert shutil.which("chromium"), "Debian chromium is missing: run scripts/install-deps"
    sim = provider()
    s = sluice_factory(dead_letter_config(sim, 3)).start()
    wait_for(lambda: dead_depth(s) == 3, 30, "3 refused messages in outbound.dead")
    shot = artifact("dead-letters.png")
    r = subprocess.run(["node", str(BROWSER_DIR / "dead_letters.mjs"), s.url("/"), str(shot), DEAD_TOKEN],
                       capture_output=True, text=True, timeout=90, cwd=BROWSER_DIR)
    assert r.returncode == 0, r.stdout + r.stderr
    seen = json.loads(r.stdout.strip().splitlines()[-1])
    print(f"dead letters page: {seen}")
    assert not seen["errors"], seen["errors"]
    assert seen["visiblePages"] == ["page-dead-letters"], seen["visiblePages"]
    assert seen["queues"] and seen["queues"][0].startswith("outbound.dead"), seen
    assert len(seen["rows"]) == 3 and all("20003" in row[1] for row in seen["rows"]), seen["rows"]
    assert "requeued (1)" in seen["action"], seen["action"]
    assert seen["pipelines"] >= 2 and seen["phoneOverflow"] <= 0, seen
    assert shot.stat().st_size > 10_000
    assert s.stop() == 0
