"""A real redis-server for engine tests (Debian's, append-only so that it can
restart with its data), and python3-redis to look inside it."""
import socket
import subprocess

import pytest

from conftest import free_port, make_certs, wait_for

PYTHON = "/usr/bin/python3"  # the one that sees Debian's python3-redis


@pytest.fixture(scope="module")
def redis(tmp_path_factory):
    """One server per test module that imports this fixture."""
    server = RedisServer(tmp_path_factory.mktemp("redis"))
    yield server
    server.stop()


class RedisServer:
    """With `tls`, it also listens for TLS on tls_port, with a certificate for `localhost` from the CA at ca_file."""

    def __init__(self, tmp_path, tls=False):
        self.port = free_port()
        self.dir = tmp_path
        self.proc = None
        self.tls_port = free_port() if tls else None
        self.ca_file = make_certs(tmp_path) if tls else None
        self.start()

    def start(self):
        tls = ["--tls-port", str(self.tls_port), "--tls-cert-file", str(self.dir / "server.pem"), "--tls-key-file",
               str(self.dir / "server.key"), "--tls-ca-cert-file", str(self.ca_file),
               "--tls-auth-clients", "no"] if self.tls_port else []
        self.proc = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "yes",
             "--appendfsync", "always", "--dir", str(self.dir), "--loglevel", "warning", *tls])
        wait_for(self.listening, 10, "redis-server to listen")

    def stop(self):
        self.proc.terminate()
        self.proc.wait(10)

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
            return True
        except OSError:
            return False

    @property
    def url(self):
        return f"redis://127.0.0.1:{self.port}"

    def py(self, code, stdin=""):
        """Runs `code` with `r`, a redis.Redis on the server; returns its stdout lines."""
        script = f"import json, sys, redis\nr = redis.Redis(port={self.port}, decode_responses=True)\n{code}"
        out = subprocess.run([PYTHON, "-c", script], input=stdin, capture_output=True, text=True, timeout=120)
        assert out.returncode == 0, out.stderr
        return out.stdout.splitlines()
