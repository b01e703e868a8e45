"""Helpers for the TLS and WebSocket integration tests.

* make_pki(dir): test certificates made with the openssl command (a CA, a
  server certificate for localhost and 127.0.0.1, a client certificate, a
  client certificate from another CA); nothing is committed. Also runnable:
  `python3 transport_util.py DIR` (for the Node.js tests).
* TransportServer: Castor with extra listeners (tls, ws, wss) besides the
  plain tcp one of mqtt_test.Server.
* TLSConn and WSConn: mqtt_test.Conn over TLS and over WebSocket (hand-built
  frames), so every Conn helper works on those transports.
"""

import atexit
import base64
import hashlib
import json
import os
import shutil
import socket
import ssl
import struct
import subprocess
import sys
import tempfile
import time

from mqtt_test import Closed, Conn, Server, TestError, free_port, DEFAULT_TIMEOUT


# ---------------------------------------------------------------------------
# Certificates
# ---------------------------------------------------------------------------

def _openssl(*args, cwd):
    r = subprocess.run(["openssl"] + list(args), cwd=cwd, capture_output=True)
    if r.returncode != 0:
        raise RuntimeError("openssl %s failed: %s" % (" ".join(args), r.stderr.decode()))


def _ca(d, name, cn):
    _openssl("req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256",
             "-nodes", "-keyout", name + ".key", "-out", name + ".pem", "-days", "2",
             "-subj", "/O=Castor Test/CN=" + cn,
             "-addext", "basicConstraints=critical,CA:TRUE",
             "-addext", "keyUsage=critical,keyCertSign,cRLSign", cwd=d)


def _leaf(d, name, ca, subject, ext):
    _openssl("req", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes",
             "-keyout", name + ".key", "-out", name + ".csr", "-subj", subject, cwd=d)
    with open(os.path.join(d, name + ".ext"), "w") as f:
        f.write(ext)
    _openssl("x509", "-req", "-in", name + ".csr", "-CA", ca + ".pem", "-CAkey", ca + ".key",
             "-set_serial", str(int.from_bytes(os.urandom(8), "big")), "-days", "2",
             "-sha256", "-extfile", name + ".ext", "-out", name + ".pem", cwd=d)


def make_pki(d):
    """Writes ca.pem, server.pem/.key, client.pem/.key (CN device-1),
    other_ca.pem and rogue.pem/.key (signed by the other CA) into d; returns
    a dict name -> path."""
    _ca(d, "ca", "Castor Test CA")
    _ca(d, "other_ca", "Other CA")
    _leaf(d, "server", "ca", "/O=Castor Test/CN=localhost",
          "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n"
          "subjectAltName=DNS:localhost,IP:127.0.0.1\n")
    _leaf(d, "client", "ca", "/O=Castor Test/CN=device-1",
          "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n"
          "subjectAltName=email:device-1@example.com\n")
    _leaf(d, "rogue", "other_ca", "/O=Castor Test/CN=rogue",
          "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n")
    with open(os.path.join(d, "not_a_cert.pem"), "w") as f:
        f.write("-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n"
                "-----END CERTIFICATE-----\n")
    names = ["ca.pem", "other_ca.pem", "server.pem", "server.key", "client.pem",
             "client.key", "rogue.pem", "rogue.key", "not_a_cert.pem"]
    return {n: os.path.join(d, n) for n in names}


_PKI = None


def pki():
    """The certificates of this test process (made once, removed at exit)."""
    global _PKI
    if _PKI is None:
        d = tempfile.mkdtemp(prefix="castor-pki-")
        atexit.register(shutil.rmtree, d, True)
        _PKI = make_pki(d)
    return _PKI


# ---------------------------------------------------------------------------
# Server with several listeners
# ---------------------------------------------------------------------------

def tls_settings(verify_client="none", principal_from=None, ca=None):
    p = pki()
    t = {"cert_file": p["server.pem"], "key_file": p["server.key"]}
    if verify_client != "none":
        t["verify_client"] = verify_client
        t["ca_file"] = ca or p["ca.pem"]
    if principal_from:
        t["principal_from"] = principal_from
    return t


class TransportServer(Server):
    """Castor with the listeners given (dicts of listener settings; each
    without a port gets a free one, see self.ports[name]) and the plain tcp
    listener `mqtt` (self.port), which is opened last so that the others
    are up once it accepts connections."""

    # The configuration names every listener's port (--mqtt-port would set
    # the first tcp listener's, which may be another than `mqtt`).
    port_on_command_line = False

    def __init__(self, listeners, overrides=None):
        super().__init__(overrides)
        self.listener_specs = listeners
        self.ports = {}

    def _write_castor_config(self, port):
        path = os.path.join(self.dir, "castor.yaml")
        lines = ["log_level: info"]
        if os.environ.get("CASTOR_TEST_PLACEMENT"):
            lines.append("actor_placement: %s" % os.environ["CASTOR_TEST_PLACEMENT"])
        lines.append("listeners:")
        used = {port}
        for spec in self.listener_specs:
            p = spec.get("port") or free_port()
            while p in used:
                p = free_port()
            used.add(p)
            self.ports[spec["name"]] = p
            l = dict(spec)
            l.setdefault("bind", "127.0.0.1")
            l["port"] = p
            lines.append("  - " + json.dumps(l))
        lines.append("  - {name: mqtt, transport: tcp, bind: 127.0.0.1, port: %d}" % port)
        if self.overrides:
            lines.append("mqtt:")
            for k, v in self.overrides.items():
                lines.append("  %s: %s" % (k, json.dumps(v)))
        with open(path, "w") as f:
            f.write("\n".join(lines) + "\n")
            if self.extra_config:
                f.write(self.extra_config.rstrip("\n") + "\n")
        return path


def expect_startup_failure(text, timeout=10):
    """Starts castor with a configuration text that must stop it at startup:
    the case expects a non-zero exit status (a death by signal, a sanitizer
    report or a run longer than `timeout` fail it). Returns the output."""
    from mqtt_test import run_castor
    d = tempfile.mkdtemp(prefix="castor-cfg-")
    try:
        path = os.path.join(d, "castor.yaml")
        with open(path, "w") as f:
            f.write(text)
        r = run_castor(["--config", path], timeout=timeout, status=None)
        return (r.stdout + r.stderr).decode("utf-8", "replace")
    finally:
        shutil.rmtree(d, ignore_errors=True)


# ---------------------------------------------------------------------------
# Clients
# ---------------------------------------------------------------------------

def client_context(cert=None, key=None, ca=None, version=None):
    """A TLS client context trusting the test CA (or `ca`)."""
    p = pki()
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    ctx.load_verify_locations(ca or p["ca.pem"])
    ctx.check_hostname = True
    if cert:
        ctx.load_cert_chain(p[cert] if cert in p else cert, p[key] if key in p else key)
    if version is not None:
        ctx.minimum_version = version
        ctx.maximum_version = version
    return ctx


def tls_socket(port, ctx=None, timeout=DEFAULT_TIMEOUT, server_hostname="localhost"):
    raw = socket.create_connection(("127.0.0.1", port), timeout=timeout)
    raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    return (ctx or client_context()).wrap_socket(raw, server_hostname=server_hostname)


class TLSConn(Conn):
    """A Conn over TLS."""

    def __init__(self, port, version=5, timeout=DEFAULT_TIMEOUT, ctx=None):
        self.version = version
        self.timeout = timeout
        self.sock = tls_socket(port, ctx, timeout)
        self.buf = bytearray()
        self.eof = False
        self.pending = []

    def _fill(self, deadline):
        try:
            Conn._fill(self, deadline)
        except (ssl.SSLError, ssl.SSLEOFError) as e:
            self.eof = True
            raise Closed("TLS closed: %s" % e)


def ws_frame(opcode, payload, fin=True, mask=True):
    """A client WebSocket frame."""
    head = bytes([(0x80 if fin else 0) | opcode])
    m = 0x80 if mask else 0
    n = len(payload)
    if n < 126:
        head += bytes([m | n])
    elif n < 65536:
        head += bytes([m | 126]) + struct.pack("!H", n)
    else:
        head += bytes([m | 127]) + struct.pack("!Q", n)
    if not mask:
        return head + payload
    key = os.urandom(4)
    return head + key + bytes(b ^ key[i % 4] for i, b in enumerate(payload))


def upgrade_request(path="/mqtt", protocol="mqtt", host="127.0.0.1"):
    key = base64.b64encode(os.urandom(16)).decode()
    req = ("GET %s HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\n"
           "Connection: Upgrade\r\nSec-WebSocket-Key: %s\r\n"
           "Sec-WebSocket-Version: 13\r\n" % (path, host, key))
    if protocol:
        req += "Sec-WebSocket-Protocol: %s\r\n" % protocol
    return (req + "\r\n").encode(), key


def read_http_head(sock, timeout=DEFAULT_TIMEOUT):
    """Reads an HTTP response head (and whatever follows in the same reads);
    returns (status, headers dict (lower-case names), rest bytes)."""
    sock.settimeout(timeout)
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(4096)
        if not chunk:
            raise Closed("closed before the HTTP answer ended: %r" % data)
        data += chunk
    head, rest = data.split(b"\r\n\r\n", 1)
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split()[1])
    headers = {}
    for line in lines[1:]:
        k, v = line.split(":", 1)
        headers[k.strip().lower()] = v.strip()
    return status, headers, rest


class WSConn(Conn):
    """A Conn over WebSocket (ws, or wss with tls=True): send() writes one
    binary frame; received binary frames feed the MQTT buffer; a close frame
    ends the connection (self.close_code)."""

    def __init__(self, port, version=5, timeout=DEFAULT_TIMEOUT, tls=False, ctx=None,
                 path="/mqtt", protocol="mqtt"):
        self.version = version
        self.timeout = timeout
        if tls:
            self.sock = tls_socket(port, ctx, timeout)
        else:
            self.sock = socket.create_connection(("127.0.0.1", port), timeout=timeout)
            self.sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.buf = bytearray()
        self.eof = False
        self.pending = []
        self.raw = bytearray()
        self.close_code = None
        self.pongs = []
        req, key = upgrade_request(path, protocol)
        self.sock.sendall(req)
        status, headers, rest = read_http_head(self.sock, timeout)
        if status != 101:
            raise TestError("upgrade answered with HTTP %d" % status)
        accept = base64.b64encode(hashlib.sha1(
            (key + "258EAFA5-E914-47DA-95CA-C5AB0DC85B11").encode()).digest()).decode()
        if headers.get("sec-websocket-accept") != accept:
            raise TestError("bad Sec-WebSocket-Accept %r" % headers.get("sec-websocket-accept"))
        self.subprotocol = headers.get("sec-websocket-protocol")
        self.raw += rest
        self._parse()

    def send(self, data):
        self.sock.sendall(ws_frame(0x2, data))

    def send_raw(self, data):
        self.sock.sendall(data)

    def _parse(self):
        while len(self.raw) >= 2:
            b0, b1 = self.raw[0], self.raw[1]
            if b1 & 0x80:
                raise TestError("masked frame from the server")
            n = b1 & 0x7F
            pos = 2
            if n == 126:
                if len(self.raw) < 4:
                    return
                n = struct.unpack("!H", self.raw[2:4])[0]
                pos = 4
            elif n == 127:
                if len(self.raw) < 10:
                    return
                n = struct.unpack("!Q", self.raw[2:10])[0]
                pos = 10
            if len(self.raw) < pos + n:
                return
            payload = bytes(self.raw[pos:pos + n])
            del self.raw[:pos + n]
            op = b0 & 0x0F
            if op in (0x0, 0x2):
                self.buf += payload
            elif op == 0xA:
                self.pongs.append(payload)
            elif op == 0x8:
                self.close_code = struct.unpack("!H", payload[:2])[0] if len(payload) >= 2 else 1005
                self.eof = True
            else:
                raise TestError("unexpected frame opcode %d from the server" % op)

    def _fill(self, deadline):
        if self.eof:
            raise Closed("WebSocket closed (code %s)" % self.close_code)
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            raise socket.timeout()
        self.sock.settimeout(remaining)
        try:
            chunk = self.sock.recv(65536)
        except (ConnectionResetError, ssl.SSLError):
            chunk = b""
        if not chunk:
            self.eof = True
            raise Closed("connection closed by the server")
        self.raw += chunk
        before = len(self.buf)
        self._parse()
        if self.eof and len(self.buf) == before:
            raise Closed("WebSocket closed (code %s)" % self.close_code)

    def wait_closed(self, timeout=DEFAULT_TIMEOUT):
        """Reads until the server closes; returns the close code (None when
        the socket closed without a close frame)."""
        deadline = time.monotonic() + timeout
        while not self.eof:
            try:
                self._fill(deadline)
            except Closed:
                break
            except socket.timeout:
                raise TestError("WebSocket still open after %.1f s" % timeout)
        return self.close_code


def socket_closed(sock, timeout=DEFAULT_TIMEOUT):
    """True once the peer has closed `sock` (reads until EOF; data before it
    is returned as the second value)."""
    deadline = time.monotonic() + timeout
    got = b""
    while time.monotonic() < deadline:
        sock.settimeout(max(0.01, deadline - time.monotonic()))
        try:
            chunk = sock.recv(65536)
        except socket.timeout:
            return False, got
        except (ConnectionResetError, ssl.SSLError, OSError):
            return True, got
        if not chunk:
            return True, got
        got += chunk
    return False, got


if __name__ == "__main__":
    if len(sys.argv) != 2:
        print("usage: transport_util.py DIR  (writes test certificates into DIR)")
        sys.exit(2)
    os.makedirs(sys.argv[1], exist_ok=True)
    print(json.dumps(make_pki(sys.argv[1])))
