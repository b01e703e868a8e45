#!/usr/bin/python3
"""CONNECT / CONNACK, session present, client identifiers, keep alive."""

import socket
import time

from mqtt_test import *  # noqa: F401,F403


@case()
def v311_connack_bytes(srv):
    c = do_client_connect(gen_connect("c01-v311", version=4), b"\x20\x02\x00\x00",
                          srv.port, version=4)
    c.send(gen_pingreq())
    expect_packet(c, "pingresp", b"\xd0\x00")
    c.disconnect()


@case()
def v5_connack_success(srv):
    c = Conn(srv.port, 5)
    c.send(gen_connect("c01-v5"))
    raw = c.recv_raw()
    check_eq(raw[0], 0x20, "CONNACK first byte")
    p = decode(raw, 5)  # also checks structure and duplicate properties
    check_eq(p.session_present, False, "session present")
    check_eq(p.reason_code, 0, "reason code")
    props = p.props
    check(props.get("assigned_client_identifier") is None,
          "no identifier is assigned to a client that sent one")
    mq = props.get("maximum_qos")
    check(mq in (None, 0, 1), "maximum_qos property must be 0 or 1 when present: %r" % mq)
    for k in ("retain_available", "wildcard_subscription_available",
              "subscription_identifier_available", "shared_subscription_available"):
        check(props.get(k) in (None, 0, 1), "%s must be 0 or 1" % k)
    check(props.get("receive_maximum") != 0, "receive maximum 0 is a protocol error")
    check(props.get("maximum_packet_size") != 0, "maximum packet size 0 is a protocol error")
    c.send(gen_pingreq())
    expect_packet(c, "pingresp", b"\xd0\x00")
    c.disconnect()


@case()
def v5_connack_reflects_limits(srv):
    # Castor advertises its configured limits; Mosquitto only those it has.
    c = connect(srv.port, "c01-limits")
    props = c.connack.props
    if IS_CASTOR:
        check_eq(props.get("receive_maximum", 65535), 256, "receive_maximum")
        check_eq(props.get("topic_alias_maximum", 0), 64, "topic_alias_maximum")
        check_eq(props.get("maximum_packet_size"), 1048576, "maximum_packet_size")
    c.disconnect()


@case(overrides={"maximum_qos": 1, "receive_maximum": 20, "max_packet_size": 2000})
def v5_connack_configured_limits(srv):
    c = connect(srv.port, "c01-cfg")
    props = c.connack.props
    check_eq(props.get("maximum_qos"), 1, "maximum_qos")
    check_eq(props.get("receive_maximum"), 20, "receive_maximum")
    check_eq(props.get("maximum_packet_size"), 2000, "maximum_packet_size")
    c.disconnect()


@case()
def v311_session_present(srv):
    cid = "c01-sp311"
    c = do_client_connect(gen_connect(cid, version=4, clean_start=False),
                          b"\x20\x02\x00\x00", srv.port, version=4)
    c.disconnect()
    c = do_client_connect(gen_connect(cid, version=4, clean_start=False),
                          b"\x20\x02\x01\x00", srv.port, version=4)
    c.disconnect()
    # Clean session: session present is 0 and the session is discarded.
    c = do_client_connect(gen_connect(cid, version=4, clean_start=True),
                          b"\x20\x02\x00\x00", srv.port, version=4)
    c.disconnect()
    c = do_client_connect(gen_connect(cid, version=4, clean_start=False),
                          b"\x20\x02\x00\x00", srv.port, version=4)
    c.disconnect()


@case()
def v5_session_present(srv):
    cid = "c01-sp5"
    c = connect(srv.port, cid, clean_start=False, session_present=False,
                properties={"session_expiry_interval": 60})
    c.disconnect()
    c = connect(srv.port, cid, clean_start=False, session_present=True,
                properties={"session_expiry_interval": 60})
    c.disconnect()
    c = connect(srv.port, cid, clean_start=True, session_present=False)
    c.disconnect()


@case()
def v5_session_expiry_zero_not_kept(srv):
    # Session expiry 0 (the default): the session ends with the connection.
    cid = "c01-sp5-zero"
    c = connect(srv.port, cid, clean_start=False, session_present=False)
    c.disconnect()
    time.sleep(0.1)
    c = connect(srv.port, cid, clean_start=False, session_present=False)
    c.disconnect()


@case()
def v5_empty_client_id_assigned(srv):
    c1 = connect(srv.port, "")
    a1 = c1.connack.props.get("assigned_client_identifier")
    check(a1, "an assigned client identifier is returned: %r" % c1.connack)
    c2 = connect(srv.port, "")
    a2 = c2.connack.props.get("assigned_client_identifier")
    check(a2 and a2 != a1, "identifiers are unique: %r %r" % (a1, a2))
    # Both stay connected (neither took the other over).
    c1.ping()
    c2.ping()
    c1.disconnect()
    c2.disconnect()


@case()
def v311_empty_client_id_clean_session(srv):
    c1 = do_client_connect(gen_connect("", version=4), b"\x20\x02\x00\x00", srv.port, version=4)
    c2 = do_client_connect(gen_connect("", version=4), b"\x20\x02\x00\x00", srv.port, version=4)
    c1.ping()
    c2.ping()
    c1.disconnect()
    c2.disconnect()


@case()
def v311_empty_client_id_persistent_rejected(srv):
    # [MQTT-3.1.3-8]: CONNACK 0x02 (identifier rejected), then close.
    c = Conn(srv.port, 4)
    c.send(gen_connect("", version=4, clean_start=False))
    expect_packet(c, "connack", b"\x20\x02\x00\x02")
    c.expect_closed()


@case(overrides={"allow_empty_client_id": False})
def v5_empty_client_id_refused_when_configured(srv):
    c = Conn(srv.port, 5)
    c.send(gen_connect(""))
    p = c.recv()
    # The spec suggests 0x85 (client identifier not valid) but allows any
    # failure code (3.1.3-8 "MAY"); Mosquitto sends 0x80.
    check_packet(p, CONNACK)
    check(p.reason_code >= 0x80, "a failure reason code: %r" % p)
    if IS_CASTOR:
        check_eq(p.reason_code, 0x85, "reason code")
    c.expect_closed()


def _read_until_closed(c, timeout=5):
    data = b""
    deadline = time.monotonic() + timeout
    c.sock.settimeout(0.2)
    while time.monotonic() < deadline:
        try:
            chunk = c.sock.recv(4096)
        except socket.timeout:
            continue
        except ConnectionResetError:
            return data, True
        if not chunk:
            return data, True
        data += chunk
    return data, False


@case()
def unsupported_protocol_level(srv):
    # A level that is neither 3.1.1's nor 5.0's: the server cannot know the
    # client's CONNACK format, and answers in 3.1.1's, which every MQTT
    # client reads: return code 1 (unacceptable protocol level,
    # [MQTT-3.1.2-2] of 3.1.1; 0x84 is 5.0's name for it), then the close.
    for level in (6, 2, 0x55):
        c = Conn(srv.port, 5)
        c.send(gen_connect("c01-badlevel", version=level))
        data, closed = _read_until_closed(c)
        check(closed, "level %d: connection is closed" % level)
        check_eq(to_hex(data), "20 02 00 01", "level %d: the reply" % level)


@case()
def bad_protocol_name(srv):
    c = Conn(srv.port, 5)
    c.send(gen_connect("c01-badname", proto_name="MQTX"))
    data, closed = _read_until_closed(c)
    check(closed, "connection is closed")
    # [MQTT-3.1.2-1]: the server MAY answer CONNACK 0x84, and MUST close.
    check(data in (b"", b"\x20\x03\x00\x84\x00"),
          "nothing or CONNACK 0x84 for a bad protocol name: %s" % to_hex(data))


# [MQTT-3.1.0-2] a second CONNECT is a protocol error; 4.13.1: the server
# SHOULD send DISCONNECT 0x82 before closing. Mosquitto closes silently.
@case()
def v5_second_connect_is_protocol_error(srv):
    c = connect(srv.port, "c01-twice")
    c.send(gen_connect("c01-twice"))
    c.expect_disconnect(0x82)


@case()
def v311_second_connect_closes(srv):
    c = connect(srv.port, "c01-twice311", version=4)
    c.send(gen_connect("c01-twice311", version=4))
    got = c.expect_closed()
    check(not any(p.type == CONNACK for p in got), "no second CONNACK: %r" % got)


@case()
def first_packet_not_connect(srv):
    for first in (gen_pingreq(), gen_publish("a/b", 0, b"x"), gen_subscribe(1, "a/#")):
        c = Conn(srv.port, 5)
        c.send(first)
        data, closed = _read_until_closed(c)
        check(closed, "connection is closed after %s" % to_hex(first[:1]))
        check(not data.startswith(b"\xd0") and not data.startswith(b"\x90"),
              "the packet was not processed: %s" % to_hex(data))


@case(overrides={"connect_timeout_ms": 500}, castor_only=True)
def connect_timeout_silent_client(srv):
    # Mosquitto has no connect timeout setting (it waits 90 s).
    c = Conn(srv.port, 5)
    t0 = time.monotonic()
    c.expect_closed(timeout=4)
    dt = time.monotonic() - t0
    check(dt >= 0.3, "closed too early (%.2f s)" % dt)
    # A client that connects in time is unaffected.
    c2 = connect(srv.port, "c01-intime")
    time.sleep(0.8)
    c2.ping()
    c2.disconnect()


# [MQTT-3.1.2-22]: closed within 1.5x keep alive. Mosquitto 2.0.11 checks
# keep alive only every 5 s (src/keepalive.c), so it closes late.
@case()
def keep_alive_expires(srv):
    # Keep alive 1 s: the server closes after 1.5 s without a packet.
    for version in (5, 4):
        c = connect(srv.port, "c01-ka%d" % version, version=version, keepalive=1)
        t0 = time.monotonic()
        got = c.expect_closed(timeout=3)
        dt = time.monotonic() - t0
        check(dt >= 1.0, "v%d closed too early (%.2f s)" % (version, dt))
        # 4.13.2 / 3.14.2.1: v5: DISCONNECT 0x8D (keep alive timeout) first.
        if version == 5:
            check([(p.name, p.reason_code) for p in got] == [("DISCONNECT", 0x8D)],
                  "v5 DISCONNECT 0x8D before the close: %r" % got)
        else:
            check(got == [], "3.1.1: the close alone: %r" % got)


@case()
def keep_alive_kept_by_pings(srv):
    c = connect(srv.port, "c01-kaping", keepalive=1)
    t_end = time.monotonic() + 3.0
    while time.monotonic() < t_end:
        c.ping()
        time.sleep(0.4)
    c.ping()
    c.disconnect()


@case(overrides={"max_keep_alive": 10})
def server_keep_alive(srv):
    c = connect(srv.port, "c01-ska", keepalive=60)
    check_eq(c.connack.props.get("server_keep_alive"), 10, "server_keep_alive")
    c.disconnect()


def _silent_until_closed(c, timeout):
    """Waits (sending nothing) until the server closes c; returns when that
    was seen and the packets the server sent before closing."""
    got = c.expect_closed(timeout=timeout)
    return time.monotonic(), got


def _check_keep_alive_close(version, got):
    # 3.1.2.10: the server closes the connection; in MQTT 5 it may send
    # DISCONNECT 0x8D (keep alive timeout) first.
    if version == 5:
        d = [p for p in got if p.type == DISCONNECT]
        check(not d or d[-1].reason_code == 0x8D, "DISCONNECT 0x8D if any: %r" % got)
    else:
        check(not got, "3.1.1: closed without a packet: %r" % got)


# [MQTT-3.1.2-22] (3.1.1: [MQTT-3.1.2-24]): a client that sends nothing for
# one and a half times its keep alive is disconnected; the limit is 1.5 x K,
# not K. The client pings once after CONNECT, then falls silent: the
# server's clock starts when the PINGREQ arrives at the latest, so the
# close may not come before 1.5 x K after it was sent. Mosquitto 2.0.11
# checks keep alive only every 5 s (src/keepalive.c): it closes late.
@case(timeout=60)
def keep_alive_enforced_at_one_and_a_half(srv):
    k = 2
    for version in (5, 4):
        c = connect(srv.port, "c01-ka15-%d" % version, version=version, keepalive=k)
        if version == 5:
            check(c.connack.props.get("server_keep_alive") in (None, k),
                  "server keep alive: %r" % c.connack)
        time.sleep(0.6)
        t0 = time.monotonic()
        c.ping()
        t1, got = _silent_until_closed(c, 1.5 * k + 6)
        dt = t1 - t0
        print("      v%d: closed %.2f s after the last PINGREQ (keep alive %d s)"
              % (version, dt, k))
        check(dt >= 1.5 * k - 0.1, "v%d closed after %.2f s, before 1.5 x %d s" % (version, dt, k))
        check(dt <= 1.5 * k + 2.5, "v%d closed only after %.2f s (1.5 x %d s)" % (version, dt, k))
        _check_keep_alive_close(version, got)


# The other side of the same rule: a client whose packets are more than K
# but less than 1.5 x K apart stays connected (a server enforcing K itself
# would close it).
@case(timeout=60)
def keep_alive_tolerates_up_to_one_and_a_half(srv):
    k = 2
    conns = [connect(srv.port, "c01-kalate%d" % v, version=v, keepalive=k) for v in (5, 4)]
    last = time.monotonic()
    for _ in range(3):
        # Later than K after the last packet, well before 1.5 x K.
        time.sleep(max(0.0, last + 1.15 * k - time.monotonic()))
        last = time.monotonic()
        for c in conns:
            c.send(gen_pingreq())
        for c in conns:
            check_packet(c.recv(skip_ping=False), PINGRESP)
    for c in conns:
        c.disconnect()


# 3.1.2.10: keep alive 0 turns the mechanism off; the server never closes
# the connection for silence. A bug would show quickly: a client with keep
# alive 1 beside it is closed after 1.5 s (the timers run), and the
# connections stay idle for well over twice that; Castor's connect timeout
# (the other timer a connection has) is set short as well. In MQTT 5 the
# server may impose a keep alive only by sending Server Keep Alive, which it
# does not here (no max_keep_alive).
@case(overrides={"connect_timeout_ms": 300}, timeout=60)
def keep_alive_zero_never_times_out(srv):
    idle = [connect(srv.port, "c01-ka0-%d" % v, version=v, keepalive=0) for v in (5, 4)]
    ska = idle[0].connack.props.get("server_keep_alive")
    if IS_CASTOR:
        check_eq(ska, None, "Server Keep Alive in CONNACK")
    else:  # Mosquitto announces 65535: allowed, and far beyond this case
        check(ska in (None, 0) or ska > 60, "Server Keep Alive %r" % ska)
    t0 = time.monotonic()
    control = connect(srv.port, "c01-ka0-control", keepalive=1)
    control.expect_closed(timeout=8)
    check(time.monotonic() - t0 >= 1.4, "the keep alive 1 client closed early")
    # Idle for 4.5 s in all, three times the control's limit.
    time.sleep(max(0.0, t0 + 4.5 - time.monotonic()))
    for c in idle:
        check(not c.is_closed(0.05), "keep alive 0 client v%d was closed" % c.version)
        c.ping()
        c.disconnect()


# 3.1.2.10 and 3.2.2.3.14: a server keep alive shorter than the client's
# request is sent in CONNACK as Server Keep Alive, and the client must use
# it [MQTT-3.1.2-21]; so must the server: a client silent for 1.5 x the
# Server Keep Alive is disconnected. The same applies to a client that asked
# for keep alive 0 (the server may impose one). Castor only: Mosquitto 2.0.11
# refuses a max_keepalive below 10 (the server_keep_alive case above covers
# its CONNACK) and checks keep alive only every 5 s.
@case(overrides={"max_keep_alive": 2}, castor_only=True, timeout=60)
def server_keep_alive_enforced(srv):
    for asked in (60, 0):
        c = connect(srv.port, "c01-skae-%d" % asked, keepalive=asked)
        check_eq(c.connack.props.get("server_keep_alive"), 2,
                 "Server Keep Alive for a request of %d s" % asked)
        time.sleep(0.6)
        t0 = time.monotonic()
        c.ping()  # then silence
        t1, got = _silent_until_closed(c, 3 + 6)
        dt = t1 - t0
        print("      asked %d s: closed %.2f s after the last PINGREQ" % (asked, dt))
        check(dt >= 3 - 0.1, "closed after %.2f s, before 1.5 x 2 s" % dt)
        check(dt <= 3 + 2.5, "closed only after %.2f s (1.5 x 2 s)" % dt)
        _check_keep_alive_close(5, got)


@case()
def disconnect_closes(srv):
    for version in (5, 4):
        c = connect(srv.port, "c01-disc%d" % version, version=version)
        c.send(gen_disconnect(version=version))
        c.expect_closed()


@case()
def username_password_accepted(srv):
    c = connect(srv.port, "c01-user", username="alice", password=b"secret")
    c.ping()
    c.disconnect()


@case()
def v311_clean_session_not_resumed_right_after_disconnect(srv):
    # A clean session ends with its network connection [MQTT-3.1.2-6]: a
    # CONNECT with clean session 0 that follows at once must not find it,
    # however quickly it arrives after the DISCONNECT.
    cid = "c01-race311"
    for _ in range(30):
        c = do_client_connect(gen_connect(cid, version=4, clean_start=True),
                              b"\x20\x02\x00\x00", srv.port, version=4)
        c.subscribe("race/x", 1)
        c.disconnect()
        c = do_client_connect(gen_connect(cid, version=4, clean_start=False),
                              b"\x20\x02\x00\x00", srv.port, version=4)
        c.disconnect()
        c = do_client_connect(gen_connect(cid, version=4, clean_start=True),
                              b"\x20\x02\x00\x00", srv.port, version=4)
        c.disconnect()


if __name__ == "__main__":
    run_cases()
