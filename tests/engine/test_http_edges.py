"""HTTP framing and coding edge cases (RFC 9110/9112) on the http_server
input, over raw sockets: each refused request gets its status, the
connection is closed where the body's framing is unknown (so a body is never
read as the next request), and the server's own answers are counted with the
handler's."""
import os
import socket
import sqlite3
import subprocess
import sys
import time

import pytest

from conftest import SANITIZED, allow_descriptors, free_port, http_get, wait_for

FORM = "application/x-www-form-urlencoded"


def config(port, data_dir="{dir}/data"):
    return f"""
admin: {{address: "{{admin}}"}}
data_dir: {data_dir}
pipelines:
  hooks:
    input:
      http_server: {{address: 127.0.0.1:{port}, path: /hook, max_body: 4KiB, max_header: 2KiB}}
    output:
      queue: {{name: hooks}}
"""


def exchange(port, raw, timeout=5):
    """Sends `raw`, returns (every response's status line and headers, whether
    the server closed the connection)."""
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as c:
        c.sendall(raw)
        data = b""
        closed = False
        try:
            while True:
                chunk = c.recv(65536)
                if not chunk:
                    closed = True
                    break
                data += chunk
        except socket.timeout:
            pass
    return split_responses(data), closed


def split_responses(data, head_only=False):
    """The status line and headers of each response in `data`, bodies
    skipped by their Content-Length."""
    heads = []
    while data:
        assert data.startswith(b"HTTP/1."), data
        head, _, data = data.partition(b"\r\n\r\n")
        heads.append(head.decode())
        length = [int(line.split(b":", 1)[1]) for line in head.split(b"\r\n")
                  if line.lower().startswith(b"content-length:")]
        if not head_only and length:
            data = data[length[0]:]
    return heads


def request(headers=b"", body=b"", start=b"POST /hook HTTP/1.1", host=b"Host: x\r\n", length=True):
    """A form POST to /hook with `headers` (each line ending in CRLF)."""
    if length:
        headers += b"Content-Length: %d\r\n" % len(body)
    return start + b"\r\n" + host + b"Content-Type: " + FORM.encode() + b"\r\n" + headers + b"\r\n" + body


def status(head):
    """The status code, 0 when nothing was answered."""
    return int(head.split(" ", 2)[1]) if head else 0


@pytest.fixture
def server(sluice_factory):
    port = free_port()
    s = sluice_factory(config(port)).start()
    wait_for(lambda: _answers(port), 10, "the webhook listener")
    yield s, port
    assert s.stop() == 0


def _answers(port):
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return True
    except OSError:
        return False


SMUGGLED = b"GET /hook HTTP/1.1\r\nHost: x\r\n\r\n"


@pytest.mark.parametrize("coding", [b"xchunked", b"identity", b"chunked, identity", b"chunked, chunked"])
def test_transfer_encoding_not_ending_in_chunked_is_400_and_closes(server, coding):
    s, port = server
    body = b"5\r\nhello\r\n0\r\n\r\n" + SMUGGLED
    heads, closed = exchange(port, request(b"Transfer-Encoding: " + coding + b"\r\n", body, length=False))
    assert [status(h) for h in heads] == [400], heads  # the body was not read as a second request
    assert "Connection: close" in heads[0]
    assert closed


def test_unknown_transfer_coding_is_501(server):
    s, port = server
    heads, closed = exchange(port, request(b"Transfer-Encoding: gzip, chunked\r\n", b"5\r\nhello\r\n0\r\n\r\n",
                                           length=False))
    assert [status(h) for h in heads] == [501], heads
    assert closed


@pytest.mark.parametrize("hosts", [b"", b"Host: a\r\nHost: b\r\n"])
def test_http11_needs_exactly_one_host(server, hosts):
    s, port = server
    heads, closed = exchange(port, request(body=b"a=1", host=hosts))
    assert [status(h) for h in heads] == [400], heads
    assert closed


def test_http10_without_host_is_fine(server):
    s, port = server
    heads, _ = exchange(port, request(body=b"a=1", start=b"POST /hook HTTP/1.0", host=b""))
    assert [status(h) for h in heads] == [200], heads


def test_compressed_body_is_415_with_accept_encoding(server):
    s, port = server
    heads, closed = exchange(port, request(b"Content-Encoding: gzip\r\n", b"abc"))
    assert [status(h) for h in heads] == [415], heads
    assert "Accept-Encoding: identity" in heads[0]
    assert closed
    # identity is no coding at all
    heads, _ = exchange(port, request(b"Content-Encoding: identity\r\nConnection: close\r\n", b"a=1"))
    assert [status(h) for h in heads] == [200], heads


def test_media_type_is_case_insensitive(server):
    s, port = server
    for ctype in [b"Application/X-WWW-Form-Urlencoded; charset=UTF-8", b"APPLICATION/JSON ", b"application/json;x=1"]:
        body = b'{"a":1}' if b"JSON" in ctype.upper() and b"FORM" not in ctype.upper() else b"a=1"
        heads, _ = exchange(port, b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: " + ctype +
                            b"\r\nConnection: close\r\nContent-Length: " + str(len(body)).encode() + b"\r\n\r\n" + body)
        assert [status(h) for h in heads] == [200], (ctype, heads)


def test_head_and_no_content_answers_carry_no_body(server):
    s, port = server
    with socket.create_connection(("127.0.0.1", port), timeout=5) as c:
        c.sendall(b"HEAD /hook HTTP/1.1\r\nHost: x\r\n\r\nHEAD /hook HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while chunk := c.recv(65536):
            data += chunk
    # two heads back to back, no body between them although Content-Length is set
    heads = split_responses(data, head_only=True)
    assert [status(h) for h in heads] == [405, 405], data
    assert "Content-Length:" in heads[0]


def test_server_made_answers_are_counted(server):
    s, port = server
    before = {code: s.metric("sluice_http_responses_total", code=str(code)) for code in (400, 413, 431, 501)}
    exchange(port, b"GARBAGE\r\n\r\n")
    exchange(port, b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Length: 99999\r\n\r\n")
    exchange(port, b"POST /hook HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 4096 + b"\r\n\r\n")
    exchange(port, b"POST /hook HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: br, chunked\r\n\r\n0\r\n\r\n")
    for code in (400, 413, 431, 501):
        assert s.metric("sluice_http_responses_total", code=str(code)) == before[code] + 1, code


def post_form(port, body, timeout=30):
    heads, _ = exchange(port, request(b"Connection: close\r\n", body), timeout=timeout)
    return heads[0] if heads else ""


def test_full_disk_answers_503_with_retry_after_and_loses_nothing(sluice_factory, tmp_path):
    if os.geteuid() != 0:
        pytest.skip("mounting a small tmpfs needs root")
    data = tmp_path / "data"
    data.mkdir()
    if subprocess.run(["mount", "-t", "tmpfs", "-o", "size=3m", "tmpfs", str(data)]).returncode != 0:
        pytest.skip("cannot mount a tmpfs here")
    try:
        port = free_port()
        s = sluice_factory(config(port, data_dir=str(data))).start()
        wait_for(lambda: _answers(port), 10, "the webhook listener")
        filler = data / "filler"
        free = os.statvfs(data).f_bavail * os.statvfs(data).f_frsize
        filler.write_bytes(b"\0" * max(0, free - 256 * 1024))
        accepted, head = 0, ""
        for n in range(2000):
            head = post_form(port, b"n=%d&pad=" % n + b"x" * 3000)
            if status(head) != 200:
                break
            accepted += 1
        assert status(head) == 503, head
        assert "Retry-After:" in head, head
        assert accepted > 0
        filler.unlink()
        # Room again: the next webhook is taken, and every accepted one is there.
        assert status(post_form(port, b"n=last")) == 200
        assert s.stop() == 0
        with sqlite3.connect(data / "queue.db") as db:
            rows = db.execute("SELECT COUNT(*) FROM messages WHERE queue='hooks'").fetchone()[0]
        assert rows == accepted + 1, (rows, accepted)
    finally:
        subprocess.run(["umount", "-l", str(data)])


def test_descriptor_limit_sheds_idle_connections_and_keeps_answering(sluice_factory, tmp_path):
    allow_descriptors(2500)
    port = free_port()
    s = sluice_factory(config(port), prefix=["prlimit", "--nofile=1024:1024"]).start()
    idle = []
    try:
        for _ in range(1100):
            idle.append(socket.create_connection(("127.0.0.1", port), timeout=5))
        time.sleep(1)  # let the server accept them all
        answers = [status(post_form(port, b"n=%d" % n, timeout=10)) for n in range(5)]
        assert all(a in (200, 503) for a in answers), answers
        assert 200 in answers, answers  # idle connections made room
        assert http_get(s.url("/health/live"))[0] == 200
        shed = 0
        for c in idle:
            c.setblocking(False)
            try:
                shed += c.recv(1) == b""
            except BlockingIOError:
                pass
        assert shed >= 1100 - 1024, shed  # the oldest idle ones were closed, not left to pile up
    finally:
        for c in idle:
            c.close()
    assert s.log_text().count("accept failed") <= 3, s.log_text()
    assert s.stop() == 0


BURST = r"""
import resource, socket, sys
resource.setrlimit(resource.RLIMIT_NOFILE, (11000, 11000))
port, n = int(sys.argv[1]), int(sys.argv[2])
body = b"a=1&b=" + b"x" * 500
req = (b"POST /hook HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\n"
       b"Content-Length: %d\r\n\r\n" % len(body) + body)
conns = [socket.create_connection(("127.0.0.1", port), timeout=30) for _ in range(n)]
for c in conns:
    c.sendall(req)
answered = 0
for c in conns:
    try:
        answered += c.recv(4096).startswith(b"HTTP/1.1 ")
    except OSError:
        pass
print(answered)
"""


def rss_kib(pid):
    with open(f"/proc/{pid}/status") as f:
        return next(int(line.split()[1]) for line in f if line.startswith("VmRSS:"))


@pytest.mark.parametrize("output", ["drop: {}", "queue: {name: hooks}"])
def test_memory_returns_after_a_burst_of_20000_connections(sluice_factory, tmp_path, output):
    # With a queue output the store's SQLite page cache (up to 2 MB) grows
    # in the burst too; the store lets it go after 5 s with nothing to do.
    if SANITIZED:
        pytest.skip("ASan's allocator keeps freed memory in quarantine")
    allow_descriptors(11_000)
    port = free_port()
    s = sluice_factory(config(port).replace("queue: {name: hooks}", output)).start()
    assert status(post_form(port, b"warm=up")) == 200
    time.sleep(7)  # past the store's idle release of its cache
    idle = rss_kib(s.proc.pid)
    # Two clients of 10,000 connections each (a process's descriptor limit
    # here is 20,000), each sending one webhook on every connection.
    clients = [subprocess.Popen([sys.executable, "-c", BURST, str(port), "10000"], stdout=subprocess.PIPE, text=True)
               for _ in range(2)]
    answered = sum(int(c.communicate(timeout=120)[0]) for c in clients)
    assert answered > 15_000, answered
    peak = rss_kib(s.proc.pid)
    settled = wait_for(lambda: rss_kib(s.proc.pid) <= 2 * idle, 60,
                       f"RSS to return to twice the idle {idle} KiB (peak {peak} KiB)", interval=1)
    assert settled
    print(f"{output}: RSS idle {idle} KiB, peak {peak} KiB, settled {rss_kib(s.proc.pid)} KiB")
    assert s.stop() == 0
