#!/usr/bin/python3
"""A network partition of a node group (docs/cluster.md, "Partitions"),
made in network namespaces that the test creates (netns_util.py): n1 is
cut off from n2 and n3, then the network heals.

During the partition each side removes the other's members once their
heartbeats stop, and goes on as a group of its own: publishes reach the
subscribers of their side, typed topics take updates on both sides (each
side has an owner), a client id may hold a session on each side. After
it heals the group is whole again: publishes cross again, a retained
message set on one side only reaches the other, every typed topic has
one owner again, whose value every node takes once the members stop
changing (two compare-and-set updates against one value made on two
nodes: one holds), and a
client id's two sessions become one (the other's connection gets
DISCONNECT 0x8E). Skipped where network namespaces cannot be made (not
root, no iproute2)."""

import json
import os
import shutil
import signal
import subprocess
import tempfile
import threading
import time

from mqtt_test import *  # noqa: F401,F403
from cluster_util import *  # noqa: F401,F403
from api_util import ok
import mqtt_test
import netns_util
from netns_util import HOST, Namespace, Switchboard

NODES = ["n1", "n2", "n3"]


class NsNode(Node):
    """A node in namespace `ns` on fixed ports (reachable from the test's
    namespace through the switchboard)."""

    def __init__(self, ns, name, ports, seeds, secret_file):
        super().__init__(name, ports["cluster"], seeds, secret_file)
        self.ns = ns
        self.fixed = ports
        self.listener_specs[0]["port"] = ports["http"]

    def start(self):
        conf = self._write_castor_config(self.fixed["mqtt"])
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen(
            self.ns.command([castor_bin(), "--config", conf, "--log-level",
                             self.log_level]),
            stdout=self.logf, stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL, cwd=self.dir, start_new_session=True,
            env=broker_env())
        if self not in mqtt_test._STARTED:
            mqtt_test._STARTED.append(self)
        self.port = self.fixed["mqtt"]
        deadline = time.time() + 15
        while True:
            try:
                self.get("/health")
                return self
            except OSError:
                if self.proc.poll() is not None or time.time() > deadline:
                    raise TestError("%s did not start:\n%s"
                                    % (self.name, self.log_tail()))
                time.sleep(0.05)


class Partitioned:
    """n1..n3, each in a namespace of its own, joined into a group."""

    def __init__(self):
        tag = "c64-%d" % os.getpid()
        self.dir = tempfile.mkdtemp(prefix="castor-partition-")
        self.secret = secret(self.dir, "secret", "partition-" + os.urandom(12).hex())
        self.ns = {}
        self.board = Switchboard()
        self.ports = {}
        used = set()
        for n in NODES:
            self.ns[n] = Namespace("%s-%s" % (tag, n))
            ps = {}
            for k in ("cluster", "mqtt", "http"):
                p = free_port()
                while p in used:
                    p = free_port()
                used.add(p)
                ps[k] = p
            self.ports[n] = ps
        for n in NODES:
            me = self.ns[n].name
            for k in ("mqtt", "http"):
                self.board.relay(HOST, me, self.ports[n][k])
            for o in NODES:
                if o != n:
                    self.board.relay(self.ns[o].name, me,
                                     self.ports[n]["cluster"])
        seeds = ["127.0.0.1:%d" % self.ports["n1"]["cluster"]]
        self.nodes = {n: NsNode(self.ns[n], n, self.ports[n], seeds, self.secret)
                      for n in NODES}

    def start(self):
        for n in NODES:
            self.nodes[n].start()
        for n in NODES:
            wait_members(self.nodes[n], [o for o in NODES if o != n],
                         what="the full mesh")

    def cut(self, side_a, side_b):
        self.board.cut([self.ns[n].name for n in side_a],
                       [self.ns[n].name for n in side_b])

    def close(self):
        for n in self.nodes.values():
            n.cleanup()
        self.board.close()
        for ns in self.ns.values():
            ns.delete()
        shutil.rmtree(self.dir, ignore_errors=True)


def sub(node, topic, cid, count):
    """mosquitto_sub (MQTT 5, QoS 1) printing "topic payload" lines."""
    return subprocess.Popen(
        ["mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", str(node.port),
         "-i", cid, "-t", topic, "-q", "1", "-C", str(count), "-W", "60",
         "-F", "%t %p"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE)


def lines_of(p):
    out, err = p.communicate(timeout=70)
    check_eq(p.returncode, 0, "mosquitto_sub's status (%r)" % err)
    return out.decode().splitlines()


def retained(node, topic):
    """The retained message of `topic` on `node` (mosquitto_sub --retained-only)."""
    r = subprocess.run(["mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p",
                        str(node.port), "-t", topic, "--retained-only", "-C",
                        "1", "-W", "3"], capture_output=True, timeout=10)
    return r.stdout.decode().strip() or None


def value_on(node, path):
    got = ok(api_on(node, "topics/fetch", {"selector": path}))["topics"]
    return got[0].get("value") if got else None


@case(server=False, castor_only=True, timeout=240)
def a_partition_and_its_healing():
    why = netns_util.unavailable()
    if why:
        raise Skip(why)
    g = Partitioned()
    try:
        g.start()
        n1, n2, n3 = (g.nodes[n] for n in NODES)
        base = unique("p64")
        # Two typed topics: one owned by n1 (alone in the partition), one
        # by n3 (with n2).
        owned = {o: topic_owned_by(o, base + "/state-" + o, NODES)
                 for o in ("n1", "n3")}
        for path in owned.values():
            ok(api_on(n1, "topics/add", {"path": path, "type": "json"}))
            ok(api_on(n2, "topics/update", {"path": path, "value": {"v": 0}}))
            settle(lambda: value_on(n1, path) == {"v": 0},
                   "the typed topic's value on n1")
        # The cut: n1 alone, n2 and n3 together.
        g.cut(["n1"], ["n2", "n3"])
        wait_members(n1, [], timeout=15, what="n1 alone")
        wait_members(n2, ["n3"], timeout=15, what="n2 with n3")
        wait_members(n3, ["n2"], timeout=15, what="n3 with n2")
        # Each side a group of its own: publishes reach their side.
        s3 = sub(n3, base + "/data/#", unique("s3"), 1)
        s1 = sub(n1, base + "/data/#", unique("s1"), 1)
        time.sleep(0.5)
        mosquitto_pub(n1, base + "/data/a", 1, ["from-n1"])
        mosquitto_pub(n2, base + "/data/b", 1, ["from-n2"])
        check_eq(lines_of(s3), [base + "/data/b from-n2"], "n3's subscriber")
        check_eq(lines_of(s1), [base + "/data/a from-n1"], "n1's subscriber")
        # Typed topics take updates on both sides.
        for path in owned.values():
            ok(api_on(n1, "topics/update", {"path": path, "value": {"v": "a"}}))
            ok(api_on(n3, "topics/update", {"path": path, "value": {"v": "b"}}))
            check_eq(value_on(n1, path), {"v": "a"}, "n1's value")
            check_eq(value_on(n2, path), {"v": "b"}, "n2's value")
        # A retained message on one side only.
        mosquitto_pub(n1, base + "/ret/one", 1, ["only-n1"], retain=True)
        check_eq(retained(n3, base + "/ret/one"), None, "nothing retained on n3")
        # One client id, a session on each side.
        cid = unique("dup64")
        c1 = connect(n1.port, cid, clean_start=False,
                     properties={"session_expiry_interval": 300})
        c2 = connect(n2.port, cid, clean_start=False,
                     properties={"session_expiry_interval": 300})
        # The network heals: the group is whole again.
        g.board.heal()
        for n in NODES:
            wait_members(g.nodes[n], [o for o in NODES if o != n], timeout=45,
                         what="the mesh after the partition")
        # The client id's two sessions become one: the owner of the id keeps
        # the session it knew, and the other's connection gets 0x8E.
        closed = {}
        deadline = time.time() + 20
        while not closed and time.time() < deadline:
            for name, c in (("n1", c1), ("n2", c2)):
                try:
                    got = c.expect_closed(0.2)
                    closed[name] = [p.reason_code for p in got
                                    if p.type == DISCONNECT]
                except TestError:
                    pass
        check_eq(len(closed), 1, "one of the two sessions ended: %r" % closed)
        gone = next(iter(closed))
        check_eq(closed[gone], [0x8E], "DISCONNECT 0x8E on " + gone)
        kept, kept_conn = (n2, c2) if gone == "n1" else (n1, c1)
        check(not kept_conn.is_closed(1.0), "the session on %s stays" % kept.name)
        settle(lambda: sessions_of(n3, cid) == [(cid, kept.name)],
               "one session of the client id in the group, on " + kept.name)
        # Publishes cross again.
        s3 = sub(n3, base + "/data/#", unique("s3b"), 1)
        time.sleep(0.5)
        mosquitto_pub(n1, base + "/data/c", 1, ["after"])
        check_eq(lines_of(s3), [base + "/data/c after"], "n3's subscriber after")
        settle(lambda: retained(n3, base + "/ret/one") == "only-n1",
               "n1's retained message on n3")
        # Each typed topic's owner sends its value once the members stop
        # changing: every node holds the owner's side's value.
        for owner, side in (("n1", "a"), ("n3", "b")):
            for n in (n1, n2, n3):
                settle(lambda: value_on(n, owned[owner]) == {"v": side},
                       "%s's value of the topic %s owns" % (n.name, owner))
        # One owner: of two compare-and-set updates made on n1 and n3
        # against the value, one holds.
        state = owned["n3"]
        ok(api_on(n2, "topics/update", {"path": state, "value": {"v": 1}}))
        for n in (n1, n2, n3):
            settle(lambda: value_on(n, state) == {"v": 1},
                   "one value on " + n.name)
        answers = []

        def cas(node, v):
            answers.append(api_on(node, "topics/update", {
                "path": state, "value": {"v": v},
                "constraint": {"value": {"v": 1}}}))
        ts = [threading.Thread(target=cas, args=(n, v))
              for n, v in ((n1, 2), (n3, 3))]
        for t in ts:
            t.start()
        for t in ts:
            t.join(20)
        codes = sorted("" if a.get("ok") else a["error"]["code"] for a in answers)
        check_eq(codes, ["", "CONSTRAINT_FAILED"], "one update held: %r" % answers)
        kept_conn.close()
    finally:
        g.close()


if __name__ == "__main__":
    run_cases()
