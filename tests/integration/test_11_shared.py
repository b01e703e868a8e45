#!/usr/bin/python3
"""Shared subscriptions ($share/group/filter)."""

import time

from mqtt_test import *  # noqa: F401,F403


def _members(srv, group, flt, n, qos=1, tag="m", version=5):
    out = []
    for i in range(n):
        c = connect(srv.port, "c11-%s%d" % (tag, i), version=version)
        c.subscribe("$share/%s/%s" % (group, flt), qos)
        out.append(c)
    return out


def _drain(conns, n, via, ack=True, timeout=10):
    """Reads the connections until n messages have arrived in all, then
    proves with a marker round trip from `via` on each that no more come
    (a copy too many is a failure); returns {index: [payload]}."""
    got = {i: [] for i in range(len(conns))}
    deadline = time.monotonic() + timeout
    total = 0
    while total < n:
        check(time.monotonic() < deadline, "%d of %d messages within %d s: %r"
              % (total, n, timeout, got))
        for i, c in enumerate(conns):
            while True:
                p = c.poll(0.02)
                if p is None:
                    break
                check_packet(p, PUBLISH)
                got[i].append(p.payload)
                total += 1
                if ack:
                    c.ack(p)
    for i, c in enumerate(conns):
        extra = c.until_marker(via=via)
        check(not extra, "more than %d messages: %r after %r" % (n, extra, got))
    return got


@case()
def each_message_to_one_member(srv):
    members = _members(srv, "g", "sh/a", 3)
    pub = connect(srv.port, "c11-pub")
    n = 30
    for i in range(n):
        pub.publish("sh/a", b"%d" % i, qos=1, packet_id=i + 1)
    got = _drain(members, n, pub)
    all_ = [x for v in got.values() for x in v]
    check_eq(sorted(all_), sorted(b"%d" % i for i in range(n)), "every message exactly once")
    counts = [len(v) for v in got.values()]
    check(all(c > 0 for c in counts), "spread across members: %s" % counts)
    for c in members + [pub]:
        c.disconnect()


@case()
def qos0_shared_and_v311_members(srv):
    members = _members(srv, "g0", "sh/q0", 2, qos=0, tag="q", version=4)
    pub = connect(srv.port, "c11-q0pub")
    for i in range(20):
        pub.publish("sh/q0", b"%d" % i)
    got = _drain(members, 20, pub)
    all_ = [x for v in got.values() for x in v]
    check_eq(sorted(all_), sorted(b"%d" % i for i in range(20)), "every message once")
    for c in members + [pub]:
        c.disconnect()


@case()
def groups_are_independent(srv):
    g1 = _members(srv, "g1", "sh/b", 2, tag="a")
    g2 = _members(srv, "g2", "sh/b", 2, tag="b")
    plain = connect(srv.port, "c11-plain")
    plain.subscribe("sh/b", 1)
    pub = connect(srv.port, "c11-pub2")
    n = 10
    for i in range(n):
        pub.publish("sh/b", b"%d" % i, qos=1, packet_id=i + 1)
    want = sorted(b"%d" % i for i in range(n))
    for grp in (g1, g2):
        got = _drain(grp, n, pub)
        check_eq(sorted(x for v in got.values() for x in v), want, "each group gets every message")
    got = _drain([plain], n, pub)
    check_eq(got[0], [b"%d" % i for i in range(n)], "the plain subscriber gets every message")
    for c in g1 + g2 + [plain, pub]:
        c.disconnect()


@case()
def shared_with_wildcard_filter(srv):
    members = _members(srv, "gw", "shw/+/x", 2, tag="w")
    pub = connect(srv.port, "c11-wpub")
    topics = ["shw/a/x", "shw/b/x", "shw/c/y", "shw/d/x"]
    for i, t in enumerate(topics):
        pub.publish(t, t.encode(), qos=1, packet_id=i + 1)
    got = _drain(members, 3, pub)
    check_eq(sorted(x for v in got.values() for x in v),
             sorted([b"shw/a/x", b"shw/b/x", b"shw/d/x"]), "matching messages once")
    for c in members + [pub]:
        c.disconnect()


@case()
def unsubscribed_member_gets_nothing(srv):
    members = _members(srv, "gu", "sh/u", 2, tag="u")
    members[0].unsubscribe("$share/gu/sh/u", packet_id=2)
    pub = connect(srv.port, "c11-upub")
    for i in range(6):
        pub.publish("sh/u", b"%d" % i, qos=1, packet_id=i + 1)
    got = _drain(members, 6, pub)
    check_eq(got[0], [], "the member that left")
    check_eq(got[1], [b"%d" % i for i in range(6)], "the remaining member, in order")
    for c in members + [pub]:
        c.disconnect()


# 3.3.1.3: retained messages are sent "when a new Non-shared Subscription is
# made"; a shared subscription gets none (EMQX and HiveMQ behave so).
# Mosquitto sends them.
@case()
def no_retained_on_shared_subscribe(srv):
    pub = connect(srv.port, "c11-rpub")
    pub.publish("sh/ret", b"kept", qos=1, retain=True)
    m = _members(srv, "gr", "sh/ret", 1, tag="r")[0]
    # A live marker through the topic reaches the only member after a
    # retained message would have.
    m.expect_nothing("retained message on a shared subscription", via=pub, topic="sh/ret")
    m.disconnect()
    pub.disconnect()


# [MQTT-4.8.2-1], [MQTT-4.8.2-2]: a share name of at least one character
# without "+" or "#", followed by "/" and a filter. A filter that breaks
# this is not a valid topic filter: SUBACK 0x8F (3.9.3), 0x80 in 3.1.1;
# the valid filter beside it is granted.
INVALID_SHARE_FILTERS = ["$share/g", "$share//t", "$share/g+/t", "$share/g#/t", "$share/g/",
                         "$share/+/t", "$share/#/t", "$share/g/a/#/b"]


@case()
def invalid_share_names(srv):
    for version, refused in ((5, 0x8F), (4, 0x80)):
        for i, f in enumerate(INVALID_SHARE_FILTERS):
            c = connect(srv.port, "c11-inv%d" % i, version=version)
            c.send(gen_subscribe(1, [("sh/ok", 1), (f, 1)], version=version))
            p = c.expect(SUBACK, packet_id=1)
            check_eq(p.reason_codes, [1, refused], "SUBACK codes for %r, v%d" % (f, version))
            c.disconnect()


# 4.8.2: when a member's session ends with QoS 1 messages unacknowledged, the
# server SHOULD send them to another member. Mosquitto drops them.
@case()
def leaving_member_unacked_redistributed(srv):
    a = connect(srv.port, "c11-leave-a")
    a.subscribe("$share/gl/sh/l", 1)
    pub = connect(srv.port, "c11-lpub")
    for i in range(4):
        pub.publish("sh/l", b"%d" % i, qos=1, packet_id=i + 1)
    held = [a.expect_publish("sh/l", qos=1) for _ in range(4)]
    b = connect(srv.port, "c11-leave-b")
    b.subscribe("$share/gl/sh/l", 1)
    a.abort()  # session expiry 0: the session ends with the connection
    got = _drain([b], 4, pub)
    check_eq(sorted(got[0]), sorted(p.payload for p in held), "unacknowledged messages moved to b")
    b.disconnect()
    pub.disconnect()



# 4.8.2: a member of a share group whose connection breaks with messages of
# the group unacknowledged may keep them for its return; "if the Client's
# Session terminates before the Client reconnects, the Server SHOULD send
# the Application Message to another Client that is subscribed to the same
# Shared Subscription". Member a (session expiry 2 s, receive maximum 2)
# holds two unacknowledged messages and has more waiting behind its window
# when it disconnects; more are published while it is offline. When its
# session has expired, every message a did not acknowledge has reached b,
# none twice; a's session is gone.
@case(timeout=60)
def expired_member_unacked_redistributed(srv):
    t = "sh/exp"
    a = connect(srv.port, "c11-exp-a", clean_start=True, properties={
        "session_expiry_interval": 2, "receive_maximum": 2})
    a.subscribe("$share/gexp/" + t, 1)
    b = connect(srv.port, "c11-exp-b")
    b.subscribe("$share/gexp/" + t, 1)
    pub = connect(srv.port, "c11-exp-pub")
    n = 12
    for i in range(n // 2):
        pub.publish(t, b"%d" % i, qos=1, packet_id=i + 1)
    got_b = []
    last_at = None
    # b acknowledges what it gets; a reads its window and acknowledges
    # nothing.
    held_a = []
    deadline = time.monotonic() + 5
    while len(held_a) < 2 and time.monotonic() < deadline:
        p = a.poll(0.1)
        if p is not None:
            held_a.append(p.payload)
    check_eq(len(held_a), 2, "messages in flight to a (receive maximum 2)")
    a.disconnect()  # DISCONNECT 0x00: the session stays for 2 s
    t_gone = time.monotonic()
    for i in range(n // 2, n):
        pub.publish(t, b"%d" % i, qos=1, packet_id=i + 1)
    # Until well after the expiry b collects what it gets.
    while time.monotonic() < t_gone + 2 + 4:
        p = b.poll(0.2)
        if p is not None:
            check_packet(p, PUBLISH, topic=t, qos=1)
            got_b.append(p.payload)
            last_at = time.monotonic() - t_gone
            b.ack(p)
            if sorted(got_b) == sorted(b"%d" % i for i in range(n)):
                break
    print("      a held %s; b got %d messages, the last %.2f s after a left"
          % (held_a, len(got_b), last_at))
    check_eq(sorted(got_b), sorted(b"%d" % i for i in range(n)),
             "every message reached b (a acknowledged none)")
    check_eq(len(got_b), len(set(got_b)), "no message twice at b")
    b.expect_nothing("a message more", via=pub, topic=t)
    a = connect(srv.port, "c11-exp-a", clean_start=False, session_present=False,
                properties={"session_expiry_interval": 2})
    a.expect_nothing("a message for the expired session", via=pub)
    for c in (a, b, pub):
        c.disconnect()

if __name__ == "__main__":
    run_cases()
