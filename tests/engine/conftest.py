"""Helpers for tests that run the real sluice binary (SLUICE_BIN)."""
import http.server
import json
import os
import signal
import socket
import subprocess
import threading
import time
import urllib.request

import pytest

SLUICE = os.path.abspath(os.environ.get("SLUICE_BIN", os.path.join(os.path.dirname(__file__), "../../build/release/sluice")))
# Set by CMake for sanitizer builds, whose timings are not the product's.
SANITIZED = os.environ.get("SLUICE_SANITIZED") == "1"


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def http_get(url, timeout=5):
    with urllib.request.urlopen(url, timeout=timeout) as r:
        return r.status, r.read().decode()


def allow_descriptors(needed):
    """Raises this test process's descriptor limit to its hard limit; skips
    the test when that is below `needed`."""
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard < needed:
        pytest.skip(f"needs {needed:,} descriptors, the hard limit is {hard:,}")
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))


def count_lines(path):
    try:
        with open(path, "rb") as f:
            return sum(1 for line in f if line.strip())
    except FileNotFoundError:
        return 0


def wait_for(predicate, timeout, what, interval=0.05):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {what}")


def metric_at(url, name, **labels):
    """Sum of the samples of `name` at the /metrics `url` whose labels include `labels`."""
    _, text = http_get(url)
    total = 0.0
    for line in text.splitlines():
        if line.startswith("#") or not line.startswith(name):
            continue
        head, _, value = line.rpartition(" ")
        metric, _, label_text = head.partition("{")
        if metric != name:
            continue
        if all(f'{k}="{v}"' in label_text for k, v in labels.items()):
            total += float(value)
    return total


class Sluice:
    """One `sluice run` process with its config in a temp dir."""

    def __init__(self, tmp_path, config, env=None, name="sluice", prefix=()):
        self.dir = tmp_path
        self.admin_port = free_port()
        text = config.replace("{dir}", str(tmp_path)).replace("{admin}", f"127.0.0.1:{self.admin_port}")
        self.config = tmp_path / f"{name}.yaml"
        self.config.write_text(text)
        self.log = open(tmp_path / f"{name}.log", "ab")
        self.env = dict(os.environ, **(env or {}))
        self.prefix = list(prefix)  # e.g. ["prlimit", "--nofile=1024"]
        self.proc = None

    def start(self, wait_ready=True):
        self.proc = subprocess.Popen([*self.prefix, SLUICE, "run", "-c", str(self.config)], stdout=self.log, stderr=self.log,
                                     env=self.env)
        if wait_ready:
            wait_for(self.admin_ready, 20, "the admin API to answer")
        return self

    def admin_ready(self):
        if self.proc.poll() is not None:
            raise AssertionError(f"sluice exited early with {self.proc.returncode}: {self.log_text()}")
        try:
            return http_get(self.url("/health/live"), timeout=1)[0] == 200
        except OSError:
            return False

    def url(self, path):
        return f"http://127.0.0.1:{self.admin_port}{path}"

    def metric(self, name, **labels):
        """Sum of the samples of `name` whose labels include `labels`."""
        return metric_at(self.url("/metrics"), name, **labels)

    def pipelines(self):
        return json.loads(http_get(self.url("/api/pipelines"))[1])

    def stop(self, sig=signal.SIGTERM, timeout=30):
        if self.proc and self.proc.poll() is None:
            self.proc.send_signal(sig)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"sluice did not stop within {timeout}s: {self.log_text()}")
        return self.proc.returncode

    def kill9(self):
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def log_text(self):
        self.log.flush()
        return (self.dir / os.path.basename(self.log.name)).read_text(errors="replace")[-4000:]


@pytest.fixture
def sluice_factory(tmp_path):
    started = []

    def make(config, **kw):
        s = Sluice(tmp_path, config, **kw)
        started.append(s)
        return s

    yield make
    for s in started:
        if s.proc and s.proc.poll() is None:
            s.proc.kill()
            s.proc.wait()


def run_cli(*args, input_text=None, timeout=60):
    return subprocess.run([SLUICE, *args], capture_output=True, text=True, input=input_text, timeout=timeout)


def lint(config, tmp_path):
    """`sluice lint` of a config written for Sluice (its {dir} and {admin}
    filled in)."""
    path = tmp_path / "lint.yaml"
    path.write_text(config.replace("{dir}", str(tmp_path)).replace("{admin}", "127.0.0.1:0"))
    return run_cli("lint", str(path))


class LoopbackServer:
    """An HTTP server of `handler` (a BaseHTTPRequestHandler class) on a
    free loopback port, serving from a thread of its own: a test's fake
    peer."""

    def __init__(self, handler):
        from http.server import ThreadingHTTPServer
        import threading
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self):
        self.server.shutdown()
        self.server.server_close()


def kill9_at_random_moments(sluice_factory, config, out, seed, kills=10):
    """Starts `config` `kills` times and kill -9s each run at a random moment
    (0.3-1.5 s in); returns how many lines `out` held at each kill. The
    config should pace its output, so that every kill lands mid-stream."""
    import random
    import time
    rng = random.Random(seed)
    written = []
    for run in range(kills):
        s = sluice_factory(config, name=f"run{run}").start()
        time.sleep(rng.uniform(0.3, 1.5))
        s.kill9()
        written.append(count_lines(out))
    return written


class _Refusing(http.server.BaseHTTPRequestHandler):
    """A receiver that is down: 503 for every POST."""

    def do_POST(self):
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(503)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args):
        pass


@pytest.fixture
def refusing():
    """The URL of a receiver that answers 503 to everything (an output whose messages are given back)."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Refusing)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_address[1]}/hook"
    server.shutdown()


def make_certs(d):
    """A CA, and a server certificate it signed for the name `localhost` only; returns the CA's path."""
    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=d, check=True, capture_output=True)
    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=sluice test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", "server.key",
            "-out", "server.csr")
    (d / "san.ext").write_text("subjectAltName = DNS:localhost\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial", "-days", "2",
            "-extfile", "san.ext", "-out", "server.pem")
    return d / "ca.pem"
