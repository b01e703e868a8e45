#!/usr/bin/python3
"""The C++ SDK (sdk/) and castor-cli against the real binary: every
subcommand allowed and refused, exit codes and --json, a value stream
that follows 1,000 random JSON updates by deltas (the SDK's example
programs), reconnection and resume through a proxy that cuts the
connection and across a restart of the server, and TLS."""

import json
import os
import select
import socket
import subprocess
import threading
import time

from mqtt_test import *  # noqa: F401,F403
import mqtt_test
from test_40_auth import AuthServer, PASSWORDS
from transport_util import TransportServer, pki, tls_settings

# test_40_auth's cases registered themselves when it was imported for its
# store: they run in their own file, not here.
del mqtt_test._CASES[:]


def build_dir():
    return os.path.dirname(castor_bin())


def cli_path():
    return os.path.join(build_dir(), "castor-cli")


def example(name):
    return os.path.join(build_dir(), "sdk", "examples", "castor-example-" + name)


def cli(port, *args, user=None, timeout=20, input=None, host="127.0.0.1"):
    cmd = [cli_path(), "-h", host, "-p", str(port)]
    if user:
        cmd += ["-u", user, "-P", PASSWORDS[user]]
    r = subprocess.run(cmd + list(args), capture_output=True, timeout=timeout, input=input,
                       env=client_env())
    return r.returncode, r.stdout.decode(), r.stderr.decode()


def ok_cli(port, *args, **kw):
    code, out, err = cli(port, *args, **kw)
    check(code == 0, "castor-cli %s: exit %d, %r" % (" ".join(args), code, err))
    return out


def fails(port, expect_code, expect_error, *args, **kw):
    """castor-cli exits with `expect_code` and one line on stderr naming
    `expect_error`."""
    code, out, err = cli(port, *args, **kw)
    check_eq(code, expect_code, "exit code of castor-cli %s (stderr %r)" % (" ".join(args), err))
    lines = err.strip().split("\n")
    check_eq(len(lines), 1, "one line on stderr: %r" % err)
    check(lines[0].startswith("castor-cli: ") and expect_error in lines[0],
          "stderr %r names %s" % (err, expect_error))
    return err


def start_subscriber(port, *args, user=None):
    cmd = [cli_path(), "-h", "127.0.0.1", "-p", str(port)]
    if user:
        cmd += ["-u", user, "-P", PASSWORDS[user]]
    return subprocess.Popen(cmd + list(args), stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, env=client_env())


_BUFFERS = {}


def read_lines(proc, n, timeout=10):
    """The next n lines of a process's stdout (fails after timeout)."""
    buf = _BUFFERS.setdefault(proc.pid, bytearray())
    fd = proc.stdout.fileno()
    deadline = time.monotonic() + timeout
    while buf.count(b"\n") < n:
        left = deadline - time.monotonic()
        check(left > 0, "only %r of %d lines within %.0f s" % (bytes(buf), n, timeout))
        r, _, _ = select.select([fd], [], [], left)
        if r:
            d = os.read(fd, 65536)
            if not d:
                raise TestError("the process ended after %r: %r" % (bytes(buf), proc.stderr.read()))
            buf += d
    got = []
    for _ in range(n):
        i = buf.index(b"\n")
        got.append(buf[:i].decode())
        del buf[:i + 1]
    return got


# -- every subcommand -------------------------------------------------------------

@case(castor_only=True)
def every_subcommand_and_its_exit_codes(srv):
    p = srv.port
    path = unique("c33/t")
    check_eq(ok_cli(p, "add-topic", path, "--spec", '{"type": "json"}'), "", "add-topic output")
    check_eq(json.loads(ok_cli(p, "--json", "add-topic", path, "--spec", '{"type": "json"}')),
             {"ok": True, "exists": True}, "add-topic again, --json")
    fails(p, 1, "error TOPIC_EXISTS: ", "add-topic", path, "--spec", "string")
    ok_cli(p, "update", path, '{"a": 1, "b": [1, 2]}')
    check_eq(ok_cli(p, "fetch", path), '%s {"a":1,"b":[1,2]}\n' % path, "fetch")
    ans = json.loads(ok_cli(p, "--json", "fetch", path))
    check_eq(ans["topics"][0]["value"], {"a": 1, "b": [1, 2]}, "fetch --json")
    # Constraints: compare and set.
    ok_cli(p, "update", path, '{"a": 2}', "--constraint", '{"value": {"a": 1, "b": [1, 2]}}')
    fails(p, 1, "error CONSTRAINT_FAILED: ", "update", path, '{"a": 3}',
          "--constraint", '{"value": {"a": 1}}')
    ok_cli(p, "patch", path, '[{"op": "add", "path": "/c", "value": "x"}]')
    check_eq(json.loads(ok_cli(p, "--json", "fetch", path))["topics"][0]["value"],
             {"a": 2, "c": "x"}, "after patch")
    fails(p, 1, "error PATCH_FAILED: ", "patch", path, '[{"op": "test", "path": "/a", "value": 9}]')
    # A plain string value, and a value that is not JSON.
    spath = unique("c33/s")
    ok_cli(p, "update", spath, "hello world")
    check_eq(ok_cli(p, "fetch", spath), '%s "hello world"\n' % spath, "string value")
    # Time series.
    ts = unique("c33/ts")
    ok_cli(p, "add-topic", ts, "--spec", json.dumps(
        {"type": "time_series", "properties": {"TIME_SERIES_EVENT_VALUE_TYPE": "double"}}))
    check_eq(ok_cli(p, "ts-append", ts, "41.5"), "0\n", "ts-append prints the seq")
    check_eq(json.loads(ok_cli(p, "--json", "ts-append", ts, "42"))["seq"], 1, "ts-append --json")
    events = [json.loads(l) for l in ok_cli(p, "ts-range", ts).splitlines()]
    check_eq([e["value"] for e in events], [41.5, 42.0], "ts-range")
    events = [json.loads(l) for l in ok_cli(p, "ts-range", ts, "--range", '{"from": {"last": 1}}').splitlines()]
    check_eq([e["seq"] for e in events], [1], "ts-range --range")
    fails(p, 1, "error NOT_TIME_SERIES: ", "ts-append", path, "1")
    # Locks: a token; a command run holding the lock, whose status is ours.
    name = unique("c33-lock")
    check(int(ok_cli(p, "lock", name).strip()) > 0, "lock prints a token")
    code, out, err = cli(p, "lock", name, "--", "sh", "-c",
                         "%s -p %d lock %s --wait-ms 0; exit 7" % (cli_path(), p, name))
    check_eq(code, 7, "lock -- COMMAND exits with the command's status (%r)" % err)
    check("error LOCK_TIMEOUT: " in err, "another session waits in vain while held: %r" % err)
    # Subscribe: whole values, -C, --json.
    sub = start_subscriber(p, "--json", "subscribe", path, "-C", "2")
    first = json.loads(read_lines(sub, 1)[0])
    check_eq(first, {"path": path, "value": {"a": 2, "c": "x"}}, "subscribe: the value first")
    ok_cli(p, "patch", path, '[{"op": "replace", "path": "/a", "value": 5}]')
    check_eq(json.loads(read_lines(sub, 1)[0])["value"], {"a": 5, "c": "x"}, "subscribe: next")
    check_eq(sub.wait(timeout=10), 0, "subscribe -C 2 exits")
    # A STRING topic: binary deltas, whole values printed.
    text = unique("c33/text")
    ok_cli(p, "add-topic", text, "--spec", "string")
    long_text = "lorem ipsum dolor sit amet " * 8
    ok_cli(p, "update", text, json.dumps(long_text + "one"))
    sub = start_subscriber(p, "--json", "subscribe", text, "-C", "3")
    check_eq(json.loads(read_lines(sub, 1)[0])["value"], long_text + "one", "string value")
    ok_cli(p, "update", text, json.dumps(long_text + "two"))
    ok_cli(p, "update", text, json.dumps("zero " + long_text + "two"))
    check_eq([json.loads(l)["value"] for l in read_lines(sub, 2)],
             [long_text + "two", "zero " + long_text + "two"], "string values by binary deltas")
    check_eq(sub.wait(timeout=10), 0, "subscribe -C 3 exits")
    # Remove.
    check_eq(ok_cli(p, "remove", path), "1\n", "remove prints how many")
    check_eq(ok_cli(p, "fetch", path), "", "fetch after remove")
    fails(p, 1, "error INVALID_REQUEST: ", "update", "bad/+", "1")
    # Usage: exit 2 before connecting; help exits 0.
    fails(p, 2, "usage: ", "update", path)
    fails(p, 2, "usage: ", "frobnicate")
    fails(p, 2, "usage: ", "-V", "311", "fetch", "#")
    fails(p, 2, "usage: ", "update", path, "1", "--constraint", "{nope")
    fails(p, 2, "usage: ", "serve", path)
    code, out, _ = cli(p, "--help")
    check(code == 0 and "Exit codes" in out and "subscribe FILTER" in out, "--help: %r" % out)
    code, out, _ = cli(p, "update", "--help")
    check(code == 0 and "update PATH VALUE" in out, "update --help: %r" % out)
    # Connection failed: exit 3.
    fails(free_port(), 3, "connection failed: ", "fetch", "#")


@case(server=False, castor_only=True)
def subcommands_refused_without_rights():
    srv = AuthServer()
    srv.start()
    p = srv.port
    # reader may read data/, not write it; alice may write dev/ only.
    ok_cli(p, "update", "data/x", '{"v": 1}', user="admin")
    check_eq(ok_cli(p, "fetch", "data/x", user="reader"), 'data/x {"v":1}\n', "reader fetches")
    fails(p, 1, "error PERMISSION_DENIED: ", "update", "data/x", "2", user="reader")
    fails(p, 1, "error PERMISSION_DENIED: ", "patch", "data/x",
          '[{"op": "add", "path": "/w", "value": 1}]', user="reader")
    fails(p, 1, "error PERMISSION_DENIED: ", "add-topic", "data/y", "--spec", "json", user="reader")
    fails(p, 1, "error PERMISSION_DENIED: ", "ts-append", "data/x", "1", user="reader")
    check_eq(ok_cli(p, "remove", "data/#", user="reader"), "0\n", "remove: nothing it may modify")
    check_eq(ok_cli(p, "fetch", "data/x", user="alice"), "", "alice does not see data/x")
    ok_cli(p, "update", "dev/a", "1", user="alice")
    fails(p, 1, "error REFUSED: ", "subscribe", "data/#", "-C", "1", user="alice")
    fails(p, 3, "connection failed: ", "fetch", "#", "-u", "alice", "-P", "wrong")
    srv.stop()


# -- the SDK's value stream ----------------------------------------------------------

@case(castor_only=True, timeout=120)
def sdk_value_stream_follows_1000_random_updates_by_deltas(srv):
    path = unique("c33/doc")
    n = 1000
    follower = subprocess.Popen([example("value_follower"), "127.0.0.1", str(srv.port), path,
                                 str(n)], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                env=client_env())
    line = follower.stderr.readline()
    check_eq(line.strip(), b"subscribed", "the follower subscribed")
    upd = subprocess.run([example("updater"), "127.0.0.1", str(srv.port), path, str(n), "7"],
                         capture_output=True, timeout=100, env=client_env())
    check_eq(upd.returncode, 0, "updater: %r" % upd.stderr)
    out, err = follower.communicate(timeout=60)
    check_eq(follower.returncode, 0, "follower: %r" % err)
    sent = [json.loads(l) for l in upd.stdout.decode().splitlines()]
    seen = [l.split(" ", 1) for l in out.decode().splitlines()]
    check_eq(len(seen), n, "values followed")
    for i, (p, v) in enumerate(seen):
        check_eq(p, path, "path")
        check(json.loads(v) == sent[i], "value %d: %s != %s" % (i, v, sent[i]))
    fetched = json.loads(ok_cli(srv.port, "--json", "fetch", path))["topics"][0]["value"]
    check_eq(json.loads(seen[-1][1]), fetched, "the last value is the server's")
    deltas = int(err.decode().split("deltas ")[1].split()[0])
    check(deltas > n // 2, "most values came as deltas: %d" % deltas)


# -- reconnection ---------------------------------------------------------------------

class Proxy:
    """Forwards a local port to the server's; cut() closes every
    connection through it; target can change (a restarted server)."""

    def __init__(self, target):
        self.target = target
        self.lsock = socket.socket()
        self.lsock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self.lsock.bind(("127.0.0.1", 0))
        self.lsock.listen(16)
        self.port = self.lsock.getsockname()[1]
        self.conns = []
        self.accepted = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self):
        while True:
            try:
                c, _ = self.lsock.accept()
            except OSError:
                return
            try:
                s = socket.create_connection(("127.0.0.1", self.target))
            except OSError:
                c.close()
                continue
            self.accepted += 1
            self.conns += [c, s]
            for a, b in ((c, s), (s, c)):
                threading.Thread(target=self._pump, args=(a, b), daemon=True).start()

    def _pump(self, a, b):
        try:
            while True:
                d = a.recv(65536)
                if not d:
                    break
                b.sendall(d)
        except OSError:
            pass
        for x in (a, b):
            try:
                x.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def cut(self):
        conns, self.conns = self.conns, []
        for c in conns:
            try:
                c.shutdown(socket.SHUT_RDWR)
                c.close()
            except OSError:
                pass


@case(castor_only=True, timeout=60)
def stream_resumes_after_a_cut_and_resubscribes_after_a_restart(srv):
    proxy = Proxy(srv.port)
    path = unique("c33/r")
    ok_cli(srv.port, "update", path, "1")
    sub = start_subscriber(proxy.port, "-i", unique("c33-sub"), "-x", "60", "-k", "5",
                           "subscribe", path)
    check_eq(read_lines(sub, 1), ["%s 1" % path], "first value")
    # 1. The connection is cut; updates made meanwhile wait in the session,
    # which the reconnect resumes.
    proxy.cut()
    ok_cli(srv.port, "update", path, "2")
    ok_cli(srv.port, "update", path, "3")
    check_eq(read_lines(sub, 2), ["%s 2" % path, "%s 3" % path], "updates while cut")
    check(proxy.accepted >= 2, "reconnected through the proxy")
    # 2. The server restarts: no session; the stream subscribes again.
    srv.kill()
    srv2 = Server()
    srv2.start()
    proxy.target = srv2.port
    proxy.cut()
    deadline = time.monotonic() + 10
    before = proxy.accepted
    while proxy.accepted == before:
        check(time.monotonic() < deadline, "no reconnect after the restart")
        time.sleep(0.05)
    time.sleep(0.5)  # the SUBSCRIBE after the CONNACK
    ok_cli(srv2.port, "update", path, "4")
    check_eq(read_lines(sub, 1), ["%s 4" % path], "update after the restart")
    sub.kill()
    sub.wait()


# -- TLS ----------------------------------------------------------------------------

@case(server=False, castor_only=True)
def tls_with_a_ca_and_client_certificates():
    p = pki()
    listeners = [{"name": "mqtts", "transport": "tls", "tls": tls_settings()},
                 {"name": "mtls", "transport": "tls", "tls": tls_settings(verify_client="required")}]
    with TransportServer(listeners) as srv:
        path = unique("c33/tls")
        ok_cli(srv.ports["mqtts"], "--cafile", p["ca.pem"], "update", path, "5", host="localhost")
        check_eq(ok_cli(srv.ports["mqtts"], "--cafile", p["ca.pem"], "fetch", path, host="localhost"),
                 "%s 5\n" % path, "fetch over TLS")
        # The server's certificate is checked: without the CA, refused.
        fails(srv.ports["mqtts"], 3, "connection failed: ", "--tls", "fetch", path, host="localhost")
        # Mutual TLS: with the client certificate, and refused without.
        check_eq(ok_cli(srv.ports["mtls"], "--cafile", p["ca.pem"], "--cert", p["client.pem"],
                        "--key", p["client.key"], "fetch", path, host="localhost"),
                 "%s 5\n" % path, "fetch with a client certificate")
        fails(srv.ports["mtls"], 3, "connection failed: ", "--cafile", p["ca.pem"], "fetch", path,
              host="localhost")


if __name__ == "__main__":
    run_cases()
