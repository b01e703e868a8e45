"""Node groups in tests (docs/cluster.md): castor processes with a cluster
section on loopback ports, and waits on what they report."""

import base64
import contextlib
import json
import os
import shutil
import signal
import subprocess
import tempfile
import time
import urllib.request

from api_util import ok, request
from mqtt_test import (TestError, check, check_eq, connect, free_port, unique,
                       wait_until)
from transport_util import TransportServer

HEARTBEAT_MS = 250
FAILURE_TIMEOUT_MS = 2000


class Node(TransportServer):
    """castor with an http listener and a cluster section."""

    def __init__(self, name, cluster_port, seeds, secret_file,
                 failure_timeout_ms=FAILURE_TIMEOUT_MS, listeners=(), extra="",
                 tls=None):
        super().__init__([{"name": "http", "transport": "http"}] + list(listeners))
        self.extra = extra  # more top-level sections (YAML text)
        self.tls = tls  # cluster.tls: {cert_file, key_file, ca_file}
        self.name = name
        self.cluster_port = cluster_port
        self.seeds = seeds
        self.secret_file = secret_file
        self.failure_timeout_ms = failure_timeout_ms
        self.auth = None

    def _write_castor_config(self, port):
        path = super()._write_castor_config(port)
        with open(path, "a") as f:
            f.write("cluster:\n"
                    "  enabled: true\n"
                    "  node_name: %s\n"
                    "  bind: 127.0.0.1\n"
                    "  port: %d\n"
                    "  seeds: %s\n"
                    "  secret_file: %s\n"
                    "  heartbeat_ms: %d\n"
                    "  failure_timeout_ms: %d\n"
                    % (self.name, self.cluster_port, json.dumps(self.seeds),
                       self.secret_file, HEARTBEAT_MS, self.failure_timeout_ms))
            if self.tls:
                f.write("  tls: %s\n" % json.dumps(self.tls))
            if self.extra:
                f.write(self.extra.rstrip("\n") + "\n")
        return path

    def start(self):
        """Starts the node and waits until /health says it is ready: the
        MQTT port accepts a moment before the server has every listener in
        its list (/api/v1/listeners) and calls itself ready."""
        super().start()
        deadline = time.time() + 10
        while True:
            try:
                self.get("/health")
                return self
            except OSError:  # 503 "starting" (HTTPError), or not up yet
                if time.time() > deadline:
                    raise TestError("%s: /health not ready within 10 s"
                                    % self.name)
                time.sleep(0.02)

    def get(self, path):
        req = urllib.request.Request("http://127.0.0.1:%d%s"
                                     % (self.ports["http"], path))
        if self.auth:  # (user, password) where the REST API needs a login
            req.add_header("Authorization", "Basic " + base64.b64encode(
                ("%s:%s" % self.auth).encode()).decode())
        with urllib.request.urlopen(req, timeout=5) as r:
            return r.read().decode()

    def members(self):
        """{node name: incarnation} of the other members this node holds."""
        doc = json.loads(self.get("/api/v1/cluster"))
        check(doc["ok"] and doc["enabled"], "the cluster is enabled")
        return {m["node"]: m["incarnation"] for m in doc["members"]}

    def listener_connections(self, name):
        """The connections the listener `name` holds now."""
        doc = json.loads(self.get("/api/v1/listeners"))
        return {l["name"]: l["connections"] for l in doc["listeners"]}[name]

    def incarnation(self):
        return json.loads(self.get("/api/v1/cluster"))["node"]["incarnation"]

    def metric(self, name, **labels):
        want = name + ("{%s}" % ",".join('%s="%s"' % kv for kv in labels.items())
                       if labels else "")
        for line in self.get("/metrics").splitlines():
            if line.startswith(want + " "):
                return float(line.split()[-1])
        raise TestError("no %s in /metrics" % want)


def stop_node(node, timeout=5.0):
    """SIGSTOPs `node`'s process group and returns once every thread of
    its process has stopped: the signal is delivered asynchronously, and
    on a loaded machine a node could still answer a message or two sent
    right after kill() returned."""
    os.killpg(node.proc.pid, signal.SIGSTOP)
    tasks = "/proc/%d/task" % node.proc.pid
    deadline = time.time() + timeout
    while True:
        states = []
        for t in os.listdir(tasks):
            try:
                with open(os.path.join(tasks, t, "stat")) as f:
                    states.append(f.read().rsplit(")", 1)[1].split()[0])
            except OSError:
                pass  # a thread that has just ended
        if states and all(s in ("T", "t") for s in states):
            return
        if time.time() > deadline:
            raise TestError("%s did not stop: thread states %r"
                            % (node.name, states))
        time.sleep(0.001)


def resume_node(node):
    os.killpg(node.proc.pid, signal.SIGCONT)


def secret(directory, name, text):
    path = os.path.join(directory, name)
    with open(path, "w") as f:
        f.write(text + "\n")
    return path


def wait_members(node, want, timeout=10.0, what=None):
    """Waits until `node` holds exactly the members named in `want`."""
    got = None
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = node.members()
        if set(got) == set(want):
            return got
        time.sleep(0.05)
    raise TestError("%s: %s holds %s, expected %s"
                    % (what or "members", node.name, sorted(got), sorted(want)))


def wait_log(node, text, timeout=10.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        if text in node.log():
            return
        time.sleep(0.05)
    raise TestError("%s's log has no %r:\n%s" % (node.name, text, node.log_tail()))


class Group:
    """Three nodes n1..n3 whose only seed is n1."""

    def __init__(self, directory, failure_timeout_ms=FAILURE_TIMEOUT_MS,
                 listeners=(), tls=None):
        self.failure_timeout_ms = failure_timeout_ms
        self.listeners = listeners  # more listener specs for every node
        # {node name: cluster.tls settings}: the nodes whose port is TLS.
        self.tls = tls or {}
        # A secret of its own: a node of another test's group, still trying
        # a port this group now uses, is refused.
        self.secret = secret(directory, "secret",
                             "group-secret-" + os.urandom(12).hex())
        self.ports = {}
        for n in ("n1", "n2", "n3"):
            p = free_port()
            while p in self.ports.values():
                p = free_port()
            self.ports[n] = p
        self.seeds = ["127.0.0.1:%d" % self.ports["n1"]]
        self.nodes = {}

    def start(self, name, extra="", tls=None):
        """Starts node `name`; `extra`: more configuration sections. A node
        started late may find its cluster port taken meanwhile (by any
        socket of the machine): it gets another, unless it is the seed."""
        for attempt in range(3):
            try:
                node = Node(name, self.ports[name], self.seeds, self.secret,
                            self.failure_timeout_ms, self.listeners,
                            extra, tls or self.tls.get(name)).start()
                break
            except RuntimeError as e:
                if (name == "n1" or attempt == 2
                        or "cluster: cannot listen" not in str(e)):
                    raise
                p = free_port()
                while p in self.ports.values():
                    p = free_port()
                self.ports[name] = p
        self.nodes[name] = node
        return node

    def wait_mesh(self, what):
        """Waits until each of n1..n3 (as last started) holds the other two."""
        names = ("n1", "n2", "n3")
        for n in names:
            wait_members(self.nodes[n], [o for o in names if o != n], what=what)

    def stop(self):
        for n in self.nodes.values():
            n.cleanup()


@contextlib.contextmanager
def group(mesh=True, **kw):
    """A Group in a directory of its own (n1..n3 started and joined into a
    full mesh with `mesh`), stopped and removed at the end."""
    d = tempfile.mkdtemp(prefix="castor-cluster-")
    g = Group(d, **kw)
    try:
        if mesh:
            for n in ("n1", "n2", "n3"):
                g.start(n)
            g.wait_mesh("the full mesh")
        yield g
    finally:
        g.stop()
        shutil.rmtree(d, ignore_errors=True)


def wait_metric(node, name, pred, what, timeout=10.0):
    got = None
    deadline = time.time() + timeout
    while time.time() < deadline:
        got = node.metric(name)
        if pred(got):
            return got
        time.sleep(0.05)
    raise TestError("%s: %s's %s is %s" % (what, node.name, name, got))


def mosquitto_sub(node, topic, qos, count, cid):
    """mosquitto_sub that prints `count` messages' payloads and exits."""
    return subprocess.Popen(
        ["mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", str(node.port),
         "-i", cid, "-t", topic, "-q", str(qos), "-C", str(count), "-W", "30"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def mosquitto_pub(node, topic, qos, payloads, retain=False):
    """Publishes each payload with one mosquitto_pub (-l: a line each)."""
    args = ["mosquitto_pub", "-V", "5", "-h", "127.0.0.1", "-p", str(node.port),
            "-t", topic, "-q", str(qos), "-l"]
    if retain:
        args.append("-r")
    r = subprocess.run(args, input=("\n".join(payloads) + "\n").encode(),
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, timeout=30)
    check_eq(r.returncode, 0, "mosquitto_pub's status (%r)" % r.stderr)


def collect(conn, n):
    """Receives and acknowledges `n` PUBLISHes: their payloads."""
    got = []
    for _ in range(n):
        got.append(conn.expect_publish(ack=True).payload.decode())
    return got


def sessions_of(node, cid):
    """{client id: node} of the group's sessions of `cid`, as `node` lists
    them."""
    admin = connect(node.port, unique("adm"))
    try:
        got = ok(request(admin, "sessions/list",
                         {"filter": "$ClientId is '%s'" % cid}))
    finally:
        admin.disconnect()
    return [(s["properties"]["$ClientId"], s["node"]) for s in got["sessions"]]


def claim_owner(client_id, nodes):
    """The owner node of `client_id` (actors/cluster_claims.cpp:
    rendezvous hashing, FNV-1a over node, 0xff and client id, then a
    64-bit finaliser), computed here on its own."""
    mask = (1 << 64) - 1

    def h(node):
        x = 0xcbf29ce484222325
        for part in (node.encode(), b"\xff", client_id.encode()):
            for c in part:
                x = ((x ^ c) * 0x100000001b3) & mask
        x ^= x >> 33
        x = (x * 0xff51afd7ed558ccd) & mask
        x ^= x >> 33
        x = (x * 0xc4ceb9fe1a85ec53) & mask
        return x ^ (x >> 33)

    return max(sorted(nodes), key=h)


def topic_owned_by(owner, prefix, nodes):
    """A topic name whose owner among `nodes` is `owner` (the rendezvous
    hashing of client ids, which typed topics share)."""
    i = 0
    while claim_owner("%s/%d" % (prefix, i), nodes) != owner:
        i += 1
    return "%s/%d" % (prefix, i)


def api_on(node, operation, body):
    """The answer to one platform API request made on `node`."""
    c = connect(node.port, unique("api"))
    try:
        return request(c, operation, body)
    finally:
        c.disconnect()


def settle(pred, what, timeout=10):
    check(wait_until(pred, timeout=timeout), "in %ds: %s" % (timeout, what))
