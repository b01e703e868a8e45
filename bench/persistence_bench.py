#!/usr/bin/python3
"""Persistence: Castor's store against Mosquitto's, side by side on this
machine (docs/persistence.md, docs/performance.md).

1. QoS 1 fan-in of retained messages (100 publishers, each keeping its own
   topic's retained message up to date; one subscriber): Castor with
   storage.durability sync (acknowledged once on disk), async, and storage
   off; Mosquitto with persistence on, autosave_interval as shipped (1800 s),
   and with autosave_on_changes (a save every 1800 changes).
2. Restart time with N retained messages (default 100,000; --retained
   1000000 for the figure of docs/performance.md): the messages are
   published (QoS 0, then one QoS 1 to make sure the server has them all),
   the server is stopped with SIGTERM, started again, and timed until it
   accepts connections and a new subscriber gets the last message's
   retained value.

    bench/persistence_bench.py --build-dir build
    bench/persistence_bench.py --build-dir build --retained 1000000

3. Restart time with N offline persistent sessions (default 100,000;
   --sessions 0 skips it): each one (MQTT 3.1.1, clean session 0)
   subscribes to one of 1,000 topics with QoS 1 and leaves; one QoS 1
   message to each topic then waits in every session's queue. The server
   is stopped with SIGTERM, started again, and timed until the first
   session's client connects, finds its session and gets its message.

    bench/persistence_bench.py --build-dir build --sessions 100000

Every server listens on 127.0.0.1 only and is stopped before the script
exits.
"""

import argparse
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import run_bench as rb  # noqa: E402

KINDS = {
    "castor-sync": "storage: {durability: sync}\n",
    "castor-async": "storage: {durability: async}\n",
    "castor-off": "storage: {enabled: false}\n",
    "mosquitto-persist": "persistence true\n",
    "mosquitto-on-changes": "persistence true\nautosave_on_changes true\n",
}


class Broker:
    """One server in a directory of its own (which keeps its store across
    restart())."""

    def __init__(self, kind, args, tmp):
        self.kind = kind
        self.args = args
        self.dir = tempfile.mkdtemp(prefix=kind + "-", dir=tmp)
        # Mosquitto started as root runs as its own user: it must be able
        # to write its database here.
        os.chmod(self.dir, 0o777)
        self.proc = None
        self.port = None

    def start(self):
        self.port = rb.free_port()
        log = open(os.path.join(self.dir, "server.log"), "a")
        if self.kind.startswith("castor"):
            conf = os.path.join(self.dir, "castor.yaml")
            with open(conf, "w") as f:
                f.write("log_level: warning\nlisteners:\n"
                        f"  - {{name: m, transport: tcp, bind: 127.0.0.1, port: {self.port}}}\n"
                        + KINDS[self.kind])
            cmd = [self.args.castor, "--config", conf]
        else:
            conf = os.path.join(self.dir, "mosquitto.conf")
            with open(conf, "w") as f:
                f.write(f"listener {self.port} 127.0.0.1\nallow_anonymous true\n"
                        f"persistence_location {self.dir}/\n"
                        "log_dest stderr\nlog_type error\nlog_type warning\n"
                        + KINDS[self.kind])
            cmd = [self.args.mosquitto, "-c", conf]
        t0 = time.monotonic()
        self.proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT,
                                     stdin=subprocess.DEVNULL, cwd=self.dir)
        rb.started.append(self.proc)
        deadline = t0 + 600
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"{self.kind} exited: see {self.dir}/server.log")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    return time.monotonic() - t0
            except OSError:
                time.sleep(0.005)
        raise RuntimeError(f"{self.kind} did not start")

    def stop(self):
        rb.stop(self.proc)
        self.proc = None

    def restart(self):
        self.stop()
        return self.start()


# -- a minimal MQTT 3.1.1 client for loading and checking retained messages


def _str(s):
    b = s.encode()
    return len(b).to_bytes(2, "big") + b


def _varint(n):
    out = bytearray()
    while True:
        d = n % 128
        n //= 128
        out.append(d | (0x80 if n else 0))
        if not n:
            return bytes(out)


def _packet(first, body):
    return bytes([first]) + _varint(len(body)) + body


def _connect(port, cid, clean=True):
    """A connected socket, and whether its session was present."""
    s = socket.create_connection(("127.0.0.1", port), timeout=60)
    s.sendall(_packet(0x10, _str("MQTT") + bytes([4, 2 if clean else 0, 0, 60])
                      + _str(cid)))
    _, body = _read_packet(s)  # CONNACK
    return s, body[0] & 1


def _read_exact(s, n):
    buf = bytearray()
    while len(buf) < n:
        chunk = s.recv(n - len(buf))
        if not chunk:
            raise RuntimeError("connection closed")
        buf += chunk
    return bytes(buf)


def _read_packet(s):
    first = _read_exact(s, 1)[0]
    n, mult = 0, 1
    while True:
        d = _read_exact(s, 1)[0]
        n += (d & 127) * mult
        mult *= 128
        if not d & 128:
            break
    return first, _read_exact(s, n)


def load_retained(port, count):
    """Publishes `count` retained messages (QoS 0), then one QoS 1 whose
    PUBACK says the server has read them all."""
    s, _ = _connect(port, "pb-loader")
    batch = bytearray()
    for i in range(count):
        batch += _packet(0x31, _str(f"pb/r/{i // 1000}/{i}") + b"value-%08d" % i)
        if len(batch) > 65536:
            s.sendall(batch)
            batch.clear()
    s.sendall(bytes(batch))
    s.sendall(_packet(0x33, _str("pb/last") + (1).to_bytes(2, "big") + b"done"))
    while True:
        first, _ = _read_packet(s)
        if first >> 4 == 4:  # PUBACK
            break
    s.sendall(b"\xe0\x00")
    s.close()


def check_retained(port):
    """A new subscriber gets the last message's retained value."""
    s, _ = _connect(port, "pb-check")
    s.sendall(_packet(0x82, (1).to_bytes(2, "big") + _str("pb/last") + b"\x00"))
    got = None
    while got is None:
        first, body = _read_packet(s)
        if first >> 4 == 3:
            tlen = int.from_bytes(body[:2], "big")
            got = body[2 + tlen:]
    s.close()
    return got == b"done"


def load_sessions(port, count, topics=1000):
    """`count` persistent sessions, each subscribed to one of `topics`
    topics (QoS 1), offline; then one QoS 1 message to each topic, which
    waits in every session's queue."""
    for i in range(count):
        s = socket.create_connection(("127.0.0.1", port), timeout=60)
        s.sendall(_packet(0x10, _str("MQTT") + bytes([4, 0, 0, 60]) + _str(f"pb-s-{i}"))
                  + _packet(0x82, (1).to_bytes(2, "big") + _str(f"pb/s/{i % topics}")
                            + b"\x01"))
        _read_packet(s)  # CONNACK
        _read_packet(s)  # SUBACK
        s.sendall(b"\xe0\x00")
        s.close()
    s, _ = _connect(port, "pb-s-pub")
    for t in range(topics):
        s.sendall(_packet(0x32, _str(f"pb/s/{t}") + (t + 1).to_bytes(2, "big")
                          + b"queued-%d" % t))
        _read_packet(s)  # PUBACK
    s.sendall(b"\xe0\x00")
    s.close()


def check_session(port):
    """The first session is back with its queued message."""
    s, present = _connect(port, "pb-s-0", clean=False)
    ok = present == 1
    first, body = _read_packet(s)
    ok = ok and first >> 4 == 3 and body.endswith(b"queued-0")
    s.sendall(_packet(0x40, body[2 + int.from_bytes(body[:2], "big"):][:2]))
    s.sendall(b"\xe0\x00")
    s.close()
    return ok


def fan_in(args, kind, tmp):
    b = Broker(kind, args, tmp)
    try:
        b.start()
        r = rb.run_flow(args, b, "fan-in-q1-retained",
                        ["--scenario", "fan-in", "--qos", "1", "--retain"])
    finally:
        b.stop()
    return r.get("rate") if r.get("ok", True) and r.get("rate") else None


def restart_time(args, kind, tmp, sessions=False):
    b = Broker(kind, args, tmp)
    try:
        b.start()
        t0 = time.monotonic()
        if sessions:
            load_sessions(b.port, args.sessions)
        else:
            load_retained(b.port, args.retained)
        load_s = time.monotonic() - t0
        b.stop()
        t0 = time.monotonic()
        b.start()
        ok = check_session(b.port) if sessions else check_retained(b.port)
        total = time.monotonic() - t0
    finally:
        b.stop()
    return {"load_s": load_s, "restart_s": total, "ok": ok,
            "disk_mb": sum(os.path.getsize(os.path.join(d, f))
                           for d, _, fs in os.walk(b.dir) for f in fs) / 1e6}


def main():
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--build-dir", default="build")
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto") or "/usr/sbin/mosquitto")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--duration", type=float, default=10)
    ap.add_argument("--warmup", type=float, default=2)
    ap.add_argument("--retained", type=int, default=100000)
    ap.add_argument("--sessions", type=int, default=100000)
    ap.add_argument("--kinds", default=",".join(KINDS))
    ap.add_argument("--skip-restart", action="store_true")
    ap.add_argument("--skip-fan-in", action="store_true")
    args = ap.parse_args()
    args.castor = os.path.abspath(os.path.join(args.build_dir, "castor"))
    args.loadgen = os.path.abspath(os.path.join(args.build_dir, "bench", "castor-loadgen"))
    args.coalesce_us = 0
    kinds = [k for k in args.kinds.split(",") if k]
    rb.raise_nofile()
    tmp = tempfile.mkdtemp(prefix="castor-persistence-bench-")
    os.chmod(tmp, 0o755)  # (Mosquitto's user reaches its directory)
    rates = {k: [] for k in kinds}
    restarts = {k: [] for k in kinds}
    session_restarts = {k: [] for k in kinds}
    try:
        for rnd in range(args.rounds):
            for k in [] if args.skip_fan_in else kinds:
                rb.log(f"round {rnd + 1}: fan-in QoS 1 retained, {k}")
                rate = fan_in(args, k, tmp)
                if rate:
                    rates[k].append(rate)
            if args.skip_restart or rnd > 0:
                continue
            for k in kinds:
                if k == "castor-off":
                    continue
                rb.log(f"restart with {args.retained} retained messages, {k}")
                restarts[k].append(restart_time(args, k, tmp))
            for k in kinds if args.sessions > 0 else []:
                if k == "castor-off":
                    continue
                rb.log(f"restart with {args.sessions} offline sessions, {k}")
                session_restarts[k].append(restart_time(args, k, tmp, sessions=True))
    finally:
        rb.stop_all()
        shutil.rmtree(tmp, ignore_errors=True)
    print(f"\nQoS 1 fan-in of retained messages (100 publishers, 1 subscriber), "
          f"messages/s, median of {args.rounds}:")
    for k in [] if args.skip_fan_in else kinds:
        v = rates[k]
        print(f"  {k:22s} {statistics.median(v):>12,.0f}" if v else f"  {k:22s} failed")
    if not args.skip_restart:
        print(f"\nRestart with {args.retained:,} retained messages "
              "(SIGTERM, start, a subscriber gets the last one):")
        for k in kinds:
            for r in restarts[k]:
                print(f"  {k:22s} restart {r['restart_s']:7.2f} s   (loading took "
                      f"{r['load_s']:.1f} s; {r['disk_mb']:.0f} MB on disk; "
                      f"{'ok' if r['ok'] else 'RETAINED MESSAGE MISSING'})")
    if not args.skip_restart and args.sessions > 0:
        print(f"\nRestart with {args.sessions:,} offline persistent sessions, one queued "
              "message each (SIGTERM, start, a client gets its session and message):")
        for k in kinds:
            for r in session_restarts[k]:
                print(f"  {k:22s} restart {r['restart_s']:7.2f} s   (loading took "
                      f"{r['load_s']:.1f} s; {r['disk_mb']:.0f} MB on disk; "
                      f"{'ok' if r['ok'] else 'SESSION OR MESSAGE MISSING'})")


if __name__ == "__main__":
    main()
