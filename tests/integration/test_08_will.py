#!/usr/bin/python3
"""Will messages: when they are sent, delayed, cancelled, and what they carry."""

import time

from mqtt_test import *  # noqa: F401,F403


def _watch(srv, topic, qos=1, version=5, cid=None):
    w = connect(srv.port, cid or ("c08-w-" + topic.replace("/", "_")), version=version)
    w.subscribe(topic, qos)
    return w


def _with_will(srv, cid, topic, payload=b"gone", version=5, will_qos=0, will_retain=False,
               will_properties=None, properties=None, keepalive=60, clean_start=True):
    return connect(srv.port, cid, version=version, will_topic=topic, will_payload=payload,
                   will_qos=will_qos, will_retain=will_retain, will_properties=will_properties,
                   properties=properties, keepalive=keepalive, clean_start=clean_start)


@case()
def will_on_abrupt_close(srv):
    for v in (5, 4):
        t = "will/abrupt%d" % v
        w = _watch(srv, t)
        c = _with_will(srv, "c08-abrupt%d" % v, t, b"died", version=v)
        c.abort()
        w.expect_publish(t, b"died", qos=0, retain=False)
        w.disconnect()


@case()
def will_on_close_without_disconnect(srv):
    t = "will/fin"
    w = _watch(srv, t)
    c = _with_will(srv, "c08-fin", t, b"fin")
    c.close()  # orderly TCP close, but no DISCONNECT packet
    w.expect_publish(t, b"fin")
    w.disconnect()


@case()
def will_on_keep_alive_timeout(srv):
    t = "will/ka"
    w = _watch(srv, t)
    c = _with_will(srv, "c08-ka", t, b"timeout", keepalive=1)
    # Spec: 1.5 s. Mosquitto checks keep alive only every 5 s: allow it more.
    w.expect_publish(t, b"timeout", timeout=10 if IS_MOSQUITTO else 4)
    c.close()
    w.disconnect()


# 3.1.2.5: the will is published when the server closes the connection
# without having received DISCONNECT 0x00 from the client; that includes
# Castor's slow consumer disconnect (a client that stopped reading for
# slow_consumer_timeout_ms while messages for it pile up). The subscriber
# has a small socket receive buffer and stops reading after SUBACK while a
# publisher floods its topic; its will arrives once, at QoS 1 as asked, and
# the connection is closed. MQTT 5 and 3.1.1; a persistent session too.
# Castor only: Mosquitto has no slow consumer disconnect.
@case(overrides={"slow_consumer_timeout_ms": 300, "max_outbound_bytes": 65536},
      castor_only=True, timeout=90)
def will_on_slow_consumer_disconnect(srv):
    import socket
    import threading
    for n, (v, clean) in enumerate(((5, True), (4, True), (5, False)), 1):
        tag = "%d%s" % (v, "c" if clean else "p")
        wt = "will/slow" + tag
        flood = "sc/flood" + tag
        w = _watch(srv, wt)
        s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
        s.connect(("127.0.0.1", srv.port))
        slow = Conn.__new__(Conn)  # a Conn over the prepared socket
        slow.version, slow.timeout, slow.sock = v, DEFAULT_TIMEOUT, s
        slow.buf, slow.eof, slow.pending = bytearray(), False, []
        props = None if clean or v != 5 else {"session_expiry_interval": 60}
        slow.connect("c08-slow" + tag, clean_start=clean, will_topic=wt,
                     will_payload=b"slow " + tag.encode(), will_qos=1, properties=props)
        slow.subscribe(flood, 0)
        # From here on the subscriber reads nothing.
        pub = connect(srv.port, "c08-slow-pub" + tag)
        pub.sock.settimeout(1)
        stop = threading.Event()

        def publish():
            body = b"f" * 8192
            try:
                while not stop.is_set():
                    pub.send(gen_publish(flood, 0, body))
            except OSError:
                pass  # held back by flow control until the slow one is gone

        th = threading.Thread(target=publish, daemon=True)
        th.start()
        try:
            w.expect_publish(wt, b"slow " + tag.encode(), qos=1, ack=True, timeout=20)
        finally:
            stop.set()
            th.join(5)
        w.expect_quiet(0.5, "a second will")
        # The slow subscriber's connection was closed (whatever it had not
        # read is lost with it).
        s.settimeout(0.5)
        closed = False
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline and not closed:
            try:
                closed = s.recv(1 << 20) == b""
            except socket.timeout:
                continue
            except OSError:
                closed = True
        check(closed, "v%s: the slow subscriber's connection was closed" % tag)
        check_eq(srv.log().count("slow consumer:"), n, "slow consumer disconnects in the log")
        s.close()
        w.disconnect()
        pub.disconnect()


@case()
def no_will_on_normal_disconnect(srv):
    for v in (5, 4):
        t = "will/normal%d" % v
        w = _watch(srv, t)
        c = _with_will(srv, "c08-normal%d" % v, t, version=v)
        c.disconnect(0)
        # The same client id again: CONNECTs of one client id are handled in
        # order, so the first session has ended (and sent its will, if it
        # had to) before this CONNACK; its marker on the will topic follows.
        again = connect(srv.port, "c08-normal%d" % v, version=v)
        w.expect_nothing("will after a normal DISCONNECT", via=again, topic=t)
        again.disconnect()
        w.disconnect()


@case()
def will_on_disconnect_with_will_message(srv):
    t = "will/rc04"
    w = _watch(srv, t)
    c = _with_will(srv, "c08-rc04", t, b"asked")
    c.disconnect(0x04)
    w.expect_publish(t, b"asked")
    w.disconnect()


# 3.1.2.5: the will is published when the server closes the connection
# without a DISCONNECT 0x00 from the client, protocol errors included.
# Mosquitto discards the will on these errors.
@case()
def will_on_protocol_error(srv):
    t = "will/err"
    w = _watch(srv, t)
    c = _with_will(srv, "c08-err", t, b"bad")
    c.send(gen_connect("c08-err"))  # a second CONNECT
    c.expect_closed()
    w.expect_publish(t, b"bad", timeout=2)
    w.disconnect()


@case()
def will_on_malformed_packet(srv):
    t = "will/malformed"
    w = _watch(srv, t)
    c = _with_will(srv, "c08-malformed", t, b"bad")
    c.send(b"\x36\x05\x00\x01a\x00\x01")  # PUBLISH with QoS 3
    c.expect_closed()
    w.expect_publish(t, b"bad")
    w.disconnect()


@case()
def will_qos_and_retain(srv):
    t = "will/qr"
    w = _watch(srv, t, qos=2)
    c = _with_will(srv, "c08-qr", t, b"kept", will_qos=2, will_retain=True)
    c.abort()
    w.expect_publish(t, b"kept", qos=2, retain=False, ack=True)
    # Retained: a later subscriber gets it with RETAIN=1.
    late = connect(srv.port, "c08-qr-late")
    late.subscribe(t, 1)
    late.expect_publish(t, b"kept", qos=1, retain=True, ack=True)
    w.disconnect()
    late.disconnect()


@case()
def will_qos1_v311(srv):
    t = "will/q1v4"
    w = _watch(srv, t, version=4)
    c = _with_will(srv, "c08-q1v4", t, b"q1", version=4, will_qos=1)
    c.abort()
    w.expect_publish(t, b"q1", qos=1, ack=True)
    w.disconnect()


@case()
def will_properties_forwarded(srv):
    t = "will/props"
    w = _watch(srv, t)
    props = [("payload_format_indicator", 1), ("content_type", "text/plain"),
             ("response_topic", "will/reply"), ("correlation_data", b"\x01\x02corr"),
             ("user_property", ("k1", "v1")), ("user_property", ("k2", "v2")),
             ("user_property", ("k1", "v3")), ("message_expiry_interval", 120)]
    c = _with_will(srv, "c08-props", t, b"with props", will_properties=props)
    c.abort()
    p = w.expect_publish(t, b"with props", payload_format_indicator=1,
                         content_type="text/plain", response_topic="will/reply",
                         correlation_data=b"\x01\x02corr")
    check_eq(p.props.getall("user_property"), [("k1", "v1"), ("k2", "v2"), ("k1", "v3")],
             "user properties in order")
    mei = p.props.get("message_expiry_interval")
    check(mei is not None and 115 <= mei <= 120, "message expiry forwarded: %r" % mei)
    w.disconnect()


@case()
def will_delay_interval(srv):
    t = "will/delay"
    w = _watch(srv, t)
    c = _with_will(srv, "c08-delay", t, b"late", will_properties={"will_delay_interval": 2},
                   properties={"session_expiry_interval": 30})
    c.abort()
    t0 = time.monotonic()
    w.expect_quiet(1.2, "will before its delay")
    w.expect_publish(t, b"late", timeout=4)
    dt = time.monotonic() - t0
    check(dt >= 1.5, "sent after the delay (%.2f s)" % dt)
    w.disconnect()


@case()
def will_cancelled_by_reconnect_within_delay(srv):
    t = "will/cancel"
    w = _watch(srv, t)
    cid = "c08-cancel"
    c = _with_will(srv, cid, t, b"never", will_properties={"will_delay_interval": 2},
                   properties={"session_expiry_interval": 30}, clean_start=False)
    c.abort()
    t0 = time.monotonic()
    time.sleep(0.3)
    c = connect(srv.port, cid, clean_start=False, session_present=True,
                properties={"session_expiry_interval": 30})
    # Past the will's delay, a marker through the will topic: a will
    # published at its time would be ahead of it.
    time.sleep(max(0.0, t0 + 2.3 - time.monotonic()))
    w.expect_nothing("will after the session was resumed", via=c, topic=t)
    c.disconnect()
    w.disconnect()


@case()
def will_sent_when_session_ends_before_delay(srv):
    # The will is sent at the earlier of will delay and session end.
    t = "will/sessend"
    w = _watch(srv, t)
    c = _with_will(srv, "c08-sessend", t, b"ended", will_properties={"will_delay_interval": 30},
                   properties={"session_expiry_interval": 1})
    c.abort()
    w.expect_publish(t, b"ended", timeout=4)
    w.disconnect()


# 3.1.3.2.2 (non-normative, from [MQTT-3.1.2-8]): on takeover the existing
# connection's will is sent unless the new connection has clean start 0 and
# the will delay is above 0. Mosquitto 2.0.11 does not send it.
@case()
def will_sent_on_takeover(srv):
    # The old connection is closed by the takeover without a DISCONNECT from
    # the client: its will (delay 0) is published.
    t = "will/takeover"
    w = _watch(srv, t)
    cid = "c08-take"
    _old = _with_will(srv, cid, t, b"taken", properties={"session_expiry_interval": 30},
                      clean_start=False)
    new = connect(srv.port, cid, clean_start=False, properties={"session_expiry_interval": 30})
    w.expect_publish(t, b"taken", timeout=2)
    new.disconnect()
    w.disconnect()


if __name__ == "__main__":
    run_cases()
