"""`sluice demo`: the alert story end to end, and kill -9 in the middle of it."""
import json
import os
import re
import signal
import sqlite3
import subprocess
import time
import urllib.request

import pytest

from conftest import SANITIZED, SLUICE, free_port, wait_for

SIM_ACCOUNT = "AC" + "a" * 32  # provider-sim's and examples/alert-demo.yaml's defaults
SIM_TOKEN = "sim-auth-token"


def test_demo_sends_the_alert_at_the_limit_and_reports(tmp_path):
    r = subprocess.run([SLUICE, "demo", "--recipients", "2000", "--rate", "500", "--exit", "--admin", "127.0.0.1:0"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    out = r.stdout
    assert re.search(r"recipients\s+2000\s+accepted\s+2000\s+final\s+2000", out), out
    counts = {s: int(n) for s, n in re.findall(r"^\s+(delivered|undelivered|failed)\s+(\d+)$", out, re.M)}
    assert sum(counts.values()) == 2000, out
    rate = float(re.search(r"send rate\s+([\d.]+) msg/s against a limit of 500/s", out).group(1))
    # The limit holds in every build. Reaching it is a performance figure
    # (bench/RESULTS.md, `sluice demo --exit`): here only a gross shortfall
    # fails, since the suite shares two cores with other tests (478 msg/s
    # seen so) and sanitizers slow each request.
    assert rate <= 500 * 1.02, out
    if not SANITIZED:
        assert rate >= 500 * 0.8, out
    assert re.search(r"time_to_delivered\s+p50 \d+ ms\s+p90 \d+ ms\s+p99 \d+ ms", out), out


def sim_messages(port):
    req = urllib.request.Request(f"http://127.0.0.1:{port}/2010-04-01/Accounts/{SIM_ACCOUNT}/Messages.json")
    import base64
    req.add_header("Authorization", "Basic " + base64.b64encode(f"{SIM_ACCOUNT}:{SIM_TOKEN}".encode()).decode())
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())["messages"]


def recorded(data_dir):
    """(sid -> recipient, sid -> status) from the ledger; empty while sluice is
    still creating its tables."""
    db = sqlite3.connect(data_dir / "ledger.db")
    try:
        return dict(db.execute("SELECT sid, recipient FROM ledger_messages").fetchall()), \
            dict(db.execute("SELECT sid, status FROM ledger_messages").fetchall())
    except sqlite3.OperationalError as e:
        if "no such table" not in str(e):
            raise
        return {}, {}
    finally:
        db.close()


def test_demo_survives_kill9_without_sending_a_recorded_recipient_twice(tmp_path):
    n = 3000
    port = free_port()
    sim = subprocess.Popen([SLUICE, "provider-sim", "--address", f"127.0.0.1:{port}", "--mps", "1000",
                            "--delivery-delay-ms", "300", "--reorder", "0.1", "--duplicates", "0.1"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), 10, "provider-sim")
        data = tmp_path / "demo"
        cmd = [SLUICE, "demo", "--recipients", str(n), "--rate", "500", "--exit", "--admin", "127.0.0.1:0",
               "--data-dir", str(data), "--provider", f"http://127.0.0.1:{port}"]
        first = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        wait_for(lambda: (data / "ledger.db").exists() and len(recorded(data)[0]) >= n // 3, 60, "a third sent")
        first.send_signal(signal.SIGKILL)
        first.wait()
        before_kill = set(recorded(data)[0].values())
        assert 0 < len(before_kill) < n

        second = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
        assert second.returncode == 0, second.stdout + second.stderr
        assert "resuming unfinished alert" in second.stdout

        time.sleep(1)  # the last callbacks
        sends = {}
        final = {}
        for m in sim_messages(port):
            sends.setdefault(m["to"], []).append(m["sid"])
            final[m["sid"]] = m["status"]
        assert len(sends) == n, "every recipient was sent to"
        twice = [to for to in before_kill if len(sends[to]) != 1]
        assert not twice, f"{len(twice)} recipients recorded before the kill were sent again, e.g. {twice[:3]}"
        resent = sum(len(s) - 1 for s in sends.values())
        sid_to_recipient, status = recorded(data)
        assert set(sid_to_recipient.values()) == set(sends), "the ledger knows every recipient"
        wrong = {sid: (status[sid], final[sid]) for sid in status if status[sid] != final[sid]}
        assert not wrong, f"ledger statuses differ from the provider's: {list(wrong.items())[:3]}"
        print(f"recorded before the kill: {len(before_kill)}; sent again after it (in flight at the kill): {resent}")
    finally:
        sim.terminate()
        sim.wait(10)


def _listening(port):
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/sim/stats", timeout=1)
        return True
    except OSError:
        return False


def test_ten_kill9s_while_sending_lose_nobody_and_text_almost_nobody_twice(tmp_path):
    """3,000 messages at 200/s, sluice killed with SIGKILL ten times at random
    points of the sending: every recipient is sent to, and recipients whose
    send reached the provider but not the ledger are looked up there instead
    of being texted again (provider-sim counts the duplicate texts)."""
    import random
    n, kills = 3000, 10
    rng = random.Random(20261201)
    port = free_port()
    sim = subprocess.Popen([SLUICE, "provider-sim", "--address", f"127.0.0.1:{port}", "--mps", "1000",
                            "--delivery-delay-ms", "100"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(lambda: _listening(port), 10, "provider-sim")
        data = tmp_path / "demo"
        cmd = [SLUICE, "demo", "--recipients", str(n), "--rate", "200", "--exit", "--admin", "127.0.0.1:0",
               "--data-dir", str(data), "--provider", f"http://127.0.0.1:{port}"]
        killed_at = []
        for _ in range(kills):
            before = len(recorded(data)[0]) if (data / "ledger.db").exists() else 0
            if before >= n - 200:
                break
            run = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            step = rng.randint(20, 300)
            wait_for(lambda: (data / "ledger.db").exists() and len(recorded(data)[0]) >= before + step, 60,
                     f"{step} more sends recorded")
            time.sleep(rng.random() * 0.3)  # anywhere between two ledger commits
            run.send_signal(signal.SIGKILL)
            run.wait()
            killed_at.append(len(recorded(data)[0]))
        last = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
        assert last.returncode == 0, last.stdout + last.stderr

        sends = {}
        for m in sim_messages(port):
            sends.setdefault(m["to"], []).append(m["sid"])
        assert len(sends) == n, f"{n - len(sends)} recipients were never sent to"
        counts = json.loads(urllib.request.urlopen(f"http://127.0.0.1:{port}/sim/stats", timeout=5).read())["counts"]
        duplicates = counts.get("duplicate_texts", 0)
        assert duplicates == sum(len(s) - 1 for s in sends.values())
        print(f"killed {len(killed_at)} times, at {killed_at} recorded sends; looked up at the provider: "
              f"{counts.get('list_requests', 0)}; duplicate texts: {duplicates}")
        assert len(killed_at) >= 8, killed_at
        # Each kill leaves claimed, unrecorded recipients (a dequeued batch is
        # claimed at once and sent at 200/s): the lookups must have happened.
        assert counts.get("list_requests", 0) > 0, counts
        assert duplicates <= 10, f"{duplicates} recipients got the alert twice after {len(killed_at)} kills"
        sid_to_recipient, _ = recorded(data)
        assert set(sid_to_recipient.values()) == set(sends), "the ledger knows every recipient"
    finally:
        sim.terminate()
        sim.wait(10)


def sim_journal(path):
    """provider-sim's own records, replayed from its --state journal:
    sid -> (recipient, status)."""
    messages = {}
    for line in path.read_text().splitlines():
        try:
            e = json.loads(line)
        except json.JSONDecodeError:
            continue  # a line cut short by the kill
        if e["op"] == "add":
            messages[e["sid"]] = [e["to"], "queued"]
        elif e["op"] == "sent" and e["sid"] in messages and messages[e["sid"]][1] == "queued":
            messages[e["sid"]][1] = "sent"
        elif e["op"] == "final" and e["sid"] in messages:
            messages[e["sid"]][1] = e["status"]
    return {sid: tuple(v) for sid, v in messages.items()}


def test_a_demo_whose_sluice_and_provider_are_both_killed_completes_with_the_providers_numbers(tmp_path):
    """kill -9 of provider-sim and of sluice mid-alert, then `sluice demo`
    again: the simulator comes back with its records (--state), callbacks
    lost while sluice was down are looked up, every recipient ends final,
    and the ledger's counts equal the provider's."""
    n = 3000
    data = tmp_path / "demo"
    cmd = [SLUICE, "demo", "--recipients", str(n), "--rate", "500", "--exit", "--admin", "127.0.0.1:0",
           "--data-dir", str(data)]
    first = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    wait_for(lambda: (data / "ledger.db").exists() and len(recorded(data)[0]) >= n // 3, 60, "a third sent")
    children = open(f"/proc/{first.pid}/task/{first.pid}/children").read().split()
    assert len(children) == 1, children  # the simulator
    os.kill(int(children[0]), signal.SIGKILL)
    first.send_signal(signal.SIGKILL)
    first.wait()

    second = subprocess.run(cmd, capture_output=True, text=True, timeout=180)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "resuming unfinished alert" in second.stdout, second.stdout

    provider = sim_journal(data / "provider-sim.state")
    ledger_recipient, ledger_status = recorded(data)
    assert len(set(ledger_recipient.values())) == n, "every recipient has an outcome in the ledger"
    open_ones = {sid: st for sid, st in ledger_status.items() if st in ("queued", "accepted", "sending", "sent")}
    assert not open_ones, f"{len(open_ones)} recipients not final, e.g. {list(open_ones.items())[:3]}"
    assert set(ledger_recipient) == set(provider), "the ledger's sends are the provider's messages"
    wrong = {sid: (ledger_status[sid], provider[sid][1]) for sid in provider if ledger_status[sid] != provider[sid][1]}
    assert not wrong, f"{len(wrong)} statuses differ from the provider's, e.g. {list(wrong.items())[:3]}"
    ours = {st: list(ledger_status.values()).count(st) for st in ("delivered", "undelivered", "failed")}
    theirs = {st: [s for _, s in provider.values()].count(st) for st in ("delivered", "undelivered", "failed")}
    assert ours == theirs and sum(ours.values()) == n, (ours, theirs)
    for st, count in ours.items():
        assert re.search(rf"^\s+{st}\s+{count}$", second.stdout, re.M), f"report shows {st} {count}: {second.stdout}"
