"""A real Sidekiq for engine tests (Debian's ruby-sidekiq 6.4.1, running
sidekiq_worker.rb), and Ruby with Sidekiq's own API to look at its sets."""
import json
import os
import pathlib
import subprocess

import pytest

from conftest import wait_for

WORKER = pathlib.Path(__file__).with_name("sidekiq_worker.rb")
SIDEKIQ = "/usr/bin/sidekiq"
if not os.path.exists(SIDEKIQ):
    pytest.skip("needs Debian's ruby-sidekiq (scripts/install-deps installs it)", allow_module_level=True)


def sidekiq_env(redis, namespace):
    return dict(os.environ, REDIS_URL=f"{redis.url}/0", SIDEKIQ_NAMESPACE=namespace)


def ruby(redis, namespace, code):
    """Runs `code` with Sidekiq's own API (sidekiq/api) and the worker's
    classes on `namespace`; returns its stdout."""
    out = subprocess.run(["ruby", "-r", str(WORKER), "-r", "sidekiq/api", "-e", code],
                         env=sidekiq_env(redis, namespace), capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return out.stdout


class Sidekiq:
    """One `sidekiq` process running sidekiq_worker.rb, under `namespace`."""

    def __init__(self, redis, log_path, namespace=""):
        self.redis = redis
        self.namespace = namespace
        self.log_path = log_path
        self.log = open(log_path, "w")
        self.proc = subprocess.Popen([SIDEKIQ, "-r", str(WORKER), "-c", "10", "-q", "callbacks", "-q", "default"],
                                     env=sidekiq_env(redis, namespace), stdout=self.log, stderr=subprocess.STDOUT)
        wait_for(lambda: self.proc.poll() is not None or self.get("worker-ready"), 60, "Sidekiq to start")
        assert self.proc.poll() is None, self.log_text()

    def key(self, name):
        return f"{self.namespace}:{name}" if self.namespace else name

    def get(self, name):
        return self.redis.py(f'print(r.get("{self.key(name)}") or "")')[0]

    def results(self):
        return [json.loads(x) for x in self.redis.py(f'print("\\n".join(r.lrange("{self.key("results")}", 0, -1)))') if x]

    def ruby(self, code):
        return ruby(self.redis, self.namespace, code)

    def log_text(self):
        return pathlib.Path(self.log_path).read_text(errors="replace")[-4000:]

    def stop(self):
        self.proc.terminate()
        self.proc.wait(30)
        self.log.close()
