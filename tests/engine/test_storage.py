"""A damaged database is never read as an empty one (issue 8, point 3):
sluice refuses to start on an overwritten page, a 0-byte or missing
database where one was created before, or a WAL whose header SQLite would
ignore, and says which file and what to do. Before, each started with part
of its messages or none, and said nothing."""
import json
import os
import time
import urllib.error

from conftest import http_get, wait_for

N = 2000
FILL = """
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
pipelines:
  fill:
    input: {{generate: {{count: {n}}}}}
    output: {{queue: {{name: q}}}}
{idle}"""
IDLE = """  idle:  # keeps sluice running after the fill
    input: {http_server: {address: "127.0.0.1:0", path: /idle}}
    output: {drop: {}}
"""


def fill(sluice_factory, keep_running=False):
    s = sluice_factory(FILL.format(n=N, idle=IDLE if keep_running else ""), name="fill").start(wait_ready=False)
    if keep_running:
        wait_for(lambda: s.admin_ready() and s.metric("sluice_queue_depth", queue="q") == N, 30, f"{N} queued")
    else:
        assert s.proc.wait(30) == 0, s.log_text()
    return s


def refused_start(sluice_factory, tmp_path):
    """Starts sluice on the data directory; returns its log once it exits."""
    s = sluice_factory(FILL.format(n=1, idle=IDLE), name="again").start(wait_ready=False)
    try:
        code = s.proc.wait(30)
    except Exception:
        raise AssertionError(f"sluice started on a damaged database: {s.log_text()}")
    log = s.log_text()
    assert code != 0, log
    return log


def test_an_overwritten_page_is_refused_at_start_naming_the_file(sluice_factory, tmp_path):
    fill(sluice_factory)
    db = tmp_path / "data/queue.db"
    assert db.stat().st_size > 96 * 1024, db.stat().st_size
    with open(db, "r+b") as f:
        f.seek(16 * 1024)
        f.write(os.urandom(64 * 1024))
    log = refused_start(sluice_factory, tmp_path)
    assert f"{db} is damaged" in log and "restore it from a backup" in log, log


def test_an_empty_or_missing_database_that_held_data_is_an_error_not_a_fresh_start(sluice_factory, tmp_path):
    fill(sluice_factory)
    db = tmp_path / "data/queue.db"
    assert (tmp_path / "data/queue.db-created").exists()
    db.write_bytes(b"")
    log = refused_start(sluice_factory, tmp_path)
    assert f"{db} is empty, but a database was created there before" in log, log
    assert f"delete {db}-created to start with an empty one" in log, log
    db.unlink()
    log = refused_start(sluice_factory, tmp_path)
    assert f"{db} is missing, but a database was created there before" in log, log


def test_a_wal_with_a_damaged_header_is_refused_not_ignored(sluice_factory, tmp_path):
    s = fill(sluice_factory, keep_running=True)
    s.kill9()  # the WAL stays, holding commits not yet checkpointed
    wal = tmp_path / "data/queue.db-wal"
    assert wal.stat().st_size > 32, "a WAL to damage"
    with open(wal, "r+b") as f:
        f.seek(8)
        f.write(b"\xde\xad\xbe\xef")  # page size: the header's checksum no longer matches
    log = refused_start(sluice_factory, tmp_path)
    assert f"{wal} holds commits SQLite would ignore: its header checksum does not match" in log, log


RUNNING = """
admin: {{address: "{{admin}}"}}
data_dir: {{dir}}/data
alerts: {{queue: q, from: "+15005550006"}}  # for the queue API, which reads the rows back
pipelines:
  fill:
    input: {{generate: {{count: {n}}}}}
    output: {{queue: {{name: q}}}}
{idle}"""


def get(s, path):
    try:
        return http_get(s.url(path))
    except urllib.error.HTTPError as e:
        return e.code, e.read().decode()


def test_damage_met_at_run_time_is_logged_once_and_makes_the_process_unready(sluice_factory, tmp_path):
    s = sluice_factory(RUNNING.format(n=N, idle=IDLE)).start(wait_ready=False)
    wait_for(lambda: s.admin_ready() and s.metric("sluice_queue_depth", queue="q") == N, 30, f"{N} queued")
    assert get(s, "/health/ready")[0] == 200
    # Idle for longer than the store keeps SQLite's page cache (5 s): the
    # next read comes from the files. The rows are in the WAL (no checkpoint
    # yet) or the database; scribble over both.
    time.sleep(6.5)
    for name in ("queue.db", "queue.db-wal"):
        path = tmp_path / "data" / name
        size = path.stat().st_size
        if size > 8192:
            with open(path, "r+b") as f:
                f.seek(4096)
                f.write(os.urandom(size - 4096))
    for _ in range(3):
        code, body = get(s, "/api/queues/q/messages?limit=1000")
        assert code == 503, f"read a damaged queue as if nothing were wrong: {code} {body[:300]}"
    db = tmp_path / "data/queue.db"
    code, body = get(s, "/health/ready")
    assert code == 503 and str(db) in json.loads(body)["faults"][0], body
    log = s.log_text()
    assert log.count("/health/ready answers 503 until sluice restarts on a repaired file") == 1, log[-3000:]
    assert f"{db}: " in log, log[-3000:]
    s.kill9()
