"""A damaged database is never read as an empty one (issue 8, point 3):
sluice refuses to start on an overwritten page, a 0-byte or missing
database where one was created before, or a WAL whose header SQLite would
ignore, and says which file and what to do. Before, each started with part
of its messages or none, and said nothing."""
import os

from conftest import wait_for

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
