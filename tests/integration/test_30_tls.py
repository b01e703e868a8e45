#!/usr/bin/python3
"""MQTT over TLS: mosquitto_pub/mosquitto_sub with --cafile (and client
certificates for mutual TLS), paho over TLS 1.2 and 1.3, and faults that
close only the connection at fault (bad client certificates, garbage before
the handshake, plain MQTT on the TLS port, a handshake that never ends).
Certificates are made at test time with the openssl command."""

import os
import socket
import ssl
import subprocess
import threading
import time

import paho.mqtt.client as mqtt

from mqtt_test import *  # noqa: F401,F403
from transport_util import (TLSConn, TransportServer, client_context, pki,
                            expect_startup_failure, socket_closed, tls_settings,
                            tls_socket)

def tls_listener(name="mqtts", **tls):
    return {"name": name, "transport": "tls", "tls": tls_settings(**tls)}


def mosquitto(tool, port, args, cert=None, timeout=10, tls_version=None):
    p = pki()
    cmd = [tool, "-h", "localhost", "-p", str(port), "--cafile", p["ca.pem"]]
    if cert:
        cmd += ["--cert", p[cert + ".pem"], "--key", p[cert + ".key"]]
    if tls_version:
        cmd += ["--tls-version", tls_version]
    return cmd + list(args)


def sub_then_pub(port, topic, payload, sub_cert=None, pub_cert=None, tls_version=None):
    """mosquitto_sub for one message, then mosquitto_pub; returns
    (sub result, pub result)."""
    sub = subprocess.Popen(mosquitto("mosquitto_sub", port,
                                     ["-t", topic, "-C", "1", "-W", "8", "-q", "1",
                                      "-i", unique("sub")],
                                     cert=sub_cert, tls_version=tls_version),
                           stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)  # let the subscription be made
    pub = subprocess.run(mosquitto("mosquitto_pub", port,
                                   ["-t", topic, "-m", payload, "-q", "1",
                                    "-i", unique("pub")],
                                   cert=pub_cert, tls_version=tls_version),
                         capture_output=True, timeout=10)
    out, err = sub.communicate(timeout=12)
    return (sub.returncode, out.decode(), err.decode()), pub


@case(server=False, castor_only=True)
def mosquitto_clients_over_tls_1_2_and_1_3():
    with TransportServer([tls_listener()]) as srv:
        port = srv.ports["mqtts"]
        for version in ("tlsv1.2", "tlsv1.3"):
            (code, out, err), pub = sub_then_pub(port, unique("tls/t"), "hello " + version,
                                                 tls_version=version)
            check(pub.returncode == 0, "mosquitto_pub %s: %r" % (version, pub.stderr))
            check(code == 0, "mosquitto_sub %s: %s" % (version, err))
            check_eq(out.strip(), "hello " + version, "payload over " + version)


@case(server=False, castor_only=True)
def mosquitto_clients_with_client_certificates_and_refused_without():
    with TransportServer([tls_listener(verify_client="required")]) as srv:
        port = srv.ports["mqtts"]
        (code, out, err), pub = sub_then_pub(port, "mtls/t", "signed",
                                             sub_cert="client", pub_cert="client")
        check(pub.returncode == 0, "mosquitto_pub with a certificate: %r" % pub.stderr)
        check(code == 0, "mosquitto_sub with a certificate: %s" % err)
        check_eq(out.strip(), "signed", "payload with mutual TLS")
        # Without a certificate, and with one from another CA: refused.
        for cert in (None, "rogue"):
            r = subprocess.run(mosquitto("mosquitto_pub", port,
                                         ["-t", "mtls/t", "-m", "x", "-i", unique("bad")],
                                         cert=cert), capture_output=True, timeout=10)
            check(r.returncode != 0, "mosquitto_pub with %s was let in" % (cert or "no certificate"))
        check(srv.alive(), "server alive")


def paho_client(port, cid, version=None, cert=None):
    c = mqtt.Client(client_id=cid, protocol=mqtt.MQTTv5)
    c.tls_set_context(client_context(cert=cert and cert + ".pem",
                                     key=cert and cert + ".key", version=version))
    got = []
    connected = threading.Event()
    c.on_connect = lambda *a: connected.set()
    c.on_message = lambda cl, u, m: got.append((m.topic, m.payload))
    c.connect("localhost", port, 30)
    c.loop_start()
    check(connected.wait(5), "paho did not connect over TLS")
    return c, got


@case(server=False, castor_only=True)
def paho_over_tls_1_2_and_1_3_with_and_without_client_certificate():
    with TransportServer([tls_listener(verify_client="optional")]) as srv:
        port = srv.ports["mqtts"]
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            sub, got = paho_client(port, unique("psub"), version, cert="client")
            pub, _ = paho_client(port, unique("ppub"), version)
            try:
                topic = unique("paho/tls")
                r, _mid = sub.subscribe(topic, 1)
                check_eq(r, 0, "subscribe")
                time.sleep(0.3)
                info = pub.publish(topic, b"over " + version.name.encode(), qos=1)
                info.wait_for_publish(5)
                check(wait_until(lambda: len(got) == 1, 5), "no message over %s" % version.name)
                check_eq(got[0], (topic, b"over " + version.name.encode()), "message")
                check_eq(sub._sock.version(), version.name.replace("_", "."),
                         "negotiated version")
            finally:
                for c in (sub, pub):
                    c.disconnect()
                    c.loop_stop()


@case(server=False, castor_only=True)
def raw_client_over_tls_large_packets_and_will():
    with TransportServer([tls_listener(verify_client="optional")]) as srv:
        port = srv.ports["mqtts"]
        c = TLSConn(port, ctx=client_context(cert="client.pem", key="client.key"))
        c.connect(unique("raw"))
        c.subscribe("raw/#", qos=1)
        c.publish("raw/tls", b"x" * 70000, qos=1)  # several TLS records
        c.expect_publish(topic="raw/tls", payload=b"x" * 70000, ack=True)
        # A TLS client that vanishes has its will published.
        w = TLSConn(port)
        w.connect(unique("will"), will_topic="raw/will", will_payload=b"gone")
        w.abort()
        c.expect_publish(topic="raw/will", payload=b"gone")
        c.disconnect()


def bystander(port):
    """A subscriber on the plain listener, for checking that others go on."""
    b = connect(port, unique("bystander"))
    b.subscribe("still/alive", qos=1)
    return b


def check_bystander(srv, b, n):
    p = connect(srv.port, unique("p"))
    p.publish("still/alive", b"msg %d" % n, qos=1)
    p.disconnect()
    b.expect_publish(topic="still/alive", payload=b"msg %d" % n, ack=True)
    check(srv.alive(), "server alive")


@case(server=False, castor_only=True)
def faults_close_only_their_own_connection():
    with TransportServer([tls_listener(verify_client="required")]) as srv:
        port = srv.ports["mqtts"]
        b = bystander(srv.port)
        # A TLS subscriber with a good certificate keeps receiving too.
        good = TLSConn(port, ctx=client_context(cert="client.pem", key="client.key"))
        good.connect(unique("good"))
        good.subscribe("still/alive", qos=1)
        n = 0

        def good_receives():
            good.expect_publish(topic="still/alive", payload=b"msg %d" % n, ack=True)

        # 1. A certificate from another CA.
        try:
            s = tls_socket(port, client_context(cert="rogue.pem", key="rogue.key"))
            s.sendall(gen_connect(unique("rogue")))
            closed, data = socket_closed(s)
            check(closed and data == b"", "rogue certificate: got %r" % data)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass  # refused during the handshake
        n += 1
        check_bystander(srv, b, n)
        good_receives()
        # 2. No certificate at all.
        try:
            s = tls_socket(port, client_context())
            s.sendall(gen_connect(unique("nocert")))
            closed, data = socket_closed(s)
            check(closed and data == b"", "no certificate: got %r" % data)
        except (ssl.SSLError, ConnectionResetError, BrokenPipeError):
            pass
        n += 1
        check_bystander(srv, b, n)
        good_receives()
        # 3. Garbage before the handshake, and 4. plain MQTT on the TLS port.
        for junk in (os.urandom(300), b"\x00" * 64, gen_connect(unique("plain"))):
            s = socket.create_connection(("127.0.0.1", port), timeout=5)
            s.sendall(junk)
            closed, data = socket_closed(s)
            check(closed, "garbage: connection still open")
            check(b"\x20" not in data[:1], "no CONNACK in clear text: %r" % data)
            s.close()
            n += 1
            check_bystander(srv, b, n)
            good_receives()
        # 5. A client that stops in the middle of the handshake and resets.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"\x16\x03\x01\x00\xc8\x01\x00\x00\xc4\x03\x03")
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.close()
        n += 1
        check_bystander(srv, b, n)
        good_receives()
        check("transport error from 127.0.0.1" in srv.log(),
              "transport errors are logged with the peer address")
        log = srv.log()
        p = pki()
        with open(p["client.key"]) as f:
            key_line = f.read().splitlines()[1]
        check(key_line not in log and "PRIVATE KEY" not in log, "no key material in the log")


@case(server=False, castor_only=True)
def the_connect_timeout_covers_an_unfinished_handshake():
    with TransportServer([tls_listener()], overrides={"connect_timeout_ms": 600}) as srv:
        port = srv.ports["mqtts"]
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        partial = socket.create_connection(("127.0.0.1", port), timeout=5)
        partial.sendall(b"\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
        t0 = time.monotonic()
        for s in (silent, partial):
            closed, _ = socket_closed(s, timeout=5)
            check(closed, "a connection without a finished handshake stayed open")
        dt = time.monotonic() - t0
        check(0.3 < dt < 3.0, "closed after %.2f s (connect_timeout_ms 600)" % dt)
        check("TLS handshake not finished in time" in srv.log(), "logged why")
        # A handshake without CONNECT afterwards is cut too.
        s = tls_socket(port)
        closed, _ = socket_closed(s, timeout=5)
        check(closed, "a TLS connection without CONNECT stayed open")


@case(server=False, castor_only=True)
def listener_limits_apply_per_listener():
    lst = tls_listener()
    lst["max_connections"] = 2
    lst["max_packet_size"] = 256
    with TransportServer([lst]) as srv:
        port = srv.ports["mqtts"]
        a = TLSConn(port)
        a.connect(unique("a"))
        b = TLSConn(port)
        b.connect(unique("b"))
        # A third TLS connection is refused; the tcp listener still takes more.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        closed, _ = socket_closed(s, timeout=5)
        check(closed, "third connection on a listener with max_connections 2")
        plain = [connect(srv.port, unique("plain")) for _ in range(3)]
        # A packet over 256 bytes: too large on the TLS listener only.
        plain[0].subscribe("big", qos=1)
        plain[1].publish("big", b"y" * 1000, qos=1)
        plain[0].expect_publish(topic="big", payload=b"y" * 1000, ack=True)
        a.publish("big", b"y" * 1000, qos=1, ack=False)
        a.expect_disconnect(0x95)
        b.ping()


@case(server=False, castor_only=True)
def bad_certificate_files_stop_startup_naming_listener_and_file():
    p = pki()
    base = ("listeners:\n  - name: secure\n    transport: tls\n    port: %d\n"
            "    tls:\n      cert_file: %s\n      key_file: %s\n")
    missing = os.path.join(os.path.dirname(p["ca.pem"]), "missing.pem")
    for cert, key, expect in ((missing, p["server.key"], missing),
                              (p["not_a_cert.pem"], p["server.key"], p["not_a_cert.pem"]),
                              (p["server.pem"], p["client.key"], p["client.key"]),
                              (p["server.pem"], p["ca.pem"], p["ca.pem"])):
        # Each configuration stops castor at startup (non-zero exit status).
        out = expect_startup_failure(base % (free_port(), cert, key))
        check("listener secure" in out and expect in out,
              "the error names the listener and %s: %r" % (expect, out))
        check("BEGIN" not in out and "PRIVATE" not in out, "no file contents: %r" % out)
    # verify_client without CA: a configuration error with file:line:key.
    out = expect_startup_failure(base % (free_port(), p["server.pem"], p["server.key"])
                                 + "      verify_client: required\n")
    check("castor.yaml:5: listeners[0].tls.ca_file" in out, out)


class CertAuthServer(TransportServer):
    """A TLS listener with client certificates and a security store that
    knows the client certificate's CN (device-1) but refuses anonymous
    clients."""

    def __init__(self, listeners):
        super().__init__(listeners)
        r = run_castor(["passwd", "--iterations", "1000"], input=b"unused-Pw-1\n")
        self.store = os.path.join(self.dir, "store.yaml")
        with open(self.store, "w") as f:
            f.write("principals:\n"
                    "  device-1: {password: \"%s\", roles: [DEVICE]}\n"
                    "roles:\n"
                    "  DEVICE:\n"
                    "    paths:\n"
                    "      dev: [SELECT_TOPIC, READ_TOPIC, UPDATE_TOPIC, MODIFY_TOPIC]\n"
                    "anonymous:\n"
                    "  allow: false\n" % r.stdout.decode().strip())

    def _write_castor_config(self, port):
        path = TransportServer._write_castor_config(self, port)
        with open(path, "a") as f:
            f.write("security:\n  store_file: %s\n  anonymous: store\n" % self.store)
        return path


@case(server=False, castor_only=True)
def client_certificate_names_the_principal_and_its_rights():
    p = pki()
    with CertAuthServer([tls_listener(verify_client="optional",
                                      principal_from="cn")]) as srv:
        port = srv.ports["mqtts"]
        # The certificate's CN is a principal of the store: no password, and
        # the rights of its roles.
        c = TLSConn(port, ctx=client_context(cert=p["client.pem"], key=p["client.key"]))
        c.connect("c30-cert")
        c.publish("dev/x", b"1", qos=1)
        c.send(gen_publish("other/x", 1, b"2", packet_id=2))
        expect_ack(c, PUBACK, 2, 0x87)
        c.disconnect()
        # Without a certificate the client is anonymous, and refused.
        c = TLSConn(port, ctx=client_context())
        c.send(gen_connect("c30-nocert"))
        check_packet(c.recv(), CONNACK, reason_code=0x87)
        # On the plain listener too.
        c = connect(srv.port, "c30-plain", rc=0x87)


@case(server=False, castor_only=True)
def a_listener_can_require_authentication():
    p = pki()
    listener = tls_listener(verify_client="optional", principal_from="cn")
    listener["require_auth"] = True
    with TransportServer([listener]) as srv:
        port = srv.ports["mqtts"]
        # No store: a client certificate's principal is enough.
        c = TLSConn(port, ctx=client_context(cert=p["client.pem"], key=p["client.key"]))
        c.connect("c30-req-cert")
        c.publish("any/topic", b"1", qos=1)
        c.disconnect()
        # Anonymous on this listener: refused (3.1.1: return code 5).
        c = TLSConn(port, ctx=client_context())
        c.send(gen_connect("c30-req-anon"))
        check_packet(c.recv(), CONNACK, reason_code=0x87)
        c = TLSConn(port, version=4, ctx=client_context())
        c.send(gen_connect("c30-req-anon4", version=4))
        check_packet(c.recv(), CONNACK, reason_code=5)
        # The plain listener next to it still lets anonymous clients in.
        connect(srv.port, "c30-req-plain").disconnect()


if __name__ == "__main__":
    run_cases()
