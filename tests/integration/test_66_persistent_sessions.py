#!/usr/bin/python3
"""Persistent sessions survive a restart and kill -9 (docs/persistence.md):
their subscriptions, their QoS 1 and 2 messages queued or in flight, the
QoS 2 packet identifiers, their will and their expiry. With durability
sync, a message a publisher was told is delivered to a persistent
subscriber as its QoS promises, whatever moment kill -9 comes at: QoS 1
at least once, QoS 2 exactly once."""

import os
import random
import socket
import subprocess
import threading
import time

from mqtt_test import *  # noqa: F401,F403
from persist_util import REAL_BIN, restart, slow_disk_binary

FOREVER = 0xFFFFFFFF


def persistent(port, cid, expiry=FOREVER, **kw):
    """An MQTT 5 connection that resumes `cid`'s session (clean start 0)."""
    c = Conn(port)
    c.send(gen_connect(cid, clean_start=False,
                       properties={"session_expiry_interval": expiry}, **kw))
    p = c.recv()
    check_eq(p.type, CONNACK, "CONNACK")
    check_eq(p.reason_code, 0, "CONNACK reason")
    c.session_present = p.session_present
    return c


def markers_after(c, topics, port, seen):
    """Publishes a marker to each of `topics` and reads (acknowledging, as
    a QoS 2 receiver that keeps its identifiers) until every marker came:
    each topic's queue is in order, so everything queued before is in."""
    pub = connect(port, "c66-marker")
    for t in topics:
        pub.publish(t, b"marker", qos=1)
    pub.disconnect()
    left = set(topics)
    while left:
        p = c.recv(timeout=10)
        handle(c, p, seen)
        if p.type == PUBLISH and p.payload == b"marker":
            left.discard(p.topic)


def handle(c, p, seen):
    """What a QoS 2 receiver does (MQTT 5 4.3.3, method B): a QoS 2 message
    counts once, at its first PUBLISH; until PUBREL its identifier stays
    taken, and a PUBLISH with it again is the same message. `seen` holds
    the receiver's state across connections: ("msgs": topic -> payloads,
    "held": QoS 2 identifiers awaiting PUBREL)."""
    if p.type == PUBLISH:
        if p.qos == 2:
            if p.packet_id not in seen["held"]:
                seen["held"].add(p.packet_id)
                seen["msgs"].setdefault(p.topic, []).append(p.payload)
            else:
                # The same message again, by its identifier (what a
                # failure then names: a new message under a held one).
                seen.setdefault("again", {})[p.payload] = (p.packet_id, p.dup)
            c.send(gen_pubrec(p.packet_id))
        else:
            seen["msgs"].setdefault(p.topic, []).append(p.payload)
            if p.qos == 1:
                c.send(gen_puback(p.packet_id))
    elif p.type == PUBREL:
        seen["held"].discard(p.packet_id)
        c.send(gen_pubcomp(p.packet_id))


class Subscriber(threading.Thread):
    """Reads a persistent session until the connection breaks, slowly now
    and then (so that messages also wait in its queue)."""

    def __init__(self, port, cid, seen, rng):
        super().__init__(daemon=True)
        self.port, self.cid, self.seen, self.rng = port, cid, seen, rng
        self.error = None
        self.present = None
        self.connected = threading.Event()

    def run(self):
        try:
            c = persistent(self.port, self.cid)
            self.present = c.session_present
            self.connected.set()
            while True:
                p = c.recv(timeout=10)
                handle(c, p, self.seen)
                if self.rng.random() < 0.01:
                    time.sleep(0.02)
        except (OSError, Closed, socket.timeout):
            return
        except Exception as e:  # noqa: BLE001
            self.error = e


class Publisher(threading.Thread):
    """Publishes counters, QoS 1 to `q1` and QoS 2 to `q2`, up to `window`
    in flight, until the connection breaks; records what was acknowledged
    (PUBACK; PUBREC for QoS 2: from then on the server owns it)."""

    def __init__(self, port, start, window=16):
        super().__init__(daemon=True)
        self.port, self.next, self.window = port, start, window
        self.acked = {"ps/q1": set(), "ps/q2": set()}
        self.sent = {"ps/q1": set(), "ps/q2": set()}
        self.error = None
        self.connected = threading.Event()

    def run(self):
        try:
            c = connect(self.port, "c66-pub")
        except Exception as e:  # noqa: BLE001
            self.error = e
            return
        self.connected.set()
        in_flight = {}
        pid = 0
        try:
            while True:
                while len(in_flight) < self.window:
                    pid = pid % 60000 + 1
                    n = self.next
                    self.next += 1
                    topic, qos = ("ps/q2", 2) if n % 2 else ("ps/q1", 1)
                    c.send(gen_publish(topic, qos, b"%d" % n, False, False, pid, None, 5))
                    self.sent[topic].add(n)
                    in_flight[pid] = (topic, n)
                p = c.recv(timeout=5)
                if p.type in (PUBACK, PUBREC):
                    topic, n = in_flight.pop(p.packet_id)
                    check_eq(p.reason_code in (0, 0x10), True, "ack %r" % p)
                    self.acked[topic].add(n)
                    if p.type == PUBREC:
                        c.send(gen_pubrel(p.packet_id))
        except (OSError, Closed, TestError, socket.timeout):
            return


@case(castor_only=True, server=False, timeout=300)
def kill_9_during_qos1_and_qos2_publishing_to_a_persistent_subscriber():
    srv = Server()
    slow = slow_disk_binary(srv.dir)
    if slow:
        os.environ["CASTOR_BIN"] = slow
    else:
        print("  (strace cannot delay fsync here: the disk's own speed)")
    srv.start()
    rng = random.Random(int(os.environ.get("CASTOR_TEST_SEED", "0")) or None)
    seen = {"msgs": {}, "held": set()}
    acked = {"ps/q1": set(), "ps/q2": set()}
    sent = {"ps/q1": set(), "ps/q2": set()}
    try:
        c = persistent(srv.port, "c66-sub")
        c.subscribe("ps/q1", 1)
        c.subscribe("ps/q2", 2, packet_id=2)
        c.close()
        start = 0
        for rnd in range(20):
            sub = Subscriber(srv.port, "c66-sub", seen, rng)
            # Every other round the subscriber is away: messages queue.
            if rnd % 2 == 0:
                sub.start()
            pub = Publisher(srv.port, start)
            pub.start()
            # The kill comes at a random moment once both are connected (a
            # loaded machine may take longer than the shortest wait).
            check(pub.connected.wait(15),
                  "round %d: the publisher connects: %r" % (rnd, pub.error))
            if rnd % 2 == 0:
                check(sub.connected.wait(15),
                      "round %d: the subscriber connects: %r" % (rnd, sub.error))
            time.sleep(rng.uniform(0.05, 0.6))
            srv.kill()
            pub.join(10)
            check(not pub.is_alive(), "the publisher ends with the server")
            check(pub.error is None, "round %d: %r" % (rnd, pub.error))
            if rnd % 2 == 0:
                sub.join(15)
                check(not sub.is_alive(), "the subscriber ends with the server")
                check(sub.error is None, "round %d: %r" % (rnd, sub.error))
                check_eq(sub.present, 1, "round %d: the session is back" % rnd)
            for t in acked:
                acked[t] |= pub.acked[t]
                sent[t] |= pub.sent[t]
            srv.stopped = False
            srv.exit_expected = None
            srv.start()
            start = pub.next + 1000
        # Everything that is left comes now.
        c = persistent(srv.port, "c66-sub")
        check_eq(c.session_present, 1, "the session is back")
        markers_after(c, ["ps/q1", "ps/q2"], srv.port, seen)
        c.close()
        got = {t: [int(x) for x in seen["msgs"].get(t, []) if x != b"marker"]
               for t in acked}
        total = sum(len(a) for a in acked.values())
        check(len(acked["ps/q2"]) > 20 and len(acked["ps/q1"]) > 20,
              "enough was acknowledged: %d" % total)
        for t in acked:
            lost = acked[t] - set(got[t])
            again = seen.get("again", {})
            check(not lost, "%s: acknowledged, never delivered: %s; of them "
                  "sent under an identifier the subscriber held: %s"
                  % (t, sorted(lost)[:20],
                     sorted((n, again[b"%d" % n]) for n in lost
                            if b"%d" % n in again)[:20]))
            never = set(got[t]) - sent[t]
            check(not never, "%s: delivered, never sent: %s" % (t, sorted(never)[:20]))
        dups = sorted(n for n in set(got["ps/q2"]) if got["ps/q2"].count(n) > 1)
        check(not dups, "QoS 2 delivered more than once: %s" % dups[:20])
        print("  %d QoS 1 and %d QoS 2 acknowledged, %d and %d delivered"
              % (len(acked["ps/q1"]), len(acked["ps/q2"]),
                 len(got["ps/q1"]), len(got["ps/q2"])))
    finally:
        srv.kill() if slow else srv.stop()
        os.environ["CASTOR_BIN"] = REAL_BIN


@case(castor_only=True, server=False)
def a_paho_session_gets_what_was_queued_for_it_before_kill_9():
    import paho.mqtt.client as paho
    srv = Server()
    srv.start()
    try:
        got = []
        flags = []
        done = threading.Event()

        def on_connect(client, userdata, fl, rc):
            flags.append(fl.get("session present"))
            done.set()

        def on_message(client, userdata, msg):
            got.append((msg.topic, msg.payload, msg.qos))

        def paho_client():
            cl = paho.Client(client_id="c66-paho", clean_session=False,
                             protocol=paho.MQTTv311)
            cl.on_connect = on_connect
            cl.on_message = on_message
            return cl

        cl = paho_client()
        cl.connect("127.0.0.1", srv.port)
        cl.loop_start()
        check(done.wait(10), "paho connects")
        r, _ = cl.subscribe("paho/#", 2)
        check_eq(r, 0, "subscribe sent")
        wait_until(lambda: srv.log() is not None, 1)
        time.sleep(0.3)
        cl.disconnect()
        cl.loop_stop()
        for i in range(5):
            subprocess.run(["mosquitto_pub", "-h", "127.0.0.1", "-p", str(srv.port),
                            "-t", "paho/%d" % (i % 2), "-m", "m%d" % i, "-q", str(1 + (i // 2) % 2)],
                           check=True, timeout=10, env=client_env())
        restart(srv, kill=True)
        done.clear()
        cl = paho_client()
        cl.connect("127.0.0.1", srv.port)
        cl.loop_start()
        check(done.wait(10), "paho connects again")
        check(wait_until(lambda: len(got) >= 5, 10), "got %r" % got)
        time.sleep(0.3)
        cl.disconnect()
        cl.loop_stop()
        check_eq(flags, [0, 1], "session present after the restart")
        check_eq(sorted(p for _, p, _ in got), [b"m%d" % i for i in range(5)],
                 "each queued message once")
        check_eq(sorted(set((t, q) for t, _, q in got)),
                 [("paho/0", 1), ("paho/0", 2), ("paho/1", 1), ("paho/1", 2)],
                 "topics and QoS as published")
        # Delivered: a restart brings none of them again.
        restart(srv, kill=False)
        check("1 persistent sessions with 0 messages" in last_start(srv),
              "nothing left in the store:\n" + srv.log_tail())
    finally:
        srv.stop()


def last_start(srv):
    log = srv.log()
    return log[log.rfind("[storage] opened"):]


@case(castor_only=True, server=False)
def expiry_counts_from_the_restart_and_an_ended_session_is_not_kept():
    srv = Server()
    srv.start()
    try:
        c = persistent(srv.port, "c66-exp", expiry=4)
        c.subscribe("exp/t", 1)
        c.disconnect()
        e = persistent(srv.port, "c66-end", expiry=60)
        e.subscribe("exp/t", 1)
        # Expiry 0 at DISCONNECT ends the session now.
        e.disconnect(properties={"session_expiry_interval": 0})
        time.sleep(3)
        restart(srv, kill=True)
        check("1 persistent sessions" in last_start(srv),
              "one session is kept:\n" + srv.log_tail())
        time.sleep(2)
        # 5 s since the DISCONNECT, 2 s since the restart: still there.
        c = persistent(srv.port, "c66-exp", expiry=4)
        check_eq(c.session_present, 1, "the session is back")
        pub = connect(srv.port, "c66-exp-pub")
        pub.publish("exp/t", b"still subscribed", qos=1)
        c.expect_publish(topic="exp/t", payload=b"still subscribed", ack=True)
        c.disconnect()
        # Now it expires (4 s), and is gone after a restart too.
        time.sleep(5)
        restart(srv, kill=True)
        check("0 persistent sessions" in last_start(srv),
              "the expired session is not kept:\n" + srv.log_tail())
        c = persistent(srv.port, "c66-exp", expiry=4)
        check_eq(c.session_present, 0, "expired")
        c.disconnect()
        c = persistent(srv.port, "c66-end", expiry=60)
        check_eq(c.session_present, 0, "ended by its DISCONNECT")
        c.disconnect()
    finally:
        srv.stop()


@case(castor_only=True, server=False)
def the_will_of_a_session_connected_at_kill_9_is_published_after_the_restart():
    srv = Server()
    srv.start()
    try:
        # A persistent subscriber of the wills, away at the crash.
        s = persistent(srv.port, "c66-will-sub")
        s.subscribe("will/#", 1)
        s.disconnect()
        w = Conn(srv.port)
        w.send(gen_connect("c66-dev", clean_start=False, will_topic="will/dev",
                           will_payload=b"dev lost", will_qos=1,
                           properties={"session_expiry_interval": 300}))
        check_eq(w.recv().type, CONNACK, "CONNACK")
        # One whose will waits 2 s, and one that left cleanly (no will).
        d = Conn(srv.port)
        d.send(gen_connect("c66-slow", clean_start=False, will_topic="will/slow",
                           will_payload=b"slow lost", will_qos=1,
                           will_properties={"will_delay_interval": 2},
                           properties={"session_expiry_interval": 300}))
        check_eq(d.recv().type, CONNACK, "CONNACK")
        q = Conn(srv.port)
        q.send(gen_connect("c66-quit", clean_start=False, will_topic="will/quit",
                           will_payload=b"quit lost", will_qos=1,
                           properties={"session_expiry_interval": 300}))
        check_eq(q.recv().type, CONNACK, "CONNACK")
        q.disconnect()
        time.sleep(0.3)
        restart(srv, kill=True)
        started = time.monotonic()
        s = persistent(srv.port, "c66-will-sub")
        s.expect_publish(topic="will/dev", payload=b"dev lost", ack=True, timeout=5)
        s.expect_publish(topic="will/slow", payload=b"slow lost", ack=True, timeout=5)
        check(time.monotonic() - started >= 1.5,
              "the will delay counts from the restart")
        s.expect_nothing("will of a clean disconnect", linger=1.0)
        s.disconnect()
        # The devices' sessions are back, without their wills.
        w = persistent(srv.port, "c66-dev", expiry=300)
        check_eq(w.session_present, 1, "c66-dev's session is back")
        w.disconnect()
    finally:
        srv.stop()


if __name__ == "__main__":
    run_cases()
