#!/usr/bin/python3
"""Sessions that end with their connection (clean start, session expiry 0).

Castor gives such a session no actor of its own until the client first
subscribes: the registry holds the connection, a takeover kicks it, the
connection publishes its own will, and the first SUBSCRIBE asks for a
session actor while later requests wait for it in order. These cases drive
each of those paths through the wire; every one holds against any broker.
"""

from mqtt_test import *  # noqa: F401,F403


def _watch(srv, topic, cid):
    w = connect(srv.port, cid)
    w.subscribe(topic, 1)
    return w


def _no_more_wills(srv, w, topic, cids, what):
    """Connects once more with each client id: CONNECTs of one client id are
    handled in order, so each earlier session has ended, its will sent or
    dropped, before the CONNACK. Then a marker through the will topic: any
    will (a second one) was routed ahead of it."""
    for cid in cids:
        again = connect(srv.port, cid)
        again.disconnect()
    w.expect_nothing(what, topic=topic)


@case()
def requests_pipelined_with_first_subscribe_keep_order(srv):
    for v in (5, 4):
        t1, t2 = "s15/a%d" % v, "s15/b%d" % v
        c = connect(srv.port, "c15-pipe%d" % v, version=v)
        # One write: the first SUBSCRIBE starts the session actor, the
        # UNSUBSCRIBE and second SUBSCRIBE must wait for it, in order.
        c.send(gen_subscribe(1, [t1], qos=1, version=v)
               + gen_unsubscribe(2, [t1], version=v)
               + gen_subscribe(3, [t2], qos=1, version=v))
        # Acknowledgements of different requests may come in any order
        # (the SUBSCRIBE waits for the topic tree, the UNSUBSCRIBE does not).
        acks = {}
        for _ in range(3):
            p = c.recv()
            check(p.type in (SUBACK, UNSUBACK), "expected an ack, got %r" % p)
            acks[p.packet_id] = p
        check_eq(sorted(acks), [1, 2, 3], "one ack per request")
        check_eq(acks[1].type, SUBACK, "packet 1")
        check_eq(acks[2].type, UNSUBACK, "packet 2")
        check_eq(acks[3].type, SUBACK, "packet 3")
        check_eq(acks[1].reason_codes, [1], "first SUBACK")
        if v == 5:
            check_eq(acks[2].reason_codes, [0], "UNSUBACK: the subscription existed")
        check_eq(acks[3].reason_codes, [1], "second SUBACK")
        probe = connect(srv.port, "c15-pipe-probe%d" % v)
        probe.subscribe(t1, 1)
        pub = connect(srv.port, "c15-pipe-pub%d" % v)
        pub.publish(t1, b"unsubscribed", qos=1, packet_id=1)
        pub.publish(t2, b"subscribed", qos=1, packet_id=2)
        c.expect_publish(t2, b"subscribed", qos=1, ack=True)
        probe.expect_publish(t1, b"unsubscribed", ack=True)  # t1 has fanned it out
        c.expect_nothing("message for the unsubscribed filter", via=pub)
        probe.disconnect()
        pub.disconnect()
        c.disconnect()


@case()
def unsubscribe_before_any_subscribe(srv):
    c = connect(srv.port, "c15-unsub")
    c.send(gen_unsubscribe(7, ["s15/none", "s15/none2"]))
    p = c.expect(UNSUBACK, packet_id=7)
    check_eq(p.reason_codes, [0x11, 0x11], "no subscription existed")
    c.subscribe("s15/after", 0)
    pub = connect(srv.port, "c15-unsub-pub")
    pub.publish("s15/after", b"x")
    c.expect_publish("s15/after", b"x")
    pub.disconnect()
    c.disconnect()


@case()
def will_once_when_connection_dies_subscribing(srv):
    t = "s15/will-abort"
    w = _watch(srv, t, "c15-wa-watch")
    for i in range(5):
        c = connect(srv.port, "c15-wa%d" % i, will_topic=t, will_payload=b"w%d" % i)
        # The session actor is requested while the connection goes away.
        c.send(gen_subscribe(1, ["s15/x%d" % i], qos=1))
        c.abort()
        w.expect_publish(t, b"w%d" % i, ack=True)
    _no_more_wills(srv, w, t, ["c15-wa%d" % i for i in range(5)], "a will published twice")
    w.disconnect()


@case()
def no_will_when_disconnect_follows_first_subscribe(srv):
    t = "s15/will-normal"
    w = _watch(srv, t, "c15-wn-watch")
    for v in (5, 4):
        c = connect(srv.port, "c15-wn%d" % v, version=v, will_topic=t, will_payload=b"no")
        c.send(gen_subscribe(1, ["s15/y"], qos=1, version=v) + gen_disconnect(0, version=v))
        c.expect_closed()
    _no_more_wills(srv, w, t, ["c15-wn5", "c15-wn4"], "will after a normal DISCONNECT")
    w.disconnect()


@case()
def will_after_promotion_on_abrupt_close(srv):
    t = "s15/will-sub"
    w = _watch(srv, t, "c15-ws-watch")
    c = connect(srv.port, "c15-ws", will_topic=t, will_payload=b"subscribed and gone")
    c.subscribe("s15/z", 1)
    c.abort()
    w.expect_publish(t, b"subscribed and gone", ack=True)
    _no_more_wills(srv, w, t, ["c15-ws"], "a will published twice")
    w.disconnect()


# [MQTT-3.1.4-3]: the existing connection is closed (v5: DISCONNECT 0x8E) and
# its will (delay 0) is published. Mosquitto 2.0.11 sends no DISCONNECT and
# no will on takeover.
@case()
def takeover_of_connection_without_session_actor(srv):
    t = "s15/will-take"
    w = _watch(srv, t, "c15-take-watch")
    for clean in (True, False):
        cid = "c15-take-%d" % clean
        old = connect(srv.port, cid, will_topic=t, will_payload=b"taken")
        new = connect(srv.port, cid, clean_start=clean, session_present=False)
        old.expect_disconnect(0x8E)
        w.expect_publish(t, b"taken", ack=True)
        # The new connection has a working session.
        new.subscribe("s15/take", 1)
        pub = connect(srv.port, "c15-take-pub")
        pub.publish("s15/take", b"to new", qos=1, packet_id=1)
        new.expect_publish("s15/take", b"to new", qos=1, ack=True)
        pub.disconnect()
        new.disconnect()
    _no_more_wills(srv, w, t, ["c15-take-True", "c15-take-False"], "a will published twice")
    w.disconnect()


@case()
def takeover_of_subscribed_clean_session(srv):
    # Promoted to a session actor, then taken over by a clean-start client:
    # the old subscription is gone with the old session.
    for v in (5, 4):
        cid = "c15-tsub%d" % v
        old = connect(srv.port, cid, version=v)
        old.subscribe("s15/tsub", 1)
        new = connect(srv.port, cid, version=v, session_present=False)
        old.expect_closed()
        pub = connect(srv.port, "c15-tsub-pub%d" % v)
        pub.publish("s15/tsub", b"x", qos=1, packet_id=1)
        new.expect_nothing("message for the old connection's subscription", via=pub)
        pub.disconnect()
        new.disconnect()


@case()
def persistent_session_after_clean_one(srv):
    # A client id used first without a session actor, then with a
    # persistent session: the session is new, then resumed.
    cid = "c15-persist"
    c = connect(srv.port, cid)
    c.disconnect()
    props = {"session_expiry_interval": 30}
    c = connect(srv.port, cid, clean_start=False, properties=props, session_present=False)
    c.subscribe("s15/persist", 1)
    c.disconnect()
    pub = connect(srv.port, "c15-persist-pub")
    pub.publish("s15/persist", b"kept", qos=1, packet_id=1)
    pub.disconnect()
    c = connect(srv.port, cid, clean_start=False, properties=props, session_present=True)
    c.expect_publish("s15/persist", b"kept", qos=1, ack=True)
    c.disconnect()


if __name__ == "__main__":
    run_cases()
