"""The dashboard in a real browser: Debian's headless Chromium, driven by
playwright-core (npm), watches an alert go out during `sluice demo`."""
import json
import os
import pathlib
import re
import shutil
import subprocess

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
        assert "<title>sluice: alerts</title>" in page and "https://" not in page, "one offline page"
        artifacts = pathlib.Path(os.environ.get("SLUICE_TEST_ARTIFACTS", "test-artifacts")).resolve()
        artifacts.mkdir(parents=True, exist_ok=True)
        shot = artifacts / "dashboard.png"
        r = subprocess.run(["node", str(BROWSER_DIR / "dashboard.mjs"), url, str(shot)], capture_output=True,
                           text=True, timeout=90, cwd=BROWSER_DIR)
        assert r.returncode == 0, r.stdout + r.stderr
        seen = json.loads(r.stdout.strip().splitlines()[-1])
        print(f"dashboard: sent {seen['first']} then {seen['second']}; funnel {seen['funnel']}; screenshot {shot}")
        assert seen["second"] > seen["first"], seen
        assert seen["focused"].startswith("al_"), "Tab reaches the alert list first"
        row = seen["missed"][0]
        assert row[0].startswith("+1555") and row[1] in ("failed", "undelivered") and row[2] in ("30003", "30008"), row
        assert not seen["errors"], seen["errors"]
        assert shot.stat().st_size > 10_000
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
