"""The admin server under malformed, oversized and hostile requests."""
import json
import socket

from conftest import free_port, http_get

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
    assert raw(port, b"GET /nope HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n").startswith("HTTP/1.1 404")
    assert raw(port, b"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 0\r\nConnection: close\r\n\r\n") \
        .startswith("HTTP/1.1 405")
    assert raw(port, b"THIS IS NOT HTTP\r\n\r\n").startswith("HTTP/1.1 400")
    big_header = b"GET /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Big: " + b"a" * 20000 + b"\r\n\r\n"
    assert raw(port, big_header).startswith("HTTP/1.1 431")
    big_body = b"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 2000000\r\n\r\n" + b"x" * 2000000
    assert raw(port, big_body).startswith("HTTP/1.1 413")
    truncated = b"POST /metrics HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Length: 100\r\n\r\nshort"
    # The server waits for the rest, then the client gives up: no crash, no answer.
    assert raw(port, truncated, timeout=1) == ""
    # Still serving after all that.
    assert http_get(s.url("/health/live"))[0] == 200
    assert s.stop() == 0


ALERTS = """
admin: {{address: "{{admin}}", hosts: [sluice.internal]}}
data_dir: {{dir}}/data
alerts: {{queue: outbound}}
pipelines:
  idle:
    input: {{http_server: {{address: "127.0.0.1:{port}", path: /idle}}}}
    output: {{drop: {{}}}}
"""
ALERT = b'{"body": "x", "recipients": ["+15551230001"]}'


def post_alert(port, headers, body=ALERT):
    head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
    return raw(port, f"POST /api/alerts HTTP/1.1\r\n{head}Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
               .encode() + body)


def alerts_listed(s):
    import json
    return json.loads(http_get(s.url("/api/alerts"))[1])["alerts"]


def test_requests_a_web_page_could_forge_are_refused(sluice_factory):
    """DNS rebinding (a foreign Host) and cross-site requests (another
    Origin, Sec-Fetch-Site, a form's body type) change nothing; the CLI's
    requests (no Origin) and the dashboard's (same origin) still work."""
    s = sluice_factory(ALERTS.format(port=free_port())).start()
    port, here = s.admin_port, f"127.0.0.1:{s.admin_port}"
    json_type = {"Content-Type": "application/json"}
    assert raw(port, b"GET /api/alerts HTTP/1.1\r\nHost: evil.example\r\nConnection: close\r\n\r\n") \
        .startswith("HTTP/1.1 421"), "a rebound name reads nothing"
    assert post_alert(port, {"Host": f"evil.example:{port}", **json_type}).startswith("HTTP/1.1 421")
    assert post_alert(port, {"Host": here, "Origin": "http://evil.example", **json_type}).startswith("HTTP/1.1 403")
    assert post_alert(port, {"Host": here, "Origin": "null", **json_type}).startswith("HTTP/1.1 403")
    assert post_alert(port, {"Host": here, "Sec-Fetch-Site": "cross-site", **json_type}).startswith("HTTP/1.1 403")
    assert post_alert(port, {"Host": here, "Sec-Fetch-Site": "same-site", **json_type}).startswith("HTTP/1.1 403")
    for form_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        assert post_alert(port, {"Host": here, "Content-Type": form_type}).startswith("HTTP/1.1 415"), form_type
    assert post_alert(port, {"Host": here}).startswith("HTTP/1.1 415"), "no body type"
    assert alerts_listed(s) == [], "nothing was created"

    assert post_alert(port, {"Host": here, **json_type}).startswith("HTTP/1.1 201"), "a script or the CLI"
    assert post_alert(port, {"Host": here, "Origin": f"http://{here}", "Sec-Fetch-Site": "same-origin",
                             **json_type}).startswith("HTTP/1.1 201"), "the dashboard"
    assert post_alert(port, {"Host": f"SLUICE.internal:{port}", **json_type}).startswith("HTTP/1.1 201"), \
        "a name in admin.hosts"
    assert post_alert(port, {"Host": f"localhost:{port}", **json_type}).startswith("HTTP/1.1 201")
    assert len(alerts_listed(s)) == 4
    assert s.stop() == 0


def test_a_page_on_another_origin_cannot_create_an_alert_in_chromium(sluice_factory, tmp_path):
    import functools
    import http.server
    import json
    import pathlib
    import shutil
    import subprocess
    import threading
    browser_dir = pathlib.Path(__file__).resolve().parents[1] / "browser"
    assert shutil.which("chromium"), "Debian chromium is missing: run scripts/install-deps"
    s = sluice_factory(ALERTS.format(port=free_port())).start()
    admin = f"http://127.0.0.1:{s.admin_port}"
    alert = json.dumps({"body": "forged", "recipients": ["+15551230001"]})
    (tmp_path / "evil.html").write_text(f"""<!doctype html><title>evil</title>
<form method="POST" action="{admin}/api/alerts" enctype="text/plain">
<input type="hidden" name='{alert[:-1]}, "pad": "' value='"}}'></form>
<script>
(async () => {{
  for (const type of [undefined, "text/plain", "application/json"]) {{
    try {{
      await fetch("{admin}/api/alerts", {{method: "POST", mode: "no-cors", body: {json.dumps(alert)},
                                          headers: type ? {{"Content-Type": type}} : {{}}}});
    }} catch (e) {{}}
  }}
  document.title = "fetched";
}})();
</script>""")
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    evil = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)  # another origin: another port
    threading.Thread(target=evil.serve_forever, daemon=True).start()
    try:
        r = subprocess.run(["node", str(browser_dir / "cross_site.mjs"), f"http://127.0.0.1:{evil.server_port}/evil.html",
                            admin], capture_output=True, text=True, timeout=60)
    finally:
        evil.shutdown()
    assert r.returncode == 0, r.stdout + r.stderr
    assert json.loads(r.stdout.strip().splitlines()[-1])["form_status"] in (403, 415), r.stdout
    assert alerts_listed(s) == [], "a page on another origin created an alert"
    assert s.stop() == 0

