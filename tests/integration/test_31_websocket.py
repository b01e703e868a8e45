#!/usr/bin/python3
"""MQTT over WebSocket (ws and wss) with hand-built frames on raw sockets:
the upgrade and its subprotocols, packets split across frames and several
packets in one frame, ping/pong, close frames, and faults that close only
their own connection (a request that is not an upgrade, a wrong path, an
oversized frame, an upgrade that never comes)."""

import socket
import ssl
import struct
import time

from mqtt_test import *  # noqa: F401,F403
from transport_util import (WSConn, TransportServer, client_context, read_http_head,
                            socket_closed, tls_settings, upgrade_request, ws_frame)


def ws_listener(name="ws", **websocket):
    l = {"name": name, "transport": "ws"}
    if websocket:
        l["websocket"] = websocket
    return l


def wss_listener(name="wss", **websocket):
    l = {"name": name, "transport": "wss", "tls": tls_settings()}
    if websocket:
        l["websocket"] = websocket
    return l


@case(server=False, castor_only=True)
def publish_and_subscribe_over_ws_with_each_subprotocol():
    with TransportServer([ws_listener()]) as srv:
        port = srv.ports["ws"]
        sub = WSConn(port)
        check_eq(sub.subprotocol, "mqtt", "agreed subprotocol")
        sub.connect(unique("sub"))
        sub.subscribe("ws/t", qos=1)
        for proto, agreed in (("mqtt", "mqtt"), ("mqttv3.1", "mqttv3.1"), (None, None),
                              ("foo, mqtt", "mqtt")):
            pub = WSConn(port, protocol=proto, version=4 if proto == "mqttv3.1" else 5)
            check_eq(pub.subprotocol, agreed, "subprotocol for %r" % proto)
            pub.connect(unique("pub"))
            pub.publish("ws/t", b"via %r" % proto, qos=1)
            sub.expect_publish(topic="ws/t", payload=b"via %r" % proto, ack=True)
            pub.disconnect()
        # Only subprotocols that are not MQTT: refused.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(upgrade_request(protocol="chat")[0])
        status, _, _ = read_http_head(s)
        check_eq(status, 400, "status for subprotocol chat")


@case(server=False, castor_only=True)
def packets_split_across_frames_and_several_in_one_frame():
    with TransportServer([ws_listener()]) as srv:
        port = srv.ports["ws"]
        c = WSConn(port)
        connect = gen_connect(unique("split"))
        # CONNECT in three binary frames (three messages), the last of which
        # also starts a SUBSCRIBE that a fragmented message finishes.
        sub = gen_subscribe(1, "split/t", qos=1)
        c.send_raw(ws_frame(0x2, connect[:1]) + ws_frame(0x2, connect[1:7]))
        time.sleep(0.05)
        c.send_raw(ws_frame(0x2, connect[7:] + sub[:3]))
        time.sleep(0.05)
        c.send_raw(ws_frame(0x2, sub[3:5], fin=False) + ws_frame(0x0, b"", fin=False)
                   + ws_frame(0x0, sub[5:]))
        c.expect(CONNACK, reason_code=0)
        c.expect(SUBACK, packet_id=1)
        # Three packets in one frame: two publishes and a PINGREQ.
        c.send(gen_publish("split/t", 1, b"one", packet_id=2)
               + gen_publish("split/t", 0, b"two") + gen_pingreq())
        got = [c.recv(skip_ping=False) for _ in range(4)]
        types = sorted(p.type for p in got)
        check_eq(types, sorted([PUBACK, PUBLISH, PUBLISH, PINGRESP]), "answers")
        pubs = [p.payload for p in got if p.type == PUBLISH]
        check_eq(pubs, [b"one", b"two"], "publishes in order")
        # A ping frame gets a pong with the same payload; MQTT goes on.
        c.send_raw(ws_frame(0x9, b"are you there"))
        c.ping()
        check_eq(c.pongs, [b"are you there"], "pong payload")
        # A large packet (64-bit frame length both ways).
        big = b"z" * 100000
        c.send(gen_publish("split/t", 0, big))
        c.expect_publish(topic="split/t", payload=big)


@case(server=False, castor_only=True)
def a_close_frame_is_answered_and_the_will_is_published():
    with TransportServer([ws_listener()]) as srv:
        port = srv.ports["ws"]
        watcher = connect(srv.port, unique("watch"))
        watcher.subscribe("ws/will", qos=0)
        c = WSConn(port)
        c.connect(unique("closer"), will_topic="ws/will", will_payload=b"bye")
        c.send_raw(ws_frame(0x8, struct.pack("!H", 1000) + b"done"))
        check_eq(c.wait_closed(), 1000, "close code answered")
        watcher.expect_publish(topic="ws/will", payload=b"bye")
        # DISCONNECT then close: no will.
        d = WSConn(port)
        polite = unique("polite")
        d.connect(polite, will_topic="ws/will", will_payload=b"not sent")
        d.send(gen_disconnect(0))
        d.send_raw(ws_frame(0x8, struct.pack("!H", 1000)))
        d.wait_closed()
        # The client id again (handled after the first session ended), then
        # a marker through the will topic.
        again = connect(srv.port, polite)
        watcher.expect_nothing("will after DISCONNECT", via=again, topic="ws/will")
        again.disconnect()
        # A DISCONNECT from the server ends with a close frame (1000).
        e = WSConn(port)
        e.connect(unique("kicked"))
        e.send(gen_connect(unique("again")))  # a second CONNECT: protocol error
        e.expect_disconnect(0x82)
        check_eq(e.close_code, 1000, "close frame after the server's DISCONNECT")


def bystanders(srv, ws_port):
    """Subscribers on the tcp and the ws listener."""
    a = connect(srv.port, unique("tcp-by"))
    a.subscribe("still/alive", qos=1)
    b = WSConn(ws_port)
    b.connect(unique("ws-by"))
    b.subscribe("still/alive", qos=1)
    return a, b


def check_bystanders(srv, subs, n):
    p = connect(srv.port, unique("p"))
    p.publish("still/alive", b"msg %d" % n, qos=1)
    p.disconnect()
    for s in subs:
        s.expect_publish(topic="still/alive", payload=b"msg %d" % n, ack=True)
    check(srv.alive(), "server alive")


@case(server=False, castor_only=True)
def faults_close_only_their_own_connection():
    with TransportServer([ws_listener(max_frame_size=1024)]) as srv:
        port = srv.ports["ws"]
        subs = bystanders(srv, port)
        n = 0
        # A plain page request: 426, then closed.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(b"GET /mqtt HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        status, headers, _ = read_http_head(s)
        check_eq(status, 426, "status of a request that is not an upgrade")
        check(socket_closed(s)[0], "closed after the 426")
        n += 1
        check_bystanders(srv, subs, n)
        # A wrong path: 404.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(upgrade_request(path="/other")[0])
        status, _, _ = read_http_head(s)
        check_eq(status, 404, "status for a wrong path")
        check(socket_closed(s)[0], "closed after the 404")
        n += 1
        check_bystanders(srv, subs, n)
        # Raw MQTT on the WebSocket port: 400.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(gen_connect(unique("raw")) + b"\r\n\r\n")
        status, _, _ = read_http_head(s)
        check_eq(status, 400, "status for raw MQTT")
        n += 1
        check_bystanders(srv, subs, n)
        # An oversized frame after CONNECT: close 1009.
        c = WSConn(port)
        c.connect(unique("big"))
        c.send(gen_publish("still/alive", 0, b"x" * 2000))
        check_eq(c.wait_closed(), 1009, "close code for an oversized frame")
        n += 1
        check_bystanders(srv, subs, n)
        # An unmasked frame: close 1002; a text frame: 1003.
        for frame, code in ((ws_frame(0x2, gen_pingreq(), mask=False), 1002),
                            (ws_frame(0x1, b"hello"), 1003)):
            c = WSConn(port)
            c.connect(unique("bad"))
            c.send_raw(frame)
            check_eq(c.wait_closed(), code, "close code")
            n += 1
            check_bystanders(srv, subs, n)
        check("transport error from 127.0.0.1" in srv.log(), "logged with the peer address")


@case(server=False, castor_only=True)
def the_connect_timeout_covers_a_missing_upgrade():
    with TransportServer([ws_listener()], overrides={"connect_timeout_ms": 600}) as srv:
        port = srv.ports["ws"]
        silent = socket.create_connection(("127.0.0.1", port), timeout=5)
        partial = socket.create_connection(("127.0.0.1", port), timeout=5)
        partial.sendall(b"GET /mqtt HTTP/1.1\r\nHost: x\r\n")
        t0 = time.monotonic()
        for s in (silent, partial):
            check(socket_closed(s, timeout=5)[0], "open without an upgrade")
        dt = time.monotonic() - t0
        check(0.3 < dt < 3.0, "closed after %.2f s (connect_timeout_ms 600)" % dt)
        check("WebSocket upgrade not finished in time" in srv.log(), "logged why")


@case(server=False, castor_only=True)
def wss_over_tls_1_2_and_1_3_and_a_custom_path():
    with TransportServer([wss_listener(path="/broker/mqtt")]) as srv:
        port = srv.ports["wss"]
        sub = WSConn(port, tls=True, path="/broker/mqtt")
        sub.connect(unique("wss-sub"))
        sub.subscribe("wss/t", qos=1)
        for version in (ssl.TLSVersion.TLSv1_2, ssl.TLSVersion.TLSv1_3):
            pub = WSConn(port, tls=True, path="/broker/mqtt",
                         ctx=client_context(version=version))
            check_eq(pub.sock.version(), version.name.replace("_", "."), "TLS version")
            pub.connect(unique("wss-pub"))
            pub.send(gen_publish("wss/t", 1, b"p1", packet_id=1)
                     + gen_publish("wss/t", 1, b"p2", packet_id=2))
            pub.expect(PUBACK, packet_id=1)
            pub.expect(PUBACK, packet_id=2)
            sub.expect_publish(topic="wss/t", payload=b"p1", ack=True)
            sub.expect_publish(topic="wss/t", payload=b"p2", ack=True)
            pub.disconnect()
        # /mqtt is not served here.
        s = client_context().wrap_socket(socket.create_connection(("127.0.0.1", port), timeout=5),
                                         server_hostname="localhost")
        s.sendall(upgrade_request()[0])
        status, _, _ = read_http_head(s)
        check_eq(status, 404, "status for /mqtt on /broker/mqtt")
        # Plain HTTP on the wss port: the TLS layer refuses it.
        s = socket.create_connection(("127.0.0.1", port), timeout=5)
        s.sendall(upgrade_request()[0])
        closed, data = socket_closed(s)
        check(closed and b"HTTP" not in data, "plain HTTP on wss: %r" % data)
        sub.ping()


if __name__ == "__main__":
    run_cases()
