"""A real RabbitMQ for engine tests: Debian's rabbitmq-server 3.10 as a plain
process in a temporary directory on free loopback ports, with an epmd of its
own (the recipe of ../shared/PEERS.md). It takes about 8 s to start, so a
module shares one and its tests keep apart by queue name. Debian's
python3-pika publishes and checks; rabbitmqctl reports unacked counts."""
import os
import pathlib
import signal
import socket
import subprocess
import time

import pika
import pytest

from conftest import free_port, make_certs, wait_for

CTL = "/usr/lib/rabbitmq/bin/rabbitmqctl"
PUBLISHER = pathlib.Path(__file__).resolve().parents[1] / "amqp/publish.mjs"  # amqplib, from tests/amqp


@pytest.fixture(scope="module")
def rabbitmq(tmp_path_factory):
    """One broker per test module that imports this fixture."""
    broker = RabbitMQ(tmp_path_factory.mktemp("rabbitmq"))
    yield broker
    broker.close()


class RabbitMQ:
    def __init__(self, d):
        self.dir = d
        self.port, self.tls_port, dist, epmd = free_port(), free_port(), free_port(), free_port()
        (d / "home").mkdir()
        # Also amqps:// on tls_port, with a certificate for `localhost` from the CA at ca_file.
        (d / "tls").mkdir()
        self.ca_file = make_certs(d / "tls")
        (d / "rabbitmq.conf").write_text(
            f"listeners.tcp.default = 127.0.0.1:{self.port}\nloopback_users = none\n"
            f"listeners.ssl.default = 127.0.0.1:{self.tls_port}\nssl_options.cacertfile = {self.ca_file}\n"
            f"ssl_options.certfile = {d}/tls/server.pem\nssl_options.keyfile = {d}/tls/server.key\n"
            "ssl_options.verify = verify_none\nssl_options.fail_if_no_peer_cert = false\n")
        (d / "enabled_plugins").write_text("[].\n")
        self.env = dict(
            os.environ, HOME=str(d / "home"), RABBITMQ_NODENAME=f"engine{self.port}@localhost",
            RABBITMQ_NODE_IP_ADDRESS="127.0.0.1", RABBITMQ_NODE_PORT=str(self.port), RABBITMQ_DIST_PORT=str(dist),
            ERL_EPMD_ADDRESS="127.0.0.1", ERL_EPMD_PORT=str(epmd), RABBITMQ_MNESIA_BASE=str(d / "mnesia"),
            RABBITMQ_LOG_BASE=str(d / "log"), RABBITMQ_CONFIG_FILE=str(d / "rabbitmq.conf"),
            RABBITMQ_ENABLED_PLUGINS_FILE=str(d / "enabled_plugins"), RABBITMQ_PID_FILE=str(d / "rabbit.pid"),
            # A quorum queue reports its counts to list_queues once a tick (5 s by
            # default), so a test would read a count from seconds ago.
            RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1} -rabbit quorum_tick_interval 100")
        self.epmd = subprocess.Popen(["epmd", "-address", "127.0.0.1", "-port", str(epmd)], env=self.env,
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.server = None
        self.url = f"amqp://guest:guest@127.0.0.1:{self.port}/"
        self.start()

    def start(self):
        log = open(self.dir / "server.out", "ab")
        self.server = subprocess.Popen(["/usr/lib/rabbitmq/bin/rabbitmq-server"], env=self.env, stdout=log,
                                       stderr=log, start_new_session=True)
        wait_for(self.listening, 60, "rabbitmq-server to listen (see server.out)", interval=0.1)

    def stop(self, graceful=False):
        """A hard stop of the whole broker, as a crash looks to its clients;
        `graceful`: SIGTERM, which RabbitMQ takes as `rabbitmqctl stop`."""
        if graceful:
            os.killpg(self.server.pid, signal.SIGTERM)
            try:
                self.server.wait(30)
                return
            except subprocess.TimeoutExpired:
                pass
        os.killpg(self.server.pid, signal.SIGKILL)
        self.server.wait()

    def close(self):
        self.stop()
        self.epmd.kill()
        self.epmd.wait()

    def listening(self):
        try:
            socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
            return True
        except OSError:
            return False

    def ctl(self, *args, timeout=60):
        r = subprocess.run([CTL, "-q", *args], env=self.env, capture_output=True, text=True, timeout=timeout)
        assert r.returncode == 0, r.stderr
        return r.stdout

    def queue_counts(self, name):
        """(ready, unacknowledged) messages of queue `name`."""
        for line in self.ctl("list_queues", "name", "messages_ready", "messages_unacknowledged").splitlines():
            parts = line.split("\t")
            if parts[0] == name:
                return int(parts[1]), int(parts[2])
        return None

    def channel(self):
        conn = pika.BlockingConnection(pika.URLParameters(self.url))
        return conn, conn.channel()

    def declare(self, name, kind="classic", **arguments):
        conn, ch = self.channel()
        args = dict(arguments)
        if kind != "classic":
            args["x-queue-type"] = kind
        ch.queue_declare(name, durable=True, arguments=args)
        conn.close()

    def publish(self, queue, bodies):
        """Publishes each body persistently through the default exchange and
        returns once the broker confirmed them all (amqplib, confirms every
        1,000: pika would wait for each one, and without confirms a quorum
        queue may not have them all yet)."""
        text = "".join(b + "\n" for b in bodies)
        r = subprocess.run(["node", str(PUBLISHER), self.url, queue], input=text, capture_output=True, text=True,
                           timeout=300)
        assert r.returncode == 0, r.stderr
        return text.count("\n")

    def take_all(self, queue, idle=1.0):
        """Every message in `queue` (acked), once none arrived for `idle` s."""
        conn, ch = self.channel()
        ch.basic_qos(prefetch_count=1000)
        got = []
        for method, props, body in ch.consume(queue, auto_ack=True, inactivity_timeout=idle):
            if method is None:
                break
            got.append(body.decode())
        ch.cancel()
        conn.close()
        return got

    def delete(self, queue):
        conn, ch = self.channel()
        ch.queue_delete(queue)
        conn.close()

    def count(self, queue):
        conn, ch = self.channel()
        n = ch.queue_declare(queue, passive=True).method.message_count
        conn.close()
        return n
