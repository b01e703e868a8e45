#!/usr/bin/python3
"""Server shutdown on SIGTERM/SIGINT: MQTT 5 clients get DISCONNECT 0x8B
(server shutting down), 3.1.1 clients are closed, and the process exits
with status 0 within a few seconds, also with busy and stuck clients."""

import signal
import socket
import subprocess
import threading
import time

from mqtt_test import *  # noqa: F401,F403

# Seconds the process may take to exit after the signal.
EXIT_LIMIT = 5.0


def _stop(srv, sig=signal.SIGTERM):
    """Sends sig; returns (exit status, seconds until the process exited)."""
    srv.expect_exit("the case stops the server with a signal and checks its exit")
    t0 = time.monotonic()
    srv.proc.send_signal(sig)
    try:
        rc = srv.proc.wait(timeout=EXIT_LIMIT + 10)
    except subprocess.TimeoutExpired:
        raise TestError("the server did not exit within %.0f s of the signal"
                        % (EXIT_LIMIT + 10)) from None
    return rc, time.monotonic() - t0


def _check_exit(rc, dt, what="SIGTERM"):
    print("      exited with status %s %.2f s after %s" % (rc, dt, what))
    check_eq(rc, 0, "exit status")
    check(dt <= EXIT_LIMIT, "exited only %.2f s after %s" % (dt, what))


def _check_shutdown_close(c, got, required=IS_CASTOR):
    """MQTT 5 (3.14, 4.13.2): the server may send DISCONNECT before it
    closes the connection; at shutdown its reason is 0x8B (server shutting
    down), and nothing follows it. Castor sends it to every MQTT 5 client
    that keeps up with its connection (docs/architecture.md, Shutdown);
    Mosquitto 2.0.11 closes without it, which the specification allows.
    3.1.1 has no DISCONNECT from the server: the connection is closed."""
    discs = [i for i, p in enumerate(got) if p.type == DISCONNECT]
    if c.version == 5:
        if discs or required:
            check(discs and got[-1].type == DISCONNECT and got[-1].reason_code == 0x8B,
                  "v5: DISCONNECT 0x8B last, then closed (got %r)" % got[-3:])
            check_eq(len(discs), 1, "DISCONNECT packets")
    else:
        check(not discs, "3.1.1: no DISCONNECT: %r" % got)


def _peek_lines(p):
    """What p has printed so far (read without blocking)."""
    import os
    import select
    buf = getattr(p, "_seen", "")
    while select.select([p.stdout], [], [], 0)[0]:
        chunk = os.read(p.stdout.fileno(), 65536)
        if not chunk:
            break
        buf += chunk.decode("utf-8", "replace")
    p._seen = buf
    return buf


def _mosquitto_sub(port, cid):
    return subprocess.Popen(["stdbuf", "-oL", "mosquitto_sub", "-V", "5", "-d", "-h", "127.0.0.1",
                             "-p", str(port), "-t", "sd/real", "-i", cid],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


# Idle clients of both versions and mosquitto_sub: every MQTT 5 client
# reads DISCONNECT 0x8B (mosquitto_sub reports reason 139), every 3.1.1
# client sees the connection closed, a client that has not sent CONNECT yet
# gets nothing, and the process exits with status 0. SIGTERM and SIGINT.
@case(server=False, timeout=60)
def sigterm_disconnects_clients_and_exits_zero():
    for sig in (signal.SIGTERM, signal.SIGINT):
        srv = Server()
        msub = None
        try:
            srv.start()
            conns = [connect(srv.port, "c16-v5-%d" % i) for i in range(3)]
            conns += [connect(srv.port, "c16-v4-%d" % i, version=4) for i in range(2)]
            conns[0].subscribe("sd/a", 1)
            conns[3].subscribe("sd/#", 2)
            persistent = connect(srv.port, "c16-persist", clean_start=False,
                                 properties={"session_expiry_interval": 600})
            conns.append(persistent)
            raw = Conn(srv.port, 5)  # connected, no CONNECT yet
            msub = _mosquitto_sub(srv.port, "c16-msub")
            check(wait_until(lambda: "SUBACK" in _peek_lines(msub), 5),
                  "mosquitto_sub subscribed")
            rc, dt = _stop(srv, sig)
            _check_exit(rc, dt, signal.Signals(sig).name)
            for c in conns:
                _check_shutdown_close(c, c.expect_closed(timeout=2))
            got = raw.expect_closed(timeout=2)
            check(not got, "the client that sent no CONNECT gets nothing: %r" % got)
            if IS_CASTOR:
                check(wait_until(lambda: msub.poll() is not None, 5), "mosquitto_sub exited")
                out = _peek_lines(msub)
                check("Received DISCONNECT (139)" in out,
                      "mosquitto_sub reports DISCONNECT 139: %r" % out)
        finally:
            if msub is not None:
                if msub.poll() is None:
                    msub.kill()
                msub.communicate()
            srv.cleanup()


# Shutdown under load: publishers in full flow (QoS 0, 1 and 2), a
# subscriber that reads, one that stopped reading long ago (its socket
# buffers and the server's outbound buffer are full), QoS 2 flows half
# done, a client mid-packet. The server still exits with status 0 within
# the limit; the clients that read see DISCONNECT 0x8B (v5) or the close.
@case(server=False, timeout=90)
def sigterm_with_busy_and_stuck_clients_exits_zero():
    srv = Server({"slow_consumer_timeout_ms": 60000})
    try:
        srv.start()
        t = "sd/busy"
        stuck = []
        for i, v in enumerate((5, 4)):
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
            s.connect(("127.0.0.1", srv.port))
            s.sendall(gen_connect("c16-stuck%d" % i, version=v) + gen_subscribe(1, t, qos=1, version=v))
            stuck.append(s)  # never read
        reader = connect(srv.port, "c16-reader")
        reader.subscribe(t, 0)
        half = connect(srv.port, "c16-half")
        half.subscribe("sd/half", 2)
        hpub = connect(srv.port, "c16-hpub")
        hpub.publish("sd/half", b"x", qos=2)
        half.expect_publish("sd/half", b"x", qos=2)  # no PUBREC
        hpub.send(gen_publish("sd/half", 2, b"y", packet_id=7))
        expect_ack(hpub, PUBREC, 7)  # no PUBREL
        partial = connect(srv.port, "c16-partial")
        partial.send(gen_publish(t, 1, b"z" * 1000, packet_id=3)[:500])
        stop = threading.Event()
        errors = []

        def flood(cid, qos):
            try:
                c = Conn(srv.port, 5)
                c.connect(cid)
                c.sock.settimeout(2)
                i = 0
                while not stop.is_set():
                    c.send(gen_publish(t, qos, b"%d" % i + b"p" * 2000, packet_id=(i % 60000) + 1))
                    i += 1
                    # acknowledgements are not read: the receive maximum
                    # and the socket buffers hold the publisher back
            except (OSError, TestError):
                pass  # the server went away
            except Exception as e:  # noqa: BLE001
                errors.append(e)

        threads = [threading.Thread(target=flood, args=("c16-flood%d" % q, q), daemon=True)
                   for q in (0, 1, 2)]
        for th in threads:
            th.start()
        # Let the stuck clients' buffers fill and the reader fall behind.
        deadline = time.monotonic() + 3
        n = 0
        while time.monotonic() < deadline:
            if reader.poll(0.05) is not None:
                n += 1
        check(n > 0, "the reader received messages")
        rc, dt = _stop(srv)
        stop.set()
        _check_exit(rc, dt)
        # The reader drains what was sent to it; it may be cut off without
        # DISCONNECT if it had fallen behind.
        got = reader.expect_closed(timeout=10)
        _check_shutdown_close(reader, got, required=False)
        for c in (half, hpub, partial):
            _check_shutdown_close(c, [p for p in c.expect_closed(timeout=5)
                                      if p.type != PUBLISH])
        for th in threads:
            th.join(5)
        check(not errors, "publisher errors: %r" % errors)
        for s in stuck:
            s.close()
    finally:
        srv.cleanup()


# shutdown_timeout_ms is a hard limit: logins whose password hashes take
# seconds (10 million PBKDF2 iterations on one hashing thread) hold the
# shutdown up, and the process exits once the limit has passed, logging
# why, with status 1.
@case(server=False, castor_only=True, timeout=90)
def shutdown_timeout_ms_is_honoured_with_stuck_logins():
    import os
    limit_ms = 400
    r = run_castor(["passwd", "--iterations", "10000000"], input=b"slow-Pw-16\n")
    slow_hash = r.stdout.decode().strip()
    srv = Server(extra_config="\n".join([
        "shutdown_timeout_ms: %d" % limit_ms,
        "security:",
        "  store_file: store.yaml",
        "  hash_threads: 1",
        "  hash_threads_priority: normal"]))
    with open(os.path.join(srv.dir, "store.yaml"), "w") as f:
        f.write('principals:\n  slow: {password: "%s", roles: [ALL]}\n'
                "roles:\n  ALL:\n    default_path: [SELECT_TOPIC, READ_TOPIC]\n" % slow_hash)
    try:
        srv.start()
        logins = []
        for i in range(3):
            c = Conn(srv.port, 5)
            c.send(gen_connect("c16-slow%d" % i, username="slow", password="slow-Pw-16"))
            logins.append(c)
        time.sleep(0.2)  # the first hash is under way, the others wait
        rc, dt = _stop(srv)
        print("      exited with status %s %.2f s after SIGTERM (limit %d ms)"
              % (rc, dt, limit_ms))
        check(dt <= limit_ms / 1000.0 + 1.0,
              "exited %.2f s after SIGTERM, the limit is %d ms" % (dt, limit_ms))
        check_eq(rc, 1, "exit status after the limit")
        check("shutdown did not finish within shutdown_timeout_ms (%d ms)" % limit_ms
              in srv.log(), "the log says why:\n%s" % srv.log_tail())
        for c in logins:
            c.sock.close()
    finally:
        srv.cleanup()


@case(server=False, castor_only=True, timeout=120)
def a_stop_right_after_the_start_or_an_accept_ends_cleanly():
    # SIGTERM in the multiplexer round that launched the listener, or that
    # accepted a connection (the start's own probe, one more client):
    # every socket is closed, nothing leaks (under AddressSanitizer the
    # leak checker runs at the exit), the exit status is 0. Repeated,
    # since the round is short.
    srv = Server()
    try:
        for i in range(40):
            if i > 0:
                srv.stopped = False
                srv.exit_expected = None
            srv.start()
            extra = socket.create_connection(("127.0.0.1", srv.port))
            problems = srv.stop()
            extra.close()
            check(not problems, "stop %d: %s" % (i, problems))
    finally:
        srv.cleanup()


if __name__ == "__main__":
    run_cases()
