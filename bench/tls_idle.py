#!/usr/bin/python3
"""Idle TLS connections: the server's RSS growth per connection, Castor and
Mosquitto side by side with the same certificates (ECDSA P-256, made here
with the openssl command).

Each client is Python's ssl module (TLS 1.3, server certificate only) that
sends an MQTT 3.1.1 CONNECT, reads the CONNACK and then stays idle. The
clients run in several processes (open files are capped per process); the
server's RSS is read once every connection is up. Also prints plain TCP
beside it, so that the TLS figure is "beyond plain TCP".

    bench/tls_idle.py --castor build/castor --connections 2000
    bench/tls_idle.py --castor build/castor --connections 19000 --rounds 2

Only the standard library is used; every server listens on 127.0.0.1 and is
stopped before the script ends."""

import argparse
import asyncio
import json
import multiprocessing
import os
import shutil
import signal
import ssl
import statistics
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def log(msg):
    print(msg, file=sys.stderr, flush=True)


def openssl(*args, cwd):
    subprocess.run(["openssl"] + list(args), cwd=cwd, check=True, capture_output=True)


def make_certs(d):
    openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
            "-nodes", "-keyout", "ca.key", "-out", "ca.pem", "-days", "2",
            "-subj", "/CN=Bench CA", "-addext", "basicConstraints=critical,CA:TRUE",
            "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)
    openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
            "-keyout", "server.key", "-out", "server.csr", "-subj", "/CN=localhost", cwd=d)
    with open(os.path.join(d, "server.ext"), "w") as f:
        f.write("basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
                "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-set_serial", "1", "-days", "2", "-sha256", "-extfile", "server.ext",
            "-out", "server.pem", cwd=d)


def with_tls_listener(config_text, port, d):
    """A Castor configuration (YAML text with a `listeners:` list) with a
    TLS listener on 127.0.0.1:`port` first, using the certificate that
    make_certs(d) made."""
    listener = ("listeners:\n  - name: mqtts\n    transport: tls\n"
                "    bind: 127.0.0.1\n    port: %d\n"
                "    tls: {cert_file: %s, key_file: %s}\n"
                % (port, os.path.join(d, "server.pem"),
                   os.path.join(d, "server.key")))
    if "\nlisteners:\n" not in config_text:
        raise ValueError("the configuration has no listeners list")
    return config_text.replace("\nlisteners:\n", "\n" + listener, 1)


def mosquitto_tls_listener(port, d):
    """mosquitto.conf lines for a TLS listener with make_certs(d)'s files."""
    return ("listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n"
            % (port, os.path.join(d, "server.pem"), os.path.join(d, "server.key")))


def readable_by_all(*dirs):
    """Mosquitto started as root reads its files as user mosquitto."""
    for d in dirs:
        os.chmod(d, 0o755)
        for name in os.listdir(d):
            p = os.path.join(d, name)
            if os.path.isfile(p):
                os.chmod(p, 0o644)


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rss_kb(pid):
    with open("/proc/%d/status" % pid) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def connect_packet(cid):
    body = b"\x00\x04MQTT\x04\x02\x00\x3c" + struct.pack("!H", len(cid)) + cid
    return bytes([0x10, len(body)]) + body


async def hold(port, ca, count, offset, tls, ready, stop):
    ctx = None
    if tls:
        ctx = ssl.create_default_context(cafile=ca)
        ctx.minimum_version = ssl.TLSVersion.TLSv1_3
    sem = asyncio.Semaphore(64)
    conns = []

    async def one(i):
        async with sem:
            for attempt in range(5):
                try:
                    r, w = await asyncio.open_connection(
                        "127.0.0.1", port, ssl=ctx,
                        server_hostname="localhost" if tls else None)
                    w.write(connect_packet(b"idle-%d" % (offset + i)))
                    ack = await asyncio.wait_for(r.readexactly(4), 30)
                    if ack[0] != 0x20 or ack[3] != 0:
                        raise RuntimeError("CONNACK %r" % ack)
                    conns.append(w)
                    return
                except (OSError, asyncio.TimeoutError, asyncio.IncompleteReadError):
                    await asyncio.sleep(0.2 * (attempt + 1))
            raise RuntimeError("connection %d failed" % i)

    await asyncio.gather(*(one(i) for i in range(count)))
    ready.set()
    while not stop.is_set():
        await asyncio.sleep(0.2)
    for w in conns:
        w.close()


def slice_main(port, ca, count, offset, tls, ready, stop):
    import resource
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    asyncio.run(hold(port, ca, count, offset, tls, ready, stop))


def start(kind, binary, port, tls_port, d):
    if kind == "castor":
        conf = os.path.join(d, "castor.yaml")
        with open(conf, "w") as f:
            f.write("log_level: warning\nlisteners:\n"
                    "  - {name: mqtt, transport: tcp, bind: 127.0.0.1, port: %d}\n"
                    "  - name: mqtts\n    transport: tls\n    bind: 127.0.0.1\n"
                    "    port: %d\n    tls: {cert_file: %s, key_file: %s}\n"
                    % (port, tls_port, os.path.join(d, "server.pem"),
                       os.path.join(d, "server.key")))
        cmd = [binary, "--config", conf]
    else:
        conf = os.path.join(d, "mosquitto.conf")
        with open(conf, "w") as f:
            f.write("allow_anonymous true\npersistence false\nmax_connections -1\n"
                    "listener %d 127.0.0.1\n"
                    "listener %d 127.0.0.1\ncertfile %s\nkeyfile %s\n"
                    % (port, tls_port, os.path.join(d, "server.pem"),
                       os.path.join(d, "server.key")))
        cmd = [binary, "-c", conf]
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                         start_new_session=True, cwd=d)
    import socket
    for _ in range(200):
        try:
            socket.create_connection(("127.0.0.1", tls_port), timeout=0.2).close()
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return p
        except OSError:
            time.sleep(0.05)
    p.kill()
    raise RuntimeError(kind + " did not start")


def measure(kind, binary, n, tls, d):
    port, tls_port = free_port(), free_port()
    server = start(kind, binary, port, tls_port, d)
    try:
        time.sleep(0.5)
        before = rss_kb(server.pid)
        per = 9000
        procs = []
        t0 = time.monotonic()
        for off in range(0, n, per):
            ready, stop = multiprocessing.Event(), multiprocessing.Event()
            p = multiprocessing.Process(
                target=slice_main,
                args=(tls_port if tls else port, os.path.join(d, "ca.pem"),
                      min(per, n - off), off, tls, ready, stop))
            p.start()
            procs.append((p, ready, stop))
        for p, ready, _ in procs:
            if not ready.wait(300):
                raise RuntimeError("clients not connected in time")
        setup = time.monotonic() - t0
        time.sleep(2.0)
        after = rss_kb(server.pid)
        for p, _, stop in procs:
            stop.set()
        for p, _, _ in procs:
            p.join(30)
        return {"kb_per_conn": (after - before) / n, "rss_before_mb": before / 1024,
                "rss_after_mb": after / 1024, "connects_per_s": n / setup}
    finally:
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(10)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--castor", default=os.path.join(ROOT, "build", "castor"))
    ap.add_argument("--mosquitto", default=shutil.which("mosquitto")
                    or "/usr/sbin/mosquitto")
    ap.add_argument("--servers", default="castor,mosquitto")
    ap.add_argument("--connections", type=int, default=2000)
    ap.add_argument("--rounds", type=int, default=1)
    ap.add_argument("--json")
    args = ap.parse_args()
    d = tempfile.mkdtemp(prefix="castor-tls-bench-")
    try:
        make_certs(d)
        # Mosquitto started as root reads its files as user mosquitto.
        os.chmod(d, 0o755)
        for name in os.listdir(d):
            os.chmod(os.path.join(d, name), 0o644)
        results = {}
        for r in range(args.rounds):
            for kind in args.servers.split(","):
                binary = os.path.abspath(args.castor if kind == "castor" else args.mosquitto)
                for tls in (False, True):
                    m = measure(kind, binary, args.connections, tls, d)
                    key = "%s %s" % (kind, "tls" if tls else "tcp")
                    log("round %d %s: %.2f kB/conn, %.0f conn/s" % (
                        r + 1, key, m["kb_per_conn"], m["connects_per_s"]))
                    results.setdefault(key, []).append(m)
        print("%d idle MQTT 3.1.1 clients, %d round(s), medians" % (args.connections, args.rounds))
        print("| server | transport | RSS per connection (kB) | beyond tcp (kB) | connects/s |")
        print("| --- | --- | --- | --- | --- |")
        for kind in args.servers.split(","):
            tcp = statistics.median(m["kb_per_conn"] for m in results[kind + " tcp"])
            for t in ("tcp", "tls"):
                ms = results["%s %s" % (kind, t)]
                kb = statistics.median(m["kb_per_conn"] for m in ms)
                rate = statistics.median(m["connects_per_s"] for m in ms)
                print("| %s | %s | %.2f | %s | %.0f |" % (
                    kind, t, kb, "%.2f" % (kb - tcp) if t == "tls" else "", rate))
        if args.json:
            with open(args.json, "w") as f:
                json.dump(results, f, indent=1)
    finally:
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    main()
