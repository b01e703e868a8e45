#!/usr/bin/python3
"""10,000 concurrent connections on loopback, each subscribed to the same
topic; one published message must reach every one of them. Prints the
connect rate and the time to deliver. Bounded: under 120 s in all.

CASTOR_SCALE_CONNECTIONS overrides the count (e.g. for a quick run)."""

import errno
import os
import resource
import selectors
import socket
import time

from mqtt_test import *  # noqa: F401,F403

N = int(os.environ.get("CASTOR_SCALE_CONNECTIONS", "10000"))
TOPIC = "scale/fan"
MAX_PENDING = 256  # connection attempts in progress at once
CONNECT_BUDGET = 80.0
DELIVERY_BUDGET = 25.0


def raise_nofile(want):
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    target = min(hard, 20000) if hard != resource.RLIM_INFINITY else 20000
    if soft < target:
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < want + 100:
        raise Skip("open files limited to %d, %d needed" % (soft, want + 100))


class Peer:
    __slots__ = ("sock", "i", "out", "inb", "state", "got")

    def __init__(self, i):
        self.i = i
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self.sock.setblocking(False)
        v = 5 if i % 2 else 4
        self.out = bytearray(gen_connect("scale-%d" % i, version=v, keepalive=600) +
                             gen_subscribe(1, TOPIC, qos=0, version=v))
        self.inb = bytearray()
        self.state = "connecting"
        self.got = 0


def frames(buf):
    """Splits complete packets off buf; yields their first bytes."""
    out = []
    while len(buf) >= 2:
        mult, rl, i = 1, 0, 1
        while True:
            if i >= len(buf):
                return out
            b = buf[i]
            rl += (b & 0x7F) * mult
            mult *= 128
            i += 1
            if not b & 0x80:
                break
        if len(buf) < i + rl:
            break
        out.append(bytes(buf[:i + rl]))
        del buf[:i + rl]
    return out


@case(timeout=150)
def ten_thousand_connections_fan_out(srv):
    sel = selectors.DefaultSelector()
    peers = []
    ready = 0
    next_i = 0
    pending = 0
    t0 = time.monotonic()
    deadline = t0 + CONNECT_BUDGET

    def fail(msg):
        raise TestError("%s (%d of %d subscribed after %.1f s)" % (msg, ready, N, time.monotonic() - t0))

    try:
        while ready < N:
            now = time.monotonic()
            if now > deadline:
                fail("connect phase over its time budget")
            while next_i < N and pending < MAX_PENDING:
                p = Peer(next_i)
                next_i += 1
                err = p.sock.connect_ex(("127.0.0.1", srv.port))
                if err not in (0, errno.EINPROGRESS):
                    fail("connect failed: %s" % os.strerror(err))
                peers.append(p)
                sel.register(p.sock, selectors.EVENT_WRITE, p)
                pending += 1
            for key, ev in sel.select(timeout=0.5):
                p = key.data
                if p.state == "connecting" and ev & selectors.EVENT_WRITE:
                    err = p.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                    if err:
                        fail("connection %d: %s" % (p.i, os.strerror(err)))
                    p.state = "sent"
                if p.out:
                    try:
                        n = p.sock.send(p.out)
                        del p.out[:n]
                    except BlockingIOError:
                        pass
                    if not p.out:
                        sel.modify(p.sock, selectors.EVENT_READ, p)
                    continue
                if ev & selectors.EVENT_READ:
                    try:
                        chunk = p.sock.recv(4096)
                    except BlockingIOError:
                        continue
                    except OSError as e:
                        fail("connection %d: %s" % (p.i, e))
                    if not chunk:
                        fail("connection %d closed by the server in state %s" % (p.i, p.state))
                    p.inb += chunk
                    for f in frames(p.inb):
                        if f[0] == 0x20:
                            if f[3] != 0:
                                fail("connection %d: CONNACK reason %d" % (p.i, f[3]))
                            p.state = "connected"
                        elif f[0] == 0x90:
                            if f[-1] != 0:
                                fail("connection %d: SUBACK code %d" % (p.i, f[-1]))
                            p.state = "ready"
                            ready += 1
                            pending -= 1
                        else:
                            fail("connection %d: unexpected packet 0x%02x" % (p.i, f[0]))
        t_conn = time.monotonic() - t0
        print("      %d connections subscribed in %.2f s (%.0f connections/s)"
              % (N, t_conn, N / t_conn))

        # One publish; every connection must receive it.
        pub = connect(srv.port, "scale-publisher")
        payload = b"fan-out to everyone"
        t1 = time.monotonic()
        pub.publish(TOPIC, payload, qos=0)
        pub.ping()
        received = 0
        deadline = t1 + DELIVERY_BUDGET
        while received < N and time.monotonic() < deadline:
            for key, ev in sel.select(timeout=0.5):
                p = key.data
                try:
                    chunk = p.sock.recv(4096)
                except BlockingIOError:
                    continue
                except OSError as e:
                    raise TestError("connection %d: %s" % (p.i, e))
                if not chunk:
                    raise TestError("connection %d closed before the message" % p.i)
                p.inb += chunk
                for f in frames(p.inb):
                    if f[0] & 0xF0 != 0x30:
                        raise TestError("connection %d: unexpected packet 0x%02x" % (p.i, f[0]))
                    if not f.endswith(payload):
                        raise TestError("connection %d: wrong payload %r" % (p.i, f))
                    p.got += 1
                    if p.got == 1:
                        received += 1
        t_del = time.monotonic() - t1
        print("      fan-out delivered to %d of %d connections in %.2f s" % (received, N, t_del))
        check_eq(received, N, "connections that received the message")
        dup = [p.i for p in peers if p.got > 1]
        check(not dup, "duplicates at %s" % dup[:5])
        check(srv.alive(), "server alive")
        pub.disconnect()
    finally:
        for p in peers:
            try:
                sel.unregister(p.sock)
            except Exception:  # noqa: BLE001
                pass
            p.sock.close()
        sel.close()


if __name__ == "__main__":
    raise_nofile(N)
    run_cases()
