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

BROWSER_DIR = pathlib.Path(__file__).resolve().parents[1] / "browser"


def test_dashboard_shows_counts_changing_during_an_alert():
    # Not a skip: `make test` installs both (scripts/install-deps).
    assert shutil.which("chromium"), "Debian chromium is missing: run scripts/install-deps"
    assert (BROWSER_DIR / "node_modules/playwright-core").exists(), "run scripts/install-deps (npm ci in tests/browser)"
    port = free_port()
    demo = subprocess.Popen([SLUICE, "demo", "--recipients", "4000", "--rate", "500", "--admin", f"127.0.0.1:{port}"],
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
        artifacts = pathlib.Path(os.environ.get("SLUICE_TEST_ARTIFACTS", "test-artifacts")).resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        shot = artifacts / "dashboard.png"
        r = subprocess.run(["node", str(BROWSER_DIR / "dashboard.mjs"), url, str(shot), hostile], capture_output=True,
                           text=True, timeout=90, cwd=BROWSER_DIR)
        assert r.returncode == 0, r.stdout + r.stderr
        seen = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"dashboard: sent {seen['first']} then {seen['second']}; funnel {seen['funnel']}; screenshot {shot}")
        assert seen["second"] > seen["first"], seen
        assert seen["focused"].startswith("al_"), "Tab reaches the alert list first"
        row = seen["missed"][0]
        assert row[0].startswith("+1555") and row[1] in ("failed", "undelivered") and row[2] in ("30003", "30008"), row
        assert not seen["errors"], seen["errors"]
        assert shot.stat().st_size > 10_000 and (artifacts / "dashboard-phone.png").stat().st_size > 10_000
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
