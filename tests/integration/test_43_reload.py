#!/usr/bin/python3
"""Reload on SIGHUP (docs/operations.md, "Reload (SIGHUP)"): the security
store, the log level and format and the TLS certificates change while
clients stay connected; a reload with an error changes nothing and says why;
and log_format json writes one JSON object per line.

Clients are paho (logins with user name and password) and mosquitto_sub
(the subscriber that must keep its connection). Certificates are made at
test time with the openssl command."""

import base64
import hashlib
import hmac
import json
import os
import re
import signal
import socket
import ssl
import subprocess
import tempfile
import threading
import time

import paho.mqtt.client as mqtt

import mqtt_test
from mqtt_test import *  # noqa: F401,F403
from transport_util import _ca, _leaf

PASSWORDS = {"alice": "alice-Pw-43a", "bob": "bob-Pw-43b", "carol": "carol-Pw-43c"}
_HASHES = {}


def hash_of(user):
    if user not in _HASHES:
        r = run_castor(["passwd", "--iterations", "1000"],
                       input=(PASSWORDS[user] + "\n").encode())
        _HASHES[user] = r.stdout.decode().strip()
    return _HASHES[user]


def store_text(users):
    lines = ["principals:"]
    for u in users:
        lines.append('  %s: {password: "%s", roles: [ALL]}' % (u, hash_of(u)))
    lines += ["roles:",
              "  ALL:",
              "    default_path: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]",
              "anonymous:",
              "  allow: false"]
    return "\n".join(lines) + "\n"


class ReloadServer(Server):
    """Castor started with `--config FILE` only (no --log-level, which would
    override the file's log_level on every reload too), so that a case can
    rewrite the file and send SIGHUP. settings: top-level YAML lines besides
    the listeners (lines indented by two spaces go into `security:`); listeners: extra listener dicts (each gets a free port,
    self.ports[name]) besides the tcp listener `mqtt` (self.port)."""

    def __init__(self, settings=(), listeners=(), store_users=None):
        super().__init__()
        self.settings = list(settings)
        self.listener_specs = list(listeners)
        self.ports = {}
        self.store_path = None
        if store_users is not None:
            self.store_path = os.path.join(self.dir, "store.yaml")
            self.write_store(store_users)
        self.conf = os.path.join(self.dir, "castor.yaml")

    def write_store(self, users=None, text=None):
        with open(self.store_path, "w") as f:
            f.write(text if text is not None else store_text(users))

    def config_text(self):
        lines = [l for l in self.settings if not l.startswith("  ")]
        lines.append("listeners:")
        for spec in self.listener_specs:
            l = dict(spec)
            l.setdefault("bind", "127.0.0.1")
            l["port"] = self.ports[spec["name"]]
            lines.append("  - " + json.dumps(l))
        lines.append("  - {name: mqtt, transport: tcp, bind: 127.0.0.1, port: %d}" % self.port)
        security = [l for l in self.settings if l.startswith("  ")]
        if self.store_path:
            security += ["  store_file: %s" % self.store_path,
                         "  anonymous: store", "  hash_threads_priority: normal"]
        if security:
            lines += ["security:"] + security
        return "\n".join(lines) + "\n"

    def write_config(self, settings=None):
        if settings is not None:
            self.settings = list(settings)
        with open(self.conf, "w") as f:
            f.write(self.config_text())

    def start(self):
        self.port = free_port()
        used = {self.port}
        for spec in self.listener_specs:
            p = free_port()
            while p in used:
                p = free_port()
            used.add(p)
            self.ports[spec["name"]] = p
        self.write_config()
        self.logf = open(self.log_path, "ab")
        self.proc = subprocess.Popen([castor_bin(), "--config", self.conf],
                                     stdout=subprocess.DEVNULL, stderr=self.logf,
                                     stdin=subprocess.DEVNULL, cwd=self.dir,
                                     start_new_session=True, env=broker_env())
        mqtt_test._STARTED.append(self)
        deadline = time.monotonic() + self.start_timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                break
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.5).close()
                return self
            except OSError:
                time.sleep(0.02)
        self.expect_exit("failed to start")
        raise TestError("castor did not start:\n" + self.log_tail())

    def reload(self, expect="configuration reloaded"):
        """Sends SIGHUP and waits until the log has one more line
        containing `expect`; returns the log lines written since."""
        before = self.log()
        n = before.count(expect)
        self.proc.send_signal(signal.SIGHUP)
        check(wait_until(lambda: self.log().count(expect) > n, 10),
              "no %r in the log after SIGHUP:\n%s" % (expect, self.log_tail()))
        check(self.alive(), "the server is running after SIGHUP")
        return self.log()[len(before):].splitlines()


def paho_login(port, user, password=None, cid=None):
    """Connects with paho (MQTT 5) as `user`; returns (reason code of the
    CONNACK, the client: connected and looping if the code is 0)."""
    c = mqtt.Client(client_id=cid or unique("c43-" + user), protocol=mqtt.MQTTv5)
    c.username_pw_set(user, password if password is not None else PASSWORDS[user])
    got = []
    done = threading.Event()

    def on_connect(_c, _u, _flags, rc, _props=None):
        got.append(rc.value if hasattr(rc, "value") else int(rc))
        done.set()

    c.on_connect = on_connect
    c.connect("127.0.0.1", port, 30)
    c.loop_start()
    if not done.wait(10):
        c.loop_stop()
        raise TestError("paho %s: no CONNACK" % user)
    if got[0] != 0:
        c.loop_stop()
        c.disconnect()
        return got[0], None
    return got[0], c


def paho_close(c):
    if c is not None:
        c.disconnect()
        c.loop_stop()


def publish_as(port, user, topic, payload):
    rc, c = paho_login(port, user)
    check_eq(rc, 0, "CONNACK of %s" % user)
    try:
        info = c.publish(topic, payload, qos=1)
        info.wait_for_publish(5)
        check(info.is_published(), "%s's publish was acknowledged" % user)
    finally:
        paho_close(c)


class Subscriber:
    """mosquitto_sub as `user` on `topic`, printing what it receives; its
    connection must last the whole case (it would exit if the connection
    dropped: no reconnect without -c)."""

    def __init__(self, port, user, topic):
        self.p = subprocess.Popen(
            ["stdbuf", "-oL", "mosquitto_sub", "-V", "5", "-h", "127.0.0.1", "-p", str(port),
             "-u", user, "-P", PASSWORDS[user], "-t", topic, "-q", "1", "-i", unique("c43-sub"),
             "-d"],
            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        self.seen = ""
        check(wait_until(lambda: "SUBACK" in self.output(), 10),
              "mosquitto_sub subscribed: %r" % self.seen)

    def output(self):
        import select
        while select.select([self.p.stdout], [], [], 0)[0]:
            chunk = os.read(self.p.stdout.fileno(), 65536)
            if not chunk:
                break
            self.seen += chunk.decode("utf-8", "replace")
        return self.seen

    def expect(self, payload):
        check(wait_until(lambda: payload in self.output(), 10),
              "mosquitto_sub received %r: %r" % (payload, self.output()[-500:]))
        check(self.p.poll() is None, "mosquitto_sub is still connected")

    def close(self):
        if self.p.poll() is None:
            self.p.kill()
        self.p.communicate()


# (a) A user the store does not know is refused; once the store file has
# him and SIGHUP has been sent he logs in and publishes, and a subscriber
# connected from before the reload receives it on its old connection.
@case(server=False, castor_only=True)
def a_user_added_by_reload_logs_in_while_old_connections_stay():
    srv = ReloadServer(store_users=["alice"])
    srv.start()
    sub = Subscriber(srv.port, "alice", "r43/#")
    try:
        publish_as(srv.port, "alice", "r43/a", "before")
        sub.expect("before")
        rc, _ = paho_login(srv.port, "bob")
        check(rc in (0x86, 0x87), "bob is refused before the reload (got 0x%02x)" % rc)
        srv.write_store(["alice", "bob"])
        lines = srv.reload()
        info = [l for l in lines if "configuration reloaded" in l]
        check_eq(len(info), 1, "reload info lines")
        check("security store" in info[0] and "2 principals" in info[0],
              "the info line says what was reloaded: %r" % info[0])
        publish_as(srv.port, "bob", "r43/a", "from bob")
        sub.expect("from bob")
        check("DISCONNECT" not in sub.output().split("before", 1)[1],
              "the subscriber was not disconnected: %r" % sub.output())
    finally:
        sub.close()


# (b) A user removed from the store by a reload cannot log in any more; the
# others still can.
@case(server=False, castor_only=True)
def a_user_removed_by_reload_cannot_log_in():
    srv = ReloadServer(store_users=["alice", "bob"])
    srv.start()
    rc, c = paho_login(srv.port, "bob")
    check_eq(rc, 0, "bob logs in before the reload")
    paho_close(c)
    srv.write_store(["alice"])
    srv.reload()
    rc, c = paho_login(srv.port, "bob")
    paho_close(c)
    check(rc in (0x86, 0x87), "bob is refused after the reload (got 0x%02x)" % rc)
    rc, c = paho_login(srv.port, "alice")
    paho_close(c)
    check_eq(rc, 0, "alice still logs in")


# (c) A store file with an error: SIGHUP logs an error line naming the file
# and line, changes nothing (the old store keeps working, the new user in
# the broken file is not let in), and the server keeps running. So does a
# configuration file with a YAML error.
@case(server=False, castor_only=True)
def a_broken_store_or_config_changes_nothing():
    srv = ReloadServer(store_users=["alice"])
    srv.start()
    broken = store_text(["alice", "carol"]).replace("roles: [ALL]}", "roles: [NOPE]}", 1)
    srv.write_store(text=broken)
    lines = srv.reload(expect="reload failed")
    err = [l for l in lines if "reload failed" in l]
    check_eq(len(err), 1, "error lines")
    check("ERROR" in err[0] and srv.store_path + ":" in err[0] and "NOPE" in err[0],
          "the error names the file, line and role: %r" % err[0])
    check(not any("configuration reloaded" in l for l in lines), "nothing reloaded")
    rc, c = paho_login(srv.port, "alice")
    paho_close(c)
    check_eq(rc, 0, "alice logs in with the old store")
    rc, c = paho_login(srv.port, "carol")
    paho_close(c)
    check(rc in (0x86, 0x87), "carol (only in the broken file) is refused (0x%02x)" % rc)
    # A syntax error in the store file.
    srv.write_store(text="principals: [\n")
    lines = srv.reload(expect="reload failed")
    check(any(srv.store_path in l for l in lines if "reload failed" in l),
          "the syntax error names the store file: %r" % lines)
    # A YAML error in the configuration file: its file and line.
    srv.write_store(["alice", "carol"])
    with open(srv.conf, "a") as f:
        f.write("mqtt:\n  receive_maximum: [1\n")
    lines = srv.reload(expect="reload failed")
    err = [l for l in lines if "reload failed" in l]
    check(err and srv.conf + ":" in err[0], "the error names the configuration: %r" % err)
    rc, c = paho_login(srv.port, "carol")
    paho_close(c)
    check(rc in (0x86, 0x87), "carol is still refused (0x%02x)" % rc)
    srv.write_config()
    srv.reload()
    rc, c = paho_login(srv.port, "carol")
    paho_close(c)
    check_eq(rc, 0, "carol logs in once both files are right")


# (d) log_level follows a reload: no DEBUG lines at info, DEBUG lines once
# the file says debug; listener changes are not applied and say so.
@case(server=False, castor_only=True)
def log_level_changes_on_reload():
    srv = ReloadServer(settings=["log_level: info"])
    srv.start()
    c = connect(srv.port, unique("c43-d"))
    c.disconnect()
    time.sleep(0.3)
    check(" DEBUG " not in srv.log(), "no DEBUG line at level info")
    srv.write_config(["log_level: debug"])
    lines = srv.reload()
    check(any("log level debug" in l for l in lines), "the info line names the level: %r" % lines)
    mark = len(srv.log())
    c = connect(srv.port, unique("c43-d"))
    c.disconnect()
    check(wait_until(lambda: " DEBUG " in srv.log()[mark:], 5),
          "DEBUG lines after the reload:\n%s" % srv.log_tail())
    # A port change is not applied: a warning, and the old port still works.
    old = srv.port
    srv.port = free_port()
    srv.write_config()
    srv.port = old
    lines = srv.reload()
    check(any("WARN" in l and "listeners" in l and "restart" in l for l in lines),
          "a warning says listener changes need a restart: %r" % lines)
    connect(srv.port, unique("c43-d")).disconnect()
    # Back to info: DEBUG lines stop.
    srv.write_config(["log_level: info"])
    srv.reload()
    mark = len(srv.log())
    connect(srv.port, unique("c43-d")).disconnect()
    time.sleep(0.3)
    check(" DEBUG " not in srv.log()[mark:], "no DEBUG line after going back to info")


def _json_lines(text):
    out = []
    for line in text.splitlines():
        try:
            doc = json.loads(line)
        except ValueError as e:
            raise TestError("not a JSON line: %r (%s)" % (line, e)) from None
        check(isinstance(doc, dict), "a JSON object: %r" % line)
        check_eq(sorted(doc), ["component", "level", "message", "time"], "fields of %r" % line)
        check(re.match(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$", doc["time"]),
              "ISO 8601 UTC time with ms: %r" % doc["time"])
        out.append(doc)
    return out


# (e) log_format json: every line on stderr is a JSON object with time,
# level, component and message (also lines with quotes, backslashes and
# control characters, and those of a failed reload and of the shutdown).
# A reload switches the format back to text.
@case(server=False, castor_only=True)
def log_format_json_every_line_parses():
    srv = ReloadServer(settings=["log_level: debug", "log_format: json"],
                       store_users=["alice"])
    srv.start()
    # A client identifier with a quote, a backslash and a newline ends up in
    # log lines (connect, login refused).
    odd = 'c43 "odd" \\ id\n\t\u00e9'
    rc, c = paho_login(srv.port, "alice", cid=odd)
    paho_close(c)
    rc, c = paho_login(srv.port, "alice", password="wrong \"pw\"", cid=odd)
    paho_close(c)
    srv.write_store(text="principals: [\n")
    srv.reload(expect="reload failed")
    srv.write_store(["alice"])
    srv.reload()
    time.sleep(0.3)
    docs = _json_lines(srv.log())
    check(any(d["component"] == "listener mqtt" and "listening on" in d["message"]
              for d in docs), "the listener line has its component")
    check(any(d["level"] == "debug" for d in docs), "debug lines are there")
    check(any(d["level"] == "error" and "reload failed" in d["message"] for d in docs),
          "the failed reload's line")
    check(any('"odd"' in d["component"] + d["message"] for d in docs),
          "the odd client identifier came through escaped")
    srv.stop()
    docs = _json_lines(srv.log())
    check(docs[-1]["message"] == "stopped", "the last line is the shutdown's: %r" % docs[-1])


@case(server=False, castor_only=True)
def log_format_changes_on_reload():
    srv = ReloadServer(settings=["log_format: text"])
    srv.start()
    # The listeners' startup lines may follow the port's opening a little.
    check(wait_until(lambda: "listening on 127.0.0.1:%d" % srv.port in srv.log()),
          "the listener's line")
    check(not srv.log().lstrip().startswith("{"), "text lines first")
    srv.write_config(["log_format: json"])
    mark = len(srv.log())
    srv.reload()
    connect(srv.port, unique("c43-e")).disconnect()
    srv.stop()
    docs = _json_lines(srv.log()[mark:])
    check(any("configuration reloaded" in d["message"] and "log format json" in d["message"]
              for d in docs), "the reload line is JSON already: %r" % docs[:3])


def jwt(claims, secret):
    def b64(b):
        return base64.urlsafe_b64encode(b).rstrip(b"=")
    head = b64(json.dumps({"alg": "HS256", "typ": "JWT"}).encode())
    body = b64(json.dumps(claims).encode())
    sig = hmac.new(secret, head + b"." + body, hashlib.sha256).digest()
    return (head + b"." + body + b"." + b64(sig)).decode()


# JWT keys: after the secret file has been replaced and SIGHUP sent, tokens
# signed with the new secret are accepted and those signed with the old one
# refused; a client that logged in with an old token keeps its connection.
@case(server=False, castor_only=True)
def jwt_keys_change_on_reload():
    old_secret = b"old-jwt-secret-for-the-reload-test-0123456789"
    new_secret = b"new-jwt-secret-for-the-reload-test-9876543210"
    srv = ReloadServer(store_users=["alice"])
    secret_path = os.path.join(srv.dir, "jwt.secret")
    with open(secret_path, "wb") as f:
        f.write(old_secret)
    srv.settings = ["  jwt:", "    hs256_secret_file: %s" % secret_path]
    srv.start()
    claims = {"sub": "device-43", "exp": int(time.time()) + 300, "roles": ["ALL"]}
    rc, before = paho_login(srv.port, "token", password=jwt(claims, old_secret))
    check_eq(rc, 0, "the old secret's token before the reload")
    try:
        with open(secret_path, "wb") as f:
            f.write(new_secret)
        lines = srv.reload()
        check(any("JWT keys" in l for l in lines), "the info line names the JWT keys: %r" % lines)
        rc, c = paho_login(srv.port, "token", password=jwt(claims, new_secret))
        paho_close(c)
        check_eq(rc, 0, "the new secret's token after the reload")
        rc, c = paho_login(srv.port, "token", password=jwt(claims, old_secret))
        paho_close(c)
        check(rc in (0x86, 0x87), "the old secret's token is refused (0x%02x)" % rc)
        check(before.is_connected(), "the client with the old token is still connected")
    finally:
        paho_close(before)


def _make_server_cert(d, name):
    """A CA and a localhost certificate signed by it, in d: NAME_ca.pem,
    NAME.pem, NAME.key."""
    _ca(d, name + "_ca", "Castor Reload CA " + name)
    _leaf(d, name, name + "_ca", "/O=Castor Test/CN=localhost",
          "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
          "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    return {k: os.path.join(d, name + ext) for k, ext in
            (("ca", "_ca.pem"), ("cert", ".pem"), ("key", ".key"))}


def _served_cert(port):
    """The DER certificate a new TLS connection is given."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
        with ctx.wrap_socket(raw, server_hostname="localhost") as s:
            return s.getpeercert(binary_form=True)


def _der(path):
    with open(path) as f:
        return ssl.PEM_cert_to_DER_cert(f.read())


def _check_served(port, certs, want):
    """The certificate a new connection gets is certs[want]["cert"]."""
    got = _served_cert(port)
    which = [name for name, c in certs.items() if _der(c["cert"]) == got]
    check(got == _der(certs[want]["cert"]),
          "a new connection gets the %s certificate, got %s" % (want, which or "another"))


def _copy(src, dst):
    with open(src, "rb") as f:
        data = f.read()
    with open(dst, "wb") as f:
        f.write(data)


# (f) TLS: after the certificate and key files have been replaced and SIGHUP
# sent, a new connection is given the new certificate, while a client
# connected before keeps its connection (and its session works). An
# unreadable key file makes the reload fail: nothing changes.
@case(server=False, castor_only=True)
def tls_certificates_change_on_reload():
    d = tempfile.mkdtemp(prefix="castor-reload-pki-")
    try:
        old = _make_server_cert(d, "old")
        new = _make_server_cert(d, "new")
        live = {"cert": os.path.join(d, "live.pem"), "key": os.path.join(d, "live.key")}
        _copy(old["cert"], live["cert"])
        _copy(old["key"], live["key"])
        srv = ReloadServer(listeners=[{"name": "mqtts", "transport": "tls",
                                       "tls": {"cert_file": live["cert"],
                                               "key_file": live["key"]}}])
        srv.start()
        port = srv.ports["mqtts"]
        certs = {"old": old, "new": new}
        _check_served(port, certs, "old")
        # A client over TLS (verifying the old CA) stays connected.
        before = mqtt.Client(client_id=unique("c43-tls"), protocol=mqtt.MQTTv5)
        ctx = ssl.create_default_context(cafile=old["ca"])
        before.tls_set_context(ctx)
        got = []
        ready = threading.Event()
        before.on_connect = lambda *a: ready.set()
        before.on_subscribe = lambda *a: ready.set()
        before.on_message = lambda c, u, m: got.append(m.payload)
        before.connect("localhost", port, 30)
        before.loop_start()
        try:
            check(ready.wait(5), "the TLS client connected")
            ready.clear()
            before.subscribe("r43/tls", 1)
            check(ready.wait(5), "the TLS client subscribed")
            _copy(new["cert"], live["cert"])
            _copy(new["key"], live["key"])
            lines = srv.reload()
            check(any("TLS certificates of listener mqtts" in l for l in lines),
                  "the info line names the listener: %r" % lines)
            _check_served(port, certs, "new")
            # The new certificate verifies with the new CA (a whole client).
            rc_ctx = ssl.create_default_context(cafile=new["ca"])
            with socket.create_connection(("127.0.0.1", port), timeout=5) as raw:
                with rc_ctx.wrap_socket(raw, server_hostname="localhost") as s:
                    check(s.version() is not None, "handshake with the new CA")
            # The old connection still carries messages.
            c = connect(srv.port, unique("c43-tpub"))
            c.publish("r43/tls", b"after reload", qos=1)
            check(wait_until(lambda: b"after reload" in got, 5),
                  "the client connected before the reload still receives")
            # An unreadable key: the reload fails, the certificate stays.
            with open(live["key"], "w") as f:
                f.write("not a key\n")
            lines = srv.reload(expect="reload failed")
            err = [l for l in lines if "reload failed" in l]
            check(err and "mqtts" in err[0] and live["key"] in err[0],
                  "the error names the listener and the file: %r" % err)
            _check_served(port, certs, "new")
        finally:
            before.disconnect()
            before.loop_stop()
    finally:
        import shutil
        shutil.rmtree(d, ignore_errors=True)


if __name__ == "__main__":
    run_cases()
