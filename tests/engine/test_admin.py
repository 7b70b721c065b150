"""The admin server under malformed, oversized and hostile requests."""
import json
import socket

from conftest import http_get

CONFIG = """
admin: {address: "{admin}"}
data_dir: {dir}/data
pipelines:
  p:
    input: {generate: {rate: 100/s}}
    output: {drop: {}}
"""


def raw(port, data, timeout=5):
    with socket.create_connection(("127.0.0.1", port), timeout=timeout) as s:
        try:
            s.sendall(data)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server may answer and stop reading before we finish sending
        chunks = []
        try:
            while True:
                c = s.recv(65536)
                if not c:
                    break
                chunks.append(c)
        except (socket.timeout, ConnectionResetError):
            pass
    return b"".join(chunks).decode(errors="replace")


def test_endpoints(sluice_factory):
    s = sluice_factory(CONFIG).start()
    assert http_get(s.url("/health/live"))[0] == 200
    assert http_get(s.url("/health/ready"))[0] == 200
    body = json.loads(http_get(s.url("/api/pipelines"))[1])
    assert body["pipelines"][0]["name"] == "p" and body["pipelines"][0]["state"] == "running"
    status, text = http_get(s.url("/metrics"))
    assert status == 200 and "sluice_input_received_total" in text
    assert s.stop() == 0


def test_malformed_oversized_and_unknown_requests(sluice_factory):
    s = sluice_factory(CONFIG).start()
    port = s.admin_port
    assert raw(port, b"GET /nope HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").startswith("HTTP/1.1 404")
    assert raw(port, b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") \
        .startswith("HTTP/1.1 405")
    assert raw(port, b"THIS IS NOT HTTP\r\n\r\n").startswith("HTTP/1.1 400")
    big_header = b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw(port, big_header).startswith("HTTP/1.1 431")
    big_body = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2000000
    assert raw(port, big_body).startswith("HTTP/1.1 413")
    truncated = b"POST /metrics HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort"
    # The server waits for the rest, then the client gives up: no crash, no answer.
    assert raw(port, truncated, timeout=1) == ""
    # Still serving after all that.
    assert http_get(s.url("/health/live"))[0] == 200
    assert s.stop() == 0
