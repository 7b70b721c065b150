"""The delivery ledger end to end: sends recorded from the twilio output's
`then:`, status callbacks from provider-sim (reordered, duplicated) through
http_server, and per-status counts compared with provider-sim's own."""
import sqlite3
import time

from conftest import free_port, wait_for
from test_twilio import e2e_config, provider, stats  # noqa: F401 (provider: a pytest fixture)


def ledger_config(sim_port, hook_port, count):
    """test_twilio's send and callback pipelines, with the ledger recording
    sends (`then:` of the twilio output) and callbacks (from the queue)."""
    return e2e_config(
        sim_port, hook_port, count, rate="2000/s", burst=20,
        message='{"alert_id":"al_e2e","to":"+1555000{{seq}}","body":"alert {{seq}}"}',
        send_processors="\n    processors:\n      - ledger_dedupe: {}",
        extra="""
      then:
        ledger: {record: sends}
        batching: {count: 500, period: 20ms}""") + """
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
    assert s.metric("sluice_pipeline_nacked_total") == 0
    assert s.metric("sluice_queue_depth", queue="statuses.dead") == 0
    assert s.stop() == 0
