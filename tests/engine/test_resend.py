"""Resend: reaching as many people as possible. provider-sim makes a tenth of
first attempts end undelivered (30003, unreachable for now) and delivers the
same text when it is sent again. With a resend policy sluice sends those
again and nearly everyone is reached; without one about 90% are. The
report's numbers are checked against the provider's own records."""
import subprocess

from conftest import SLUICE, free_port, wait_for
from test_ledger import API_TOKEN, alert_config, api
from test_twilio import provider, stats  # noqa: F401 (provider is a pytest fixture)

N = 500
FIRST_ATTEMPTS_LOST = "0.1"
# Every alert's policy, unless it names its own: one resend after a second.
CONFIG_POLICY = "resend: {codes: ['30003'], after: 1s, max_attempts: 1}"
RESEND_PIPELINE = """
  resend:
    input: {ledger_resend: {interval: 100ms}}
    output: {queue: {name: outbound}}
"""


def resend_config(sim):
    cfg = alert_config(sim, free_port())
    assert "max_recipients: 1000}" in cfg
    return cfg.replace("max_recipients: 1000}", f"max_recipients: 1000, {CONFIG_POLICY}}}") + RESEND_PIPELINE


def recipients(prefix):
    return [f"+1555{prefix}{i:04d}" for i in range(N)]


def send_and_wait(s, body):
    status, created = api(s, "POST", "/api/alerts", body)
    assert status == 201, created
    alert = created["id"]

    def done():
        return api(s, "GET", f"/api/alerts/{alert}")[1]["state"] == "done"
    wait_for(done, 90, f"alert {alert} done")
    return api(s, "GET", f"/api/alerts/{alert}")[1]


def test_resend_reaches_the_tenth_whose_first_attempt_was_lost(sluice_factory, provider):  # noqa: F811
    sim = provider("--mps", "2000", "--delivery-delay-ms", "50", "--first-attempt-undelivered", FIRST_ATTEMPTS_LOST)
    s = sluice_factory(resend_config(sim)).start()
    own = {"codes": ["30003"], "after": "500ms", "max_attempts": 2, "window": "1h"}
    report = send_and_wait(s, {"body": "Shelter in place", "recipients": recipients("310"), "resend": own})

    sim_counts = stats(sim)["counts"]
    lost = sim_counts["undelivered"]  # first attempts the provider made undeliverable
    attempts = report["attempts"]
    delivered = report["by_status"]["delivered"]
    print(f"delivered {delivered}/{N}; attempts {attempts}; provider {sim_counts}")
    assert N * 0.05 < lost < N * 0.15, sim_counts
    assert delivered >= 0.99 * N, report
    assert report["resend"] == {"codes": ["30003"], "after_ms": 500, "max_attempts": 2, "window_ms": 3_600_000}
    assert attempts["resent"] == lost, "each lost first attempt sent once more"
    assert attempts["delivered_after_resend"] == lost
    assert attempts["delivered_first_attempt"] == N - lost
    assert attempts["still_undelivered"] == report["by_status"]["undelivered"] == 0
    assert attempts["resends_waiting"] == 0
    assert report["messages"] == report["recipients_sent"] == N, "one current message per recipient"
    assert report["failures_by_code"] == {}, "resent failures leave the failure counts"
    assert sum(n for _, n in report["sends_per_second"]) == N + lost, "the resends count as sends"
    assert sim_counts["queued"] == N + lost and sim_counts["duplicate_texts"] == lost, "no text sent more often"
    assert sim_counts["with_validity_period"] == lost, "each resend carried what is left of the window"
    assert s.metric("sluice_ledger_resends_ordered_total") == lost

    status, page = api(s, "GET", f"/api/alerts/{report['id']}/recipients?status=undelivered")
    assert status == 200 and page["total"] == 0, "a superseded attempt is not the recipient's outcome"
    status, page = api(s, "GET", f"/api/alerts/{report['id']}/recipients?limit=1000")
    assert status == 200 and page["total"] == N, page["total"]
    assert sum(1 for r in page["recipients"] if r["attempts"] == 2) == lost

    table = subprocess.run([SLUICE, "alert", "status", report["id"], "--admin", s.url(""), "--token", API_TOKEN],
                           capture_output=True, text=True, timeout=30)
    assert table.returncode == 0, table.stderr
    assert (f"  attempts    delivered first time {N - lost}, after a resend {lost}; still undelivered 0; "
            "waiting to be resent 0\n") in table.stdout, table.stdout
    assert "\n  state       done\n" in table.stdout, table.stdout
    assert s.stop() == 0


def test_without_resend_about_ninety_percent_are_reached(sluice_factory, provider):  # noqa: F811
    sim = provider("--mps", "2000", "--delivery-delay-ms", "50", "--first-attempt-undelivered", FIRST_ATTEMPTS_LOST)
    s = sluice_factory(resend_config(sim)).start()
    report = send_and_wait(s, {"body": "Shelter in place", "recipients": recipients("320"), "resend": None})

    lost = stats(sim)["counts"]["undelivered"]
    delivered = report["by_status"]["delivered"]
    print(f"without resend: delivered {delivered}/{N}")
    assert 0.85 * N <= delivered <= 0.95 * N, report
    assert report["resend"] is None
    assert report["by_status"]["undelivered"] == report["attempts"]["still_undelivered"] == lost
    assert report["failures_by_code"] == {"30003": lost}
    assert report["attempts"]["resent"] == 0

    # An alert that names no policy gets the config's.
    status, created = api(s, "POST", "/api/alerts", {"body": "x", "recipients": ["+15553300001"]})
    assert status == 201, created
    _, other = api(s, "GET", f"/api/alerts/{created['id']}")
    assert other["resend"] == {"codes": ["30003"], "after_ms": 1000, "max_attempts": 1, "window_ms": 6 * 3_600_000}
    assert s.stop() == 0


def test_a_bad_resend_policy_is_refused_and_names_the_field(sluice_factory, provider):  # noqa: F811
    s = sluice_factory(resend_config(provider())).start()
    one = ["+15553400001"]
    bad = [({"codes": "30003", "max_attempts": 1}, "'resend.codes'"),
           ({"codes": ["<b>"], "max_attempts": 1}, "resend.codes"),
           ({"codes": [30003], "max_attempts": 11}, "'resend.max_attempts'"),
           ({"codes": ["30003"], "max_attempts": 1, "after": "-1s"}, "'resend.after'"),
           ({"codes": ["30003"], "max_attempts": 1, "window": "8d"}, "'resend.window'"),
           ({"codes": ["30003"], "max_attempts": 1, "window": 0}, "'resend.window'"),
           ({"codes": ["30003"], "max_attempts": 1, "when": "later"}, "'resend.when'"),
           ({"codes": []}, "'codes' and 'max_attempts'"),
           ("often", "'resend' must be an object")]
    for policy, named in bad:
        status, err = api(s, "POST", "/api/alerts", {"body": "x", "recipients": one, "resend": policy})
        assert status == 400 and named in err["error"], (policy, status, err)
    assert api(s, "GET", "/api/alerts")[1] == {"alerts": []}, "refused alerts leave nothing behind"
    assert s.stop() == 0
