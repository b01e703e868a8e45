#!/usr/bin/python3
"""Flow control: a subscriber that stops reading does not hold others back
for long, and under QoS 1 fan-in with a slow (but live) subscriber nothing
that the server acknowledged is lost."""

import os
import selectors
import socket
import threading
import time

from mqtt_test import *  # noqa: F401,F403


class NB:
    """A non-blocking MQTT 5 connection driven by a selector loop."""

    def __init__(self, port, cid, sel, rcvbuf=None):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.connect(("127.0.0.1", port))
        self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.sock.setblocking(False)
        self.inb = bytearray()
        self.out = bytearray()
        self.closed = False
        self.cid = cid
        self.sel = sel
        sel.register(self.sock, selectors.EVENT_READ, self)
        self.queue(gen_connect(cid, keepalive=120))

    def queue(self, data):
        self.out += data
        self.flush()

    def flush(self):
        while self.out and not self.closed:
            try:
                n = self.sock.send(self.out)
            except BlockingIOError:
                break
            except OSError:
                self.closed = True
                break
            del self.out[:n]
        want = selectors.EVENT_READ | (selectors.EVENT_WRITE if self.out else 0)
        if not self.closed:
            self.sel.modify(self.sock, want, self)

    def read(self):
        try:
            chunk = self.sock.recv(262144)
        except BlockingIOError:
            return []
        except OSError:
            chunk = b""
        if not chunk:
            self.closed = True
            self.sel.unregister(self.sock)
            return []
        self.inb += chunk
        out = []
        while True:
            if len(self.inb) < 2:
                break
            mult, rl, i = 1, 0, 1
            while True:
                if i >= len(self.inb):
                    return out
                b = self.inb[i]
                rl += (b & 0x7F) * mult
                mult *= 128
                i += 1
                if not b & 0x80:
                    break
            if len(self.inb) < i + rl:
                break
            raw = bytes(self.inb[:i + rl])
            del self.inb[:i + rl]
            out.append(decode(raw, 5))
        return out


@case(overrides={"slow_consumer_timeout_ms": 1000, "max_outbound_bytes": 262144})
def stuck_subscriber_does_not_stop_others(srv):
    topic = "fc/stuck"
    # The stuck subscriber never reads after SUBACK. Its kernel buffers fill
    # up after a few hundred kilobytes; the 24 MB sent are far more.
    stuck = connect(srv.port, "c13-stuck")
    stuck.subscribe(topic, 0)
    fast = connect(srv.port, "c13-fast")
    fast.subscribe(topic, 0)
    pub = connect(srv.port, "c13-pub")
    pub.sock.settimeout(30)
    n, size = 3000, 8192
    payload = b"p" * (size - 8)
    err = []

    def publish():
        try:
            for i in range(n):
                pub.send(gen_publish(topic, 0, b"%08d" % i + payload))
            pub.ping()
        except Exception as e:  # noqa: BLE001
            err.append(e)

    t0 = time.monotonic()
    th = threading.Thread(target=publish, daemon=True)
    th.start()
    got = 0
    last = time.monotonic()
    max_gap = 0.0
    deadline = t0 + 40
    while got < n and time.monotonic() < deadline:
        p = fast.poll(5)
        now = time.monotonic()
        if p is None:
            break
        max_gap = max(max_gap, now - last)
        last = now
        check_eq(p.payload[:8], b"%08d" % got, "message order at the fast subscriber")
        got += 1
    th.join(10)
    dt = time.monotonic() - t0
    print("      fast subscriber: %d/%d messages in %.2f s, longest gap %.2f s" % (got, n, dt, max_gap))
    check(not err, "publisher error: %r" % err)
    check_eq(got, n, "messages at the fast subscriber")
    check(max_gap < 5.0, "longest pause at the fast subscriber %.2f s" % max_gap)
    if IS_CASTOR:
        # Policy "disconnect" (the default): the stuck client is dropped once
        # it has been stuck for slow_consumer_timeout_ms.
        time.sleep(2.5)
        check(_drained_to_eof(stuck, 10), "the stuck subscriber was disconnected")
    stuck.abort()
    fast.disconnect()
    pub.disconnect()


def _drained_to_eof(conn, timeout):
    """Reads and discards until the server closes; False if still open."""
    deadline = time.monotonic() + timeout
    conn.sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = conn.sock.recv(1 << 20)
        except socket.timeout:
            continue
        except OSError:
            return True
        if not chunk:
            return True
    return False


@case(overrides={"slow_consumer": "drop_qos0", "slow_consumer_timeout_ms": 500},
      castor_only=True)
def stuck_subscriber_drop_qos0_policy(srv):
    # Policy drop_qos0: the stuck client stays connected, loses QoS 0
    # messages while stuck and receives again once it reads.
    #
    # This also covers resuming a publisher's reads after flow control halted
    # them: CAF 0.17 applies a halt at the end of the multiplexer's round and
    # drops a trigger in that round, which once left the publisher unread
    # for good (actors/connection.cpp re-triggers with backoff since).
    topic = "fc/drop"
    stuck = connect(srv.port, "c13-drop-stuck")
    stuck.subscribe(topic, 0)
    fast = connect(srv.port, "c13-drop-fast")
    fast.subscribe(topic, 0)
    pub = connect(srv.port, "c13-drop-pub")
    pub.sock.settimeout(30)
    n = 3000
    err = []

    def publish():
        try:
            for i in range(n):
                pub.send(gen_publish(topic, 0, b"%08d" % i + b"d" * 8000))
        except Exception as e:  # noqa: BLE001
            err.append(e)

    th = threading.Thread(target=publish, daemon=True)
    th.start()  # the fast subscriber reads meanwhile
    for i in range(n):
        fast.expect_publish(topic, b"%08d" % i + b"d" * 8000, timeout=10)
    th.join(10)
    check(not err, "publisher error: %r" % err)
    time.sleep(1.5)
    pub.publish(topic, b"final", qos=0)
    fast.expect_publish(topic, b"final")
    # The stuck client reads again: what it was sent, then the live message.
    got = 0
    deadline = time.monotonic() + 20
    while True:
        check(time.monotonic() < deadline, "the live message within 20 s (%d read)" % got)
        p = stuck.expect_publish(topic, timeout=5)
        if p.payload == b"final":
            break
        got += 1
    check(got < n, "QoS 0 messages were dropped for the stuck client (%d of %d)" % (got, n))
    print("      stuck subscriber got %d of %d, then the live message" % (got, n))
    for c in (stuck, fast, pub):
        c.disconnect()


# Mosquitto 2.0.11 acknowledges QoS 1 messages that it then drops when the
# subscriber's queue (max_queued_messages) is full; the spec does not allow
# an acknowledged QoS 1 message to a matching live session to be lost.
@case()
def qos1_fan_in_slow_subscriber_loses_nothing(srv):
    sel = selectors.DefaultSelector()
    topic = "fc/fanin"
    npub, per_pub, window = 4, 1500, 20
    sub = NB(srv.port, "c13-slow-sub", sel)
    pubs = [NB(srv.port, "c13-fanin%d" % i, sel) for i in range(npub)]
    state = {id(p): dict(sent=0, inflight={}, acked=set(), ready=False) for p in pubs}
    sub_ready = False
    received = []
    seen = set()
    sub_pid = 1
    paused_until = 0.0
    t0 = time.monotonic()
    deadline = t0 + 30
    done_at = None
    last_rx = t0
    while time.monotonic() < deadline:
        # Publishers keep their window full.
        if sub_ready:
            for p in pubs:
                st = state[id(p)]
                while st["ready"] and st["sent"] < per_pub and len(st["inflight"]) < window:
                    i = st["sent"]
                    pid = (i % 60000) + 1
                    body = b"%d:%d" % (pubs.index(p), i)
                    st["inflight"][pid] = body
                    p.queue(gen_publish(topic, 1, body, packet_id=pid))
                    st["sent"] += 1
        total_acked = sum(len(s["acked"]) for s in state.values())
        now = time.monotonic()
        if total_acked == npub * per_pub:
            if seen >= set().union(*[s["acked"] for s in state.values()]):
                done_at = now
                break
            if now - last_rx > 2.0:
                break  # everything acknowledged, nothing more arriving

        # The subscriber is slow: it stops reading for 300 ms every 1000 messages.
        for key, _ev in sel.select(timeout=0.05):
            c = key.data
            if _ev & selectors.EVENT_WRITE:
                c.flush()
            if not _ev & selectors.EVENT_READ:
                continue
            if c is sub and now < paused_until:
                continue
            for pk in c.read():
                if c is sub:
                    if pk.type == CONNACK:
                        sub.queue(gen_subscribe(sub_pid, topic, qos=1))
                    elif pk.type == SUBACK:
                        sub_ready = True
                    elif pk.type == PUBLISH:
                        received.append(pk.payload)
                        last_rx = time.monotonic()
                        seen.add(pk.payload)
                        sub.queue(gen_puback(pk.packet_id))
                        if len(received) % 1000 == 0:
                            paused_until = time.monotonic() + 0.3
                else:
                    st = state[id(c)]
                    if pk.type == CONNACK:
                        st["ready"] = True
                    elif pk.type == PUBACK:
                        body = st["inflight"].pop(pk.packet_id, None)
                        check(body is not None, "PUBACK for an unknown id %d" % pk.packet_id)
                        check(pk.reason_code in (0, 0x10), "PUBACK reason %r" % pk)
                        st["acked"].add(body)
        if sub.closed:
            raise TestError("the slow subscriber was disconnected")
    acked = set().union(*[s["acked"] for s in state.values()])
    lost = acked - seen
    dt = (done_at or time.monotonic()) - t0
    print("      %d acknowledged, %d received (%d duplicates), %d lost, %.2f s"
          % (len(acked), len(received), len(received) - len(seen), len(lost), dt))
    check(not lost, "%d acknowledged messages never delivered, e.g. %s"
          % (len(lost), sorted(lost)[:5]))
    check_eq(len(acked), npub * per_pub, "all messages acknowledged within the time limit")
    # Per publisher, order is kept [MQTT-4.6.0-6] (duplicates aside).
    last = {}
    for body in received:
        a, b = body.split(b":")
        if int(b) < last.get(a, -1):
            raise TestError("publisher %s: message %s after %d" % (a, b, last[a]))
        last[a] = max(last.get(a, -1), int(b))
    for c in pubs + [sub]:
        c.sock.close()


# Reading stops and resumes over and over (a small inbound bound, bursts to
# many topics), and every time the client's next packet is read: a PINGRESP
# answers the PINGREQ sent right behind each burst. Reading resumes only
# when topics confirm they took the bytes read; bytes that reached a topic
# unconfirmed after the stop (CAF still delivers a read or two) would keep
# the connection stopped for good, and the PINGRESP would never come.
@case(overrides={"max_inbound_bytes": 2048}, castor_only=True, timeout=120)
def reading_resumes_after_every_stop(srv):
    sub = connect(srv.port, "c13-resume-sub")
    sub.subscribe("resume/#", 0)
    pubs = [connect(srv.port, "c13-resume-pub%d" % i, version=v)
            for i, v in enumerate((5, 4))]
    errors = []
    rounds, topics = 150, 40

    def publish(k, c):
        try:
            for r in range(rounds):
                c.send(b"".join(gen_publish("resume/%d/%d" % (k, (r * 7 + i) % 400), 0,
                                            b"x" * 64, version=c.version)
                                for i in range(topics)))
                c.ping()  # PINGRESP within the connection's timeout
        except Exception as e:  # noqa: BLE001
            errors.append("publisher %d, round %d: %s" % (k, r, e))

    threads = [threading.Thread(target=publish, args=(k, c), daemon=True)
               for k, c in enumerate(pubs)]
    for th in threads:
        th.start()
    n = 0
    total = len(pubs) * rounds * topics
    while n < total:
        p = sub.poll(10)
        if p is None:
            break
        n += 1
    for th in threads:
        th.join(30)
    check(not errors, "a publisher's packets were not read: %s" % errors)
    check_eq(n, total, "messages received")
    for c in pubs + [sub]:
        c.disconnect()


if __name__ == "__main__":
    run_cases()
